/**
 * Time to land: a burst of distinct signups is sent to the bridge; for each one, the time from the
 * bridge's 2xx (when the answer arrived here, Date.now()) to the identity's first successful write
 * in the orq.ai emulator (its request log's `at`, Date.now() in the emulator process: same clock).
 */
import type { EmulatorHandle } from "./emulator";
import { runLoad, type LoadResult } from "./load";
import type { ClerkSigner } from "./signed-clerk";

export interface TimeToLandResult {
  signups: number;
  accepted: number;
  landed: number;
  /** Seconds the burst took to send (all answers received). */
  burstS: number;
  /** Seconds from the first request to the last identity landing. */
  allLandedS: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  load: LoadResult;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

export async function measureTimeToLand(options: {
  bridgeUrl: string;
  emulator: EmulatorHandle;
  signer: ClerkSigner;
  signups: number;
  connections: number;
  waitS: number;
}): Promise<TimeToLandResult> {
  const { emulator, signer, signups } = options;
  const prefix = `user_land_${Date.now()}_`;
  const pool = signer.many(prefix, signups);
  await emulator.reset();
  const answeredAt = new Map<string, number>();
  const started = Date.now();
  const load = await runLoad({
    url: options.bridgeUrl,
    path: "/webhooks/clerk",
    connections: options.connections,
    amount: signups,
    pool,
    signer,
    spillPrefix: `${prefix}spill_`,
    onResponse: (userId, status, at) => {
      if (status >= 200 && status < 300) answeredAt.set(userId, at);
    },
  });
  const burstS = (Date.now() - started) / 1000;

  // Wait (polling the cheap stats endpoint) until every accepted signup has an identity.
  const deadline = Date.now() + options.waitS * 1000;
  while (Date.now() < deadline && (await emulator.stats()).identities < answeredAt.size) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const landedAt = new Map<string, number>();
  for (const entry of await emulator.requests()) {
    const ok = typeof entry.status === "number" && entry.status >= 200 && entry.status < 300;
    if (!ok || entry.method === "GET" || entry.externalId === undefined || landedAt.has(entry.externalId)) continue;
    landedAt.set(entry.externalId, entry.at);
  }
  const delays: number[] = [];
  let lastLanded = started;
  for (const [userId, answered] of answeredAt) {
    const landed = landedAt.get(userId);
    // Not landed within the wait: counted, as never, so the percentiles cannot look better than they are.
    if (landed === undefined) {
      delays.push(Number.POSITIVE_INFINITY);
      continue;
    }
    delays.push(landed - answered);
    lastLanded = Math.max(lastLanded, landed);
  }
  delays.sort((a, b) => a - b);
  return {
    signups,
    accepted: answeredAt.size,
    landed: delays.filter(Number.isFinite).length,
    burstS,
    allLandedS: (lastLanded - started) / 1000,
    p50Ms: delays.length ? percentile(delays, 50) : Number.NaN,
    p99Ms: delays.length ? percentile(delays, 99) : Number.NaN,
    maxMs: delays.length ? delays[delays.length - 1]! : Number.NaN,
    load,
  };
}
