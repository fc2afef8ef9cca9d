import { describe, expect, it } from "vitest";
import { DEV_SECRETS } from "../../support/secrets";
import emailChanged from "../../fixtures/zitadel/user.human.email.changed.json";
import selfRegistered from "../../fixtures/zitadel/user.human.selfregistered.json";
import created from "../../fixtures/zitadel/user.created.json";
import deleted from "../../fixtures/zitadel/user.deleted.json";
import updated from "../../fixtures/zitadel/user.updated.json";
import { callBridge, callBridgeWith, deliverNow, inspectIdentity, orqIdentity, orqWrites, type Json } from "../harness";
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
  it("user.human.added (ZITADEL's documented example, base64 event_payload) becomes an identity", async () => {
    const userId = zitadelUserId();
    const response = await postZitadel(zitadelEvent("user.human.added", userId));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "recorded" });
    expect(await deliverNow("zitadel", userId)).toMatchObject({ delivery: "delivered" });
    expect(await orqIdentity(userId)).toMatchObject({
      external_id: userId,
      email: "example@test.com",
      display_name: "test test",
      tags: ["zitadel", "test-suite"],
      metadata: { provider: "zitadel", provider_created_at: "2025-03-27T09:22:43.262Z" },
    });
  });

  it("user.human.selfregistered creates the identity too, with event_payload as a JSON object", async () => {
    const userId = zitadelUserId();
    const event = zitadelEvent("user.human.selfregistered", userId, (p) => {
      p.event_payload = { userName: "ada", firstName: "Ada", lastName: "Lovelace", email: "ada@example.com" };
    });
    expect((await postZitadel(event)).status).toBe(200);
    await deliverNow("zitadel", userId);
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "Ada Lovelace", email: "ada@example.com" });
  });

  it("profile and email changes update only the fields they carry; user.removed deletes the identity", async () => {
    const userId = zitadelUserId();
    await postZitadel(zitadelEvent("user.human.added", userId));
    await deliverNow("zitadel", userId);

    expect((await postZitadel(zitadelEvent("user.human.profile.changed", userId))).status).toBe(200);
    await deliverNow("zitadel", userId);
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "Example_given Example_family", email: "example@test.com" });

    expect((await postZitadel(zitadelEvent("user.human.email.changed", userId))).status).toBe(200);
    await deliverNow("zitadel", userId);
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "Example_given Example_family", email: "example.new@test.com" });
    const [, profilePatch, emailPatch] = await orqWrites(userId);
    expect(profilePatch.body).not.toHaveProperty("email");
    expect(emailPatch.body).not.toHaveProperty("display_name");

    expect((await postZitadel(zitadelEvent("user.removed", userId))).status).toBe(200);
    expect(await deliverNow("zitadel", userId)).toMatchObject({ tombstone: true, delivery: "delivered" });
    expect(await orqIdentity(userId)).toBeNull();
  });

  it("a change of the last name alone does not become the display name", async () => {
    const userId = zitadelUserId();
    await postZitadel(zitadelEvent("user.human.added", userId));
    await deliverNow("zitadel", userId);
    await postZitadel(zitadelEvent("user.human.profile.changed", userId, (p) => (p.event_payload = { lastName: "Solo" })));
    await deliverNow("zitadel", userId);
    expect((await orqIdentity(userId))?.display_name).toBe("test test");
  });

  it("the same event (instance, user, sequence) delivered twice writes once", async () => {
    const userId = zitadelUserId();
    const event = zitadelEvent("user.human.added", userId);
    await postZitadel(event);
    expect(await (await postZitadel(event)).json()).toMatchObject({ status: "duplicate" });
    await deliverNow("zitadel", userId);
    expect(await orqWrites(userId)).toHaveLength(1);
  });

  it("orders by the event's created_at: an older change arriving late does not overwrite", async () => {
    const userId = zitadelUserId();
    const newer = zitadelEvent("user.human.profile.changed", userId, (p) => {
      p.sequence = 7;
      p.created_at = "2025-03-27T12:00:00.000000+01:00";
      p.event_payload = { displayName: "Newer Name" };
    });
    const older = zitadelEvent("user.human.profile.changed", userId, (p) => {
      p.sequence = 6;
      p.created_at = "2025-03-27T11:00:00.000000+01:00";
      p.event_payload = { displayName: "Older Name" };
    });
    await postZitadel(newer);
    await deliverNow("zitadel", userId);
    expect(await (await postZitadel(older)).json()).toMatchObject({ status: "stale" });
    expect((await orqIdentity(userId))?.display_name).toBe("Newer Name");
  });
});

describe("ZITADEL bad input", () => {
  it("answers 401 to a signature made with another key, and records nothing", async () => {
    const userId = zitadelUserId();
    expect((await postZitadel(zitadelEvent("user.human.added", userId), { keys: ["some-other-key"] })).status).toBe(401);
    expect(await inspectIdentity("zitadel", userId)).toBeNull();
  });

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

  it("answers 401 to a timestamp outside ZITADEL's 300 s window", async () => {
    const userId = zitadelUserId();
    const now = Math.floor(Date.now() / 1000);
    expect((await postZitadel(zitadelEvent("user.human.added", userId), { timestampSeconds: now - 330 })).status).toBe(401);
    expect((await postZitadel(zitadelEvent("user.human.added", userId), { timestampSeconds: now + 330 })).status).toBe(401);
    expect(await inspectIdentity("zitadel", userId)).toBeNull();
  });

  it("answers 401 without a ZITADEL-Signature header", async () => {
    const body = JSON.stringify(zitadelEvent("user.human.added", zitadelUserId()));
    const response = await callBridge("/webhooks/zitadel", { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(response.status).toBe(401);
  });

  it("answers 400 naming aggregateID when it is missing", async () => {
    const response = await postZitadel(zitadelEvent("user.human.added", "x", (p) => delete p.aggregateID));
    expect(response.status).toBe(400);
    expect((await response.json<{ message: string }>()).message).toMatch(/^aggregateID: /);
  });

  it("answers 400 naming event_payload when it is neither JSON nor base64 of JSON", async () => {
    const response = await postZitadel(zitadelEvent("user.human.added", zitadelUserId(), (p) => (p.event_payload = "%%% not base64 %%%")));
    expect(response.status).toBe(400);
    expect((await response.json<{ message: string }>()).message).toMatch(/^event_payload: /);
    const wrongField = await postZitadel(zitadelEvent("user.human.added", zitadelUserId(), (p) => (p.event_payload = base64Json({ email: 42 }))));
    expect(wrongField.status).toBe(400);
    expect((await wrongField.json<{ message: string }>()).message).toMatch(/^event_payload\.email: /);
  });

  it("acknowledges other ZITADEL events (logins, grants, machine users) without doing anything", async () => {
    const userId = zitadelUserId();
    for (const type of ["user.human.password.changed", "user.grant.added", "user.machine.added"]) {
      const response = await postZitadel(zitadelEvent("user.human.added", userId, (p) => (p.event_type = type)));
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: "ignored", event_type: type });
    }
    expect(await inspectIdentity("zitadel", userId)).toBeNull();
  });
});
