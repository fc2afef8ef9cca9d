import { DurableObject } from "cloudflare:workers";

/**
 * One coordinating Durable Object for what no single identity knows: whether orq.ai accepts the
 * bridge's API key, and which identities are failing. Identity objects report only when their
 * delivery state changes (ok → retrying → failed → ok), never per attempt.
 */
export type DeliveryState = "ok" | "retrying" | "failed";

export interface DeliveryReport {
  name: string;
  provider: string;
  userId: string;
  externalId: string;
  state: DeliveryState;
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

export const BRIDGE_STATUS_NAME = "bridge";

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
      CREATE TABLE IF NOT EXISTS orq_auth (
        id INTEGER PRIMARY KEY CHECK (id = 1), failing_since INTEGER NOT NULL, last_failure_at INTEGER NOT NULL, reason TEXT NOT NULL);
    `);
  }

  reportDelivery(report: DeliveryReport): void {
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

  listFailures(options: { limit: number; before?: number; since?: number }): FailureEntry[] {
    return this.sql
      .exec<Record<string, string | number | null>>(
        `SELECT * FROM failures WHERE updated_at < ? AND updated_at >= ? ORDER BY updated_at DESC LIMIT ?`,
        options.before ?? Number.MAX_SAFE_INTEGER, options.since ?? 0, options.limit,
      )
      .toArray()
      .map((row) => ({
        name: String(row.name),
        provider: String(row.provider),
        userId: String(row.user_id),
        externalId: String(row.external_id),
        state: row.state as FailureEntry["state"],
        attempts: Number(row.attempts),
        status: row.status === null ? null : Number(row.status),
        reason: row.reason === null ? null : String(row.reason),
        firstFailureAt: Number(row.first_failure_at),
        updatedAt: Number(row.updated_at),
      }));
  }
}
