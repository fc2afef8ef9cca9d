import { describe, expect, it, vi } from "vitest";
import { DEV_SECRETS } from "../../support/secrets";
import created from "../../fixtures/supabase/user.created.json";
import deleted from "../../fixtures/supabase/user.deleted.json";
import updated from "../../fixtures/supabase/user.updated.json";
import { callBridge, callBridgeWith, deliverNow, inspectIdentity, orqIdentity, orqWrites, type Json } from "../harness";

const fixtures = { INSERT: created, UPDATE: updated, DELETE: deleted };

/** GoTrue user ids are UUIDs. */
const supabaseId = () => crypto.randomUUID();

/** A fresh copy of the documented payload for `userId` (record and old_record alike). */
function supabaseEvent(type: keyof typeof fixtures, userId: string, patch: (payload: Json) => void = () => {}): Json {
  const payload = structuredClone(fixtures[type]) as Json;
  for (const row of [payload.record, payload.old_record]) {
    if (row) {
      row.id = userId;
      row.raw_user_meta_data.sub = userId;
    }
  }
  patch(payload);
  return payload;
}

function postSupabase(payload: Json, authorization: string | null = `Bearer ${DEV_SECRETS.SUPABASE_WEBHOOK_SECRET}`): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (authorization !== null) headers.authorization = authorization;
  return callBridge("/webhooks/supabase", { method: "POST", headers, body: typeof payload === "string" ? payload : JSON.stringify(payload) });
}

describe("Supabase auth.users rows land in orq.ai", () => {
  it("a soft delete (an UPDATE that sets deleted_at) removes the identity too", async () => {
    const userId = supabaseId();
    await postSupabase(supabaseEvent("INSERT", userId));
    await deliverNow("supabase", userId);
    const softDelete = supabaseEvent("UPDATE", userId, (p) => {
      p.record.deleted_at = "2024-05-28T09:00:00.000000+00:00";
      p.record.updated_at = "2024-05-28T09:00:00.000000+00:00";
      p.record.email = "obfuscated@deleted.invalid";
    });
    expect((await postSupabase(softDelete)).status).toBe(200);
    expect(await deliverNow("supabase", userId)).toMatchObject({ tombstone: true });
    expect(await orqIdentity(userId)).toBeNull();
  });

  it("falls back to name and picture (OAuth sign-ups) and leaves absent fields out", async () => {
    const userId = supabaseId();
    await postSupabase(supabaseEvent("INSERT", userId, (p) => (p.record.raw_user_meta_data = { name: "Jane OAuth", picture: "https://lh3.example.com/jane" })));
    await deliverNow("supabase", userId);
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "Jane OAuth", avatar_url: "https://lh3.example.com/jane" });

    const phoneOnly = supabaseId();
    await postSupabase(supabaseEvent("INSERT", phoneOnly, (p) => Object.assign(p.record, { email: null, phone: "15555550100", raw_user_meta_data: {} })));
    await deliverNow("supabase", phoneOnly);
    const identity = await orqIdentity(phoneOnly);
    expect(identity).not.toHaveProperty("email");
    expect(identity).not.toHaveProperty("display_name");
  });

  it("copies listed raw_app_meta_data keys (server-only), never raw_user_meta_data or the password hash", async () => {
    const userId = supabaseId();
    const payload = supabaseEvent("INSERT", userId, (p) => {
      p.record.raw_app_meta_data.plan = "pro";
      p.record.raw_user_meta_data.role = "admin";
    });
    const response = await callBridgeWith({ ORQ_METADATA_KEYS: "plan,role" }, "/webhooks/supabase", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${DEV_SECRETS.SUPABASE_WEBHOOK_SECRET}` },
      body: JSON.stringify(payload),
    });
    expect(response.status).toBe(200);
    await deliverNow("supabase", userId);
    expect((await orqIdentity(userId)).metadata).toEqual({ plan: "pro", provider: "supabase", provider_created_at: "2024-05-28T08:00:00.401Z" });
    const [create] = await orqWrites(userId);
    expect(JSON.stringify(create.body)).not.toContain(payload.record.encrypted_password);
  });

  it("the same row version sent twice writes once; a new version is a new event", async () => {
    const userId = supabaseId();
    const insert = supabaseEvent("INSERT", userId);
    await postSupabase(insert);
    expect(await (await postSupabase(insert)).json()).toMatchObject({ status: "duplicate" });
    await deliverNow("supabase", userId);
    expect(await orqWrites(userId)).toHaveLength(1);

    const first = supabaseEvent("UPDATE", userId);
    const second = supabaseEvent("UPDATE", userId, (p) => {
      p.record.updated_at = "2024-05-28T08:06:00.000001+00:00";
      p.record.raw_user_meta_data.full_name = "Jane Second";
    });
    expect(await (await postSupabase(first)).json()).toMatchObject({ status: "recorded" });
    expect(await (await postSupabase(second)).json()).toMatchObject({ status: "recorded" });
    expect(await (await postSupabase(first)).json()).toMatchObject({ status: "duplicate" });
    await deliverNow("supabase", userId);
    expect((await orqIdentity(userId))?.display_name).toBe("Jane Second");
  });

  it("never logs the row (emails, names, password hash)", async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    try {
      const userId = supabaseId();
      await postSupabase(supabaseEvent("INSERT", userId));
      await deliverNow("supabase", userId);
    } finally {
      spy.mockRestore();
    }
    const all = lines.join("\n");
    expect(lines.length).toBeGreaterThan(0);
    for (const forbidden of ["jane.doe@example.com", "Jane Doe", "$2a$10$", DEV_SECRETS.SUPABASE_WEBHOOK_SECRET]) expect(all).not.toContain(forbidden);
  });
});

describe("Supabase bad input", () => {
  const wrong: Array<[string, string | null]> = [
    ["no Authorization header", null],
    ["a wrong secret", "Bearer not-the-supabase-webhook-secret"],
    ["the bare secret without Bearer", DEV_SECRETS.SUPABASE_WEBHOOK_SECRET],
    ["a prefix of the secret", `Bearer ${DEV_SECRETS.SUPABASE_WEBHOOK_SECRET.slice(0, 10)}`],
  ];
  for (const [name, authorization] of wrong) {
    it(`answers 401 to ${name}, and records nothing`, async () => {
      const userId = supabaseId();
      const response = await postSupabase(supabaseEvent("INSERT", userId), authorization);
      expect(response.status).toBe(401);
      expect(await response.text()).not.toContain(DEV_SECRETS.SUPABASE_WEBHOOK_SECRET);
      expect(await inspectIdentity("supabase", userId)).toBeNull();
    });
  }

  it("answers 400 naming old_record when a DELETE carries no row", async () => {
    const response = await postSupabase(supabaseEvent("DELETE", supabaseId(), (p) => (p.old_record = null)));
    expect(response.status).toBe(400);
    expect((await response.json<{ message: string }>()).message).toMatch(/^old_record: /);
  });

  it("answers 400 naming table when the webhook is on another table than auth.users", async () => {
    const userId = supabaseId();
    const response = await postSupabase(supabaseEvent("INSERT", userId, (p) => ((p.table = "profiles"), (p.schema = "public"))));
    expect(response.status).toBe(400);
    expect((await response.json<{ message: string }>()).message).toMatch(/^table: /);
    expect(await inspectIdentity("supabase", userId)).toBeNull();
  });
});
