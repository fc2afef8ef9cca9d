/**
 * What a backfill has to do for one identity: read what orq.ai holds (`GET /v2/identities/{id}`)
 * and compare it with what the webhook mapping wants. The bridge's orq client answers by status
 * only; here the body is needed, so this one read has its own small, tolerant parser.
 */
import { parseRetryAfter, type OrqFailure } from "../../../src/deliver/orq-client";
import type { CreateIdentityRequest } from "../../../src/deliver/orq-schemas";

/** The profile fields a backfill compares; orq.ai's bookkeeping (`_id`, `created`, …) is ignored. */
export interface StoredIdentity {
  display_name?: unknown;
  email?: unknown;
  avatar_url?: unknown;
  tags?: unknown;
  metadata?: unknown;
}

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

export type WritePlan = { kind: "create" } | { kind: "update"; fields: string[] } | { kind: "unchanged" };

const SCALAR_FIELDS = ["display_name", "email", "avatar_url"] as const;

/**
 * `create` when orq.ai has no identity; `unchanged` when every field the mapping sets already
 * holds that value; else `update`, naming the fields that differ. A field the mapping leaves out
 * is not compared: a PATCH that omits it could not clear it either (README, Mapping), so counting
 * it as a difference would make every re-run write the same identity again.
 */
export function planIdentityWrite(desired: CreateIdentityRequest, stored: StoredIdentity | undefined): WritePlan {
  if (!stored) return { kind: "create" };
  const fields: string[] = [];
  for (const field of SCALAR_FIELDS) {
    if (desired[field] !== undefined && desired[field] !== stored[field]) fields.push(field);
  }
  if (desired.tags !== undefined && !sameTags(desired.tags, stored.tags)) fields.push("tags");
  if (desired.metadata !== undefined && !sameJson(desired.metadata, stored.metadata)) fields.push("metadata");
  return fields.length === 0 ? { kind: "unchanged" } : { kind: "update", fields };
}

/** Tags are a set to orq.ai's filters; the order it returns them in is not ours to insist on. */
function sameTags(wanted: readonly string[], stored: unknown): boolean {
  if (!Array.isArray(stored)) return wanted.length === 0 && stored === undefined;
  const have = new Set(stored);
  const want = new Set(wanted);
  return have.size === want.size && [...want].every((tag) => have.has(tag));
}

/** Deep equality of JSON values, object key order ignored. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, index) => sameJson(item, b[index]));
  const aRecord = a as Record<string, unknown>;
  const bRecord = b as Record<string, unknown>;
  const keys = Object.keys(aRecord);
  return keys.length === Object.keys(bRecord).length && keys.every((key) => Object.hasOwn(bRecord, key) && sameJson(aRecord[key], bRecord[key]));
}
