import { describe, expect, it } from "vitest";
import { DEV_SECRETS } from "../../support/secrets";
import created from "../../fixtures/workos/user.created.json";
import deleted from "../../fixtures/workos/user.deleted.json";
import updated from "../../fixtures/workos/user.updated.json";
import { callBridge, deliverNow, exampleForUser, inspectIdentity, orqIdentity, orqWrites, uniqueId, type Json } from "../harness";
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
  it("user.created (WorkOS's documented example) becomes an identity with the mapped fields", async () => {
    const userId = uniqueId("user");
    const response = await postWorkos(workosEvent("user.created", userId));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "recorded" });
    expect(await deliverNow("workos", userId)).toMatchObject({ delivery: "delivered" });

    expect(await orqIdentity(userId)).toMatchObject({
      external_id: userId,
      email: "marcelina.davis@example.com",
      display_name: "Marcelina Davis",
      avatar_url: "https://workoscdn.com/images/v1/123abc",
      tags: ["workos", "test-suite"],
      metadata: { provider: "workos", provider_created_at: "2021-06-25T19:07:33.155Z" },
    });
  });

  it("user.updated replaces the profile and user.deleted removes the identity", async () => {
    const userId = uniqueId("user");
    await postWorkos(workosEvent("user.created", userId));
    await deliverNow("workos", userId);
    expect((await postWorkos(workosEvent("user.updated", userId))).status).toBe(200);
    await deliverNow("workos", userId);
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "Marcelina Davis-Lee" });

    expect((await postWorkos(workosEvent("user.deleted", userId))).status).toBe(200);
    expect(await deliverNow("workos", userId)).toMatchObject({ delivery: "delivered", tombstone: true });
    expect(await orqIdentity(userId)).toBeNull();
    expect((await orqWrites(userId)).map((write) => write.method)).toEqual(["POST", "PATCH", "DELETE"]);
  });

  it("without first and last name no display name is sent, and a missing picture is omitted", async () => {
    const userId = uniqueId("user");
    await postWorkos(workosEvent("user.created", userId, (p) => Object.assign(p.data, { first_name: null, last_name: null, profile_picture_url: null })));
    await deliverNow("workos", userId);
    const [create] = await orqWrites(userId);
    expect(create.body).not.toHaveProperty("display_name");
    expect(create.body).not.toHaveProperty("avatar_url");
    expect(create.body.email).toBe("marcelina.davis@example.com");
  });

  it("the same event id delivered twice (WorkOS retries) writes once", async () => {
    const userId = uniqueId("user");
    const event = workosEvent("user.created", userId);
    await postWorkos(event);
    expect(await (await postWorkos(event)).json()).toMatchObject({ status: "duplicate" });
    await deliverNow("workos", userId);
    expect(await orqWrites(userId)).toHaveLength(1);
  });

  it("orders by the event's own time: a late, older update does not overwrite a newer one", async () => {
    const userId = uniqueId("user");
    const at = (iso: string) => (p: Json) => ((p.created_at = iso), (p.data.updated_at = iso));
    await postWorkos(workosEvent("user.updated", userId, (p) => (at("2021-07-01T10:00:00.000Z")(p), (p.data.first_name = "New"))));
    await deliverNow("workos", userId);
    const stale = await postWorkos(workosEvent("user.updated", userId, (p) => (at("2021-07-01T09:00:00.000Z")(p), (p.data.first_name = "Old"))));
    expect(await stale.json()).toMatchObject({ status: "stale" });
    await deliverNow("workos", userId);
    expect((await orqIdentity(userId))?.display_name).toBe("New Davis-Lee");
  });
});

describe("WorkOS bad input", () => {
  it("answers 401 to a signature made with another secret, and records nothing", async () => {
    const userId = uniqueId("user");
    const response = await postWorkos(workosEvent("user.created", userId), { secret: "not-the-configured-secret" });
    expect(response.status).toBe(401);
    expect(await inspectIdentity("workos", userId)).toBeNull();
  });

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

  it("answers 400 naming data.id when it is missing", async () => {
    const response = await postWorkos(workosEvent("user.created", "x", (p) => delete p.data.id));
    expect(response.status).toBe(400);
    expect((await response.json<{ message: string }>()).message).toMatch(/^data\.id: /);
  });

  it("answers 400 naming event when the envelope has no event type, and created_at when it is not a time", async () => {
    const noType = await postWorkos(workosEvent("user.created", uniqueId("user"), (p) => delete p.event));
    expect(noType.status).toBe(400);
    expect((await noType.json<{ message: string }>()).message).toMatch(/^event: /);
    const badTime = await postWorkos(workosEvent("user.created", uniqueId("user"), (p) => (p.created_at = "yesterday")));
    expect(badTime.status).toBe(400);
    expect((await badTime.json<{ message: string }>()).message).toMatch(/^created_at: /);
  });

  it("acknowledges other WorkOS events (Directory Sync, sessions) without doing anything", async () => {
    const userId = uniqueId("user");
    for (const type of ["dsync.user.created", "session.created", "organization_membership.created"]) {
      const response = await postWorkos(workosEvent("user.created", userId, (p) => (p.event = type)));
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: "ignored", event_type: type });
    }
    expect(await inspectIdentity("workos", userId)).toBeNull();
  });
});
