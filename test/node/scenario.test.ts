import { afterAll, beforeAll, expect, it } from "vitest";
import type { LocalBridge } from "../../tools/lib/local-bridge";
import { TARGETS, formatTable, runRateLimitScenario, startScenarioBridge, type RateLimitResult } from "../../tools/lib/scenario";

/**
 * The short rate-limit scenario of `npm run scenario` (issue 10, "deliver at orq.ai's pace"), through the same
 * library functions, against a `wrangler dev` of the bridge and its own orq.ai emulator, over HTTP only: 300 signups
 * at once under 240 calls/min (mode "bucket": what is left goes at once, then 4/s, the shape the floor
 * assumes): floor (300 − 240) ÷ 240/min = 15 s. Targets: ≤ 5 % of the bridge's calls refused with 429, drain
 * ≤ 1.15 × floor.
 *
 * The drain is measured in hundredths of its floor, so this file runs last and alone (vitest.config.ts): measured
 * while the workspace files were starting up, its ratio rose from 1.05x to 1.13x, and beside the alert and liveness
 * floods it missed. The outage scenario (scenario-outage.test.ts) has wide margins and runs earlier.
 *
 * The waits are cut off past each target so a miss fails in bounded time.
 */
const RATE = 240;
const RATE_SIGNUPS = 300;

let rateBridge: LocalBridge;

beforeAll(async () => {
  rateBridge = await startScenarioBridge();
}, 180_000);

afterAll(async () => {
  await rateBridge?.close();
});

it("a burst under a workspace rate limit drains within 1.15x the floor, with at most 5 % of calls refused", async () => {
  // The scenario computes the floor from what the emulator's window still allowed when it began.
  const minFloorMs = ((RATE_SIGNUPS - RATE) / RATE) * 60_000;
  const result: RateLimitResult = await runRateLimitScenario(
    { bridge: rateBridge },
    { kind: "rate-limit", ratePerMinute: RATE, mode: "bucket", signups: RATE_SIGNUPS, headers: "always", timeoutMs: 75_000 },
  );
  console.log(formatTable([result]));
  expect(result.non2xx, "every signup stored (2xx)").toBe(0);
  expect(result.floorMs).toBeGreaterThanOrEqual(minFloorMs);
  expect.soft(result.refusedShare, `refused ${result.refused}/${result.calls}`).toBeLessThanOrEqual(TARGETS.refusedShare);
  expect(result.drainMs, `${result.landed}/${result.signups} landed in time`).not.toBeNull();
  expect(result.ratio).toBeLessThanOrEqual(TARGETS.drainRatio);
}, 120_000);
