import { logLine } from "../log";
import type { OrqClient, OrqFailure, OrqOutcome } from "./orq-client";
import { withoutField, withoutRefusableFields, type CreateIdentityRequest } from "./orq-schemas";
import type { DesiredBudget } from "../identity/budget-plan";

/** The newest state the bridge wants orq.ai to hold for one identity. */
export type DesiredIdentity =
  /** `partial`: made from an event carrying only changed fields; the identity's Durable Object merges it with what it knows. */
  | {
      kind: "present";
      identity: CreateIdentityRequest;
      partial?: true;
      /** The identity-scoped budget its plan gives (`ORQ_BUDGETS`): null = none; absent = leave it alone. */
      budget?: DesiredBudget | null;
    }
  /**
   * `onDelete`: `delete` removes the identity; `tag` keeps it and sets `tags` (which include
   * `deleted`); `ignore` leaves orq.ai alone (the bridge still keeps the tombstone for ordering).
   */
  | { kind: "deleted"; externalId: string; onDelete: "delete" | "tag" | "ignore"; tags?: string[] };

/**
 * What the bridge believes about orq.ai: `undefined` when unknown (first delivery), which then
 * follows the event type — a creation tries POST first, an update tries PATCH first.
 */
export interface SyncHints {
  existsInOrq: boolean | undefined;
  preferCreate: boolean;
  /** Who the identity is, for the log line naming a field left out (defaults: metadata.provider, external_id). */
  subject?: { provider: string; userId: string };
}

export type SyncResult =
  | { ok: true; existsInOrq: boolean; calls: number; status: number }
  /** `existsInOrq`: what the failed attempt learned on the way (a 404 or a 409), if anything. */
  | (OrqFailure & { ok: false; calls: number; existsInOrq?: boolean });

/**
 * Makes orq.ai hold `desired`, using only status codes:
 * create → POST, "already exists" → PATCH; update of an unknown identity → POST;
 * delete → DELETE where 404 counts as done.
 */
export async function syncIdentity(orq: OrqClient, desired: DesiredIdentity, hints: SyncHints): Promise<SyncResult> {
  let calls = 0;
  // Learned from answers during this attempt, so that the next attempt starts with the right call.
  let existsInOrq: boolean | undefined;
  const done = (exists: boolean, status: number): SyncResult => ({ ok: true, existsInOrq: exists, calls, status });
  const failed = (outcome: OrqOutcome): SyncResult =>
    outcome.kind === "failed"
      ? { ...outcome, ok: false, calls, existsInOrq }
      : // 404 on an update we may not recreate, or 409 on a PATCH: orq changed under us; try again later.
        { kind: "failed", ok: false, calls, existsInOrq, retryable: true, authProblem: false, status: outcome.status, reason: `unexpected ${outcome.status} from orq.ai` };
  const counted = (outcome: Promise<OrqOutcome>) => {
    calls++;
    return outcome;
  };

  if (desired.kind === "deleted") {
    if (desired.onDelete === "ignore") return done(hints.existsInOrq ?? false, 0);
    const outcome = await counted(
      desired.onDelete === "tag" ? orq.update(desired.externalId, { tags: desired.tags ?? [] }) : orq.remove(desired.externalId),
    );
    // 404: nothing to delete, or nothing to tag; either way orq.ai holds no live identity.
    if (outcome.kind === "ok") return done(desired.onDelete === "tag", outcome.status);
    if (outcome.kind === "not_found") return done(false, outcome.status);
    return failed(outcome);
  }

  // Checked right before sending: every path (webhooks, replays, backfills, states stored by an
  // older version) passes through here.
  const checked = withoutRefusableFields(desired.identity);
  let identity = checked.identity;
  const subject = hints.subject ?? { provider: String(identity.metadata?.provider ?? "unknown"), userId: identity.external_id };
  const leaveOut = (field: string, reason: string) =>
    logLine({ msg: "orq_field_dropped", provider: subject.provider, user_id: subject.userId, field, reason });
  for (const { field, reason } of checked.refused) leaveOut(field, reason);
  const externalId = identity.external_id;
  const profile = () => {
    const { external_id: _, ...fields } = identity;
    return fields;
  };
  // orq.ai may still refuse a field the bridge cannot judge: once per attempt, the call is made
  // again without the field its 400 names, so the rest of the identity lands.
  let retriedWithout: string | undefined;
  const refusedField = (outcome: OrqOutcome): string | undefined => {
    if (retriedWithout !== undefined || outcome.kind !== "failed" || (outcome.status !== 400 && outcome.status !== 422)) return undefined;
    const field = outcome.field;
    if (!field || field === "external_id") return undefined;
    const sent = field.startsWith("metadata.") ? Object.hasOwn(identity.metadata ?? {}, field.slice("metadata.".length)) : Object.hasOwn(identity, field);
    if (!sent) return undefined;
    retriedWithout = field;
    identity = withoutField(identity, field);
    leaveOut(field, `orq.ai answered ${outcome.status}`);
    return field;
  };

  const create = async (): Promise<SyncResult> => {
    const outcome = await counted(orq.create(identity));
    if (outcome.kind === "ok") return done(true, outcome.status);
    if (refusedField(outcome)) return create();
    if (outcome.kind === "conflict") {
      existsInOrq = true;
      return update(false);
    }
    if (outcome.kind === "failed" && !outcome.retryable && outcome.status !== undefined) {
      // The "already exists" status is undocumented: another 4xx may mean it exists. Ask.
      const probe = await counted(orq.retrieve(externalId));
      if (probe.kind === "ok") {
        existsInOrq = true;
        return update(false);
      }
    }
    return failed(outcome);
  };
  const update = async (mayCreate: boolean): Promise<SyncResult> => {
    const outcome = await counted(orq.update(externalId, profile()));
    if (outcome.kind === "ok") return done(true, outcome.status);
    if (refusedField(outcome)) return update(mayCreate);
    if (outcome.kind === "not_found" && mayCreate) {
      existsInOrq = false;
      return create();
    }
    return failed(outcome);
  };

  const tryCreateFirst = hints.existsInOrq === undefined ? hints.preferCreate : !hints.existsInOrq;
  return tryCreateFirst ? create() : update(true);
}
