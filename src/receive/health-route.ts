import type { Context } from "hono";
import { alerterOf, type AlertOverview } from "../alert/alerter";
import { getConfig } from "../config";
import { SCHEDULER_NAME, type SchedulerStats } from "../deliver/delivery-scheduler";
import { logLine } from "../log";
import { BRIDGE_STATUS_NAME, type BridgeSummary } from "../record/bridge-status";
import { BRIDGE_VERSION } from "../version";
import { reconcileHealth } from "../reconcile/reconcile-report";
import { reconcileStatuses } from "../reconcile/reconcile-trigger";
import type { ReconcileStatus } from "../reconcile/reconciler";

/**
 * Whether orq.ai rejects the bridge's key: the scheduler's state when it can be asked (it sees
 * every answer), else what BridgeStatus last recorded.
 */
export function orqAuthState(scheduler: SchedulerStats | null, summary: BridgeSummary | null): BridgeSummary["orqAuth"] {
  if (scheduler) {
    return scheduler.state === "key_rejected"
      ? { failingSince: scheduler.since, lastFailureAt: scheduler.since, reason: "orq.ai rejected the API key (401/403): check ORQ_API_KEY" }
      : null;
  }
  return summary?.orqAuth ?? null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * `GET /health`: version, which providers are configured, configuration problems (by variable,
 * never a value), whether orq.ai accepts the API key, the delivery scheduler (state, pace and
 * where it came from, backlog, next probe) and the failure counts.
 * Always 200 so it can be read; `status` says `ok` or `degraded`.
 */
export async function healthRoute(c: Context<{ Bindings: Cloudflare.Env }>) {
  const config = getConfig(c.env);
  const [summary, scheduler, reconciles, alerts] = await Promise.all([
    c.env.BRIDGE_STATUS.getByName(BRIDGE_STATUS_NAME)
      .summary()
      .catch((error: Error): BridgeSummary | null => {
        logLine({ msg: "health_status_unavailable", error: error.name });
        return null;
      }),
    c.env.ORQ_SCHEDULER.getByName(SCHEDULER_NAME)
      .stats()
      .catch((error: Error): SchedulerStats | null => {
        logLine({ msg: "health_scheduler_unavailable", error: error.name });
        return null;
      }),
    reconcileStatuses(c.env).catch((error: Error): ReconcileStatus[] | null => {
      logLine({ msg: "health_reconcile_unavailable", error: error.name });
      return null;
    }),
    // Asked only when alerts are configured: otherwise /health costs what it did.
    config.alerts.url === undefined
      ? null
      : alerterOf(c.env)
          .overview()
          .catch((error: Error): AlertOverview | null => {
            logLine({ msg: "health_alerts_unavailable", error: error.name });
            return null;
          }),
  ]);
  const now = Date.now();
  const { intervalMinutes } = config.reconcile;
  const reconcile = reconciles && Object.fromEntries(
    reconciles.map((status) => {
      const health = reconcileHealth(status, intervalMinutes, now);
      const lastCompleteAt = status.lastComplete?.endedAt;
      return [status.provider, {
        // ok | overdue (last complete cycle older than two intervals) | failed | never_run | not_configured
        status: health,
        ...(!status.configured && { missing: status.problem }),
        running: status.state === "running",
        last_complete_at: iso(lastCompleteAt ?? null),
        age_seconds: lastCompleteAt === undefined ? null : Math.round((now - lastCompleteAt) / 1000),
        ...(status.last?.error !== undefined && { error: status.last.error }),
        ...(status.last && status.last.counts.deletions_held_back > 0 && { deletions_held_back: status.last.counts.deletions_held_back }),
      }];
    }),
  );
  const reconcileDegraded = reconcile === null || Object.values(reconcile).some((entry) => entry.status === "overdue" || entry.status === "failed");
  const auth = orqAuthState(scheduler, summary);
  const paused = scheduler?.state === "outage" || scheduler?.state === "key_rejected";
  const degraded = config.problems.length > 0 || !summary || !scheduler || auth !== null || paused || summary.failed > 0 || reconcileDegraded;
  return c.json({
    status: degraded ? "degraded" : "ok",
    version: BRIDGE_VERSION,
    providers: Object.fromEntries([...config.providers].map(([name, setup]) => [name, setup.status])),
    orq: {
      api_key: config.orq.apiKey ? "set" : "missing",
      auth: auth ? "failing" : "ok",
      ...(auth && {
        auth_failing_since: new Date(auth.failingSince).toISOString(),
        last_auth_failure_at: new Date(auth.lastFailureAt).toISOString(),
        reason: auth.reason,
      }),
    },
    scheduler: scheduler && {
      // flowing | rate_limited | outage (paused, probing) | key_rejected (paused, probing)
      state: scheduler.state,
      since: iso(scheduler.since),
      pace_per_minute: scheduler.pace?.perMinute ?? null,
      pace_source: scheduler.pace?.source ?? null,
      calls_last_minute: scheduler.callsLastMinute,
      in_flight: scheduler.inFlight,
      max_concurrency: config.orq.maxConcurrency,
      backlog: scheduler.backlog,
      oldest_waiting_since: iso(scheduler.oldestWaitingSince),
      paused_until: iso(scheduler.pausedUntil),
      next_probe_at: iso(scheduler.nextProbeAt),
    },
    deliveries: summary && { retrying: summary.retrying, failed: summary.failed },
    reconcile: reconcile && { interval_minutes: intervalMinutes, providers: reconcile },
    alerts: {
      // set | not_set | invalid (listed under problems); never the URL
      webhook: config.alerts.url ? "set" : config.problems.some((problem) => problem.variable === "ALERT_WEBHOOK_URL") ? "invalid" : "not_set",
      format: config.alerts.format,
      ...(alerts && {
        open: alerts.open.map((condition) => condition.key),
        last_sent_at: iso(alerts.lastSent?.at ?? null),
        unsent: alerts.unsentCount,
      }),
    },
    problems: config.problems,
  });
}
