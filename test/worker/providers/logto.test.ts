import { describe, expect, it } from "vitest";
import { DEV_SECRETS } from "../../support/secrets";
import postRegister from "../../fixtures/logto/PostRegister.json";
import created from "../../fixtures/logto/user.created.json";
import deleted from "../../fixtures/logto/user.deleted.json";
import updated from "../../fixtures/logto/user.updated.json";
import { callBridge, deliverNow, inspectIdentity, orqIdentity, uniqueId, type Json } from "../harness";
import { logtoSignatureHeaders } from "./sign";

const fixtures = { "User.Created": created, "User.Data.Updated": updated, "User.Deleted": deleted, PostRegister: postRegister };

/** A fresh copy of the documented payload for `userId`, created now (Logto's replay window is 5 minutes). */
function logtoEvent(event: keyof typeof fixtures, userId: string, patch: (payload: Json) => void = () => {}): Json {
  const payload = structuredClone(fixtures[event]) as Json;
  payload.createdAt = new Date().toISOString();
  if (payload.data) payload.data.id = userId;
  if (payload.user) payload.user.id = userId;
  if (payload.userId) payload.userId = userId;
  if (payload.params?.userId) payload.params.userId = userId;
  patch(payload);
  return payload;
}

async function postLogto(payload: Json, signingKey: string = DEV_SECRETS.LOGTO_WEBHOOK_SIGNING_KEY): Promise<Response> {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  return callBridge("/webhooks/logto", { method: "POST", headers: await logtoSignatureHeaders(body, signingKey), body });
}

describe("Logto users land in orq.ai", () => {
  it("PostRegister (interaction hook, user in `user`) creates the identity too", async () => {
    const userId = uniqueId("logto");
    expect((await postLogto(logtoEvent("PostRegister", userId))).status).toBe(200);
    await deliverNow("logto", userId);
    expect(await orqIdentity(userId)).toMatchObject({ email: "fake-user@fake-service.com", display_name: "Fake User" });
  });

  it("User.Deleted finds the id wherever it is: data.id, user.id or userId", async () => {
    const shapes: Array<(p: Json, id: string) => void> = [
      (p, id) => ((p.data = { id }), delete p.params),
      (p, id) => ((p.user = { id }), delete p.params),
      (p, id) => ((p.userId = id), delete p.params),
    ];
    for (const shape of shapes) {
      const userId = uniqueId("logto");
      await postLogto(logtoEvent("User.Created", userId));
      const response = await postLogto(logtoEvent("User.Deleted", userId, (p) => shape(p, userId)));
      expect(response.status).toBe(200);
      expect(await inspectIdentity("logto", userId)).toMatchObject({ tombstone: true });
    }
  });
});

describe("Logto bad input", () => {
  it("answers 401 without the logto-signature-sha-256 header or with a non-hex one", async () => {
    const body = JSON.stringify(logtoEvent("User.Created", uniqueId("logto")));
    for (const headers of [{}, { "logto-signature-sha-256": "sha256=abc" }] as Array<Record<string, string>>) {
      const response = await callBridge("/webhooks/logto", { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
      expect(response.status).toBe(401);
    }
  });

  it("answers 401 to an authentic payload whose createdAt is more than 5 minutes old (a replay)", async () => {
    const userId = uniqueId("logto");
    const replay = logtoEvent("User.Created", userId, (p) => (p.createdAt = new Date(Date.now() - 5 * 60_000 - 5_000).toISOString()));
    const response = await postLogto(replay);
    expect(response.status).toBe(401);
    expect((await response.json<{ message: string }>()).message).toMatch(/createdAt/);
    expect(await inspectIdentity("logto", userId)).toBeNull();
    // Four minutes old is still accepted.
    const recent = logtoEvent("User.Created", userId, (p) => (p.createdAt = new Date(Date.now() - 4 * 60_000).toISOString()));
    expect((await postLogto(recent)).status).toBe(200);
  });

  it("answers 400 naming createdAt when it is not a time, and data.id when a deletion names no user", async () => {
    const badTime = await postLogto(logtoEvent("User.Created", uniqueId("logto"), (p) => (p.createdAt = "now")));
    expect(badTime.status).toBe(400);
    expect((await badTime.json<{ message: string }>()).message).toMatch(/^createdAt: /);
    const noId = await postLogto(logtoEvent("User.Deleted", uniqueId("logto"), (p) => delete p.params));
    expect(noId.status).toBe(400);
    expect((await noId.json<{ message: string }>()).message).toMatch(/^data\.id: /);
  });
});
