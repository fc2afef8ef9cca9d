import { DurableObject } from "cloudflare:workers";
import { getConfig, type BridgeConfig } from "../config";
import { SCHEDULER_NAME, type SchedulerStats } from "../deliver/delivery-scheduler";
import { logLine } from "../log";
import { providers } from "../providers/registry";
import { reconcileStatuses } from "../reconcile/reconcile-trigger";
import type { ReconcileStatus } from "../reconcile/reconciler";
import { BRIDGE_STATUS_NAME } from "../record/bridge-status";
import {
  evaluateConditions,
  IDS_SHOWN,
  planAlerts,
  STALE_REJECTION_MS,
  WEBHOOK_WINDOW_MS,
  type AlertInputs,
  type AlertMessage,
  type StoredCondition,
  type WebhookWindow,
} from "./alert-conditions";
import { postAlert, type SendResult } from "./send-alert";

/**
 * The one place alerts are decided and sent (docs/operations.md "Alerts"). Once a minute the Cron Trigger asks
 * it to evaluate: it reads the scheduler, BridgeStatus and the reconcilers, compares the open
 * conditions with the ones it stored, and queues a message per change of state (alert-conditions.ts).
 * Messages leave in order from an outbox; one that cannot be sent is retried with backoff in this
 * object's alarm for up to a day, and shows as unsent on the status page meanwhile. Nothing here runs
 * on a webhook's or a delivery's path, so an alert endpoint that is down slows neither.
 *
 * Webhook verdicts reach it as per-minute counts, at most once a minute from each isolate
 * (alert-trigger.ts), never once per webhook. Rows are written only when something changes: a
 * minute's counts, a condition that opens or closes, a message queued or sent.
 */
export const ALERTER_NAME = "alerts";

export function alerterOf(env: Cloudflare.Env) {
  return env.ALERTS.getByName(ALERTER_NAME);
}

/** One isolate's webhook verdicts since its last report, per provider and minute (epoch minutes). */
export interface WebhookTally {
  /** The bridge's own origin, as requests reach it: the link in alerts. */
  origin?: string;
  counts: Array<{ provider: string; minute: number; verified: number; rejected: number }>;
}

export interface AlertOverview {
  open: Array<Pick<StoredCondition, "key" | "condition" | "severity" | "startedAt" | "summary" | "action"> & { notified: boolean }>;
  lastSent: SentRecord | null;
  unsent: UnsentAlert[];
  unsentCount: number;
  dropped: { count: number; lastAt: number } | null;
}

export interface SentRecord {
  condition: AlertMessage["condition"];
  state: AlertMessage["state"];
  summary: string;
  at: number;
  status: number;
}

export interface UnsentAlert {
  condition: AlertMessage["condition"];
  state: AlertMessage["state"];
  summary: string;
  queuedAt: number;
  attempts: number;
  nextAttemptAt: number;
  lastProblem: string | null;
}

/** First retry after 15 s, doubling to at most 15 minutes; a message older than a day is dropped. */
export const RETRY_FIRST_MS = 15_000;
export const RETRY_CAP_MS = 15 * 60_000;
export const GIVE_UP_AFTER_MS = 24 * 60 * 60_000;
const OUTBOX_KEPT = 100;
const SENDS_PER_RUN = 20;
const UNSENT_SHOWN = 5;

export function alertRetryDelayMs(attempts: number): number {
  return Math.min(RETRY_CAP_MS, RETRY_FIRST_MS * 2 ** Math.max(0, attempts - 1));
}

interface OutboxRow extends Record<string, SqlStorageValue> {
  id: number;
  data: string;
  queued_at: number;
  attempts: number;
  next_at: number;
  last_problem: string | null;
}

export class Alerter extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private evaluating?: Promise<{ open: number; queued: number; unsent: number }>;
  private sending?: Promise<void>;
  /** RPC calls and alarms served, by method, and rows written (setAlarm = 1): what the cost tests read. */
  private readonly calls = new Map<string, number>();
  private rowsWritten = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS conditions (key TEXT PRIMARY KEY, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL, queued_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, last_problem TEXT);
      CREATE TABLE IF NOT EXISTS webhook_minutes (
        provider TEXT NOT NULL, minute INTEGER NOT NULL, verified INTEGER NOT NULL, rejected INTEGER NOT NULL,
        PRIMARY KEY (provider, minute)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
  }

  /** An isolate's webhook counts (at most once a minute per isolate). */
  recordWebhooks(tally: WebhookTally): void {
    this.meter("recordWebhooks");
    this.storeTally(tally);
  }

  /** The Cron Trigger's minute: the isolate's own counts ride along (no request of their own). */
  evaluate(tally?: WebhookTally): Promise<{ open: number; queued: number; unsent: number }> {
    this.meter("evaluate");
    if (tally) this.storeTally(tally);
    // One evaluation at a time: two reading the same stored state would both raise.
    this.evaluating ??= this.runEvaluation().finally(() => {
      this.evaluating = undefined;
    });
    return this.evaluating;
  }

  /** `POST /admin/alerts/test`: sent at once, not queued, so the answer says whether it arrived. */
  async sendTest(origin?: string): Promise<SendResult> {
    this.meter("sendTest");
    if (origin) this.rememberOrigin(origin);
    const config = getConfig(this.env);
    const now = Date.now();
    const open = this.readConditions().length;
    const message: AlertMessage = {
      id: `test/${now}`,
      condition: "test",
      state: "test",
      severity: "info",
      startedAt: now,
      summary: "Test alert from the orq identity bridge: alerts reach this channel.",
      details: { format: config.alerts.format, open_conditions: open },
      action: "Nothing to do. The bridge sends a message here when a condition starts and when it clears.",
      link: this.link(config),
    };
    const result = await postAlert(config.alerts, message);
    this.logSend(message, result);
    if (result.ok) this.rememberSent(message, result.status);
    return result;
  }

  overview(): AlertOverview {
    const open = this.readConditions().map((condition) => ({
      key: condition.key,
      condition: condition.condition,
      severity: condition.severity,
      startedAt: condition.startedAt,
      summary: condition.summary,
      action: condition.action,
      notified: condition.raisedAt !== null,
    }));
    const unsent = this.sql
      .exec<OutboxRow>("SELECT * FROM outbox ORDER BY id LIMIT ?", UNSENT_SHOWN)
      .toArray()
      .map((row) => {
        const message = JSON.parse(row.data) as AlertMessage;
        return { condition: message.condition, state: message.state, summary: message.summary, queuedAt: row.queued_at, attempts: row.attempts, nextAttemptAt: row.next_at, lastProblem: row.last_problem };
      });
    const unsentCount = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
    return { open, lastSent: this.readMeta<SentRecord>("last_sent"), unsent, unsentCount, dropped: this.readMeta<{ count: number; lastAt: number }>("dropped") };
  }

  usage(): { requests: Record<string, number>; rowsWritten: number } {
    return { requests: Object.fromEntries(this.calls), rowsWritten: this.rowsWritten };
  }

  override async alarm(): Promise<void> {
    this.meter("alarm");
    await this.sendDue();
  }

  private async runEvaluation(): Promise<{ open: number; queued: number; unsent: number }> {
    const config = getConfig(this.env);
    const [status, scheduler, statuses] = await Promise.all([
      this.env.BRIDGE_STATUS.getByName(BRIDGE_STATUS_NAME)
        .overview({ limit: IDS_SHOWN, state: "failed" }, 0)
        .then((overview) => ({ summary: overview.summary, failures: overview.failures }))
        .catch((error: Error) => unavailable("bridge_status", error)),
      this.env.ORQ_SCHEDULER.getByName(SCHEDULER_NAME)
        .stats()
        .catch((error: Error): SchedulerStats | null => unavailable("scheduler", error)),
      reconcileStatuses(this.env).catch((error: Error): ReconcileStatus[] | null => unavailable("reconcile", error)),
    ]);
    const now = Date.now();
    const stored = this.readConditions();
    const inputs: AlertInputs = {
      now,
      scheduler,
      status,
      reconcile: statuses && { statuses, intervalMinutes: config.reconcile.intervalMinutes },
      webhooks: this.webhookWindows(now),
      open: new Map(stored.map((condition) => [condition.key, condition.startedAt])),
    };
    const evaluation = evaluateConditions(inputs);
    const plan = planAlerts(stored, evaluation, now, this.link(config), this.readMeta<number>("given_up_last_at"));
    for (const condition of plan.upsert) {
      this.write("INSERT INTO conditions (key, data) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data", condition.key, JSON.stringify(condition));
    }
    for (const key of plan.remove) this.write("DELETE FROM conditions WHERE key = ?", key);
    for (const message of plan.messages) {
      this.write("INSERT INTO outbox (data, queued_at, next_at) VALUES (?, ?, ?)", JSON.stringify(message), now, now);
      if (message.condition === "identities_given_up" && message.state !== "cleared") this.writeMeta("given_up_last_at", now);
      logLine({ msg: "alert_queued", condition: message.condition, state: message.state, id: message.id });
    }
    if (plan.messages.length > 0) this.trimOutbox();
    await this.sendDue();
    const open = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM conditions").one().n;
    return { open, queued: plan.messages.length, unsent: this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n };
  }

  private sendDue(): Promise<void> {
    this.sending ??= this.sendInOrder().finally(() => {
      this.sending = undefined;
    });
    return this.sending;
  }

  /** Oldest first, so a "cleared" never arrives before its "raised"; the first failure stops the run. */
  private async sendInOrder(): Promise<void> {
    for (let sent = 0; sent < SENDS_PER_RUN; sent++) {
      const head = this.sql.exec<OutboxRow>("SELECT * FROM outbox ORDER BY id LIMIT 1").toArray()[0];
      if (!head) return;
      const now = Date.now();
      if (head.next_at > now) return this.wakeAt(head.next_at);
      const message = JSON.parse(head.data) as AlertMessage;
      if (now - head.queued_at > GIVE_UP_AFTER_MS) {
        this.drop(head, message, now);
        continue;
      }
      const settings = getConfig(this.env).alerts;
      if (!settings.url) return;
      const result = await postAlert(settings, message);
      this.logSend(message, result);
      if (result.ok) {
        this.write("DELETE FROM outbox WHERE id = ?", head.id);
        this.rememberSent(message, result.status);
        continue;
      }
      const attempts = head.attempts + 1;
      const nextAt = Date.now() + alertRetryDelayMs(attempts);
      this.write("UPDATE outbox SET attempts = ?, next_at = ?, last_problem = ? WHERE id = ?", attempts, nextAt, result.problem, head.id);
      return this.wakeAt(nextAt);
    }
    // More than one run's worth: carry on in the alarm.
    await this.wakeAt(Date.now());
  }

  private async wakeAt(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) {
      await this.ctx.storage.setAlarm(at);
      this.rowsWritten++;
    }
  }

  private write(query: string, ...bindings: SqlStorageValue[]): void {
    this.rowsWritten += this.sql.exec(query, ...bindings).rowsWritten;
  }

  private drop(row: OutboxRow, message: AlertMessage, now: number): void {
    this.write("DELETE FROM outbox WHERE id = ?", row.id);
    const dropped = this.readMeta<{ count: number; lastAt: number }>("dropped");
    this.writeMeta("dropped", { count: (dropped?.count ?? 0) + 1, lastAt: now });
    logLine({ msg: "alert_dropped", condition: message.condition, state: message.state, id: message.id, attempts: row.attempts, problem: row.last_problem ?? undefined });
  }

  /** The outbox is bounded: past OUTBOX_KEPT messages the oldest are dropped (and counted). */
  private trimOutbox(): void {
    const excess = this.sql.exec<OutboxRow>("SELECT * FROM outbox ORDER BY id DESC LIMIT -1 OFFSET ?", OUTBOX_KEPT).toArray();
    const now = Date.now();
    for (const row of excess) this.drop(row, JSON.parse(row.data) as AlertMessage, now);
  }

  private storeTally(tally: WebhookTally): void {
    if (tally.origin) this.rememberOrigin(tally.origin);
    for (const count of tally.counts) {
      this.write(
        `INSERT INTO webhook_minutes (provider, minute, verified, rejected) VALUES (?, ?, ?, ?)
         ON CONFLICT (provider, minute) DO UPDATE SET verified = verified + excluded.verified, rejected = rejected + excluded.rejected`,
        count.provider, count.minute, count.verified, count.rejected,
      );
    }
    // Kept a little longer than the stale limit: a failing provider's condition reads its last 401.
    this.write("DELETE FROM webhook_minutes WHERE minute < ?", Math.floor((Date.now() - STALE_REJECTION_MS) / 60_000) - 10);
  }

  private webhookWindows(now: number): WebhookWindow[] {
    const from = Math.floor(now / 60_000) - (WEBHOOK_WINDOW_MS / 60_000 - 1);
    const rows = this.sql
      .exec<{ provider: string; rejected: number; first_rejected: number | null; last_rejected: number | null; last_verified: number | null }>(
        `WITH per_provider AS (
           SELECT provider, MAX(CASE WHEN verified > 0 THEN minute END) AS last_verified FROM webhook_minutes GROUP BY provider)
         SELECT m.provider,
           SUM(CASE WHEN m.minute >= ? AND m.minute > COALESCE(p.last_verified, -1) THEN m.rejected ELSE 0 END) AS rejected,
           MIN(CASE WHEN m.minute >= ? AND m.minute > COALESCE(p.last_verified, -1) AND m.rejected > 0 THEN m.minute END) AS first_rejected,
           MAX(CASE WHEN m.rejected > 0 THEN m.minute END) AS last_rejected,
           p.last_verified AS last_verified
         FROM webhook_minutes m JOIN per_provider p ON p.provider = m.provider GROUP BY m.provider`,
        from, from,
      )
      .toArray();
    return rows.flatMap((row) => {
      const provider = providers.find((candidate) => candidate.name === row.provider);
      if (!provider) return [];
      return [{
        provider: row.provider,
        secretBinding: provider.secretBinding,
        rejected: row.rejected,
        firstRejectedAt: row.first_rejected === null ? null : row.first_rejected * 60_000,
        lastRejectedAt: row.last_rejected === null ? null : (row.last_rejected + 1) * 60_000,
        lastVerifiedAt: row.last_verified === null ? null : row.last_verified * 60_000,
      }];
    });
  }

  private readConditions(): StoredCondition[] {
    return this.sql.exec<{ data: string }>("SELECT data FROM conditions ORDER BY key").toArray().map((row) => JSON.parse(row.data) as StoredCondition);
  }

  /** The status page when the admin pages are on, else /health; null until a request has shown the bridge's address. */
  private link(config: BridgeConfig): string | null {
    const origin = this.readMeta<string>("origin");
    return origin ? `${origin}${config.admin.token ? "/admin" : "/health"}` : null;
  }

  private rememberOrigin(origin: string): void {
    if (this.readMeta<string>("origin") !== origin) this.writeMeta("origin", origin);
  }

  private rememberSent(message: AlertMessage, status: number): void {
    this.writeMeta("last_sent", { condition: message.condition, state: message.state, summary: message.summary, at: Date.now(), status } satisfies SentRecord);
  }

  private logSend(message: AlertMessage, result: SendResult): void {
    if (result.ok) logLine({ msg: "alert_sent", condition: message.condition, state: message.state, id: message.id, status: result.status });
    else logLine({ msg: "alert_send_failed", condition: message.condition, state: message.state, id: message.id, status: result.status, problem: result.problem });
  }

  private readMeta<T>(key: string): T | null {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0];
    return row ? (JSON.parse(row.value) as T) : null;
  }

  private writeMeta(key: string, value: unknown): void {
    this.write("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, JSON.stringify(value));
  }

  private meter(method: string): void {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
  }
}

function unavailable(what: string, error: Error): null {
  logLine({ msg: "alert_source_unavailable", source: what, error: error.name });
  return null;
}
