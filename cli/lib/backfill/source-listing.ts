/**
 * The bridge's user sources (src/reconcile/sources/) as the backfill lists them for the reconcile
 * engine: the same one page per call the Worker makes, with the waiting a CLI can afford in
 * between. A 429 waits what the API asks (`Retry-After` / `X-RateLimit-Reset`), 5xx and network
 * errors back off and try again, anything else stops the listing with the reason the source gave.
 */
import type { Cursor, SourceFailure, UserSource, UserSourceClient, UserSourceContext } from "../../../src/reconcile/user-source";
import { backoffDelayMs, sleep, type RetryPolicy } from "./rate-limit";
import type { BackfillProvider, ListingFailure, OpenedSource, SourceContext, UserPage } from "./user-source";

export interface ApiContext {
  fetch: typeof fetch;
  retry: RetryPolicy;
  /** Per request. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Told about every wait, so the operator sees why nothing moves. */
  onWait?(ms: number, why: string): void;
}

/** `attempt` until it succeeds, fails for good, runs out of tries or is interrupted. */
export async function withRetries<T extends { ok: true }>(attempt: (ctx: UserSourceContext) => Promise<T | SourceFailure>, api: ApiContext): Promise<T | ListingFailure> {
  const ctx: UserSourceContext = { fetch: api.fetch, timeoutMs: api.timeoutMs, ...(api.signal && { signal: api.signal }) };
  const interrupted: ListingFailure = { ok: false, reason: "interrupted", interrupted: true };
  for (let tries = 1; ; tries++) {
    if (api.signal?.aborted) return interrupted;
    const result = await attempt(ctx);
    if (result.ok) return result;
    // A request cut short by Ctrl-C looks like a network error: not a reason to wait and retry.
    if (api.signal?.aborted) return interrupted;
    const stopped = (reason: string): ListingFailure => ({ ok: false, ...(result.status !== undefined && { status: result.status }), reason, interrupted: false });
    if (!result.retryable) return stopped(result.reason);
    if (tries >= api.retry.attempts) return stopped(`${result.reason} after ${tries} attempts`);
    if (result.retryAfterMs !== undefined && result.retryAfterMs > api.retry.maxWaitMs) {
      return stopped(`${result.reason}, asked to wait ${Math.round(result.retryAfterMs / 1000)} s, longer than allowed; run again later`);
    }
    const delay = backoffDelayMs(tries, api.retry, result.retryAfterMs);
    api.onWait?.(delay, result.reason);
    if (!(await sleep(delay, api.signal))) return interrupted;
  }
}

/** The backfill of a provider whose users the bridge's source lists. */
export function backfillFrom(source: UserSource): BackfillProvider {
  return {
    name: source.name,
    source,
    envHelp: source.envHelp,
    async open(context) {
      const configured = source.configure(context.env, context.pageSize === undefined ? {} : { pageSize: context.pageSize });
      if (!configured.ok) return { ok: false, problem: configured.problem };
      return openListing(configured.client, context);
    },
  };
}

/**
 * Lists the first page (from the checkpoint's cursor) before anything else, so wrong credentials
 * stop the backfill before it starts; the engine's first request for that cursor is then answered
 * with it, and every later one asks the API.
 */
export async function openListing(client: UserSourceClient, context: SourceContext): Promise<OpenedSource> {
  const { api } = context;
  const first = await withRetries((ctx) => client.listPage(context.resumeFrom, ctx), api);
  if (!first.ok) return { ok: false, problem: first.reason, interrupted: first.interrupted };
  const total = client.total ? await withRetries((ctx) => client.total!(ctx), api) : undefined;
  let opening: UserPage | undefined = first;
  return {
    ok: true,
    source: {
      // A count that failed only costs the progress bar.
      total: (total?.ok ? total.total : undefined) ?? first.total,
      identity: await client.account(),
      start: undefined,
      async listPage(cursor) {
        const page = opening && sameCursor(cursor, context.resumeFrom) ? opening : undefined;
        opening = undefined;
        return page ?? withRetries((ctx) => client.listPage(cursor, ctx), api);
      },
      confirmGone: (userId) => withRetries((ctx) => client.confirmGone(userId, ctx), api),
    },
  };
}

export function sameCursor(a: Cursor | undefined, b: Cursor | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
