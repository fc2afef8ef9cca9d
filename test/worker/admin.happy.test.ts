import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  addFaults,
  allFailures,
  auth0Event,
  callBridgeWith,
  clearFaults,
  clerkEvent,
  deliverNow,
  orqIdentity,
  postAuth0,
  postClerk,
  uniqueId,
  waitForState,
  type Json,
} from "./harness";

const ADMIN_TOKEN = "admin-token-for-the-happy-path-tests-91c2";

function admin(path: string, init: RequestInit = {}): Promise<Response> {
  return callBridgeWith({ ADMIN_TOKEN }, path, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...init.headers } });
}

function replay(body: Json): Promise<Response> {
  return admin("/admin/replay", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

const failureOf = (rows: Json[], userId: string) => rows.find((row) => row.user_id === userId);

/** A Clerk user whose creation orq.ai refuses with 422 (a permanent failure) until the fault is cleared. */
async function refusedUser(prefix: string): Promise<string> {
  const userId = uniqueId(prefix);
  await addFaults({ externalIdPrefix: userId, faults: [{ status: 422 }] });
  await postClerk(clerkEvent("user.created", userId));
  expect(await deliverNow("clerk", userId)).toMatchObject({ delivery: "failed" });
  return userId;
}

describe("GET /admin/identities/:provider/:userId", () => {
  it("shows the external id, the last event applied and the delivery state", async () => {
    const userId = uniqueId("admin_inspect");
    const event = clerkEvent("user.created", userId);
    await postClerk(event, { id: `msg_${userId}` });
    await deliverNow("clerk", userId);

    const response = await admin(`/admin/identities/clerk/${userId}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      provider: "clerk",
      user_id: userId,
      external_id: userId,
      last_event: { id: `msg_${userId}`, type: "created", occurred_at: new Date(event.data.updated_at).toISOString() },
      delivery: "delivered",
      pending: false,
      attempts: 0,
      next_attempt_at: null,
      last_orq_status: 201,
      last_error: null,
      tombstone: false,
      exists_in_orq: true,
      // ORQ_BUDGETS is not set here: no budget to show.
      budget: null,
    });
  });

  it("accepts a percent-encoded Auth0 id containing |", async () => {
    const userId = `auth0|${uniqueId("admin")}`;
    await postAuth0(auth0Event("user.created", userId));
    await deliverNow("auth0", userId);
    const response = await admin(`/admin/identities/auth0/${encodeURIComponent(userId)}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ user_id: userId, external_id: userId, delivery: "delivered" });
  });

  it("shows a deletion as a tombstone", async () => {
    const userId = uniqueId("admin_tomb");
    await postClerk(clerkEvent("user.created", userId));
    await deliverNow("clerk", userId);
    await postClerk(clerkEvent("user.deleted", userId, (p) => (p.timestamp = Date.now())));
    await deliverNow("clerk", userId);
    expect(await (await admin(`/admin/identities/clerk/${userId}`)).json()).toMatchObject({
      last_event: { type: "deleted" },
      tombstone: true,
      exists_in_orq: false,
      delivery: "delivered",
    });
  });

  it("answers 404 for an identity the bridge never saw, and for an unknown provider", async () => {
    const never = await admin(`/admin/identities/clerk/${uniqueId("never_seen")}`);
    expect(never.status).toBe(404);
    expect(await never.json()).toMatchObject({ error: "not_found" });
    expect((await admin("/admin/identities/nosuchprovider/user_1")).status).toBe(404);
  });
});

describe("GET /admin/failures", () => {
  it("lists an identity orq.ai refused with 422, with reason, attempts and times", async () => {
    const before = Date.now();
    const userId = await refusedUser("admin_fail");
    const failure = failureOf(await allFailures("state=failed"), userId);
    expect(failure).toEqual({
      provider: "clerk",
      user_id: userId,
      external_id: userId,
      state: "failed",
      reason: expect.stringMatching(/422/),
      attempts: 1,
      last_orq_status: 422,
      first_failure_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(Date.parse(failure.first_failure_at)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(failure.updated_at)).toBeGreaterThanOrEqual(Date.parse(failure.first_failure_at));
  });

  it("pages newest first without skipping or repeating a row", async () => {
    const ids = [await refusedUser("admin_page"), await refusedUser("admin_page"), await refusedUser("admin_page")];
    const rows = await allFailures();
    const names = rows.map((row) => `${row.provider}:${row.user_id}`);
    expect(new Set(names).size).toBe(names.length);
    for (const id of ids) expect(failureOf(rows, id)).toBeDefined();
    const times = rows.map((row) => Date.parse(row.updated_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it("answers 400 naming the query parameter that is wrong", async () => {
    for (const [query, field] of [["limit=0", "limit"], ["limit=abc", "limit"], ["state=ok", "state"], ["cursor=yesterday", "cursor"]]) {
      const response = await admin(`/admin/failures?${query}`);
      expect(response.status, query).toBe(400);
      expect((await response.json<{ message: string }>()).message).toMatch(new RegExp(`^${field}: `));
    }
  });
});

describe("POST /admin/replay", () => {
  it("replays one identity after its cause is fixed: it lands in orq.ai and leaves the failure list", async () => {
    const userId = await refusedUser("admin_replay");
    expect(await orqIdentity(userId)).toBeNull();
    await clearFaults(userId);

    const response = await replay({ provider: "clerk", user_id: userId });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ queued: [{ provider: "clerk", user_id: userId }] });

    // The replay schedules the identity's alarm: it delivers by itself.
    await waitForState("clerk", userId, (s) => s.delivery === "delivered");
    expect(await orqIdentity(userId)).toMatchObject({ external_id: userId, display_name: "John Doe" });
    expect(failureOf(await allFailures(), userId)).toBeUndefined();
    const inspected = await (await admin(`/admin/identities/clerk/${userId}`)).json();
    expect(inspected).toMatchObject({ delivery: "delivered", pending: false, last_orq_status: 201, last_error: null });
  });

  it("a replay that fails again is listed again with fresh times", async () => {
    const userId = await refusedUser("admin_again");
    const first = failureOf(await allFailures("state=failed"), userId);
    expect((await replay({ provider: "clerk", user_id: userId })).status).toBe(202);
    await waitForState("clerk", userId, (s) => s.delivery === "failed" && s.attempts === 1 && !!s.lastError);
    await expect
      .poll(async () => failureOf(await allFailures("state=failed"), userId)?.updated_at, { timeout: 10_000 })
      .not.toBe(first.updated_at);
  });

  it("replays every identity that failed since a time, and not those that failed before it", async () => {
    const before = await refusedUser("admin_since_old");
    await scheduler.wait(5);
    const since = new Date().toISOString();
    const after = [await refusedUser("admin_since_new"), await refusedUser("admin_since_new")];
    for (const userId of [before, ...after]) await clearFaults(userId);

    // The failure index is shared with the other files running now: this replay sees only this
    // test's identities, so it never replays (and delivers) another file's failures.
    const mine = (entry: { userId: string }) => entry.userId.startsWith("admin_since_");
    const ownFailures = new Proxy(env.BRIDGE_STATUS, {
      get: (target, property) =>
        property !== "getByName"
          ? Reflect.get(target, property)
          : (name: string) => {
              const stub = target.getByName(name);
              return { failuresSince: async (from: number, limit: number) => (await stub.failuresSince(from, 10_000)).filter(mine).slice(0, limit) };
            },
    });
    const response = await callBridgeWith({ ADMIN_TOKEN, BRIDGE_STATUS: ownFailures }, "/admin/replay", {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ since }),
    });
    expect(response.status).toBe(202);
    const answer = await response.json<{ queued: Json[]; next_since: string | null }>();
    const queued = answer.queued.map((target) => `${target.provider}:${target.user_id}`);
    for (const userId of after) expect(queued).toContain(`clerk:${userId}`);
    expect(queued).not.toContain(`clerk:${before}`);
    expect(answer.next_since).toBeNull();

    for (const userId of after) {
      await waitForState("clerk", userId, (s) => s.delivery === "delivered");
      expect(await orqIdentity(userId)).not.toBeNull();
    }
    expect(await orqIdentity(before)).toBeNull();
  });

  it("answers 404 for an identity the bridge never saw, and queues nothing", async () => {
    const response = await replay({ provider: "clerk", user_id: uniqueId("never_seen") });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: "not_found", queued: [] });
  });

  it("answers 400 naming the field for a body that is not a replay request", async () => {
    const cases: Array<[unknown, string]> = [
      [{}, "provider"],
      [{ provider: "clerk" }, "user_id"],
      [{ provider: "nosuchprovider", user_id: "user_1" }, "provider"],
      [{ provider: "clerk", user_id: "" }, "user_id"],
      [{ provider: "clerk", user_id: "x".repeat(257) }, "user_id"],
      [{ since: "yesterday" }, "since"],
      [{ since: "2026-01-01T00:00:00Z", provider: "clerk", user_id: "user_1" }, "since"],
      [{ provider: "clerk", user_id: "user_1", extra: true }, ""],
    ];
    for (const [body, field] of cases) {
      const response = await replay(body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      const answer = await response.json<{ error: string; message: string }>();
      expect(answer.error).toBe("invalid_request");
      if (field) expect(answer.message, JSON.stringify(body)).toMatch(new RegExp(`^${field}: `));
      else expect(answer.message).toMatch(/extra/);
    }
    const notJson = await admin("/admin/replay", { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: "invalid_json" });
  });
});
