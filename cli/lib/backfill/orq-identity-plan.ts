/**
 * What orq.ai holds for one identity (`GET /v2/identities/{id}`), for `npm run doctor` to compare
 * with what the webhook mapping wants (src/reconcile/identity-diff.ts). (The backfill reads orq.ai
 * with the reconcile engine's tag listing instead, src/reconcile/orq-listing.ts.) The bridge's orq
 * client answers by status only; here the body is needed, so this one read has its own small,
 * tolerant parser.
 */
import { parseRetryAfter, type OrqFailure } from "../../../src/deliver/orq-client";
import type { StoredIdentity } from "../../../src/reconcile/identity-diff";

export type { StoredIdentity };

export type OrqLookup = { ok: true; identity: StoredIdentity | undefined } | (OrqFailure & { ok: false });

export interface OrqReadOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  fetch: typeof fetch;
  signal?: AbortSignal;
}

export async function lookUpOrqIdentity(options: OrqReadOptions, externalId: string): Promise<OrqLookup> {
  let response: Response;
  try {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    response = await options.fetch(`${options.baseUrl}/v2/identities/${encodeURIComponent(externalId)}`, {
      headers: { authorization: `Bearer ${options.apiKey}` },
      signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
    });
  } catch (error) {
    const timedOut = error instanceof Error && error.name === "TimeoutError";
    return failure({ retryable: true, reason: timedOut ? `timed out after ${options.timeoutMs} ms` : "network error" });
  }
  const { status } = response;
  if (status === 404) {
    await response.body?.cancel();
    return { ok: true, identity: undefined };
  }
  if (status >= 200 && status < 300) {
    const body = (await response.json().catch(() => undefined)) as { identity?: unknown } | undefined;
    // Current answers wrap `{identity}`; older ones were the flat identity (ORQ.md).
    const identity = body && typeof body.identity === "object" && body.identity !== null ? body.identity : body;
    if (typeof identity !== "object" || identity === null) return failure({ status, retryable: true, reason: "orq.ai answered 200 without an identity" });
    return { ok: true, identity: identity as StoredIdentity };
  }
  await response.body?.cancel();
  if (status === 401 || status === 403) {
    return failure({ status, retryable: true, authProblem: true, reason: `orq.ai rejected the API key (${status}): check ORQ_API_KEY` });
  }
  if (status === 429 || status === 503) {
    const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
    return failure({ status, retryable: true, reason: `orq.ai answered ${status}`, ...(retryAfterMs !== undefined && { retryAfterMs }) });
  }
  return failure({ status, retryable: status >= 500 || status === 408, reason: `orq.ai answered ${status} to a read` });
}

function failure(fields: Partial<OrqFailure> & Pick<OrqFailure, "retryable" | "reason">): OrqLookup {
  return { ok: false, kind: "failed", authProblem: false, ...fields };
}
