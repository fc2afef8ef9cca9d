import { describe, expect, it } from "vitest";
import { DEV_SECRETS } from "../../support/secrets";
import postRegister from "../../fixtures/logto/PostRegister.json";
import created from "../../fixtures/logto/user.created.json";
import deleted from "../../fixtures/logto/user.deleted.json";
import updated from "../../fixtures/logto/user.updated.json";
import { callBridge, deliverNow, inspectIdentity, orqIdentity, orqWrites, uniqueId, type Json } from "../harness";
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
  it("User.Created (Logto's documented payload) becomes an identity with the mapped fields", async () => {
    const userId = uniqueId("logto");
    const response = await postLogto(logtoEvent("User.Created", userId));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "recorded" });
    expect(await deliverNow("logto", userId)).toMatchObject({ delivery: "delivered" });
    expect(await orqIdentity(userId)).toMatchObject({
      external_id: userId,
      email: "fake-user@fake-service.com",
      // No given/family name in the profile: the username comes first, then the name.
      display_name: "fake-user",
      avatar_url: "https://fake-service.com/avatars/fake-user.png",
      tags: ["logto", "test-suite"],
      metadata: { provider: "logto", provider_created_at: "2024-07-01T00:00:00.000Z" },
    });
  });

  it("PostRegister (interaction hook, user in `user`) creates the identity too", async () => {
    const userId = uniqueId("logto");
    expect((await postLogto(logtoEvent("PostRegister", userId))).status).toBe(200);
    await deliverNow("logto", userId);
    expect(await orqIdentity(userId)).toMatchObject({ email: "fake-user@fake-service.com", display_name: "fake-user" });
  });

  it("User.Data.Updated updates the profile; User.Deleted (id only in params) removes the identity", async () => {
    const userId = uniqueId("logto");
    await postLogto(logtoEvent("User.Created", userId));
    await deliverNow("logto", userId);
    expect((await postLogto(logtoEvent("User.Data.Updated", userId))).status).toBe(200);
    await deliverNow("logto", userId);
    // The updated fixture has given/family names: they win over the username.
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "Fake User" });

    const deletion = logtoEvent("User.Deleted", userId);
    expect(deletion.data).toBeNull();
    expect((await postLogto(deletion)).status).toBe(200);
    expect(await deliverNow("logto", userId)).toMatchObject({ tombstone: true, delivery: "delivered" });
    expect(await orqIdentity(userId)).toBeNull();
    expect((await orqWrites(userId)).map((write) => write.method)).toEqual(["POST", "PATCH", "DELETE"]);
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

  it("the same delivery twice (Logto retries a 5xx with the same body) writes once", async () => {
    const userId = uniqueId("logto");
    const event = logtoEvent("User.Created", userId);
    await postLogto(event);
    expect(await (await postLogto(event)).json()).toMatchObject({ status: "duplicate" });
    await deliverNow("logto", userId);
    expect(await orqWrites(userId)).toHaveLength(1);
  });

  it("orders by updatedAt: an older update arriving late does not overwrite a newer one", async () => {
    const userId = uniqueId("logto");
    const now = Date.now();
    await postLogto(logtoEvent("User.Data.Updated", userId, (p) => Object.assign(p.data, { updatedAt: now - 1_000, profile: { givenName: "New", familyName: "Name" } })));
    await deliverNow("logto", userId);
    const stale = await postLogto(
      logtoEvent("User.Data.Updated", userId, (p) => {
        p.createdAt = new Date(now - 60_000).toISOString();
        Object.assign(p.data, { updatedAt: now - 60_000, profile: { givenName: "Old", familyName: "Name" } });
      }),
    );
    expect(await stale.json()).toMatchObject({ status: "stale" });
    expect((await orqIdentity(userId))?.display_name).toBe("New Name");
  });
});

describe("Logto bad input", () => {
  it("answers 401 to a signature made with another signing key, and records nothing", async () => {
    const userId = uniqueId("logto");
    expect((await postLogto(logtoEvent("User.Created", userId), "not-the-signing-key")).status).toBe(401);
    expect(await inspectIdentity("logto", userId)).toBeNull();
  });

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

  it("answers 400 naming data.id when the user entity has no id", async () => {
    const response = await postLogto(logtoEvent("User.Created", "x", (p) => delete p.data.id));
    expect(response.status).toBe(400);
    expect((await response.json<{ message: string }>()).message).toMatch(/^data\.id: /);
  });

  it("answers 400 naming createdAt when it is not a time, and data.id when a deletion names no user", async () => {
    const badTime = await postLogto(logtoEvent("User.Created", uniqueId("logto"), (p) => (p.createdAt = "now")));
    expect(badTime.status).toBe(400);
    expect((await badTime.json<{ message: string }>()).message).toMatch(/^createdAt: /);
    const noId = await postLogto(logtoEvent("User.Deleted", uniqueId("logto"), (p) => delete p.params));
    expect(noId.status).toBe(400);
    expect((await noId.json<{ message: string }>()).message).toMatch(/^data\.id: /);
  });

  it("acknowledges other Logto events (sign-ins, roles, organizations) without doing anything", async () => {
    const userId = uniqueId("logto");
    for (const event of ["PostSignIn", "Role.Created", "User.SuspensionStatus.Updated"]) {
      const response = await postLogto(logtoEvent("User.Created", userId, (p) => (p.event = event)));
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: "ignored", event_type: event });
    }
    expect(await inspectIdentity("logto", userId)).toBeNull();
  });
});
