import type { RateHeaders } from "./delivery-scheduler";

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
