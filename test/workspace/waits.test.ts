/**
 * What an identity waits for, and what it never gives up on, through the bridge and the
 * workspace's scheduler (its own runtime: the `workspace/waits` project, one test at a time).
 *
 * - A new event never makes a delivery skip a Retry-After or a pause: one rule, in deliver()
 *   (src/record/identity-sync.ts): no call before orq.ai's Retry-After for this identity, and
 *   every call asks the scheduler, which holds the workspace's pauses.
 * - 403 rejects the key like 401; a missing ORQ_API_KEY too, without any call.
 * - An identity whose key is rejected while others succeed keeps trying past the retry window.
 *
 * "Own" failures (about one identity) are made as orq.ai's answers make them: the refusal is slow
 * (emulator fault `delayMs`) and another identity's call succeeds meanwhile.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { RETRY_WINDOW_MS } from "../../src/deliver/backoff";
import type { IdentitySync } from "../../src/record/identity-sync";
import {
  addFaults,
  ageFailure,
  clearFaults,
  clerkEvent,
  emulator,
  inspectIdentity,
  postClerk,
  uniqueId,
  waitForState,
  type Json,
} from "../worker/harness";
import { health, quietWorkspace, scheduler, waitUntil } from "./workspace-harness";

async function callsFor(externalId: string): Promise<Json[]> {
  const { requests } = await emulator<{ requests: Json[] }>(`/__emulator/requests?external_id=${encodeURIComponent(externalId)}`);
  return requests;
}

/**
 * `userId`'s next call is refused slowly (fault `delayMs`) while another identity's call lands:
 * the refusal is then `userId`'s own, not the workspace's. Returns when it was answered.
 */
async function ownRefusal(userId: string, fault: { status: 401 | 403 | 503; retryAfter?: number }, start: () => Promise<unknown>): Promise<number> {
  await addFaults({ externalIdPrefix: userId, times: 1, faults: [{ ...fault, delayMs: 1_000 }] });
  const before = (await callsFor(userId)).length;
  const started = start();
  await waitUntil(`${userId} called orq.ai`, async () => (await callsFor(userId)).length > before, 10_000);
  const other = uniqueId("lands");
  await postClerk(clerkEvent("user.created", other));
  await waitForState("clerk", other, (s) => s.delivery === "delivered", 10_000);
  await started;
  const refused = (await callsFor(userId))[before];
  expect(refused.status).toBe(fault.status);
  return refused.at + 1_000;
}

describe("a new event never makes a delivery skip a Retry-After or a pause", () => {
  // A 429 with Retry-After is always the workspace's (the scheduler pauses everyone); a 503 with
  // Retry-After while other calls succeed is this identity's own: the identity keeps the wait.
  it("orq.ai's Retry-After on one identity's 503 holds when a new event for it arrives", async () => {
    await quietWorkspace();
    const userId = uniqueId("own503");
    const answeredAt = await ownRefusal(userId, { status: 503, retryAfter: 4 }, () => postClerk(clerkEvent("user.created", userId)));
    await waitForState("clerk", userId, (s) => s.delivery === "retrying" && s.lastStatus === 503, 10_000);
    expect((await scheduler().stats()).state).toBe("flowing");

    expect(await (await postClerk(clerkEvent("user.updated", userId))).json()).toMatchObject({ status: "recorded" });
    await waitForState("clerk", userId, (s) => s.delivery === "delivered", 15_000);
    const [, next] = await callsFor(userId);
    expect(next.at).toBeGreaterThanOrEqual(answeredAt + 4_000 - 100);
  });

  it("a workspace pause (429 with Retry-After) holds for the paused identity's own new event too", async () => {
    await quietWorkspace();
    const userId = uniqueId("paused");
    await addFaults({ externalIdPrefix: userId, times: 1, faults: [{ status: 429, retryAfter: 3 }] });
    await postClerk(clerkEvent("user.created", userId));
    await waitUntil("orq.ai refused the call", async () => (await callsFor(userId)).length > 0, 10_000);
    const refusedAt = (await callsFor(userId))[0].at as number;
    await waitUntil("the workspace is paused", async () => (await scheduler().stats()).state === "rate_limited", 5_000);

    expect(await (await postClerk(clerkEvent("user.updated", userId))).json()).toMatchObject({ status: "recorded" });
    await waitForState("clerk", userId, (s) => s.delivery === "delivered", 15_000);
    const [, next] = await callsFor(userId);
    expect(next.at).toBeGreaterThanOrEqual(refusedAt + 2_900);
  });
});

describe("the key", () => {
  it.each([401, 403] as const)("a key rejected with %i while others succeed: the identity keeps trying past the retry window, never gives up", async (status) => {
    await quietWorkspace();
    const userId = uniqueId(`own${status}`);
    await ownRefusal(userId, { status }, () => postClerk(clerkEvent("user.created", userId)));
    const first = await waitForState("clerk", userId, (s) => s.delivery === "retrying" && s.lastStatus === status, 10_000);
    expect(first.lastError).toMatch(/ORQ_API_KEY/);

    // As if the key had been rejected for longer than the retry window; then an attempt runs
    // (its refusal again this identity's own) and must keep the identity retrying.
    await ageFailure("clerk", userId, RETRY_WINDOW_MS + 1);
    const agedAt = Date.now();
    const stub = env.IDENTITY_SYNC.getByName(`clerk:${userId}`);
    await ownRefusal(userId, { status }, () => runInDurableObject(stub, (instance: IdentitySync) => instance.alarm()));
    expect((await callsFor(userId)).filter((call: Json) => call.at >= agedAt && call.status === status)).toHaveLength(1);
    // The attempt's count may be written a moment after its call (its own retry alarm may have run
    // the attempt that the test's alarm() joined, on a busy machine).
    const after = await waitForState("clerk", userId, (s) => s.attempts > first.attempts, 10_000);
    expect(after).toMatchObject({ delivery: "retrying", lastStatus: status });

    await clearFaults(userId);
    await runInDurableObject(stub, (instance: IdentitySync) => instance.replay());
    await waitForState("clerk", userId, (s) => s.delivery === "delivered", 15_000);
  });

  it("403 for everyone pauses the workspace as the key's problem, gives up on nothing, and recovers by itself", async () => {
    await quietWorkspace();
    const prefix = uniqueId("forbidden");
    const users = [`${prefix}_a`, `${prefix}_b`];
    await addFaults({ externalIdPrefix: prefix, faults: [{ status: 403 }] });
    try {
      for (const userId of users) await postClerk(clerkEvent("user.created", userId));
      await waitUntil("the key is reported rejected", async () => (await health()).orq.auth === "failing", 10_000);
      expect(await health()).toMatchObject({ status: "degraded", scheduler: { state: "key_rejected" } });
      for (const userId of users) expect((await inspectIdentity("clerk", userId))!.delivery).not.toBe("failed");
    } finally {
      await clearFaults(prefix);
    }
    for (const userId of users) await waitForState("clerk", userId, (s) => s.delivery === "delivered", 15_000);
    expect((await health()).orq.auth).toBe("ok");
  });

  it("a missing ORQ_API_KEY makes no call, pauses the workspace as the key's problem, keeps the change, and delivers once the key is set", async () => {
    await quietWorkspace();
    const userId = uniqueId("nokey");
    const stub = env.IDENTITY_SYNC.getByName(`clerk:${userId}`);
    // This identity's object runs without the key (the Worker's env is shared: only this object's copy changes).
    await runInDurableObject(stub, (instance: IdentitySync) => {
      (instance as unknown as { env: Env }).env = { ...env, ORQ_API_KEY: undefined } as Env;
    });
    try {
      await postClerk(clerkEvent("user.created", userId));
      await waitUntil("the workspace waits for the key", async () => (await scheduler().stats()).state === "key_rejected", 10_000);
      expect(await callsFor(userId)).toEqual([]);
      expect(await inspectIdentity("clerk", userId)).toMatchObject({ pending: true, delivery: "pending" });
    } finally {
      await runInDurableObject(stub, (instance: IdentitySync) => {
        (instance as unknown as { env: Env }).env = env;
      });
    }
    await waitForState("clerk", userId, (s) => s.delivery === "delivered", 15_000);
    expect(await callsFor(userId)).toHaveLength(1);
    expect((await scheduler().stats()).state).toBe("flowing");
  });
});
