/**
 * Retry schedule for deliveries to orq.ai: exponential from 2 s, capped at 10 minutes, with
 * jitter over the upper half of each step so that identities which failed together during an
 * outage do not all come back at the same instant when orq.ai recovers. A `Retry-After` from
 * orq.ai is a floor. Deliveries are retried for RETRY_WINDOW_MS from the first failure.
 */
export const RETRY_BASE_MS = 2_000;
export const RETRY_CAP_MS = 10 * 60_000;
export const RETRY_WINDOW_MS = 3 * 24 * 60 * 60_000;

export function retryDelayMs(attempt: number, retryAfterMs = 0, random: () => number = Math.random): number {
  const step = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.max(0, attempt - 1));
  const jittered = step / 2 + random() * (step / 2);
  return Math.round(Math.max(jittered, retryAfterMs));
}
