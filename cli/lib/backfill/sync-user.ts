/**
 * The backfill's side of orq.ai, for the reconcile engine it runs (src/reconcile/engine.ts): the
 * identities the bridge owns, listed by the provider's tag (`listOwnedIdentities`, the Worker's
 * listing), and each difference the engine finds written with the bridge's own `syncIdentity`.
 * A CLI has no Durable Objects: it is the operator's direct path to orq.ai, so a difference is
 * written here rather than handed to the user's identity object, with the waits a CLI can afford:
 * 5xx and network errors retried with backoff, a 429 waited out for every worker at once.
 */
import type { OrqClient, OrqFailure } from "../../../src/deliver/orq-client";
import { syncIdentity } from "../../../src/deliver/sync-identity";
import type { OrqBudgetsClient } from "../../../src/deliver/orq-budgets";
import { syncBudget } from "../../../src/deliver/sync-budget";
import { planIdentityWrite } from "../../../src/reconcile/identity-diff";
import type { IdentityChange } from "../../../src/record/identity-change";
import type { ReconcileOutcome } from "../../../src/reconcile/engine";
import type { StoredIdentity } from "../../../src/reconcile/identity-diff";
import { listOwnedIdentities, type OrqIdentityPage, type OrqListOptions } from "../../../src/reconcile/orq-listing";
import { backoffDelayMs, sleep, type RateLimitGate, type RetryPolicy } from "./rate-limit";

export interface OrqContext {
  orq: OrqClient;
  /** Plan-driven budgets (ORQ_BUDGETS): written after the identity, as the Worker does. */
  budgets: OrqBudgetsClient;
  list: OrqListOptions;
  /** Shared by every worker: one 429 from orq.ai pauses them all. */
  gate: RateLimitGate;
  retry: RetryPolicy;
  signal?: AbortSignal;
  onWait?(ms: number, why: string): void;
}

/** Given up on: `stop` when nothing more should be tried (interrupted, or orq.ai rejects the API key). */
export type GaveUp = { ok: false; stop: boolean; interrupted: boolean; reason: string };

/** One page of the identities tagged `tag`, retried like a write. */
export function listOwnedPage(context: OrqContext, tag: string, cursor: string | undefined): Promise<OrqIdentityPage | GaveUp> {
  return withOrqRetries<OrqIdentityPage>(() => listOwnedIdentities(context.list, tag, cursor), context);
}

/**
 * Makes orq.ai hold what `change` says (an identity, or a deletion per ORQ_ON_DELETE). `recorded`
 * once orq.ai took it, `failed` when it refused or kept failing; a GaveUp with `stop` is thrown
 * (the engine keeps the difference for the next run).
 */
export async function writeChange(context: OrqContext, change: IdentityChange, orqHolds: StoredIdentity | null, onFailed: (reason: string) => void): Promise<ReconcileOutcome> {
  const { desired } = change;
  // Only the budget differs (the engine compares both): the identity is not written again.
  const identityRight = desired.kind === "present" && orqHolds !== null && planIdentityWrite(desired.identity, orqHolds).kind === "unchanged";
  if (!identityRight) {
    const written = await withOrqRetries(() => syncIdentity(context.orq, desired, { existsInOrq: orqHolds !== null, preferCreate: true }), context);
    if (!written.ok) {
      if (written.stop) throw written;
      onFailed(written.reason);
      return "failed";
    }
  }
  if (desired.kind === "present" && desired.budget !== undefined) {
    const budget = desired.budget;
    const externalId = desired.identity.external_id;
    const synced = await withOrqRetries(() => syncBudget(context.budgets, externalId, budget, orqHolds === null ? { exists: false } : {}), context);
    if (!synced.ok) {
      if (synced.stop) throw synced;
      // The identity landed; only its budget did not.
      onFailed(`budget: ${synced.reason}`);
      return "failed";
    }
  }
  return "recorded";
}

/**
 * Retries what orq.ai says can be retried (network, 5xx, 429), waiting at least its `Retry-After`
 * and pausing every worker meanwhile. A rejected API key stops the backfill: every other user
 * would fail the same way.
 */
export async function withOrqRetries<T extends { ok: true }>(attempt: () => Promise<T | (OrqFailure & { ok: false })>, context: OrqContext): Promise<T | GaveUp> {
  const interrupted: GaveUp = { ok: false, stop: true, interrupted: true, reason: "interrupted" };
  for (let tries = 1; ; tries++) {
    if (!(await context.gate.passage(context.signal))) return interrupted;
    const result = await attempt();
    if (result.ok) return result;
    // A request cut short by Ctrl-C looks like a network error: not a reason to wait and retry.
    if (context.signal?.aborted) return interrupted;
    if (result.authProblem) return { ok: false, stop: true, interrupted: false, reason: result.reason };
    const retriesLeft = result.retryable && tries < context.retry.attempts;
    if (!retriesLeft) return { ok: false, stop: false, interrupted: false, reason: tries > 1 ? `${result.reason} (after ${tries} attempts)` : result.reason };
    if (result.retryAfterMs !== undefined && result.retryAfterMs > context.retry.maxWaitMs) {
      return { ok: false, stop: false, interrupted: false, reason: `${result.reason}, asked to wait ${Math.round(result.retryAfterMs / 1000)} s` };
    }
    if (result.retryAfterMs !== undefined) context.gate.closeFor(result.retryAfterMs);
    const delay = backoffDelayMs(tries, context.retry, result.retryAfterMs);
    context.onWait?.(delay, `orq.ai: ${result.reason}`);
    if (!(await sleep(delay, context.signal))) return interrupted;
  }
}
