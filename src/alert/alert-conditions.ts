import type { SchedulerStats } from "../deliver/delivery-scheduler";
import type { BridgeSummary, FailureEntry } from "../record/bridge-status";
import { reconcileHealth } from "../reconcile/reconcile-report";
import type { ReconcileStatus } from "../reconcile/reconciler";

/**
 * What is worth waking someone for, as a pure function of what the bridge already knows: the
 * scheduler's state, the identities given up on, each provider's recent webhook verdicts and the
 * reconcile cycles. Evaluated in one place (the Alerter object, once a minute); this file decides
 * which conditions are open and which messages a change of state sends, never how they are sent.
 * Alerts carry user ids, counts and variable names: never an email address, a name or a secret.
 */
export type ConditionName =
  | "orq_key_rejected"
  | "orq_outage"
  | "identities_given_up"
  | "webhook_verification_failing"
  | "reconcile_failed"
  | "reconcile_overdue"
  | "reconcile_deletions_held_back";

export type Severity = "critical" | "warning" | "info";
export type Details = Record<string, string | number | string[]>;

export interface OpenCondition {
  /** The condition and its subject, when it has one: `webhook_verification_failing:clerk`. */
  key: string;
  condition: ConditionName;
  severity: Severity;
  startedAt: number;
  summary: string;
  details: Details;
  /** What to do about it. */
  action: string;
  /** identities_given_up: how many; a higher count is news (sent at most every GIVEN_UP_GAP_MS). */
  count?: number;
}

/**
 * One provider's webhook verdicts, from the per-minute counts (alert-trigger.ts). A rotated secret
 * shows as 401s after the last verified webhook: those are what count, so the alert does not wait
 * for older accepted webhooks to leave the window.
 */
export interface WebhookWindow {
  provider: string;
  /** The variable whose value signs (or authenticates) this provider's webhooks. */
  secretBinding: string;
  /** 401s in the last WEBHOOK_WINDOW_MS, in minutes after the last minute with a verified webhook. */
  rejected: number;
  /** The first minute of those. */
  firstRejectedAt: number | null;
  /** The latest 401 counted at all (the counts are kept a little over STALE_REJECTION_MS). */
  lastRejectedAt: number | null;
  /** The latest minute with a verified webhook, if any is still kept. */
  lastVerifiedAt: number | null;
}

export interface AlertInputs {
  now: number;
  /** null: the scheduler could not be asked (its conditions keep their state). */
  scheduler: SchedulerStats | null;
  /** null: BridgeStatus could not be asked. `failures`: the newest few given up on. */
  status: { summary: BridgeSummary; failures: FailureEntry[] } | null;
  reconcile: { statuses: ReconcileStatus[]; intervalMinutes: number } | null;
  webhooks: WebhookWindow[];
  /** Keys open before this evaluation, with when each started (a failing provider's stays open until a webhook is verified). */
  open: ReadonlyMap<string, number>;
}

export const OUTAGE_ALERT_AFTER_MS = 5 * 60_000;
export const WEBHOOK_WINDOW_MS = 10 * 60_000;
export const WEBHOOK_REJECTIONS = 5;
/** A failing provider's condition clears once a webhook is verified, or after this long without any 401. */
export const STALE_REJECTION_MS = 60 * 60_000;
export const GIVEN_UP_GAP_MS = 15 * 60_000;
/** User ids named in an identities_given_up alert. */
export const IDS_SHOWN = 5;

const iso = (ms: number) => new Date(ms).toISOString();
const EMAIL = /[^\s@]+@[^\s@]+\.[^\s@]+/;

/** A user id as an alert shows it: never something that reads as an email address. */
export function safeUserId(userId: string): string {
  return EMAIL.test(userId) ? "(an id that looks like an email address: see the status page)" : userId.slice(0, 120);
}

export function evaluateConditions(inputs: AlertInputs): { open: OpenCondition[]; unknown: ConditionName[] } {
  const { now } = inputs;
  const open: OpenCondition[] = [];
  const unknown: ConditionName[] = [];
  const stats = inputs.scheduler;

  const keyRejected = stats ? (stats.state === "key_rejected" ? stats.since : null) : (inputs.status?.summary.orqAuth?.failingSince ?? null);
  if (!stats && !inputs.status) unknown.push("orq_key_rejected");
  else if (keyRejected !== null) {
    open.push({
      key: "orq_key_rejected",
      condition: "orq_key_rejected",
      severity: "critical",
      startedAt: keyRejected,
      summary: "orq.ai rejects the bridge's API key (401/403): nothing is delivered.",
      details: { ...(stats && { waiting: stats.backlog }), since: iso(keyRejected) },
      action: "Put a valid orq.ai API key in ORQ_API_KEY (`npx wrangler secret put ORQ_API_KEY`). Every event is kept and delivered once the key works; nothing else to do.",
    });
  }

  if (!stats) unknown.push("orq_outage");
  else if (stats.state === "outage" && now - stats.since > OUTAGE_ALERT_AFTER_MS) {
    open.push({
      key: "orq_outage",
      condition: "orq_outage",
      severity: "critical",
      startedAt: stats.since,
      summary: `orq.ai has been failing for everyone for more than ${OUTAGE_ALERT_AFTER_MS / 60_000} minutes: deliveries are paused.`,
      details: { since: iso(stats.since), waiting: stats.backlog },
      action: "Check orq.ai's status and the bridge's ORQ_API_URL. The bridge probes every few seconds and delivers the backlog by itself once orq.ai answers.",
    });
  }

  if (!inputs.status) unknown.push("identities_given_up");
  else if (inputs.status.summary.failed > 0) {
    const { summary, failures } = inputs.status;
    const given = failures.filter((failure) => failure.state === "failed").slice(0, IDS_SHOWN);
    const startedAt = given.length > 0 ? Math.min(...given.map((failure) => failure.firstFailureAt)) : now;
    open.push({
      key: "identities_given_up",
      condition: "identities_given_up",
      severity: "warning",
      startedAt,
      summary: `${summary.failed} ${summary.failed === 1 ? "identity was" : "identities were"} given up on: orq.ai refused their change for good.`,
      details: {
        count: summary.failed,
        newest: given.map((failure) => `${failure.provider}:${safeUserId(failure.userId)}${failure.status === null ? "" : ` (${failure.status})`}`),
      },
      action: "Look up why on the status page (or GET /admin/failures), fix the cause, then replay: POST /admin/replay {\"since\": \"<time>\"}.",
      count: summary.failed,
    });
  }

  for (const window of inputs.webhooks) {
    const key = `webhook_verification_failing:${window.provider}`;
    const opens = window.rejected >= WEBHOOK_REJECTIONS;
    const since = inputs.open.get(key);
    const stays =
      since !== undefined && (window.lastVerifiedAt === null || window.lastVerifiedAt < since) && window.lastRejectedAt !== null && now - window.lastRejectedAt < STALE_REJECTION_MS;
    if (!opens && !stays) continue;
    open.push({
      key,
      condition: "webhook_verification_failing",
      severity: "critical",
      startedAt: window.firstRejectedAt ?? now,
      summary: `${window.provider}'s webhooks fail verification: ${window.rejected} answered 401 in the last ${WEBHOOK_WINDOW_MS / 60_000} minutes and none accepted since. The signing secret likely differs from ${window.secretBinding}.`,
      details: { provider: window.provider, variable: window.secretBinding, rejected_last_10_min: window.rejected },
      action: `Copy the signing secret from ${window.provider}'s webhook settings into ${window.secretBinding} (\`npx wrangler secret put ${window.secretBinding}\`), then resend the failed deliveries from ${window.provider}'s dashboard. \`npm run doctor -- --url <bridge> --provider ${window.provider}\` checks it. If ${window.provider}'s dashboard shows its deliveries succeeding, someone else is sending forged requests: nothing to fix.`,
    });
  }

  if (!inputs.reconcile) unknown.push("reconcile_failed", "reconcile_overdue", "reconcile_deletions_held_back");
  else {
    const { statuses, intervalMinutes } = inputs.reconcile;
    for (const status of statuses) {
      if (!status.configured) continue;
      const health = reconcileHealth(status, intervalMinutes, now);
      const provider = status.provider;
      if (health === "failed" && status.last) {
        open.push({
          key: `reconcile_failed:${provider}`,
          condition: "reconcile_failed",
          severity: "warning",
          startedAt: status.last.endedAt ?? status.last.startedAt,
          summary: `The last self-healing cycle for ${provider} failed: ${(status.last.error ?? "").slice(0, 200)}`,
          details: { provider, cycle: status.last.id },
          action: `Check ${provider}'s management API credentials and limits (GET /admin/reconcile shows the cycle). The next cycle starts with the next interval; POST /admin/reconcile {"provider":"${provider}"} starts one now.`,
        });
      }
      if (health === "overdue") {
        const since = status.lastComplete?.endedAt ?? status.current?.startedAt ?? status.last?.startedAt ?? now;
        open.push({
          key: `reconcile_overdue:${provider}`,
          condition: "reconcile_overdue",
          severity: "warning",
          startedAt: since + 2 * intervalMinutes * 60_000,
          summary: `Self-healing for ${provider} is overdue: no cycle has completed for more than two intervals (${2 * intervalMinutes} minutes).`,
          details: { provider, last_complete_at: status.lastComplete?.endedAt ? iso(status.lastComplete.endedAt) : "never", running: status.state === "running" ? "yes" : "no" },
          action: `See GET /admin/reconcile for the cycle's progress and last failure; check that the Cron Trigger runs and ${provider}'s API answers.`,
        });
      }
      // A dry run holds nothing back: it only reports.
      const held = status.last && !status.last.dryRun ? status.last.counts.deletions_held_back : 0;
      if (held > 0 && status.last) {
        open.push({
          key: `reconcile_deletions_held_back:${provider}`,
          condition: "reconcile_deletions_held_back",
          severity: "warning",
          startedAt: status.last.endedAt ?? status.last.startedAt,
          summary: `Self-healing for ${provider} held back ${held} deletions (more than RECONCILE_MAX_DELETES).`,
          details: { provider, held_back: held, ...(status.last.heldBack && { reason: status.last.heldBack.slice(0, 200) }) },
          action: `Check that these users really were deleted at ${provider} (a dry run lists them: POST /admin/reconcile {"provider":"${provider}","dry_run":true}), then POST /admin/reconcile {"provider":"${provider}","confirm_deletes":true}.`,
        });
      }
    }
  }
  return { open, unknown };
}

/** A condition as the Alerter keeps it while it is open. */
export interface StoredCondition extends OpenCondition {
  /** When its "raised" (or "updated") message was queued; null = not yet (identities_given_up waits its turn). */
  raisedAt: number | null;
  raisedCount?: number;
}

export type MessageState = "raised" | "updated" | "cleared" | "test";

export interface AlertMessage {
  /** Stable across retries: a receiver can drop a repeat. */
  id: string;
  condition: ConditionName | "test";
  state: MessageState;
  severity: Severity;
  startedAt: number;
  clearedAt?: number;
  summary: string;
  details: Details;
  action: string;
  /** The status page (or /health), when the bridge has learnt its own address. */
  link: string | null;
}

export interface AlertPlan {
  /** Conditions to store (new, or whose message or count changed). */
  upsert: StoredCondition[];
  remove: string[];
  messages: AlertMessage[];
}

/**
 * Compares what is open now with what was: a condition that starts is raised once, one that ends is
 * cleared once (only if its raise was sent), and nothing else sends. identities_given_up also sends
 * when the count grows, at most once per GIVEN_UP_GAP_MS (as is its first raise after an earlier one).
 * Conditions whose source could not be read keep their state: an unreachable object clears nothing.
 */
export function planAlerts(
  stored: readonly StoredCondition[],
  evaluation: { open: OpenCondition[]; unknown: readonly ConditionName[] },
  now: number,
  link: string | null,
  lastGivenUpAt: number | null,
): AlertPlan {
  const plan: AlertPlan = { upsert: [], remove: [], messages: [] };
  const before = new Map(stored.map((condition) => [condition.key, condition]));
  for (const current of evaluation.open) {
    const previous = before.get(current.key);
    const next: StoredCondition = previous
      ? { ...current, startedAt: previous.startedAt, raisedAt: previous.raisedAt, ...(previous.raisedCount !== undefined && { raisedCount: previous.raisedCount }) }
      : { ...current, raisedAt: null };
    let state: MessageState | null = null;
    if (current.condition !== "identities_given_up") {
      if (next.raisedAt === null) state = "raised";
    } else if (lastGivenUpAt === null || now - lastGivenUpAt >= GIVEN_UP_GAP_MS) {
      if (next.raisedAt === null) state = "raised";
      else if ((current.count ?? 0) > (next.raisedCount ?? 0)) state = "updated";
    }
    if (state) {
      next.raisedAt = now;
      if (current.count !== undefined) next.raisedCount = current.count;
      plan.messages.push(messageOf(next, state, link));
    }
    if (!previous || state || previous.count !== current.count) plan.upsert.push(next);
  }
  const stillOpen = new Set(evaluation.open.map((condition) => condition.key));
  for (const previous of stored) {
    if (stillOpen.has(previous.key) || evaluation.unknown.includes(previous.condition)) continue;
    plan.remove.push(previous.key);
    if (previous.raisedAt !== null) plan.messages.push({ ...messageOf(previous, "cleared", link), clearedAt: now });
  }
  return plan;
}

const CLEARED: Record<ConditionName, string> = {
  orq_key_rejected: "orq.ai accepts the bridge's API key again; the kept events are being delivered.",
  orq_outage: "orq.ai answers again; the backlog is being delivered.",
  identities_given_up: "No identity is given up on any more (replayed or changed since).",
  webhook_verification_failing: "Webhooks from this provider are verified again.",
  reconcile_failed: "The provider's self-healing cycle no longer fails.",
  reconcile_overdue: "The provider's self-healing cycle completed again.",
  reconcile_deletions_held_back: "No deletions are held back any more.",
};

function messageOf(condition: StoredCondition, state: Exclude<MessageState, "test">, link: string | null): AlertMessage {
  const cleared = state === "cleared";
  const subject = condition.key.includes(":") ? ` (${condition.key.slice(condition.key.indexOf(":") + 1)})` : "";
  return {
    id: `${condition.key}/${condition.startedAt}/${state}${state === "updated" ? `/${condition.count}` : ""}`,
    condition: condition.condition,
    state,
    severity: cleared ? "info" : condition.severity,
    startedAt: condition.startedAt,
    summary: cleared ? `Cleared${subject}: ${CLEARED[condition.condition]}` : condition.summary,
    details: condition.details,
    action: cleared ? "Nothing to do." : condition.action,
    link,
  };
}
