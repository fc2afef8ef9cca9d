/**
 * One listed user → orq.ai, through exactly the path a webhook takes: the provider's webhook body
 * around the user, the bridge's plug-in `normalise`, `toDesiredIdentity` with the operator's
 * mapping, then `syncIdentity` with the bridge's orq client. Before writing, the identity orq.ai
 * already holds is read and compared, so users that are already right cost one GET and no write.
 */
import type { OrqClient, OrqFailure } from "../../../src/deliver/orq-client";
import { CreateIdentityRequest } from "../../../src/deliver/orq-schemas";
import { syncIdentity } from "../../../src/deliver/sync-identity";
import { describeIssue } from "../../../src/describe-issue";
import { toDesiredIdentity, type MappingOptions } from "../../../src/identity/to-orq-identity";
import { planIdentityWrite } from "../../../src/reconcile/identity-diff";
import { lookUpOrqIdentity, type OrqReadOptions } from "./orq-identity-plan";
import { backoffDelayMs, sleep, type RateLimitGate, type RetryPolicy } from "./rate-limit";
import type { BackfillProvider } from "./user-source";

export type UserOutcome =
  | { kind: "created"; externalId: string }
  | { kind: "updated"; externalId: string; fields: string[] }
  | { kind: "unchanged"; externalId: string }
  | { kind: "failed"; userId: string; reason: string }
  /** Not done, and nothing more should be tried: Ctrl-C, or orq.ai rejects the API key. */
  | { kind: "stopped"; reason: string };

export interface UserSyncContext {
  provider: BackfillProvider;
  mapping: MappingOptions;
  orq: OrqClient;
  read: OrqReadOptions;
  /** Shared by every worker: one 429 from orq.ai pauses them all. */
  gate: RateLimitGate;
  retry: RetryPolicy;
  dryRun: boolean;
  signal?: AbortSignal;
  now(): number;
  onWait?(ms: number, why: string): void;
}

export async function backfillUser(user: unknown, context: UserSyncContext): Promise<UserOutcome> {
  const now = context.now();
  const webhook = context.provider.toWebhook(user, now);
  const normalised = context.provider.webhook.normalise(webhook.body, { deliveryId: webhook.deliveryId, receivedAt: now });
  if (normalised.kind !== "events") {
    const why = normalised.kind === "ignored" ? `ignored as ${normalised.eventType}` : normalised.problem;
    return { kind: "failed", userId: webhook.userId, reason: `not a valid ${context.provider.name} user: ${why}` };
  }
  const [event] = normalised.events;
  const desired = event && toDesiredIdentity(event, context.mapping);
  if (!desired || desired.kind !== "present") return { kind: "failed", userId: webhook.userId, reason: "the mapping produced no identity" };
  // Checked here (the client checks again) so an over-long external_id is named before any request.
  const valid = CreateIdentityRequest.safeParse(desired.identity);
  if (!valid.success) return { kind: "failed", userId: webhook.userId, reason: `invalid identity: ${describeIssue(valid.error)}` };
  const externalId = desired.identity.external_id;

  const lookup = await withOrqRetries(() => lookUpOrqIdentity(context.read, externalId), context);
  if (!lookup.ok) return lookup.stop ? { kind: "stopped", reason: lookup.reason } : { kind: "failed", userId: webhook.userId, reason: lookup.reason };
  const plan = planIdentityWrite(desired.identity, lookup.identity);
  if (plan.kind === "unchanged") return { kind: "unchanged", externalId };
  const outcome: UserOutcome = plan.kind === "create" ? { kind: "created", externalId } : { kind: "updated", externalId, fields: plan.fields };
  if (context.dryRun) return outcome;

  const written = await withOrqRetries(() => syncIdentity(context.orq, desired, { existsInOrq: plan.kind === "update", preferCreate: true }), context);
  if (!written.ok) return written.stop ? { kind: "stopped", reason: written.reason } : { kind: "failed", userId: webhook.userId, reason: written.reason };
  return outcome;
}

type GaveUp = { ok: false; stop: boolean; reason: string };

/**
 * Retries what orq.ai says can be retried (network, 5xx, 429), waiting at least its `Retry-After`
 * and pausing every worker meanwhile. A rejected API key stops the backfill: every other user
 * would fail the same way.
 */
async function withOrqRetries<T extends { ok: true }>(attempt: () => Promise<T | (OrqFailure & { ok: false })>, context: UserSyncContext): Promise<T | GaveUp> {
  const interrupted: GaveUp = { ok: false, stop: true, reason: "interrupted" };
  for (let tries = 1; ; tries++) {
    if (!(await context.gate.passage(context.signal))) return interrupted;
    const result = await attempt();
    if (result.ok) return result;
    // A request cut short by Ctrl-C looks like a network error: not a reason to wait and retry.
    if (context.signal?.aborted) return interrupted;
    if (result.authProblem) return { ok: false, stop: true, reason: result.reason };
    const retriesLeft = result.retryable && tries < context.retry.attempts;
    if (!retriesLeft) return { ok: false, stop: false, reason: tries > 1 ? `${result.reason} (after ${tries} attempts)` : result.reason };
    if (result.retryAfterMs !== undefined && result.retryAfterMs > context.retry.maxWaitMs) {
      return { ok: false, stop: false, reason: `${result.reason}, asked to wait ${Math.round(result.retryAfterMs / 1000)} s` };
    }
    if (result.retryAfterMs !== undefined) context.gate.closeFor(result.retryAfterMs);
    const delay = backoffDelayMs(tries, context.retry, result.retryAfterMs);
    context.onWait?.(delay, `orq.ai: ${result.reason}`);
    if (!(await sleep(delay, context.signal))) return interrupted;
  }
}
