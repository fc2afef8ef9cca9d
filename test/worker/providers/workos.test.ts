import { describe, expect, it } from "vitest";
import { DEV_SECRETS } from "../../support/secrets";
import created from "../../fixtures/workos/user.created.json";
import deleted from "../../fixtures/workos/user.deleted.json";
import updated from "../../fixtures/workos/user.updated.json";
import { callBridge, deliverNow, exampleForUser, inspectIdentity, orqWrites, uniqueId, type Json } from "../harness";
import { workosSignatureHeaders } from "./sign";

const fixtures = { "user.created": created, "user.updated": updated, "user.deleted": deleted };

/** A fresh copy of WorkOS's documented event for `userId`, with a new event id. */
function workosEvent(type: keyof typeof fixtures, userId: string, patch: (payload: Json) => void = () => {}): Json {
  return exampleForUser(fixtures[type], userId, (payload) => {
    payload.id = `event_${crypto.randomUUID().replaceAll("-", "").toUpperCase()}`;
    patch(payload);
  });
}

async function postWorkos(payload: Json, options: { secret?: string; timestampMs?: number } = {}): Promise<Response> {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const headers = await workosSignatureHeaders(body, options.secret ?? DEV_SECRETS.WORKOS_WEBHOOK_SECRET, options.timestampMs);
  return callBridge("/webhooks/workos", { method: "POST", headers, body });
}

describe("WorkOS AuthKit users land in orq.ai", () => {
  it("without first and last name no display name is sent, and a missing picture is omitted", async () => {
    const userId = uniqueId("user");
    await postWorkos(workosEvent("user.created", userId, (p) => Object.assign(p.data, { first_name: null, last_name: null, profile_picture_url: null })));
    await deliverNow("workos", userId);
    const [create] = await orqWrites(userId);
    expect(create.body).not.toHaveProperty("display_name");
    expect(create.body).not.toHaveProperty("avatar_url");
    expect(create.body.email).toBe("marcelina.davis@example.com");
  });
});

describe("WorkOS bad input", () => {
  it("answers 401 to a missing or malformed WorkOS-Signature header", async () => {
    const body = JSON.stringify(workosEvent("user.created", uniqueId("user")));
    const signed = await workosSignatureHeaders(body, DEV_SECRETS.WORKOS_WEBHOOK_SECRET);
    for (const header of [undefined, "v1=abc", signed["workos-signature"]!.replace(/v1=\w+/, "v1=not-hex"), `t=${Date.now()}`]) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (header !== undefined) headers["workos-signature"] = header;
      expect((await callBridge("/webhooks/workos", { method: "POST", headers, body })).status).toBe(401);
    }
  });

  it("answers 401 to a body changed after signing", async () => {
    const userId = uniqueId("user");
    const body = JSON.stringify(workosEvent("user.created", userId));
    const headers = await workosSignatureHeaders(body, DEV_SECRETS.WORKOS_WEBHOOK_SECRET);
    const response = await callBridge("/webhooks/workos", { method: "POST", headers, body: body.replace("Marcelina", "Mallory") });
    expect(response.status).toBe(401);
    expect(await inspectIdentity("workos", userId)).toBeNull();
  });

  it("answers 401 to a timestamp outside WorkOS's 180 s window (replayed or forged)", async () => {
    const userId = uniqueId("user");
    expect((await postWorkos(workosEvent("user.created", userId), { timestampMs: Date.now() - 200_000 })).status).toBe(401);
    expect((await postWorkos(workosEvent("user.created", userId), { timestampMs: Date.now() + 200_000 })).status).toBe(401);
    expect(await inspectIdentity("workos", userId)).toBeNull();
    // Inside the window is fine.
    expect((await postWorkos(workosEvent("user.created", userId), { timestampMs: Date.now() - 120_000 })).status).toBe(200);
  });

  it("answers 400 naming event when the envelope has no event type, and created_at when it is not a time", async () => {
    const noType = await postWorkos(workosEvent("user.created", uniqueId("user"), (p) => delete p.event));
    expect(noType.status).toBe(400);
    expect((await noType.json<{ message: string }>()).message).toMatch(/^event: /);
    const badTime = await postWorkos(workosEvent("user.created", uniqueId("user"), (p) => (p.created_at = "yesterday")));
    expect(badTime.status).toBe(400);
    expect((await badTime.json<{ message: string }>()).message).toMatch(/^created_at: /);
  });
});
