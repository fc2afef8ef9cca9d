/**
 * The scheduler stays live while orq.ai is flaky (issue 19): its backlog never waits while a call
 * could go out, and scattered faults converge as fast as before the scheduler existed. Real alarms,
 * real backoff, no test shortcuts: nothing here drives an identity by hand.
 */
import { afterEach, describe, expect, it } from "vitest";
import { seededRandom, shuffle } from "../../tools/lib/chaos-plan";
import { identityObjectName } from "../../src/record/identity-change";
import { addFaults, clearFaults, clerkAt, clerkEvent, orqIdentity, postClerk, svixHeaders, callBridgeWith, uniqueId, waitForState, type FaultRule } from "../worker/harness";
import { quietWorkspace, scheduler, sleep } from "./workspace-harness";

/** The five fault kinds of the issue: 500, 502, 503, 429 with only Retry-After: 1, a reset connection. */
const FLAKY: FaultRule["faults"] = [{ status: 500 }, { status: 502 }, { status: 503 }, { status: 429, retryAfter: 1 }, { drop: true }];

const USERS = 60;
const CONVERGE_MS = 180_000;
const MAX_IDLE_MS = 2_000;

function post(body: string, id: string): Promise<Response> {
  return callBridgeWith({}, "/webhooks/clerk", { method: "POST", headers: svixHeaders(body, { id }), body });
}

async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

/**
 * Samples the scheduler every 100 ms and returns the longest stretch in which it was flowing, had a
 * backlog, room in its pace and concurrency nobody used or was given (calls in flight plus places
 * held for woken identities below the allowance): time in which a call could have gone out and the
 * scheduler did not let one. Also the longest stretch in which places were held and nothing was in
 * flight (woken identities slow to come; a held place lapses after 2 s).
 */
function watchIdle(): { stop(): Promise<{ longestMs: number; longestHeldMs: number; samples: number; worst: string }> } {
  let running = true;
  let longestMs = 0;
  let longestHeldMs = 0;
  let samples = 0;
  let worst = "";
  let idleSince: number | null = null;
  let heldSince: number | null = null;
  const loop = (async () => {
    while (running) {
      const stats = await scheduler().stats();
      const now = Date.now();
      samples++;
      const room = stats.pace === null || stats.callsLastMinute < stats.pace.perMinute;
      const waiting = stats.state === "flowing" && stats.backlog > 0 && room && stats.pausedUntil === null;
      if (waiting && stats.inFlight + stats.reserved < stats.concurrencyAllowance) {
        idleSince ??= now;
        if (now - idleSince > longestMs) {
          longestMs = now - idleSince;
          worst = JSON.stringify(stats);
        }
      } else idleSince = null;
      if (waiting && stats.inFlight === 0 && stats.reserved > 0) {
        heldSince ??= now;
        longestHeldMs = Math.max(longestHeldMs, now - heldSince);
      } else heldSince = null;
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { longestMs, longestHeldMs, samples, worst };
    },
  };
}

describe("a woken identity that will not call gives its place back at once", () => {
  it("one in its own Retry-After does not hold the only slot: the next one in the backlog lands without waiting", async () => {
    await quietWorkspace();
    const backingOff = uniqueId("own_wait");
    const next = uniqueId("next");
    // orq.ai asks this identity alone to wait 20 s (a 503 with Retry-After): its own backoff. It
    // also halves the concurrency allowance to 1.
    await addFaults({ externalIdPrefix: backingOff, times: 1, faults: [{ status: 503, retryAfter: 20 }] });
    try {
      expect((await postClerk(clerkEvent("user.created", backingOff))).status).toBe(200);
      await waitForState("clerk", backingOff, (status) => status.delivery === "retrying");
      expect((await scheduler().stats()).concurrencyAllowance).toBe(1);

      // The workspace is paused for 2 s (a 429 with Retry-After). Meanwhile the backing-off
      // identity is on the waiting list, oldest of all, and a new signup queues behind it.
      const pauser = await scheduler().acquire({ name: "clerk:pauser", since: Date.now(), maxConcurrency: 50, permitMs: 60_000 });
      if (!("permit" in pauser)) throw new Error("expected a permit");
      await (pauser.permit as unknown as { finish(report: object): Promise<string> }).finish({ calls: 1, outcome: "failed", status: 429, retryAfterMs: 2_000 });
      expect(await scheduler().acquire({ name: identityObjectName("clerk", backingOff), since: 1, maxConcurrency: 50, permitMs: 60_000 })).toMatchObject({ queued: true });
      const posted = Date.now();
      expect((await postClerk(clerkEvent("user.created", next))).status).toBe(200);

      // When the pause ends the oldest is woken first; it will not call for 20 s, so the slot goes on.
      await waitForState("clerk", next, (status) => status.delivery === "delivered", 15_000);
      const landedAfterMs = Date.now() - posted;
      console.info(`the signup behind an identity in its own backoff landed after ${landedAfterMs} ms`);
      expect(landedAfterMs).toBeLessThan(2_000 + 2_000 + 1_500);
      expect(await orqIdentity(next)).not.toBeNull();
      expect(await orqIdentity(backingOff)).toBeNull();
    } finally {
      await clearFaults(backingOff);
    }
  });
});

describe("the scheduler while orq.ai fails 30 % of calls at random", () => {
  const prefix = uniqueId("live");
  afterEach(() => clearFaults(prefix));

  it(`converges for ${USERS} users × (created, updated, created again) in random order within 3 minutes, never idle with a backlog for more than 2 s`, { timeout: CONVERGE_MS + 30_000 }, async () => {
    await quietWorkspace();
    const seed = Math.floor(Math.random() * 2 ** 32);
    const t0 = Date.now() - 60_000;
    const users = Array.from({ length: USERS }, (_, index) => `${prefix}_${index}`);
    const deliveries = users.flatMap((userId, index) => {
      const created = { id: `msg_${userId}_c`, body: JSON.stringify(clerkAt("user.created", userId, t0 + index, `First${index}`)) };
      const updated = { id: `msg_${userId}_u`, body: JSON.stringify(clerkAt("user.updated", userId, t0 + index + 1_000, `Latest${index}`)) };
      // The same created again: Svix's retry of a delivery, same svix-id and bytes.
      return [created, updated, created];
    });
    shuffle(deliveries, seededRandom(seed));
    await addFaults({ externalIdPrefix: prefix, rate: 0.3, faults: FLAKY });

    const watch = watchIdle();
    const started = Date.now();
    await inParallel(deliveries, 6, async ({ id, body }) => {
      expect((await post(body, id)).status).toBe(200);
    });
    const wrong = new Set(users);
    while (wrong.size > 0 && Date.now() - started < CONVERGE_MS) {
      for (const userId of [...wrong]) {
        const identity = await orqIdentity(userId);
        if (identity?.display_name?.startsWith(`Latest${userId.slice(prefix.length + 1)} `)) wrong.delete(userId);
      }
      if (wrong.size > 0) await sleep(500);
    }
    const convergedMs = Date.now() - started;
    const idle = await watch.stop();
    console.info(`seed ${seed}: converged ${USERS - wrong.size}/${USERS} in ${(convergedMs / 1000).toFixed(1)} s; longest idle stretch with a backlog ${idle.longestMs} ms, longest with places held and nothing in flight ${idle.longestHeldMs} ms (${idle.samples} samples) ${idle.worst}`);

    expect([...wrong], `seed ${seed}: users not at their latest version after ${CONVERGE_MS / 1000} s`).toEqual([]);
    expect(idle.longestMs, `seed ${seed}: idle with a backlog: ${idle.worst}`).toBeLessThanOrEqual(MAX_IDLE_MS);
    // A held place lapses after 2 s; the slack is the runtime's (an alarm set for now runs late on a busy machine).
    expect(idle.longestHeldMs, `seed ${seed}: places held with nothing in flight`).toBeLessThanOrEqual(MAX_IDLE_MS + 3_000);
  });
});
