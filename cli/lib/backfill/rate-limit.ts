/**
 * Waiting politely: backoff between tries (an API's own wait, src/reconcile/sources/provider-request.ts
 * `rateLimitWaitMs`, as its floor), a shared pause for every worker once one of them was told to
 * slow down, and a sleep that an interruption (Ctrl-C) cuts short.
 */
export interface RetryPolicy {
  /** Tries per request, the first included. */
  attempts: number;
  /** First backoff step when the API gave no wait; doubles each try, with jitter. */
  baseDelayMs: number;
  /** A single wait longer than this (a `Retry-After` of an hour) gives up instead of stalling. */
  maxWaitMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 6, baseDelayMs: 1_000, maxWaitMs: 15 * 60_000 };

/** Exponential backoff with jitter over the upper half of each step; an API's own wait is the floor. */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, askedMs = 0, random: () => number = Math.random): number {
  const step = policy.baseDelayMs * 2 ** Math.max(0, attempt - 1);
  return Math.round(Math.max(step / 2 + random() * (step / 2), askedMs));
}

/** Resolves after `ms`, or early (false) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (completed: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(completed);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * One pause shared by every worker talking to the same API: when one of them is rate limited,
 * the others stop sending too, instead of each finding out with its own 429.
 */
export interface RateLimitGate {
  /** Waits until the API is open again; false when interrupted. */
  passage(signal?: AbortSignal): Promise<boolean>;
  closeFor(ms: number): void;
}

export function createRateLimitGate(now: () => number = Date.now): RateLimitGate {
  let openAt = 0;
  return {
    async passage(signal) {
      // Loop: another worker may extend the pause while this one sleeps.
      for (let wait = openAt - now(); wait > 0; wait = openAt - now()) {
        if (!(await sleep(wait, signal))) return false;
      }
      return !signal?.aborted;
    },
    closeFor(ms) {
      openAt = Math.max(openAt, now() + ms);
    },
  };
}
