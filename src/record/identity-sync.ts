import { DurableObject } from "cloudflare:workers";
import { getConfig } from "../config";
import { RETRY_WINDOW_MS, retryDelayMs } from "../deliver/backoff";
import { createOrqClient, type OrqClient } from "../deliver/orq-client";
import { ORQ_GATE_NAME } from "../deliver/orq-gate";
import { syncIdentity, type DesiredIdentity, type SyncResult } from "../deliver/sync-identity";
import { happenedAfter, type IdentityEventType } from "../identity/identity-event";
import { logLine } from "../log";
import { BRIDGE_STATUS_NAME, type DeliveryState } from "./bridge-status";
import type { IdentityChange, RecordOutcome } from "./identity-change";

/** Event ids are remembered this long for dedupe: longer than any provider retries (Svix: ~5 days). */
const SEEN_EVENTS_TTL_MS = 30 * 24 * 60 * 60_000;

type Delivery = "pending" | "delivered" | "retrying" | "failed";

interface StateRow extends Record<string, SqlStorageValue> {
  provider: string;
  user_id: string;
  external_id: string;
  event_id: string;
  event_type: IdentityEventType;
  occurred_at: number;
  desired: string;
  version: number;
  delivered_version: number;
  exists_in_orq: number | null;
  delivery: Delivery;
  attempts: number;
  first_failure_at: number | null;
  next_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  reported: DeliveryState;
  updated_at: number;
}

/** What an operator (and the tests) can see of one identity. */
export interface IdentityStatus {
  provider: string;
  userId: string;
  externalId: string;
  lastEvent: { id: string; type: IdentityEventType; occurredAt: number };
  delivery: Delivery;
  pending: boolean;
  attempts: number;
  nextAttemptAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
  tombstone: boolean;
  existsInOrq: boolean | null;
}

function needsDelivery(state: StateRow | undefined): state is StateRow {
  return state !== undefined && state.delivered_version < state.version && state.delivery !== "failed";
}

/**
 * One SQLite-backed Durable Object per provider user: the serialization point of the bridge.
 * `record` dedupes by event id, keeps only the newest desired state (older events never win, a
 * deletion is a tombstone) and returns once that is stored. The alarm then reconciles orq.ai,
 * one call sequence at a time, coalescing whatever arrived meanwhile, and retries with backoff.
 */
export class IdentitySync extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private orq?: OrqClient;
  private delivering?: Promise<void>;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS seen_events (event_id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        provider TEXT NOT NULL, user_id TEXT NOT NULL, external_id TEXT NOT NULL,
        event_id TEXT NOT NULL, event_type TEXT NOT NULL, occurred_at INTEGER NOT NULL, desired TEXT NOT NULL,
        version INTEGER NOT NULL, delivered_version INTEGER NOT NULL DEFAULT 0, exists_in_orq INTEGER,
        delivery TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, first_failure_at INTEGER, next_attempt_at INTEGER,
        last_status INTEGER, last_error TEXT, reported TEXT NOT NULL DEFAULT 'ok', updated_at INTEGER NOT NULL);
    `);
  }

  /** Stores the change if it is new and newest; resolves once it is durable. */
  async record(change: IdentityChange): Promise<RecordOutcome> {
    const now = Date.now();
    if (this.sql.exec("SELECT 1 FROM seen_events WHERE event_id = ?", change.eventId).toArray().length > 0) {
      return "duplicate";
    }
    this.sql.exec("INSERT INTO seen_events (event_id, seen_at) VALUES (?, ?)", change.eventId, now);

    const current = this.readState();
    // The newest event wins, whatever its type. A deletion stays as a tombstone, so an older
    // update arriving late never brings the user back; only an event that happened after the
    // deletion does (the id was signed up again, e.g. the same social login at Auth0), and then
    // it carries the user's newest data even if its re-creation event is still on the way.
    if (current && !happenedAfter(change, { occurredAt: current.occurred_at, type: current.event_type })) return "stale";
    // A deletion targets the identity this object created, whatever the event itself carries
    // (with ORQ_EXTERNAL_ID_SOURCE=external_id, deletions often lack the app's id).
    const desired = change.desired.kind === "deleted" && current ? { ...change.desired, externalId: current.external_id } : change.desired;
    const externalId = desired.kind === "present" ? desired.identity.external_id : desired.externalId;
    this.sql.exec(
      `INSERT INTO state (id, provider, user_id, external_id, event_id, event_type, occurred_at, desired, version, delivery, updated_at)
       VALUES (1, ?, ?, ?, ?, ?, ?, ?, 1, 'pending', ?)
       ON CONFLICT (id) DO UPDATE SET external_id = excluded.external_id, event_id = excluded.event_id,
         event_type = excluded.event_type, occurred_at = excluded.occurred_at, desired = excluded.desired,
         version = state.version + 1, delivery = 'pending', attempts = 0, first_failure_at = NULL,
         next_attempt_at = NULL, last_error = NULL, updated_at = excluded.updated_at`,
      change.provider, change.userId, externalId, change.eventId, change.type, change.occurredAt,
      JSON.stringify(desired), now,
    );
    await this.ctx.storage.setAlarm(now);
    return "recorded";
  }

  /** Delivery: make orq.ai hold the newest desired state. One delivery at a time per identity. */
  override async alarm(): Promise<void> {
    this.delivering ??= this.deliver().finally(() => {
      this.delivering = undefined;
    });
    return this.delivering;
  }

  private async deliver(): Promise<void> {
    if (!needsDelivery(this.readState())) return;
    const slot = await this.acquireOrqSlot();
    if (typeof slot === "number") {
      // Every slot is taken: not a failure of this identity. Sleep until the gate expects one to
      // be free, without counting an attempt.
      await this.ctx.storage.setAlarm(Date.now() + slot);
      return;
    }
    // The slot is held for the orq.ai calls only, not for the bookkeeping after them.
    let releasing: Promise<void> | undefined;
    const release = () => (releasing ??= slot === undefined ? Promise.resolve() : this.releaseOrqSlot(slot));
    try {
      await this.deliverNow(release);
    } finally {
      await release();
    }
  }

  private async deliverNow(callsDone: () => void): Promise<void> {
    // Read again: events may have arrived while the gate was asked.
    const state = this.readState();
    if (!state || !needsDelivery(state)) return;

    const sentVersion = state.version;
    const attempt = state.attempts + 1;
    const started = Date.now();
    const desired = JSON.parse(state.desired) as DesiredIdentity;
    const result = await syncIdentity(this.orqClient(), desired, {
      existsInOrq: state.exists_in_orq === null ? undefined : state.exists_in_orq === 1,
      preferCreate: state.event_type === "created",
    });
    callsDone();
    const now = Date.now();
    logLine({
      msg: "orq_attempt",
      provider: state.provider,
      user_id: state.user_id,
      operation: desired.kind === "deleted" ? "delete" : "upsert",
      attempt,
      calls: result.calls,
      status: result.status,
      outcome: result.ok ? "delivered" : result.retryable ? "retry" : "permanent_failure",
      auth_problem: result.ok ? undefined : result.authProblem || undefined,
      ms: now - started,
    });

    // Events that arrived while orq.ai was being called supersede what was sent.
    const latest = this.readState() ?? state;
    const superseded = latest.version > sentVersion;
    if (result.ok) {
      this.sql.exec(
        `UPDATE state SET delivered_version = ?, exists_in_orq = ?, delivery = ?, attempts = 0, first_failure_at = NULL,
           next_attempt_at = NULL, last_status = ?, last_error = NULL, updated_at = ?`,
        sentVersion, result.existsInOrq ? 1 : 0, superseded ? "pending" : "delivered", result.status, now,
      );
      this.sql.exec("DELETE FROM seen_events WHERE seen_at < ?", now - SEEN_EVENTS_TTL_MS);
      if (superseded) await this.ctx.storage.setAlarm(now);
      await this.report("ok", latest, result, now);
      return;
    }
    // What the failed attempt learned about orq.ai saves a call next time (PATCH → 404 → POST).
    const learned = result.existsInOrq === undefined ? null : result.existsInOrq ? 1 : 0;
    if (superseded) {
      this.sql.exec(
        "UPDATE state SET exists_in_orq = COALESCE(?, exists_in_orq), last_status = ?, last_error = ?, updated_at = ?",
        learned, result.status ?? null, result.reason, now,
      );
      await this.ctx.storage.setAlarm(now);
      return;
    }

    const firstFailureAt = latest.first_failure_at ?? now;
    // A wrong API key is the operator's to fix: keep every event and keep trying, never give up.
    const givingUp = !result.retryable || (!result.authProblem && now - firstFailureAt > RETRY_WINDOW_MS);
    const reason = result.retryable && givingUp ? `gave up after ${attempt} attempts: ${result.reason}` : result.reason;
    const nextAttemptAt = givingUp ? null : now + retryDelayMs(attempt, result.retryAfterMs);
    this.sql.exec(
      `UPDATE state SET delivery = ?, attempts = ?, first_failure_at = ?, next_attempt_at = ?, last_status = ?,
         last_error = ?, exists_in_orq = COALESCE(?, exists_in_orq), updated_at = ?`,
      givingUp ? "failed" : "retrying", attempt, firstFailureAt, nextAttemptAt, result.status ?? null, reason, learned, now,
    );
    if (nextAttemptAt !== null) await this.ctx.storage.setAlarm(nextAttemptAt);
    else logLine({ msg: "delivery_failed", provider: state.provider, user_id: state.user_id, attempts: attempt, status: result.status, reason });
    await this.report(givingUp ? "failed" : "retrying", { ...latest, attempts: attempt, first_failure_at: firstFailureAt }, { ...result, reason }, now);
  }

  /** Current state for operators; null when this identity was never seen. */
  inspect(): IdentityStatus | null {
    const state = this.readState();
    if (!state) return null;
    return {
      provider: state.provider,
      userId: state.user_id,
      externalId: state.external_id,
      lastEvent: { id: state.event_id, type: state.event_type, occurredAt: state.occurred_at },
      delivery: state.delivery,
      pending: state.delivered_version < state.version,
      attempts: state.attempts,
      nextAttemptAt: state.next_attempt_at,
      lastStatus: state.last_status,
      lastError: state.last_error,
      tombstone: state.event_type === "deleted",
      existsInOrq: state.exists_in_orq === null ? null : state.exists_in_orq === 1,
    };
  }

  /** Re-attempts delivery of the newest state now, also after a permanent failure. */
  async replay(): Promise<boolean> {
    const state = this.readState();
    if (!state) return false;
    this.sql.exec(
      `UPDATE state SET delivered_version = MIN(delivered_version, version - 1), delivery = 'pending', attempts = 0,
         first_failure_at = NULL, next_attempt_at = NULL, updated_at = ?`,
      Date.now(),
    );
    await this.ctx.storage.setAlarm(Date.now());
    return true;
  }

  private readState(): StateRow | undefined {
    return this.sql.exec<StateRow>("SELECT * FROM state WHERE id = 1").toArray()[0];
  }

  /**
   * A lease from the OrqGate (`ORQ_MAX_CONCURRENCY`); when every slot is taken, the milliseconds
   * after which to ask again; undefined when the gate cannot be reached: then deliver anyway — the
   * cap protects orq.ai from bursts, it must never be the reason an identity stops being delivered.
   */
  private async acquireOrqSlot(): Promise<string | number | undefined> {
    const { timeoutMs, maxConcurrency } = getConfig(this.env).orq;
    try {
      const answer = await this.env.ORQ_GATE.getByName(ORQ_GATE_NAME).acquire({
        max: maxConcurrency,
        // An attempt is at most four calls (PATCH → 404 → POST → other 4xx → GET probe → PATCH).
        leaseMs: 4 * timeoutMs + 5_000,
      });
      return "lease" in answer ? answer.lease : answer.retryInMs;
    } catch (error) {
      logLine({ msg: "orq_gate_unavailable", error: (error as Error).name });
      return undefined;
    }
  }

  private async releaseOrqSlot(lease: string): Promise<void> {
    try {
      await this.env.ORQ_GATE.getByName(ORQ_GATE_NAME).release(lease);
    } catch {
      // The lease expires on its own.
    }
  }

  private orqClient(): OrqClient {
    this.orq ??= createOrqClient(getConfig(this.env).orq);
    return this.orq;
  }

  /**
   * Tells BridgeStatus about every successful delivery (the status page's "recent deliveries")
   * and about failures when they start, change state, or start again after a replay — not about
   * every failed attempt. Cost: one extra call to that single Durable Object per delivery, made
   * from the alarm after this identity's state is stored, so never on the webhook's path; if it
   * fails, only the index lags behind.
   */
  private async report(next: DeliveryState, state: StateRow, result: SyncResult, now: number): Promise<void> {
    const authProblem = !result.ok && result.authProblem;
    // Auth failures are re-reported so /health shows when the key was last rejected; a first
    // attempt that fails (attempts were reset by a replay) refreshes the failure's times.
    const newFailureStreak = next !== "ok" && state.attempts === 1;
    if (next !== "ok" && state.reported === next && !authProblem && !newFailureStreak) return;
    try {
      const status = this.env.BRIDGE_STATUS.getByName(BRIDGE_STATUS_NAME);
      await status.reportDelivery({
        name: `${state.provider}:${state.user_id}`,
        provider: state.provider,
        userId: state.user_id,
        externalId: state.external_id,
        state: next,
        eventType: state.event_type,
        attempts: state.attempts,
        status: result.status,
        reason: result.ok ? undefined : result.reason,
        authProblem,
        at: now,
      });
      this.sql.exec("UPDATE state SET reported = ?", next);
    } catch (error) {
      // The index catches up at the next state change; delivery itself is unaffected.
      logLine({ msg: "status_report_failed", provider: state.provider, user_id: state.user_id, error: (error as Error).name });
    }
  }
}
