import { describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { DEV_SECRETS } from "../../support/secrets";
import created from "../../fixtures/standard/user.created.json";
import deleted from "../../fixtures/standard/user.deleted.json";
import updated from "../../fixtures/standard/user.updated.json";
import { callBridge, callBridgeWith, deliverNow, exampleForUser, orqIdentity, uniqueId, type Json } from "../harness";

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
  it("times may be epoch milliseconds (or seconds)", async () => {
    for (const [timestamp, time] of [[1748779200, 1748779200000], [1748779200000, 1748779200]]) {
      const userId = uniqueId("usr");
      const event = standardEvent("user.created", userId, (p) => {
        Object.assign(p.data, { created_at: time, updated_at: time });
        p.timestamp = timestamp;
      });
      expect((await postStandard(event)).status).toBe(200);
      await deliverNow("standard", userId);
      expect(await orqIdentity(userId)).toMatchObject({ display_name: "Ada Lovelace", metadata: { provider_created_at: "2025-06-01T12:00:00.000Z" } });
    }
  });

  it("accepts the secret as Supabase shows it (v1,whsec_…)", async () => {
    const userId = uniqueId("usr");
    const init = standardRequest(standardEvent("user.created", userId));
    const response = await callBridgeWith({ STANDARD_WEBHOOK_SECRET: `v1,${DEV_SECRETS.STANDARD_WEBHOOK_SECRET}` }, "/webhooks/standard", init);
    expect(response.status).toBe(200);
  });
});

describe("Standard Webhooks bodies without a timestamp", () => {
  /** Only `type` and `data`, as many senders write it; `updated_at` too unless `keepUpdatedAt`. */
  const bare = (type: keyof typeof fixtures, userId: string, lastName: string, keepUpdatedAt = false) =>
    standardEvent(type, userId, (p) => {
      delete p.timestamp;
      if (!keepUpdatedAt) delete p.data.updated_at;
      if (p.data.last_name) p.data.last_name = lastName;
    });
  const now = Math.floor(Date.now() / 1000);

  for (const order of ["newer first", "older first"] as const) {
    it(`are ordered by the signed webhook-timestamp (${order})`, async () => {
      const userId = uniqueId("usr");
      const newer = () => postStandard(bare("user.updated", userId, "Newer"), { timestamp: now - 10 });
      const older = () => postStandard(bare("user.updated", userId, "Older"), { timestamp: now - 60 });
      const [first, second] = order === "newer first" ? [newer, older] : [older, newer];
      expect(await (await first()).json()).toMatchObject({ status: "recorded" });
      await deliverNow("standard", userId);
      expect(await (await second()).json()).toMatchObject({ status: order === "newer first" ? "stale" : "recorded" });
      await deliverNow("standard", userId);
      expect((await orqIdentity(userId))?.display_name).toBe("Ada Newer");
    });
  }

  it("are ordered by data.updated_at when present, so a late retry (re-signed later) of an older change does not win", async () => {
    const userId = uniqueId("usr");
    const at = (iso: string, last: string) => (p: Json) => ((p.data.updated_at = iso), (p.data.last_name = last), delete p.timestamp);
    await postStandard(standardEvent("user.updated", userId, at("2025-07-01T10:00:00Z", "Newer")), { timestamp: now - 60 });
    await deliverNow("standard", userId);
    const lateRetry = await postStandard(standardEvent("user.updated", userId, at("2025-07-01T09:00:00Z", "Older")), { timestamp: now });
    expect(await lateRetry.json()).toMatchObject({ status: "stale" });
    expect((await orqIdentity(userId))?.display_name).toBe("Ada Newer");
  });

  it("a deletion without timestamp is ordered by webhook-timestamp too: an older update arriving later does not resurrect", async () => {
    const userId = uniqueId("usr");
    await postStandard(bare("user.created", userId, "Lovelace"), { timestamp: now - 60 });
    expect(await (await postStandard(bare("user.deleted", userId, ""), { timestamp: now - 10 })).json()).toMatchObject({ status: "recorded" });
    expect(await (await postStandard(bare("user.updated", userId, "Late"), { timestamp: now - 30 })).json()).toMatchObject({ status: "stale" });
    expect(await deliverNow("standard", userId)).toMatchObject({ tombstone: true, delivery: "delivered" });
    expect(await orqIdentity(userId)).toBeNull();
  });
});

describe("Standard Webhooks bad input", () => {
  it("answers 401 to Svix-named headers: this route speaks Standard Webhooks only", async () => {
    const init = standardRequest(standardEvent("user.created", uniqueId("usr")));
    const headers = Object.fromEntries(Object.entries(init.headers as Record<string, string>).map(([name, value]) => [name.replace(/^webhook-/, "svix-"), value]));
    expect((await callBridge("/webhooks/standard", { ...init, headers })).status).toBe(401);
  });
});
