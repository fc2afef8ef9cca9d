/**
 * The workspace as a whole, end to end through the bridge: its own runtime (the `workspace`
 * Vitest project), one test at a time, each from a freshly started scheduler (quietWorkspace).
 * Faults are scoped to each test's users, which from this scheduler's view is all of orq.ai.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { identityObjectName } from "../../src/record/identity-change";
import {
  addFaults,
  clearFaults,
  clerkEvent,
  emulator,
  inspectIdentity,
  orqIdentity,
  postClerk,
  uniqueId,
  waitForState,
  type Json,
} from "../worker/harness";
import { health, quietWorkspace, scheduler, sleep, waitUntil } from "./workspace-harness";

async function callsFor(prefix: string): Promise<Json[]> {
  const { requests } = await emulator<{ requests: Json[] }>("/__emulator/requests");
  return requests.filter((request: Json) => request.externalId?.startsWith(prefix));
}
const scheduler_wait = sleep;

afterEach(() => vi.restoreAllMocks());

describe("one signup on the happy path", () => {
  it("costs 3 Durable Object requests (1 to the shared scheduler), at most 5 rows written, 1 orq.ai call and 2 log lines", async () => {
    await quietWorkspace();
    const userId = uniqueId("cost");
    const logged: string[] = [];
    const log = console.log;
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      logged.push(args.map(String).join(" "));
      log(...args);
    });

    expect((await postClerk(clerkEvent("user.created", userId))).status).toBe(200);
    await waitUntil("the identity is in orq.ai", async () => (await orqIdentity(userId)) !== null, 10_000);
    const identity = env.IDENTITY_SYNC.getByName(identityObjectName("clerk", userId));
    // The bookkeeping after the call: wait until the identity has stored the delivery.
    await waitUntil("the delivery is stored", async () => (await identity.usage()).rowsWritten >= 4, 5_000);
    await scheduler_wait(300);

    const own = await identity.usage();
    const shared = await scheduler().usageOf(identityObjectName("clerk", userId));
    const orqCalls = (await callsFor(userId)).length;
    const lines = logged.filter((line) => line.includes(userId));
    const cost = { requests: own.requests + shared.requests, sharedRequests: shared.requests, rowsWritten: own.rowsWritten + shared.rowsWritten, orqCalls, logLines: lines.length };
    console.info(`cost of one signup: ${JSON.stringify(cost)} (identity ${JSON.stringify(own)}, scheduler ${JSON.stringify(shared)})`);

    // record() and the alarm on the identity's object; one acquire on the scheduler, whose permit's finish rides it.
    expect(own.requests).toBe(2);
    expect(shared.requests).toBe(1);
    expect(cost.requests).toBeLessThanOrEqual(3);
    expect(cost.rowsWritten).toBeLessThanOrEqual(5);
    expect(orqCalls).toBe(1);
    expect(lines.map((line) => JSON.parse(line).msg)).toEqual(["webhook", "orq_attempt"]);
    // No call to the shared status object on a success: the status page reads recent deliveries from the scheduler.
    expect((await scheduler().recentDeliveries(5)).map((entry) => entry.userId)).toContain(userId);
  });
});

describe("orq.ai failing for everyone", () => {
  it("a 429 with Retry-After pauses every identity until then, then both land", async () => {
    await quietWorkspace();
    const prefix = uniqueId("limited");
    const [first, second] = [`${prefix}_a`, `${prefix}_b`];
    await addFaults({ externalIdPrefix: first, times: 1, faults: [{ status: 429, retryAfter: 3 }] });
    await postClerk(clerkEvent("user.created", first));
    await waitUntil("orq.ai refused the first call", async () => (await callsFor(first)).some((call: Json) => call.status === 429), 10_000);
    const refusedAt = (await callsFor(first)).find((call: Json) => call.status === 429).at as number;
    expect((await scheduler().stats()).state).toBe("rate_limited");
    await postClerk(clerkEvent("user.created", second));

    await waitForState("clerk", first, (s) => s.delivery === "delivered", 20_000);
    await waitForState("clerk", second, (s) => s.delivery === "delivered", 20_000);
    const secondCalls = await callsFor(second);
    expect(secondCalls).toHaveLength(1);
    // The other identity did not call before the Retry-After orq.ai asked for had passed.
    expect(secondCalls[0].at).toBeGreaterThanOrEqual(refusedAt + 2_900);
    // Waiting for the workspace is not an attempt of the identity's own.
    expect(await inspectIdentity("clerk", first)).toMatchObject({ attempts: 0, delivery: "delivered" });
  });

  it("an outage stops the calls (a few to notice, then one probe at a time), keeps every change, and lands the backlog within seconds of recovery", async () => {
    await quietWorkspace();
    const prefix = uniqueId("down");
    const users = Array.from({ length: 12 }, (_, i) => `${prefix}_${String(i).padStart(2, "0")}`);
    await addFaults({ externalIdPrefix: prefix, faults: [{ status: 503 }] });
    const started = Date.now();
    try {
      for (const userId of users) expect((await postClerk(clerkEvent("user.created", userId))).status).toBe(200);
      await waitUntil("the scheduler calls it an outage", async () => (await scheduler().stats()).state === "outage", 10_000);
      const view = await health();
      expect(view.status).toBe("degraded");
      expect(view.scheduler).toMatchObject({ state: "outage", backlog: expect.any(Number), next_probe_at: expect.any(String) });
      expect(view.scheduler.backlog).toBeGreaterThan(0);

      await scheduler_wait(11_000);
      const elapsed = Date.now() - started;
      const calls = (await callsFor(prefix)).length;
      // At most the starting allowance (2) plus a couple more while the outage was not yet certain,
      // then one probe per 5 s: whatever the backlog (12 users here).
      expect(calls).toBeLessThanOrEqual(6 + Math.ceil(elapsed / 5_000));
      for (const userId of users) {
        const status = await inspectIdentity("clerk", userId);
        expect(status).toMatchObject({ pending: true });
        expect(status!.delivery).not.toBe("failed");
      }
    } finally {
      await clearFaults(prefix);
    }
    const recovered = Date.now();
    for (const userId of users) await waitForState("clerk", userId, (s) => s.delivery === "delivered", 15_000);
    const landed = Date.now() - recovered;
    console.info(`outage: ${users.length} identities landed ${landed} ms after recovery`);
    // The next probe is at most 5 s away, then the backlog lands at the allowed pace.
    expect(landed).toBeLessThan(12_000);
    expect((await scheduler().stats()).state).toBe("flowing");
  });

  it("a rejected key makes everyone wait, gives up on nothing, shows on /health, and recovers by itself", async () => {
    await quietWorkspace();
    const prefix = uniqueId("key");
    const users = [`${prefix}_a`, `${prefix}_b`, `${prefix}_c`];
    await addFaults({ externalIdPrefix: prefix, faults: [{ status: 401 }] });
    try {
      for (const userId of users) await postClerk(clerkEvent("user.created", userId));
      await waitUntil("the key is reported rejected", async () => (await health()).orq.auth === "failing", 10_000);
      const view = await health();
      expect(view).toMatchObject({ status: "degraded", scheduler: { state: "key_rejected" } });
      expect(view.orq.reason).toMatch(/ORQ_API_KEY/);
      for (const userId of users) expect((await inspectIdentity("clerk", userId))!.delivery).not.toBe("failed");
    } finally {
      await clearFaults(prefix);
    }
    for (const userId of users) await waitForState("clerk", userId, (s) => s.delivery === "delivered", 15_000);
    expect((await health()).orq.auth).toBe("ok");
  });
});

describe("a failure only one identity sees", () => {
  it("stays that identity's: it backs off on its own while the others land at once", async () => {
    await quietWorkspace();
    const prefix = uniqueId("one");
    const broken = `${prefix}_broken`;
    await addFaults({ externalIdPrefix: broken, faults: [{ status: 500 }] });
    try {
      const healthy = Array.from({ length: 6 }, (_, i) => `${prefix}_ok${i}`);
      // Interleaved: the broken identity's failures land among the others' successes.
      for (const userId of [healthy[0]!, healthy[1]!, broken, ...healthy.slice(2)]) await postClerk(clerkEvent("user.created", userId));
      for (const userId of healthy) await waitForState("clerk", userId, (s) => s.delivery === "delivered", 10_000);
      const status = await waitForState("clerk", broken, (s) => s.delivery === "retrying", 10_000);
      expect(status.attempts).toBeGreaterThanOrEqual(1);
      expect((await scheduler().stats()).state).toBe("flowing");
    } finally {
      await clearFaults(broken);
    }
  });
});
