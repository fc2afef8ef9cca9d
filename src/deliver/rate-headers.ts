import type { CallReport, RateHeaders, RecentDeliveryInput } from "./delivery-scheduler";

/**
 * orq.ai's `X-RateLimit-Limit` / `-Remaining` / `-Reset` (ORQ.md), on any answer. `Reset` is read
 * as seconds until the window frees up; values that can only be a clock (epoch seconds or
 * milliseconds) are read as such, since APIs differ and orq.ai does not document which it sends.
 */
export function readRateHeaders(headers: Headers, now = Date.now()): RateHeaders | undefined {
  const limit = count(headers.get("x-ratelimit-limit"));
  const remaining = count(headers.get("x-ratelimit-remaining"));
  const reset = Number(headers.get("x-ratelimit-reset") ?? Number.NaN);
  let resetMs: number | undefined;
  if (Number.isFinite(reset) && reset >= 0) {
    if (reset > 1e12) resetMs = Math.max(0, reset - now);
    else if (reset > 1e9) resetMs = Math.max(0, reset * 1000 - now);
    else resetMs = reset * 1000;
  }
  if (limit === undefined && remaining === undefined && resetMs === undefined) return undefined;
  return { limit, remaining, resetMs };
}

function count(value: string | null): number | undefined {
  if (value === null || !/^\s*\d{1,9}\s*$/.test(value)) return undefined;
  return Number(value);
}

/** A `fetch` that keeps the rate-limit headers of the latest answer in `observed` (the scheduler learns the limit from them). */
export function fetchObservingRate(observed: { rate?: RateHeaders }): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    observed.rate = readRateHeaders(response.headers) ?? observed.rate;
    return response;
  };
}

/** What one permit's calls came to, for `Permit.finish`: success, a refusal about the identity, a retryable failure, or the key. */
export function callReport(
  result: { ok: true; calls: number; status?: number } | { ok: false; calls: number; status?: number; authProblem: boolean; retryable: boolean; retryAfterMs?: number },
  rate: RateHeaders | undefined,
  delivered?: RecentDeliveryInput,
): CallReport {
  return {
    calls: result.calls,
    outcome: result.ok ? "ok" : result.authProblem ? "auth" : result.retryable ? "failed" : "refused",
    status: result.status,
    retryAfterMs: result.ok ? undefined : result.retryAfterMs,
    rate,
    ...(delivered && { delivered }),
  };
}
