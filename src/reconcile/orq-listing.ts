/**
 * The identities this bridge keeps in orq.ai for one provider: those carrying the provider's tag
 * (`GET /v2/identities?filter_by.tags=<tag>`), a page at a time, oldest first, with orq.ai's
 * `starting_after=<_id>` cursor. The other side of a reconcile's comparison; read-only.
 *
 * The list answers `{object: "list", data, has_more}` (orq-identities.openapi.yaml); items have been
 * the flat identity and `{identity}` in different eras (ORQ.md), so both are read. Failures are
 * classified exactly as the orq client classifies a write's (401/403 the key, 429/5xx retryable).
 */
import { classifyOrqResponse, type OrqFailure } from "../deliver/orq-client";
import { isTimeout, withTimeout } from "../with-timeout";

/** orq.ai's page maximum for the identities list. */
export const ORQ_LIST_MAX = 200;

export interface OrqListOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  fetch: typeof fetch;
  signal?: AbortSignal;
  /** Ask for each identity's budget too (`include_budget=true`: plan-driven budgets are compared). */
  includeBudget?: boolean;
}

export interface OrqIdentity {
  _id: string;
  external_id: string;
  display_name?: string;
  email?: string;
  avatar_url?: string;
  tags?: string[];
  metadata?: Record<string, unknown>;
  /** With `includeBudget`: its identity-scoped budget as orq.ai lists it, or null for none. */
  budget?: unknown;
}

export type OrqIdentityPage = { ok: true; identities: OrqIdentity[]; next: string | null; requests: 1 };
export type OrqListFailure = OrqFailure & { ok: false; requests: 1 };

export async function listOwnedIdentities(options: OrqListOptions, tag: string, cursor: string | undefined, limit = ORQ_LIST_MAX): Promise<OrqIdentityPage | OrqListFailure> {
  const query = new URLSearchParams({ limit: String(Math.min(Math.max(1, Math.floor(limit)), ORQ_LIST_MAX)), "filter_by.tags": tag });
  if (cursor) query.set("starting_after", cursor);
  if (options.includeBudget) query.set("include_budget", "true");
  try {
    return await withTimeout(options.timeoutMs, async (deadline) => {
      const response = await options.fetch(`${options.baseUrl}/v2/identities?${query}`, {
        headers: { authorization: `Bearer ${options.apiKey}` },
        signal: options.signal ? AbortSignal.any([options.signal, deadline]) : deadline,
      });
      if (!response.ok) {
        const outcome = await classifyOrqResponse(response);
        if (outcome.kind === "failed") return { ...outcome, ok: false, requests: 1 };
        return failure({ status: outcome.status, retryable: false, reason: `orq.ai answered ${outcome.status} to the identities list` });
      }
      const body = (await response.json().catch(() => undefined)) as { data?: unknown; has_more?: unknown } | undefined;
      if (!body || !Array.isArray(body.data)) return failure({ status: response.status, retryable: true, reason: "orq.ai answered the identities list without data" });
      const identities = body.data.map((item) => identityOf(item, options.includeBudget === true)).filter((identity): identity is OrqIdentity => identity !== undefined);
      const last = body.data.length > 0 ? rawIdentity(body.data[body.data.length - 1]) : undefined;
      const hasMore = body.has_more === true;
      if (hasMore && typeof last?._id !== "string") return failure({ status: response.status, retryable: false, reason: "orq.ai's identities list has more pages but its last item has no _id to continue from" });
      return { ok: true, identities, next: hasMore ? (last?._id as string) : null, requests: 1 };
    });
  } catch (error) {
    return failure({ retryable: true, reason: isTimeout(error) ? `timed out after ${options.timeoutMs} ms` : "network error" });
  }
}

function failure(fields: Pick<OrqFailure, "retryable" | "reason"> & Partial<OrqFailure>): OrqListFailure {
  return { kind: "failed", authProblem: false, ...fields, ok: false, requests: 1 };
}

function rawIdentity(item: unknown): Record<string, unknown> | undefined {
  if (typeof item !== "object" || item === null) return undefined;
  const wrapped = (item as { identity?: unknown }).identity;
  return (typeof wrapped === "object" && wrapped !== null ? wrapped : item) as Record<string, unknown>;
}

/** The fields a comparison reads; an item without `_id` or `external_id` cannot be matched and is left out. */
function identityOf(item: unknown, withBudget: boolean): OrqIdentity | undefined {
  const raw = rawIdentity(item);
  if (!raw || typeof raw._id !== "string" || typeof raw.external_id !== "string") return undefined;
  const identity: OrqIdentity = { _id: raw._id, external_id: raw.external_id };
  for (const field of ["display_name", "email", "avatar_url"] as const) {
    if (typeof raw[field] === "string") identity[field] = raw[field];
  }
  if (Array.isArray(raw.tags)) identity.tags = raw.tags.filter((tag): tag is string => typeof tag === "string");
  if (typeof raw.metadata === "object" && raw.metadata !== null && !Array.isArray(raw.metadata)) identity.metadata = raw.metadata as Record<string, unknown>;
  if (withBudget) identity.budget = typeof raw.budget === "object" && raw.budget !== null ? raw.budget : null;
  return identity;
}
