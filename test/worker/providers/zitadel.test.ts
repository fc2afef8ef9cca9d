import { describe, expect, it } from "vitest";
import { DEV_SECRETS } from "../../support/secrets";
import emailChanged from "../../fixtures/zitadel/user.human.email.changed.json";
import selfRegistered from "../../fixtures/zitadel/user.human.selfregistered.json";
import created from "../../fixtures/zitadel/user.created.json";
import deleted from "../../fixtures/zitadel/user.deleted.json";
import updated from "../../fixtures/zitadel/user.updated.json";
import { callBridge, callBridgeWith, deliverNow, orqIdentity, type Json } from "../harness";
import { zitadelSignatureHeaders } from "./sign";

const fixtures = {
  "user.human.added": created,
  "user.human.selfregistered": selfRegistered,
  "user.human.profile.changed": updated,
  "user.human.email.changed": emailChanged,
  "user.removed": deleted,
};

/** ZITADEL user ids are numeric snowflakes; unique per test. */
function zitadelUserId(): string {
  return `3${crypto.getRandomValues(new Uint32Array(2)).join("").padEnd(17, "0").slice(0, 17)}`;
}

function zitadelEvent(type: keyof typeof fixtures, userId: string, patch: (payload: Json) => void = () => {}): Json {
  const payload = structuredClone(fixtures[type]) as Json;
  payload.aggregateID = userId;
  patch(payload);
  return payload;
}

function base64Json(value: unknown): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(value))));
}

async function postZitadel(payload: Json, options: { keys?: string[]; timestampSeconds?: number } = {}): Promise<Response> {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const headers = await zitadelSignatureHeaders(body, options.keys ?? [DEV_SECRETS.ZITADEL_WEBHOOK_SIGNING_KEY], options.timestampSeconds);
  return callBridge("/webhooks/zitadel", { method: "POST", headers, body });
}

describe("ZITADEL Actions v2 users land in orq.ai", () => {
  it("user.human.selfregistered creates the identity too, with event_payload as a JSON object", async () => {
    const userId = zitadelUserId();
    const event = zitadelEvent("user.human.selfregistered", userId, (p) => {
      p.event_payload = { userName: "ada", firstName: "Ada", lastName: "Lovelace", email: "ada@example.com" };
    });
    expect((await postZitadel(event)).status).toBe(200);
    await deliverNow("zitadel", userId);
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "Ada Lovelace", email: "ada@example.com" });
  });

  it("a change of the last name alone does not become the display name", async () => {
    const userId = zitadelUserId();
    await postZitadel(zitadelEvent("user.human.added", userId));
    await deliverNow("zitadel", userId);
    await postZitadel(zitadelEvent("user.human.profile.changed", userId, (p) => (p.event_payload = { lastName: "Solo" })));
    await deliverNow("zitadel", userId);
    expect((await orqIdentity(userId))?.display_name).toBe("test test");
  });
});

describe("ZITADEL bad input", () => {
  it("accepts a header with several v1 signatures when one of them matches (key rotation)", async () => {
    const userId = zitadelUserId();
    const response = await postZitadel(zitadelEvent("user.human.added", userId), { keys: ["the-old-key", DEV_SECRETS.ZITADEL_WEBHOOK_SIGNING_KEY] });
    expect(response.status).toBe(200);
  });

  it("accepts either of two configured keys while the target's key is rotated", async () => {
    const event = JSON.stringify(zitadelEvent("user.human.added", zitadelUserId()));
    const headers = await zitadelSignatureHeaders(event, ["the-new-key"]);
    const response = await callBridgeWith(
      { ZITADEL_WEBHOOK_SIGNING_KEY: `${DEV_SECRETS.ZITADEL_WEBHOOK_SIGNING_KEY} the-new-key` },
      "/webhooks/zitadel",
      { method: "POST", headers, body: event },
    );
    expect(response.status).toBe(200);
  });

  it("answers 401 without a ZITADEL-Signature header", async () => {
    const body = JSON.stringify(zitadelEvent("user.human.added", zitadelUserId()));
    const response = await callBridge("/webhooks/zitadel", { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(response.status).toBe(401);
  });

  it("answers 400 naming event_payload when it is neither JSON nor base64 of JSON", async () => {
    const response = await postZitadel(zitadelEvent("user.human.added", zitadelUserId(), (p) => (p.event_payload = "%%% not base64 %%%")));
    expect(response.status).toBe(400);
    expect((await response.json<{ message: string }>()).message).toMatch(/^event_payload: /);
    const wrongField = await postZitadel(zitadelEvent("user.human.added", zitadelUserId(), (p) => (p.event_payload = base64Json({ email: 42 }))));
    expect(wrongField.status).toBe(400);
    expect((await wrongField.json<{ message: string }>()).message).toMatch(/^event_payload\.email: /);
  });
});
