import type { Cycle } from "./engine";
import type { ReconcileStatus } from "./reconciler";

const iso = (ms: number | undefined | null) => (ms === undefined || ms === null ? null : new Date(ms).toISOString());

/** `ok`; `overdue`: the last complete cycle is older than two intervals; `failed`: the last cycle failed. */
export type ReconcileHealth = "ok" | "overdue" | "failed" | "never_run" | "not_configured";

export function reconcileHealth(status: ReconcileStatus, intervalMinutes: number, now: number): ReconcileHealth {
  if (!status.configured) return "not_configured";
  if (status.last?.error !== undefined) return "failed";
  const since = status.lastComplete?.endedAt ?? null;
  if (since === null) {
    // Never completed: overdue once a cycle has been running (or trying) for two intervals.
    const started = status.current?.startedAt ?? status.last?.startedAt;
    return started !== undefined && now - started > 2 * intervalMinutes * 60_000 ? "overdue" : "never_run";
  }
  return now - since > 2 * intervalMinutes * 60_000 ? "overdue" : "ok";
}

/** A cycle as the admin API and the status page show it: times in ISO 8601, counts as they are. */
export function cycleJson(cycle: Cycle | null) {
  if (!cycle) return null;
  return {
    id: cycle.id,
    trigger: cycle.trigger,
    dry_run: cycle.dryRun,
    confirm_deletes: cycle.confirmDeletes,
    started_at: iso(cycle.startedAt),
    ended_at: iso(cycle.endedAt),
    phase: cycle.phase,
    ...cycle.counts,
    requests: cycle.requests,
    error: cycle.error ?? null,
    deletions_held_back_reason: cycle.heldBack ?? null,
    last_failure: cycle.lastFailure ?? null,
    ...(cycle.dryRun && { drift: cycle.drift }),
  };
}

export function reconcileJson(status: ReconcileStatus, intervalMinutes: number, now: number) {
  const health = reconcileHealth(status, intervalMinutes, now);
  const lastCompleteAt = status.lastComplete?.endedAt;
  return {
    provider: status.provider,
    configured: status.configured,
    ...(status.problem !== undefined && { problem: status.problem }),
    state: status.state,
    health,
    last_complete_at: iso(lastCompleteAt),
    last_complete_age_seconds: lastCompleteAt === undefined ? null : Math.round((now - lastCompleteAt) / 1000),
    progress: status.current && {
      ...cycleJson(status.current),
    },
    last_cycle: cycleJson(status.last),
    last_complete_cycle: cycleJson(status.lastComplete),
  };
}
