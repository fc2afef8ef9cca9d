import { describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { DEV_SECRETS } from "../../support/secrets";
import created from "../../fixtures/standard/user.created.json";
import deleted from "../../fixtures/standard/user.deleted.json";
import updated from "../../fixtures/standard/user.updated.json";
import { callBridge, callBridgeWith, deliverNow, exampleForUser, inspectIdentity, orqIdentity, orqWrites, uniqueId, type Json } from "../harness";

const fixtures = { "user.created": created, "user.updated": updated, "user.deleted": deleted };

/** The example payload of docs/standard-webhook-payload.md for `userId`. */
function standardEvent(type: keyof typeof fixtures, userId: string, patch?: (payload: Json) => void): Json {
  return exampleForUser(fixtures[type], userId, patch);
}

interface SendOptions {
  id?: string;
  /** webhook-timestamp, seconds; default now. */
  timestamp?: number;
  secret?: string;
}

/** Signed with the `standardwebhooks` reference library. */
function standardRequest(payload: Json, options: SendOptions = {}): RequestInit {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const id = options.id ?? `msg_${crypto.randomUUID()}`;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const signature = new Webhook(options.secret ?? DEV_SECRETS.STANDARD_WEBHOOK_SECRET).sign(id, new Date(timestamp * 1000), body);
  return {
    method: "POST",
    headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signature },
    body,
  };
}

function postStandard(payload: Json, options: SendOptions = {}): Promise<Response> {
  return callBridge("/webhooks/standard", standardRequest(payload, options));
}

describe("Standard Webhooks senders' users land in orq.ai", () => {
  it("user.created (the documented example) becomes an identity with the mapped fields", async () => {
    const userId = uniqueId("usr");
    const response = await postStandard(standardEvent("user.created", userId));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "recorded" });
    expect(await deliverNow("standard", userId)).toMatchObject({ delivery: "delivered" });
    expect(await orqIdentity(userId)).toMatchObject({
      external_id: userId,
      email: "ada@example.com",
      display_name: "Ada Lovelace",
      avatar_url: "https://example.com/avatars/ada.png",
      tags: ["standard", "test-suite"],
      metadata: { provider: "standard", provider_created_at: "2025-06-01T12:00:00.000Z" },
    });
  });

  it("user.updated replaces the profile and user.deleted removes the identity", async () => {
    const userId = uniqueId("usr");
    await postStandard(standardEvent("user.created", userId));
    await deliverNow("standard", userId);
    await postStandard(standardEvent("user.updated", userId));
    await deliverNow("standard", userId);
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "Ada King" });
    expect((await postStandard(standardEvent("user.deleted", userId))).status).toBe(200);
    expect(await deliverNow("standard", userId)).toMatchObject({ tombstone: true, delivery: "delivered" });
    expect(await orqIdentity(userId)).toBeNull();
    expect((await orqWrites(userId)).map((write) => write.method)).toEqual(["POST", "PATCH", "DELETE"]);
  });

  it("display name falls back from first + last name to username, then name; times may be epoch milliseconds", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ first_name: null, last_name: null }, "ada"],
      [{ first_name: null, last_name: null, username: null }, "Ada Lovelace"],
    ];
    for (const [fields, expected] of cases) {
      const userId = uniqueId("usr");
      const event = standardEvent("user.created", userId, (p) => {
        Object.assign(p.data, fields, { created_at: 1748779200000, updated_at: 1748779200000 });
        p.timestamp = 1748779200;
      });
      expect((await postStandard(event)).status).toBe(200);
      await deliverNow("standard", userId);
      expect(await orqIdentity(userId)).toMatchObject({ display_name: expected, metadata: { provider_created_at: "2025-06-01T12:00:00.000Z" } });
    }
  });

  it("accepts the secret as Supabase shows it (v1,whsec_…)", async () => {
    const userId = uniqueId("usr");
    const init = standardRequest(standardEvent("user.created", userId));
    const response = await callBridgeWith({ STANDARD_WEBHOOK_SECRET: `v1,${DEV_SECRETS.STANDARD_WEBHOOK_SECRET}` }, "/webhooks/standard", init);
    expect(response.status).toBe(200);
  });

  it("the same webhook-id delivered twice writes once", async () => {
    const userId = uniqueId("usr");
    const id = `msg_${crypto.randomUUID()}`;
    await postStandard(standardEvent("user.created", userId), { id });
    expect(await (await postStandard(standardEvent("user.created", userId), { id })).json()).toMatchObject({ status: "duplicate" });
    await deliverNow("standard", userId);
    expect(await orqWrites(userId)).toHaveLength(1);
  });

  it("orders by updated_at: an older update arriving late does not overwrite a newer one", async () => {
    const userId = uniqueId("usr");
    const at = (iso: string, last: string) => (p: Json) => ((p.timestamp = iso), (p.data.updated_at = iso), (p.data.last_name = last));
    await postStandard(standardEvent("user.updated", userId, at("2025-07-01T10:00:00Z", "Newer")));
    await deliverNow("standard", userId);
    const stale = await postStandard(standardEvent("user.updated", userId, at("2025-07-01T09:00:00Z", "Older")));
    expect(await stale.json()).toMatchObject({ status: "stale" });
    expect((await orqIdentity(userId))?.display_name).toBe("Ada Newer");
  });
});

describe("Standard Webhooks bad input", () => {
  it("answers 401 to a signature made with another secret, and records nothing", async () => {
    const userId = uniqueId("usr");
    const other = `whsec_${btoa("another-secret-another-secret-32")}`;
    expect((await postStandard(standardEvent("user.created", userId), { secret: other })).status).toBe(401);
    expect(await inspectIdentity("standard", userId)).toBeNull();
  });

  it("answers 401 to a webhook-timestamp more than 5 minutes off", async () => {
    const userId = uniqueId("usr");
    const now = Math.floor(Date.now() / 1000);
    expect((await postStandard(standardEvent("user.created", userId), { timestamp: now - 330 })).status).toBe(401);
    expect((await postStandard(standardEvent("user.created", userId), { timestamp: now + 330 })).status).toBe(401);
    expect(await inspectIdentity("standard", userId)).toBeNull();
  });

  it("answers 401 to Svix-named headers: this route speaks Standard Webhooks only", async () => {
    const init = standardRequest(standardEvent("user.created", uniqueId("usr")));
    const headers = Object.fromEntries(Object.entries(init.headers as Record<string, string>).map(([name, value]) => [name.replace(/^webhook-/, "svix-"), value]));
    expect((await callBridge("/webhooks/standard", { ...init, headers })).status).toBe(401);
  });

  it("answers 400 naming data.id when it is missing, and timestamp when it is absent", async () => {
    const noId = await postStandard(standardEvent("user.created", "x", (p) => delete p.data.id));
    expect(noId.status).toBe(400);
    expect((await noId.json<{ message: string }>()).message).toMatch(/^data\.id: /);
    const noTime = await postStandard(standardEvent("user.created", uniqueId("usr"), (p) => delete p.timestamp));
    expect(noTime.status).toBe(400);
    expect((await noTime.json<{ message: string }>()).message).toMatch(/^timestamp: /);
  });

  it("acknowledges other event types without doing anything", async () => {
    const userId = uniqueId("usr");
    const response = await postStandard(standardEvent("user.created", userId, (p) => (p.type = "session.created")));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "ignored", event_type: "session.created" });
    expect(await inspectIdentity("standard", userId)).toBeNull();
  });
});
