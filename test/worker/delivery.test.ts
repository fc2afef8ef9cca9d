import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { RETRY_WINDOW_MS } from "../../src/deliver/backoff";
import { BRIDGE_STATUS_NAME } from "../../src/record/bridge-status";
import type { IdentitySync } from "../../src/record/identity-sync";
import {
  addFaults,
  ageFailure,
  clearFaults,
  clerkAt,
  clerkEvent,
  deliverNow,
  inspectIdentity,
  orqIdentity,
  orqWrites,
  postClerk,
  uniqueId,
  waitForState,
} from "./harness";

const at = (iso: string) => Date.parse(iso);

/** A deletion stamped in whole seconds, as in Clerk's documented examples. */
function clerkDeletedAt(userId: string, deletedAt: number) {
  return clerkEvent("user.deleted", userId, (p) => {
    p.timestamp = Math.floor(deletedAt / 1000);
  });
}

describe("delivery guarantees", () => {
  it("the same webhook delivered twice causes one orq write", async () => {
    const userId = uniqueId("user");
    const payload = clerkEvent("user.created", userId);
    const first = await postClerk(payload, { id: "msg_dup_1" + userId });
    const again = await postClerk(payload, { id: "msg_dup_1" + userId });
    expect(await first.json()).toMatchObject({ status: "recorded" });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: "duplicate" });

    await deliverNow("clerk", userId);
    // A retry arriving after delivery is still a duplicate.
    expect(await (await postClerk(payload, { id: "msg_dup_1" + userId })).json()).toMatchObject({ status: "duplicate" });
    await deliverNow("clerk", userId);
    expect(await orqWrites(userId)).toHaveLength(1);
  });

  it("events arriving out of order end with the newest data", async () => {
    const userId = uniqueId("user");
    const created = clerkAt("user.created", userId, at("2026-01-01T10:00:00Z"), "First");
    const updated = clerkAt("user.updated", userId, at("2026-01-01T10:05:00Z"), "Newest");

    expect(await (await postClerk(updated)).json()).toMatchObject({ status: "recorded" });
    await deliverNow("clerk", userId);
    expect(await (await postClerk(created)).json()).toMatchObject({ status: "stale" });
    await deliverNow("clerk", userId);

    expect(await orqIdentity(userId)).toMatchObject({ display_name: "Newest Doe Updated" });
    expect(await orqWrites(userId)).toHaveLength(2); // PATCH 404 → POST; the stale creation wrote nothing
  });

  it("a deleted user is not brought back by an older update arriving late", async () => {
    const userId = uniqueId("user");
    await postClerk(clerkAt("user.created", userId, at("2026-01-01T10:00:00Z"), "Ada"));
    await deliverNow("clerk", userId);
    await postClerk(clerkDeletedAt(userId, at("2026-01-01T11:00:00Z")));
    await deliverNow("clerk", userId);

    const olderUpdate = await postClerk(clerkAt("user.updated", userId, at("2026-01-01T10:30:00Z"), "Stale"));
    expect(await olderUpdate.json()).toMatchObject({ status: "stale" });
    // Same second as the deletion (which Clerk may stamp in whole seconds), a few ms earlier: still stale.
    const sameSecond = await postClerk(clerkAt("user.updated", userId, at("2026-01-01T11:00:00.400Z"), "Racing"));
    expect(await sameSecond.json()).toMatchObject({ status: "stale" });
    await deliverNow("clerk", userId);

    expect(await orqIdentity(userId)).toBeNull();
    expect(await inspectIdentity("clerk", userId)).toMatchObject({ tombstone: true, delivery: "delivered" });
    expect((await orqWrites(userId)).map((w) => w.method)).toEqual(["POST", "DELETE"]);
  });

  it("a user signed up again after a deletion gets the newest data, even if the update arrives before the re-creation", async () => {
    const userId = uniqueId("user");
    await postClerk(clerkAt("user.created", userId, at("2026-01-01T10:00:00Z"), "First"));
    await postClerk(clerkDeletedAt(userId, at("2026-01-01T11:00:00Z")));
    await deliverNow("clerk", userId);
    // Re-signup at 12:00, profile change at 12:05; the change arrives first.
    expect(await (await postClerk(clerkAt("user.updated", userId, at("2026-01-01T12:05:00Z"), "Again"))).json()).toMatchObject({ status: "recorded" });
    expect(await (await postClerk(clerkAt("user.created", userId, at("2026-01-01T12:00:00Z"), "Older"))).json()).toMatchObject({ status: "stale" });
    await deliverNow("clerk", userId);
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "Again Doe Updated" });
  });

  it("a deletion that arrives before the creation leaves no identity behind", async () => {
    const userId = uniqueId("user");
    await postClerk(clerkDeletedAt(userId, at("2026-01-01T11:00:00Z")));
    await deliverNow("clerk", userId);
    expect(await (await postClerk(clerkAt("user.created", userId, at("2026-01-01T10:00:00Z"), "Ada"))).json()).toMatchObject({
      status: "stale",
    });
    await deliverNow("clerk", userId);
    expect(await orqIdentity(userId)).toBeNull();
  });

  it("a 422 from orq.ai is a permanent failure: recorded with its reason, not retried", async () => {
    const userId = uniqueId("invalid");
    const started = Date.now();
    await addFaults({ externalIdPrefix: userId, faults: [{ status: 422 }] });
    await postClerk(clerkEvent("user.created", userId));
    const status = await deliverNow("clerk", userId);
    expect(status).toMatchObject({ delivery: "failed", lastStatus: 422, pending: true, nextAttemptAt: null });
    expect(status!.lastError).toMatch(/422/);
    const calls = (await orqWrites(userId)).length;
    expect(calls).toBeGreaterThan(0);
    // Its alarm runs again (a stray alarm, or one set before the failure): nothing is sent.
    // (Called directly: the harness's deliverNow stops at a failed identity by design.)
    const stub = env.IDENTITY_SYNC.getByName(`clerk:${userId}`);
    await runInDurableObject(stub, (instance: IdentitySync) => instance.alarm());
    expect((await orqWrites(userId)).length).toBe(calls);
    expect(await inspectIdentity("clerk", userId)).toMatchObject({ delivery: "failed", attempts: status!.attempts });

    // What /health counts and the admin failure list show: this identity, failed with orq's status
    // (read from the failure index for this identity, not from counters other files change).
    const failures = await env.BRIDGE_STATUS.getByName(BRIDGE_STATUS_NAME).failuresSince(started, 1_000);
    expect(failures.find((entry) => entry.userId === userId)).toMatchObject({ state: "failed", status: 422 });
    await clearFaults(userId);
  });

  // One identity's retryable failures (5xx, drops, hangs, coalescing, giving up): test/workspace/retries.test.ts.
  // A 429 with Retry-After and a rejected key pause the whole workspace: test/workspace/workspace.test.ts.
});

describe("upgrade from the previous version", () => {
  it("an identity stored by the previous version (rowid seen_events, a pending change) is delivered through the scheduler and still dedupes its old events", async () => {
    const userId = uniqueId("upgrade");
    const payload = clerkEvent("user.created", userId);
    const stub = env.IDENTITY_SYNC.getByName(`clerk:${userId}`);
    // The tables exactly as the previous release created them, with what it stored for one event.
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      sql.exec("DROP TABLE seen_events");
      sql.exec("CREATE TABLE seen_events (event_id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL)");
      sql.exec("INSERT INTO seen_events (event_id, seen_at) VALUES (?, ?)", `msg_old_${userId}`, Date.now());
      sql.exec(
        `INSERT INTO state (id, provider, user_id, external_id, event_id, event_type, occurred_at, desired, version, delivery, updated_at)
         VALUES (1, 'clerk', ?, ?, ?, 'created', ?, ?, 1, 'pending', ?)`,
        userId, userId, `msg_old_${userId}`, payload.data.updated_at,
        JSON.stringify({ kind: "present", identity: { external_id: userId, display_name: "Stored Before" } }), Date.now(),
      );
    });
    expect(await deliverNow("clerk", userId)).toMatchObject({ delivery: "delivered", pending: false });
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "Stored Before" });
    // The provider retrying the event the old version stored is still a duplicate.
    expect(await (await postClerk(payload, { id: `msg_old_${userId}` })).json()).toMatchObject({ status: "duplicate" });
  });
});
