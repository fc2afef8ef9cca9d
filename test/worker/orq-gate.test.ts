import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/config";
import type { GateAnswer } from "../../src/deliver/orq-gate";
import { addFaults, callBridge, clearFaults, clerkEvent, emulator, postClerk, uniqueId, waitForState, type Json } from "./harness";

/** A gate of this test's own (the bridge's deliveries use the one named ORQ_GATE_NAME). */
function ownGate() {
  return env.ORQ_GATE.getByName(uniqueId("gate"));
}

const leaseOf = (answer: GateAnswer) => {
  if (!("lease" in answer)) throw new Error(`expected a lease, got ${JSON.stringify(answer)}`);
  return answer.lease;
};

describe("the cap on concurrent orq.ai calls (OrqGate)", () => {
  it("grants up to the cap, then tells the rest when to come back instead of holding them", async () => {
    const gate = ownGate();
    const request = { max: 2, leaseMs: 60_000 };
    const first = leaseOf(await gate.acquire(request));
    leaseOf(await gate.acquire(request));
    expect(await gate.stats()).toEqual({ inFlight: 2, queued: 0 });

    const started = Date.now();
    const third = await gate.acquire(request);
    expect(Date.now() - started).toBeLessThan(1_000); // answered at once, nobody waits in the gate
    expect(third).toEqual({ busy: true, retryInMs: expect.any(Number) });
    expect(await gate.stats()).toEqual({ inFlight: 2, queued: 1 });

    await gate.release(first);
    leaseOf(await gate.acquire(request));
    // Releasing a lease twice frees one slot, not two.
    await gate.release(first);
    expect((await gate.stats()).inFlight).toBe(2);
  });

  it("sends later arrivals further out the more deliveries are already waiting", async () => {
    const gate = ownGate();
    const request = { max: 1, leaseMs: 60_000 };
    leaseOf(await gate.acquire(request));
    const delays: number[] = [];
    for (let i = 0; i < 40; i++) {
      const answer = await gate.acquire(request);
      if (!("busy" in answer)) throw new Error("expected busy");
      delays.push(answer.retryInMs);
    }
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    expect(mean(delays.slice(30))).toBeGreaterThan(mean(delays.slice(0, 10)) * 3);
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(250);
      expect(delay).toBeLessThanOrEqual(60_000);
    }
  });

  it("takes back a lease whose holder never releases it", async () => {
    const gate = ownGate();
    leaseOf(await gate.acquire({ max: 1, leaseMs: 300 }));
    expect(await gate.acquire({ max: 1, leaseMs: 300 })).toMatchObject({ busy: true });
    await scheduler.wait(350);
    leaseOf(await gate.acquire({ max: 1, leaseMs: 300 }));
  });

  it("keeps at most ORQ_MAX_CONCURRENCY calls in flight while orq.ai hangs, and every identity lands after", async () => {
    const cap = getConfig(env).orq.maxConcurrency;
    const timeoutMs = getConfig(env).orq.timeoutMs;
    const prefix = uniqueId("user_gate");
    const users = Array.from({ length: cap + 8 }, (_, i) => `${prefix}_${i}`);
    // Every call for these users hangs until the bridge's client times out.
    await addFaults({ externalIdPrefix: prefix, faults: [{ hang: true }] });
    try {
      const answers = await Promise.all(users.map((userId) => postClerk(clerkEvent("user.created", userId))));
      expect(answers.map((response) => response.status)).toEqual(users.map(() => 200));
      await scheduler.wait(timeoutMs / 2);
      // Operators see the cap at work on /health.
      const { deliveries } = await (await callBridge("/health")).json<Json>();
      expect(deliveries).toMatchObject({ max_concurrency: cap, in_flight: expect.any(Number), waiting_for_slot: expect.any(Number) });
      expect(deliveries.in_flight).toBeGreaterThan(0);
      expect(deliveries.in_flight).toBeLessThanOrEqual(cap);
      expect(deliveries.waiting_for_slot).toBeGreaterThan(0);
      await scheduler.wait(timeoutMs * 1.5 + 500);

      const { requests } = await emulator<{ requests: Json[] }>("/__emulator/requests");
      const hung: number[] = requests
        .filter((request: Json) => request.externalId?.startsWith(prefix))
        .map((request: Json) => request.at as number)
        .sort((a: number, b: number) => a - b);
      // A hung call holds its slot for the whole client timeout: calls that started less than
      // that apart were in flight together. Without the cap all of them start at once.
      const window = timeoutMs - 100;
      const inFlightTogether = Math.max(...hung.map((at) => hung.filter((other) => other >= at && other < at + window).length));
      expect(hung.length).toBeGreaterThan(0);
      expect(inFlightTogether).toBeLessThanOrEqual(cap);
    } finally {
      await clearFaults(prefix);
    }
    for (const userId of users) {
      await waitForState("clerk", userId, (status) => status.delivery === "delivered", 30_000);
    }
  }, 60_000);
});
