/**
 * Runs `work` with an AbortSignal that fires after `timeoutMs`, and clears the timer as soon as
 * `work` settles. Not `AbortSignal.timeout()`: its timer cannot be cancelled, and in a Durable
 * Object a pending timer keeps the object (and everything it holds) in memory, and awake, for the
 * whole timeout after the call is long done — measured as half of the bridge's memory growth
 * under load (docs/RELIABILITY.md). On timeout `work` rejects with a `TimeoutError`.
 */
export async function withTimeout<T>(timeoutMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, "TimeoutError")), timeoutMs);
  try {
    return await work(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

export function isTimeout(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === "TimeoutError";
}
