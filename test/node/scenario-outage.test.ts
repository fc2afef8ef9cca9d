import { afterAll, beforeAll, expect, it } from "vitest";
import type { LocalBridge } from "../../tools/lib/local-bridge";
import { TARGETS, formatTable, outageCallBudget, rollingFloorMs, runOutageScenario, startScenarioBridge, type OutageResult } from "../../tools/lib/scenario";
import { parseDurationMs, parseRatePerMinute } from "../../tools/lib/scenario-units";

/**
 * The short outage scenario of `npm run scenario` (issue 10), through the same library functions, against a
 * `wrangler dev` of the bridge and its own orq.ai emulator, over HTTP only: orq.ai down (503) for 30 s, 40 signups
 * arriving meanwhile. Targets: at most 10 calls during the outage (15 per 45 s), all 40 present ≤ 15 s after
 * recovery. Its targets leave wide margins (8 calls of 10, landing in under 2 s of 15), so it runs beside the
 * waiting workspace files; the rate-limit burst (scenario.test.ts) runs last and alone.
 */
const OUTAGE_MS = 30_000;
const OUTAGE_SIGNUPS = 40;

let outageBridge: LocalBridge;

beforeAll(async () => {
  outageBridge = await startScenarioBridge();
}, 180_000);

afterAll(async () => {
  await outageBridge?.close();
});

it("during an outage the bridge sends at most 15 calls per 45 s, and the backlog lands within 15 s of recovery", async () => {
  const result: OutageResult = await runOutageScenario(
    { bridge: outageBridge },
    { kind: "outage", outageMs: OUTAGE_MS, mode: "503", signups: OUTAGE_SIGNUPS, timeoutMs: TARGETS.landAfterRecoveryMs + 2_000 },
  );
  console.log(formatTable([result]));
  expect(result.non2xx, "every signup stored (2xx)").toBe(0);
  expect(result.callBudget).toBe(outageCallBudget(OUTAGE_MS));
  expect.soft(result.callsDuringOutage, `calls during the ${OUTAGE_MS / 1000} s outage`).toBeLessThanOrEqual(result.callBudget);
  expect(result.landAfterRecoveryMs, `${result.landed}/${result.signups} landed in time`).not.toBeNull();
  expect(result.landAfterRecoveryMs).toBeLessThanOrEqual(TARGETS.landAfterRecoveryMs);
}, 120_000);

it("floors and units: a rolling window lets a burst beyond what is left go only as earlier calls leave it", () => {
  expect(rollingFloorMs([], 0, 240, 240)).toBe(0);
  expect(rollingFloorMs([], 0, 240, 300)).toBe(60_000);
  expect(rollingFloorMs([], 0, 100, 201)).toBe(120_000);
  // 3 calls 50, 40 and 30 s ago, limit 4: one more now, then slots free 10, 20 and 30 s from now.
  expect(rollingFloorMs([-50_000, -40_000, -30_000, -70_000], 0, 4, 4)).toBe(30_000);
  expect(outageCallBudget(45_000)).toBe(15);
  expect(outageCallBudget(30_000)).toBe(10);
  expect(outageCallBudget(5_000)).toBe(5);
  expect([parseRatePerMinute("300/min"), parseRatePerMinute("5/s"), parseRatePerMinute("100"), parseRatePerMinute("0.5/min"), parseRatePerMinute("x")]).toEqual([300, 300, 100, undefined, undefined]);
  expect([parseDurationMs("45s"), parseDurationMs("1.5m"), parseDurationMs("500ms"), parseDurationMs("30"), parseDurationMs("soon")]).toEqual([45_000, 90_000, 500, 30_000, undefined]);
});
