/**
 * The workspace's delivery scheduler on its own: schedulers of this file's own (any name is a
 * fresh instance), driven through the same RPC calls the identity objects make.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AcquireRequest, CallReport, PermitStub } from "../../src/deliver/delivery-scheduler";
import { DeliveryScheduler, PROBE_MS, UNKNOWN_PACE_CONCURRENCY } from "../../src/deliver/delivery-scheduler";
import { uniqueId } from "./harness";

function ownScheduler() {
  return env.ORQ_SCHEDULER.getByName(uniqueId("scheduler"));
}

const ask = (name: string, extra: Partial<AcquireRequest> = {}): AcquireRequest => ({
  name,
  since: Date.now(),
  maxConcurrency: 50,
  permitMs: 60_000,
  ...extra,
});

/** Successful calls first, so the allowance (2 in flight at the start, +1 per success) has room for `n` at once. */
async function warmedUp(scheduler: ReturnType<typeof ownScheduler>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await permitOf(await scheduler.acquire(ask(`clerk:warm${i}`))).finish({ calls: 1, outcome: "ok" });
  await new Promise((resolve) => setTimeout(resolve, 5)); // later grants come strictly after the last success
}

function permitOf(answer: object): PermitStub {
  if (!("permit" in answer)) throw new Error(`expected a permit, got ${JSON.stringify(answer)}`);
  return answer.permit as unknown as PermitStub;
}

const failed503: CallReport = { calls: 1, outcome: "failed", status: 503 };

describe("the delivery scheduler", () => {
  it("keeps to ORQ_RATE_LIMIT_PER_MINUTE over a rolling minute, then queues and says when it may go on", async () => {
    const scheduler = ownScheduler();
    for (let i = 0; i < 5; i++) {
      const permit = permitOf(await scheduler.acquire(ask(`clerk:u${i}`, { ceilingPerMinute: 5 })));
      expect(await permit.finish({ calls: 1, outcome: "ok" })).toBe("done");
    }
    expect(await scheduler.acquire(ask("clerk:u5", { ceilingPerMinute: 5 }))).toMatchObject({ queued: true });
    const stats = await scheduler.stats();
    expect(stats).toMatchObject({ state: "flowing", pace: { perMinute: 5, source: "configured" }, callsLastMinute: 5, backlog: 1 });
    expect(stats.oldestWaitingSince).not.toBeNull();
  });

  it("a 429 after only a few of the bridge's own calls pauses everyone but teaches no pace (others spent the limit)", async () => {
    const scheduler = ownScheduler();
    const permit = permitOf(await scheduler.acquire(ask("clerk:a")));
    expect(await permit.finish({ calls: 1, outcome: "failed", status: 429, retryAfterMs: 5_000 })).toBe("wait");
    expect(await scheduler.stats()).toMatchObject({ state: "rate_limited", pace: null });
  });

  it("learns the limit from X-RateLimit-Limit on any answer, and waits for X-RateLimit-Reset when Remaining is 0", async () => {
    const scheduler = ownScheduler();
    const permit = permitOf(await scheduler.acquire(ask("clerk:a")));
    await permit.finish({ calls: 1, outcome: "ok", rate: { limit: 40, remaining: 0, resetMs: 20_000 } });
    const stats = await scheduler.stats();
    expect(stats.pace).toEqual({ perMinute: 40, source: "learned from headers" });
    expect(stats.pausedUntil).toBeGreaterThan(Date.now() + 15_000);
    expect(await scheduler.acquire(ask("clerk:b"))).toMatchObject({ queued: true });
  });

  describe("X-RateLimit-Remaining counts as of the call it answers", () => {
    /** Four calls a, b, c, d let out in that order (distinct grant times), all still out. */
    async function fourOut(scheduler: ReturnType<typeof ownScheduler>): Promise<PermitStub[]> {
      await warmedUp(scheduler, 6);
      const out: PermitStub[] = [];
      for (const name of ["clerk:a", "clerk:b", "clerk:c", "clerk:d"]) {
        out.push(permitOf(await scheduler.acquire(ask(name))));
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
      return out;
    }

    const grantedOf = async (scheduler: ReturnType<typeof ownScheduler>, ...names: string[]) => {
      let granted = 0;
      for (const name of names) if ("permit" in (await scheduler.acquire(ask(name)))) granted++;
      return granted;
    };

    // orq.ai admitted a, b, c in that order with 5 calls left before them, answering 4, 3 and 2.
    // c's answer comes first. d, let out after c, is still out: 2 − 1 = 1 call is left at most.

    it("a late answer's older, higher figure lets no call out beyond the limit", async () => {
      const scheduler = ownScheduler();
      const [a, , c] = await fourOut(scheduler);
      await c!.finish({ calls: 1, outcome: "ok", rate: { limit: 10, remaining: 2, resetMs: 30_000 } });
      // Taken as of its answer, a's 4 − b − d would let 2 more calls out, one more than orq.ai allows.
      await a!.finish({ calls: 1, outcome: "ok", rate: { limit: 10, remaining: 4, resetMs: 30_000 } });
      expect(await grantedOf(scheduler, "clerk:e", "clerk:f")).toBeLessThanOrEqual(1);
    });

    it("past the late answer's reset point too", async () => {
      const scheduler = ownScheduler();
      const [a, , c] = await fourOut(scheduler);
      await c!.finish({ calls: 1, outcome: "ok", rate: { limit: 10, remaining: 2, resetMs: 30_000 } });
      // a's answer says its figure frees up at once: that is no reason to forget b, c and d.
      await a!.finish({ calls: 1, outcome: "ok", rate: { limit: 10, remaining: 4, resetMs: 1 } });
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(await grantedOf(scheduler, "clerk:e", "clerk:f", "clerk:g")).toBeLessThanOrEqual(1);
    });
  });

  it("a 429 with Retry-After pauses the whole workspace until then; a run of three from two identities shows the limit, estimated from what fitted", async () => {
    const scheduler = ownScheduler();
    for (let i = 0; i < 11; i++) await permitOf(await scheduler.acquire(ask(`clerk:ok${i}`, { maxConcurrency: 50 }))).finish({ calls: 1, outcome: "ok" });
    const out: PermitStub[] = [];
    for (const name of ["clerk:a", "clerk:b", "clerk:c", "clerk:d"]) out.push(permitOf(await scheduler.acquire(ask(name))));
    const refused = { calls: 1, outcome: "failed", status: 429, retryAfterMs: 30_000 } as const;
    expect(await out[0]!.finish(refused)).toBe("wait");
    // One refusal is not yet the limit: the workspace pauses, no pace.
    expect(await scheduler.stats()).toMatchObject({ state: "rate_limited", pace: null, backlog: 1 });
    expect((await scheduler.stats()).pausedUntil).toBeGreaterThan(Date.now() + 25_000);
    expect(await scheduler.acquire(ask("clerk:e"))).toMatchObject({ queued: true });
    expect(await out[1]!.finish(refused)).toBe("wait");
    expect(await out[2]!.finish(refused)).toBe("wait");
    // 11 calls were accepted in the window before the refusals (the 15th was still out): that is what fitted.
    expect(await scheduler.stats()).toMatchObject({ state: "rate_limited", pace: { perMinute: 11, source: "learned from 429" } });
    expect(await out[3]!.finish({ calls: 1, outcome: "ok" })).toBe("done");
  });

  it("scattered 429s with only Retry-After between successes pause for that time and teach no pace", async () => {
    const scheduler = ownScheduler();
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 4; i++) await permitOf(await scheduler.acquire(ask(`clerk:ok${round}_${i}`))).finish({ calls: 1, outcome: "ok" });
      const stray = permitOf(await scheduler.acquire(ask(`clerk:budget${round}`)));
      expect(await stray.finish({ calls: 1, outcome: "failed", status: 429, retryAfterMs: 1 })).toBe("wait");
      // The pause passes and the backlog (the stray's own name: no object, nothing to send) empties.
      for (let waited = 0; waited < 100; waited++) {
        const stats = await scheduler.stats();
        if (stats.backlog === 0 && stats.reserved === 0 && stats.pausedUntil === null) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    // 16 calls fitted and four 429s came: but each between successes, so no limit was shown.
    expect((await scheduler.stats()).pace).toBeNull();
  });

  it("until the pace is known, at most a handful of calls are in flight: only those meet the first 429", async () => {
    const scheduler = ownScheduler();
    await warmedUp(scheduler, 20);
    const answers: object[] = [];
    for (let i = 0; i < 10; i++) answers.push(await scheduler.acquire(ask(`clerk:burst${i}`)));
    expect(answers.filter((answer) => "permit" in answer)).toHaveLength(UNKNOWN_PACE_CONCURRENCY);
    // Once a pace is known (here: configured), the allowance grown by the successes applies.
    const paced = ownScheduler();
    await warmedUp(paced, 20);
    const pacedAnswers: object[] = [];
    for (let i = 0; i < 10; i++) pacedAnswers.push(await paced.acquire(ask(`clerk:paced${i}`, { ceilingPerMinute: 1_000 })));
    expect(pacedAnswers.filter((answer) => "permit" in answer)).toHaveLength(10);
  });

  it("three failures in a row from two identities, with no success in between, are an outage: nobody calls, one probe at a time", async () => {
    const scheduler = ownScheduler();
    await warmedUp(scheduler, 2);
    const permits = await Promise.all(["clerk:a", "clerk:b", "clerk:c"].map(async (name) => permitOf(await scheduler.acquire(ask(name)))));
    expect(await permits[0]!.finish(failed503)).toBe("own");
    expect(await permits[1]!.finish(failed503)).toBe("own");
    expect(await permits[2]!.finish(failed503)).toBe("wait");
    const stats = await scheduler.stats();
    expect(stats).toMatchObject({ state: "outage", backlog: 1 });
    expect(stats.nextProbeAt).toBeGreaterThan(Date.now());
    expect(stats.nextProbeAt).toBeLessThanOrEqual(Date.now() + PROBE_MS);
    // Everyone asking now waits, whatever the backlog.
    for (const name of ["clerk:d", "clerk:e", "clerk:a"]) expect(await scheduler.acquire(ask(name))).toMatchObject({ queued: true });
    expect((await scheduler.stats()).backlog).toBe(4);
  });

  it("a failure while another identity's call succeeded is that identity's own, and the workspace keeps flowing", async () => {
    const scheduler = ownScheduler();
    const failing = permitOf(await scheduler.acquire(ask("clerk:broken")));
    for (const name of ["clerk:x", "clerk:y", "clerk:z"]) {
      expect(await permitOf(await scheduler.acquire(ask(name))).finish({ calls: 1, outcome: "ok" })).toBe("done");
    }
    expect(await failing.finish(failed503)).toBe("own");
    expect(await failing.finish(failed503)).toBe("own"); // a permit is finished once; again changes nothing
    expect((await scheduler.stats()).state).toBe("flowing");
  });

  it("401/403 pause everyone (key rejected) until a call succeeds again", async () => {
    const scheduler = ownScheduler();
    const permit = permitOf(await scheduler.acquire(ask("clerk:a")));
    expect(await permit.finish({ calls: 1, outcome: "auth", status: 401 })).toBe("wait");
    expect(await scheduler.stats()).toMatchObject({ state: "key_rejected", backlog: 1 });
    expect(await scheduler.acquire(ask("clerk:b"))).toMatchObject({ queued: true });
  });

  it("a 4xx about one identity is proof the workspace works: it ends an outage", async () => {
    const scheduler = ownScheduler();
    await warmedUp(scheduler, 2);
    const permits = await Promise.all(["clerk:a", "clerk:b", "clerk:c", "clerk:d"].map(async (name) => permitOf(await scheduler.acquire(ask(name)))));
    for (const permit of permits.slice(0, 3)) await permit.finish(failed503);
    expect((await scheduler.stats()).state).toBe("outage");
    expect(await permits[3]!.finish({ calls: 1, outcome: "refused", status: 422 })).toBe("done");
    expect((await scheduler.stats()).state).toBe("flowing");
  });

  it("never has more calls in flight than ORQ_MAX_CONCURRENCY, and starts with a small allowance that grows with successes", async () => {
    const fresh = ownScheduler();
    const first = await Promise.all([0, 1, 2].map((i) => fresh.acquire(ask(`clerk:s${i}`))));
    expect(first.filter((answer) => "permit" in answer)).toHaveLength(2);
    const scheduler = ownScheduler();
    await warmedUp(scheduler, 3);
    const granted: PermitStub[] = [];
    for (let i = 0; i < 10; i++) {
      const answer = await scheduler.acquire(ask(`clerk:c${i}`, { maxConcurrency: 2 }));
      if ("permit" in answer) granted.push(answer.permit as unknown as PermitStub);
    }
    expect(granted).toHaveLength(2);
    expect((await scheduler.stats()).inFlight).toBe(2);
  });
});

describe("a scheduler evicted while it waits out a 429", () => {
  it("wakes knowing the calls its window still holds, so it does not let a whole window out at its edge", async () => {
    const scheduler = ownScheduler();
    const ask10 = (name: string) => ask(name, { ceilingPerMinute: 10 });
    for (let i = 0; i < 5; i++) await permitOf(await scheduler.acquire(ask10(`clerk:w${i}`))).finish({ calls: 1, outcome: "ok" });
    const refused = permitOf(await scheduler.acquire(ask10("clerk:w5")));
    expect(await refused.finish({ calls: 1, outcome: "failed", status: 429, retryAfterMs: 300 })).toBe("wait");
    // The runtime evicts the idle object: a new instance on the same storage.
    await runInDurableObject(scheduler, async (instance: DeliveryScheduler, state) => {
      Object.assign(instance, new DeliveryScheduler(state, env));
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await scheduler.stats()).callsLastMinute).toBe(6);
    let granted = 0;
    for (let i = 0; i < 10; i++) if ("permit" in (await scheduler.acquire(ask10(`clerk:after${i}`)))) granted++;
    expect(granted).toBeLessThanOrEqual(4);
  });
});

describe("upgrade from the previous version", () => {
  it("a scheduler whose waiting table predates reconcile priorities keeps its backlog as live changes", async () => {
    const scheduler = ownScheduler();
    await runInDurableObject(scheduler, async (_instance: DeliveryScheduler, state) => {
      const sql = state.storage.sql;
      // The waiting table exactly as the previous version created it, with one identity waiting.
      sql.exec("DROP TABLE waiting");
      sql.exec("CREATE TABLE waiting (name TEXT PRIMARY KEY, since INTEGER NOT NULL)");
      sql.exec("CREATE INDEX waiting_by_since ON waiting (since)");
      sql.exec("INSERT INTO waiting (name, since) VALUES ('clerk:waiting_before_the_upgrade', 1)");
      const upgraded = new DeliveryScheduler(state, env);
      const columns = sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('waiting')").toArray().map((row) => row.name);
      expect(columns).toContain("background");
      expect(upgraded.stats()).toMatchObject({ backlog: 1, reconcileBacklog: 0 });
    });
  });
});
