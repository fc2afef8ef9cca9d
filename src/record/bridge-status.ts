import { DurableObject } from "cloudflare:workers";

/**
 * One coordinating Durable Object for what no single identity knows: whether orq.ai accepts the
 * bridge's API key, which identities are failing, and the most recent deliveries (for the admin
 * status page). Identity objects report every successful delivery and each change of failure
 * state (ok → retrying → failed), never each failed attempt.
 */
export type DeliveryState = "ok" | "retrying" | "failed";

export interface DeliveryReport {
  name: string;
  provider: string;
  userId: string;
  externalId: string;
  state: DeliveryState;
  /** The event whose state was delivered (or failed to be). */
  eventType: string;
  attempts: number;
  status?: number;
  reason?: string;
  authProblem: boolean;
  at: number;
}

export interface BridgeSummary {
  orqAuth: { failingSince: number; lastFailureAt: number; reason: string } | null;
  retrying: number;
  failed: number;
}

export interface FailureEntry {
  name: string;
  provider: string;
  userId: string;
  externalId: string;
  state: Exclude<DeliveryState, "ok">;
  attempts: number;
  status: number | null;
  reason: string | null;
  firstFailureAt: number;
  updatedAt: number;
}

/** One line of the status page's "recent deliveries": a delivery, or an identity starting to fail. */
export interface RecentDelivery {
  provider: string;
  userId: string;
  externalId: string;
  eventType: string;
  state: DeliveryState;
  status: number | null;
  reason: string | null;
  at: number;
}

/** Keyset position in the failure list, newest first: rows strictly after (older than) this one. */
export interface FailureCursor {
  updatedAt: number;
  name: string;
}

/** A cursor as clients see it: `<updated_at>:<name>` of the last row; a bare `<updated_at>` works too. */
const CURSOR_PATTERN = /^(\d{1,16})(?::(.+))?$/s;

export function formatFailureCursor(entry: Pick<FailureEntry, "updatedAt" | "name">): string {
  return `${entry.updatedAt}:${entry.name}`;
}

export function parseFailureCursor(text: string): FailureCursor | null {
  const match = CURSOR_PATTERN.exec(text);
  return match ? { updatedAt: Number(match[1]), name: match[2] ?? "" } : null;
}

export interface FailureQuery {
  limit: number;
  state?: FailureEntry["state"];
  after?: FailureCursor;
}

export const BRIDGE_STATUS_NAME = "bridge";

/** Only the last few deliveries are kept: the page shows activity, it is not an event log. */
export const RECENT_DELIVERIES_KEPT = 50;

export class BridgeStatus extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS failures (
        name TEXT PRIMARY KEY, provider TEXT NOT NULL, user_id TEXT NOT NULL, external_id TEXT NOT NULL,
        state TEXT NOT NULL, attempts INTEGER NOT NULL, status INTEGER, reason TEXT,
        first_failure_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS failures_by_time ON failures (updated_at);
      CREATE INDEX IF NOT EXISTS failures_by_state_time ON failures (state, updated_at);
      CREATE TABLE IF NOT EXISTS recent_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT, provider TEXT NOT NULL, user_id TEXT NOT NULL, external_id TEXT NOT NULL,
        event_type TEXT NOT NULL, state TEXT NOT NULL, status INTEGER, reason TEXT, at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS orq_auth (
        id INTEGER PRIMARY KEY CHECK (id = 1), failing_since INTEGER NOT NULL, last_failure_at INTEGER NOT NULL, reason TEXT NOT NULL);
    `);
  }

  reportDelivery(report: DeliveryReport): void {
    // Successes reach the status page through the delivery scheduler (no call here per success);
    // a recovery is reported here only to clear the failure.
    if (report.state !== "ok") this.rememberRecent(report);
    if (report.state === "ok") {
      this.sql.exec("DELETE FROM failures WHERE name = ?", report.name);
      // A successful call proves the key works again.
      this.sql.exec("DELETE FROM orq_auth");
      return;
    }
    this.sql.exec(
      `INSERT INTO failures (name, provider, user_id, external_id, state, attempts, status, reason, first_failure_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET state = excluded.state, attempts = excluded.attempts, status = excluded.status,
         reason = excluded.reason, external_id = excluded.external_id, updated_at = excluded.updated_at`,
      report.name, report.provider, report.userId, report.externalId, report.state, report.attempts,
      report.status ?? null, report.reason ?? null, report.at, report.at,
    );
    if (report.authProblem) {
      this.sql.exec(
        `INSERT INTO orq_auth (id, failing_since, last_failure_at, reason) VALUES (1, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET last_failure_at = excluded.last_failure_at, reason = excluded.reason`,
        report.at, report.at, report.reason ?? "orq.ai rejected the API key",
      );
    }
  }

  summary(): BridgeSummary {
    const auth = this.sql.exec<{ failing_since: number; last_failure_at: number; reason: string }>("SELECT * FROM orq_auth").toArray()[0];
    const counts = this.sql
      .exec<{ state: string; n: number }>("SELECT state, COUNT(*) AS n FROM failures GROUP BY state")
      .toArray();
    const count = (state: string) => counts.find((row) => row.state === state)?.n ?? 0;
    return {
      orqAuth: auth ? { failingSince: auth.failing_since, lastFailureAt: auth.last_failure_at, reason: auth.reason } : null,
      retrying: count("retrying"),
      failed: count("failed"),
    };
  }

  /** Everything the status page shows, in one call. */
  overview(failures: FailureQuery, recent: number): { summary: BridgeSummary; failures: FailureEntry[]; recent: RecentDelivery[] } {
    return { summary: this.summary(), failures: this.listFailures(failures), recent: this.recentDeliveries(recent) };
  }

  /**
   * Failing identities, most recently changed first; `after` continues from the last row of the
   * previous page (the name breaks ties between failures recorded in the same millisecond).
   */
  listFailures(query: FailureQuery): FailureEntry[] {
    const after = query.after ?? { updatedAt: Number.MAX_SAFE_INTEGER, name: "" };
    return this.sql
      .exec<FailureRow>(
        `SELECT * FROM failures
         WHERE (updated_at < ? OR (updated_at = ? AND name < ?)) AND (? IS NULL OR state = ?)
         ORDER BY updated_at DESC, name DESC LIMIT ?`,
        after.updatedAt, after.updatedAt, after.name, query.state ?? null, query.state ?? null, query.limit,
      )
      .toArray()
      .map(toFailureEntry);
  }

  /** Identities whose failure was recorded at or after `since`, oldest first (what a replay works through). */
  failuresSince(since: number, limit: number): FailureEntry[] {
    return this.sql
      .exec<FailureRow>("SELECT * FROM failures WHERE updated_at >= ? ORDER BY updated_at ASC, name ASC LIMIT ?", since, limit)
      .toArray()
      .map(toFailureEntry);
  }

  recentDeliveries(limit = RECENT_DELIVERIES_KEPT): RecentDelivery[] {
    return this.sql
      .exec<RecentRow>("SELECT * FROM recent_deliveries ORDER BY id DESC LIMIT ?", limit)
      .toArray()
      .map((row) => ({
        provider: row.provider,
        userId: row.user_id,
        externalId: row.external_id,
        eventType: row.event_type,
        state: row.state,
        status: row.status,
        reason: row.reason,
        at: row.at,
      }));
  }

  private rememberRecent(report: DeliveryReport): void {
    const inserted = this.sql
      .exec<{ id: number }>(
        `INSERT INTO recent_deliveries (provider, user_id, external_id, event_type, state, status, reason, at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
        report.provider, report.userId, report.externalId, report.eventType, report.state,
        report.status ?? null, report.reason ?? null, report.at,
      )
      .one();
    this.sql.exec("DELETE FROM recent_deliveries WHERE id <= ?", inserted.id - RECENT_DELIVERIES_KEPT);
  }
}

interface FailureRow extends Record<string, SqlStorageValue> {
  name: string;
  provider: string;
  user_id: string;
  external_id: string;
  state: FailureEntry["state"];
  attempts: number;
  status: number | null;
  reason: string | null;
  first_failure_at: number;
  updated_at: number;
}

interface RecentRow extends Record<string, SqlStorageValue> {
  provider: string;
  user_id: string;
  external_id: string;
  event_type: string;
  state: DeliveryState;
  status: number | null;
  reason: string | null;
  at: number;
}

function toFailureEntry(row: FailureRow): FailureEntry {
  return {
    name: row.name,
    provider: row.provider,
    userId: row.user_id,
    externalId: row.external_id,
    state: row.state,
    attempts: row.attempts,
    status: row.status,
    reason: row.reason,
    firstFailureAt: row.first_failure_at,
    updatedAt: row.updated_at,
  };
}
