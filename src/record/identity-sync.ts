import { DurableObject } from "cloudflare:workers";
import { getConfig } from "../config";
import { RETRY_WINDOW_MS, retryDelayMs } from "../deliver/backoff";
import { createOrqClient, type OrqClient } from "../deliver/orq-client";
import { QUEUED_FALLBACK_MS, SCHEDULER_NAME, type PermitStub, type RateHeaders, type Verdict } from "../deliver/delivery-scheduler";
import { callReport, fetchObservingRate } from "../deliver/rate-headers";
import type { CreateIdentityRequest } from "../deliver/orq-schemas";
import { syncIdentity, type DesiredIdentity, type SyncResult } from "../deliver/sync-identity";
import { happenedAfter, type IdentityEventType } from "../identity/identity-event";
import { logLine } from "../log";
import { BRIDGE_STATUS_NAME, type DeliveryState } from "./bridge-status";
import { identityObjectName, type IdentityChange, type RecordOutcome } from "./identity-change";
import { identityWith, knownFrom, merge, type KnownProfile } from "./profile-merge";
import { planIdentityWrite, sameJson as sameJsonValue, type StoredIdentity } from "../reconcile/identity-diff";
import { createOrqBudgetsClient } from "../deliver/orq-budgets";
import { readBudget } from "../deliver/orq-budget-schemas";
import { syncBudget } from "../deliver/sync-budget";
import { sameBudget, type DesiredBudget } from "../identity/budget-plan";

/**
 * What a reconcile did here: `recorded`/`duplicate`/`stale` as for an event; `reasserted`: orq.ai
 * differed from this identity's own state and it is delivered again; `unchanged`: orq.ai already
 * holds it; `pending`: a delivery is under way anyway; `failed`: it failed for good, left to a replay.
 */
export type ReconcileOutcome = RecordOutcome | "reasserted" | "unchanged" | "pending" | "failed";

/** Same display name, email and avatar: the listed user is the version this object holds. */
function sameProfile(a: CreateIdentityRequest, b: CreateIdentityRequest): boolean {
  return a.display_name === b.display_name && a.email === b.email && a.avatar_url === b.avatar_url;
}

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
  /** When orq.ai's `Retry-After` for this identity ends: no call before it, whatever arrives meanwhile. */
  not_before: number | null;
  reported: DeliveryState;
  updated_at: number;
  /** The provider's `updated_at` of the newest recorded version (IdentityChange.version); NULL when unknown. */
  source_version: number | null;
  /** `reconcile` when the change waiting to be delivered came from a reconcile cycle (it waits behind live changes); NULL: live. */
  origin: string | null;
  /** The budget orq.ai holds as far as this object knows: a DesiredBudget as JSON, `null` (none), or NULL (unknown). */
  budget_held: string | null;
  budget_id: string | null;
  /** NULL: nothing wrong; `retrying` (budget_next_at) or `failed` (for `budget_failed_for`), with `budget_error`. */
  budget_state: "retrying" | "failed" | null;
  budget_error: string | null;
  budget_attempts: number;
  budget_next_at: number | null;
  budget_failed_for: string | null;
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
  /** The identity's plan-driven budget; null when budgets are not configured or its plan was never known. */
  budget: { plan: string | null; state: "ok" | "pending" | "retrying" | "failed"; error: string | null; nextAttemptAt: number | null } | null;
}

function needsDelivery(state: StateRow | undefined): state is StateRow {
  return state !== undefined && state.delivered_version < state.version && state.delivery !== "failed";
}

/** `budget_held` when orq.ai holds some budget for the identity that is not the one wanted (a reconcile saw it). */
const BUDGET_DIFFERS = "?";

/** The budget orq.ai should hold and does not (as far as this object knows), or undefined. */
function budgetWork(state: StateRow): { externalId: string; budget: DesiredBudget | null } | undefined {
  const desired = JSON.parse(state.desired) as DesiredIdentity;
  if (desired.kind !== "present" || desired.budget === undefined) return undefined;
  const wanted = JSON.stringify(desired.budget);
  if (wanted === state.budget_held) return undefined;
  // None wanted and none known: nothing to delete (a signup whose plan has no budget costs no call).
  if (desired.budget === null && (state.budget_held === null || state.budget_held === "null")) return undefined;
  if (state.budget_state === "failed" && state.budget_failed_for === wanted) return undefined;
  return { externalId: state.external_id, budget: desired.budget };
}

function budgetDue(state: StateRow | undefined, now: number): boolean {
  return state !== undefined && budgetWork(state) !== undefined && (state.budget_next_at === null || state.budget_next_at <= now);
}

function budgetStatus(state: StateRow): IdentityStatus["budget"] {
  const desired = JSON.parse(state.desired) as DesiredIdentity;
  if (desired.kind !== "present" || desired.budget === undefined) return null;
  const plan = desired.budget?.plan ?? null;
  if (state.budget_state === "failed" && state.budget_failed_for === JSON.stringify(desired.budget)) {
    return { plan, state: "failed", error: state.budget_error, nextAttemptAt: null };
  }
  if (budgetWork(state) === undefined) return { plan, state: "ok", error: null, nextAttemptAt: null };
  return { plan, state: state.budget_state === "retrying" ? "retrying" : "pending", error: state.budget_error, nextAttemptAt: state.budget_next_at };
}

function removesBudget(desired: DesiredIdentity): boolean {
  return desired.kind === "deleted" && desired.onDelete === "delete";
}

/**
 * One SQLite-backed Durable Object per provider user: the serialization point of the bridge.
 * `record` dedupes by event id, keeps only the newest desired state (older events never win, a
 * deletion is a tombstone) and returns once that is stored. The alarm then reconciles orq.ai,
 * one call sequence at a time, coalescing whatever arrived meanwhile, and retries with backoff.
 */
export class IdentitySync extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** Billing units served since this object started (each RPC call and alarm is one request; setAlarm is a row). */
  private readonly meter = { requests: 0, rowsWritten: 0 };
  private delivering?: Promise<void>;
  /**
   * Times the scheduler woke this object. A delivery that was told to wait (queued) must not push
   * its alarm back past a wake that came in meanwhile: the scheduler has taken it off its waiting
   * list and holds its place only briefly.
   */
  private wakes = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    // seen_events is WITHOUT ROWID: a text key in a rowid table is a second b-tree, and Cloudflare
    // bills every row written to either (2 rows per event instead of 1). Objects created by an
    // earlier version keep their table as it is: same columns, same queries.
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS seen_events (event_id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        provider TEXT NOT NULL, user_id TEXT NOT NULL, external_id TEXT NOT NULL,
        event_id TEXT NOT NULL, event_type TEXT NOT NULL, occurred_at INTEGER NOT NULL, desired TEXT NOT NULL,
        version INTEGER NOT NULL, delivered_version INTEGER NOT NULL DEFAULT 0, exists_in_orq INTEGER,
        delivery TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, first_failure_at INTEGER, next_attempt_at INTEGER,
        last_status INTEGER, last_error TEXT, reported TEXT NOT NULL DEFAULT 'ok', updated_at INTEGER NOT NULL);
    `);
    // state.profile: the merged profile (profile-merge.ts), JSON. Added to the tables of objects
    // created before it existed; there it is NULL until the next event, and the stored desired
    // identity stands for the profile.
    // state.not_before: the end of the Retry-After orq.ai asked for on this identity's last failed
    // call (deliver() never calls before it). Added the same way; NULL means no wait.
    const columns = new Set(this.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('state')").toArray().map((row) => row.name));
    if (!columns.has("profile")) this.sql.exec("ALTER TABLE state ADD COLUMN profile TEXT");
    if (!columns.has("not_before")) this.sql.exec("ALTER TABLE state ADD COLUMN not_before INTEGER");
    // state.source_version and state.origin (reconciliation, issue 20): added the same way. NULL
    // source_version (objects from before) orders a listing by occurred_at; NULL origin is live.
    if (!columns.has("source_version")) this.sql.exec("ALTER TABLE state ADD COLUMN source_version INTEGER");
    if (!columns.has("origin")) this.sql.exec("ALTER TABLE state ADD COLUMN origin TEXT");
    // The identity's budget (plan-driven budgets, issue 21), added the same way: NULL budget_held is
    // "unknown", so the first budget delivery creates it (or finds the existing one on a 409).
    for (const [column, type] of [["budget_held", "TEXT"], ["budget_id", "TEXT"], ["budget_state", "TEXT"], ["budget_error", "TEXT"],
      ["budget_attempts", "INTEGER NOT NULL DEFAULT 0"], ["budget_next_at", "INTEGER"], ["budget_failed_for", "TEXT"]] as const) {
      if (!columns.has(column)) this.sql.exec(`ALTER TABLE state ADD COLUMN ${column} ${type}`);
    }
  }

  /** Stores the change if it is new and newest; resolves once it is durable. */
  async record(change: IdentityChange): Promise<RecordOutcome> {
    this.meter.requests++;
    return this.store(change, null);
  }

  /**
   * What a reconcile cycle found for this user (src/reconcile/): the listed user as a change
   * (`occurredAt` and `version` = the provider's `updated_at`) and what orq.ai holds now (null:
   * nothing). The listing orders like a webhook: newer than what is recorded, it is recorded as an
   * event; older, it changes nothing, but what this object already delivered is put back when
   * orq.ai differs from it (an edit by hand); the same version, it brings the current mapping.
   * The change it makes waits behind live ones at the scheduler (`origin` reconcile).
   */
  async reconcile(change: IdentityChange, orqHolds: StoredIdentity | null): Promise<ReconcileOutcome> {
    this.meter.requests++;
    const current = this.readState();
    if (!current) return this.store(change, "reconcile");
    if (change.desired.kind === "deleted") return this.store(change, "reconcile");
    const listed = change.version ?? change.occurredAt;
    const recorded = current.source_version;
    const ownIdentity = current.event_type === "deleted" ? undefined : (JSON.parse(current.desired) as { identity?: CreateIdentityRequest }).identity;
    const newer = recorded !== null ? listed > recorded : listed > current.occurred_at;
    // Without a stored version (objects from before), a listing not newer than the event is the
    // same version when its profile fields are those the object holds.
    const sameVersion = recorded !== null ? listed === recorded : !newer && ownIdentity !== undefined && sameProfile(change.desired.identity, ownIdentity);
    if (newer) {
      // A missed update. Recorded as the newest event; its time at least just after the current
      // one, since a webhook's time (the envelope's) can lie after the data's updated_at.
      return this.store({ ...change, occurredAt: Math.max(change.occurredAt, current.occurred_at + 1) }, "reconcile");
    }
    if (current.event_type === "deleted") return "stale";
    // A delivery is under way: it writes the newest state whatever orq.ai holds now.
    if (current.delivered_version < current.version && current.delivery !== "failed") return "pending";
    const target = sameVersion ? change.desired.identity : ownIdentity!;
    const ownBudget = (JSON.parse(current.desired) as { budget?: DesiredBudget | null }).budget;
    const targetBudget = sameVersion && change.desired.budget !== undefined ? change.desired.budget : ownBudget;
    const identityDiffers = planIdentityWrite(target, orqHolds ?? undefined).kind !== "unchanged";
    // The budget as the listing saw it (`budget` undefined: budgets were not listed, nothing to say).
    const budgetSeen = orqHolds?.budget === undefined ? undefined : orqHolds.budget === null ? null : readBudget(orqHolds.budget) ?? null;
    const budgetDiffers =
      targetBudget !== undefined && budgetSeen !== undefined && (targetBudget === null ? budgetSeen !== null : budgetSeen === null || !sameBudget(targetBudget, budgetSeen));
    if (!identityDiffers && !budgetDiffers) return "unchanged";
    const desired = JSON.stringify({ kind: "present", identity: target, ...(targetBudget !== undefined && { budget: targetBudget }) } satisfies DesiredIdentity);
    const now = Date.now();
    // What orq.ai holds, for the budget path: none (create it), or one that differs (look it up, fix it).
    const budgetHeld = budgetDiffers ? (budgetSeen === null ? "null" : BUDGET_DIFFERS) : current.budget_held;
    if (!identityDiffers) {
      // The identity is right; only its budget was changed or deleted by hand, or the plan's limits changed.
      this.write(
        `UPDATE state SET desired = ?, budget_held = ?, budget_state = NULL, budget_error = NULL, budget_attempts = 0, budget_next_at = NULL,
           budget_failed_for = NULL, origin = 'reconcile', updated_at = ?`,
        desired, budgetHeld, now,
      );
      await this.setAlarm(current.not_before !== null && current.not_before > now ? current.not_before : now);
      return "reasserted";
    }
    // A permanent failure of this very identity would fail again: the operator replays it.
    if (current.delivery === "failed" && sameJsonValue(target, ownIdentity)) return "failed";
    this.write(
      `UPDATE state SET external_id = ?, desired = ?, version = version + 1, delivery = 'pending', attempts = 0, first_failure_at = NULL,
         next_attempt_at = NULL, last_error = NULL, exists_in_orq = ?, origin = 'reconcile', updated_at = ?, budget_held = ?`,
      target.external_id, desired, orqHolds === null ? 0 : target.external_id === current.external_id ? 1 : null, now, budgetHeld,
    );
    await this.setAlarm(current.not_before !== null && current.not_before > now ? current.not_before : now);
    return "reasserted";
  }

  private async store(change: IdentityChange, origin: "reconcile" | null): Promise<RecordOutcome> {
    const now = Date.now();
    if (this.sql.exec("SELECT 1 FROM seen_events WHERE event_id = ?", change.eventId).toArray().length > 0) {
      return "duplicate";
    }
    this.write("INSERT INTO seen_events (event_id, seen_at) VALUES (?, ?)", change.eventId, now);

    const current = this.readState();
    const newest = !current || happenedAfter(change, { occurredAt: current.occurred_at, type: current.event_type });
    const tombstone = current?.event_type === "deleted";
    // The newest event wins, whatever its type. A deletion stays as a tombstone, so an older
    // update arriving late never brings the user back; only an event that happened after the
    // deletion does (the id was signed up again, e.g. the same social login at Auth0), and then
    // it carries the user's newest data even if its re-creation event is still on the way.
    if (!newest && (tombstone || change.desired.kind === "deleted")) return "stale";

    let desired: DesiredIdentity;
    let profile: string | null = null;
    if (change.desired.kind === "deleted") {
      // A deletion targets the identity this object created, whatever the event itself carries
      // (with ORQ_EXTERNAL_ID_SOURCE=external_id, deletions often lack the app's id).
      desired = current ? { ...change.desired, externalId: current.external_id } : change.desired;
    } else {
      // Each profile field keeps its newest known value (profile-merge.ts): a partial event changes
      // only its fields, and an older event still fills in what nothing newer has set. orq.ai gets
      // the whole known profile. After a deletion the user starts afresh.
      const live = current && !tombstone ? current : undefined;
      const liveDesired = live && (JSON.parse(live.desired) as { identity: CreateIdentityRequest; budget?: DesiredBudget | null });
      const liveIdentity = liveDesired && liveDesired.identity;
      const stored = live && this.sql.exec<{ profile: string | null }>("SELECT profile FROM state WHERE id = 1").one().profile;
      const known: KnownProfile = !live ? {} : stored ? (JSON.parse(stored) as KnownProfile) : knownFrom(liveIdentity!, live.occurred_at, live.event_type);
      const merged = merge(known, { identity: change.desired.identity, occurredAt: change.occurredAt, type: change.type, partial: change.desired.partial === true });
      if (!newest && !merged.changed) return "stale";
      // external_id and tags follow the newest event; a partial one may lack the app's own id.
      const base = !newest ? liveIdentity! : change.desired.partial && liveIdentity ? { ...change.desired.identity, external_id: liveIdentity.external_id } : change.desired.identity;
      // The budget follows the newest event that says the plan; an older one or one that does not say keeps it.
      const budget = newest && change.desired.budget !== undefined ? change.desired.budget : liveDesired ? liveDesired.budget : change.desired.budget;
      desired = { kind: "present", identity: identityWith(base, merged.profile), ...(budget !== undefined && { budget }) };
      profile = JSON.stringify(merged.profile);
    }
    const externalId = desired.kind === "present" ? desired.identity.external_id : desired.externalId;
    // A new event starts a new delivery now, but never before a Retry-After orq.ai asked for:
    // the one rule (deliver() enforces it; the alarm is set for it here to save a wasted run). A
    // workspace pause is the scheduler's, which deliver() asks before every call.
    const waitUntil = current?.not_before != null && current.not_before > now ? current.not_before : null;
    if (newest) {
      this.write(
        `INSERT INTO state (id, provider, user_id, external_id, event_id, event_type, occurred_at, desired, profile, version, delivery, updated_at, source_version, origin)
         VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, 1, 'pending', ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET external_id = excluded.external_id, event_id = excluded.event_id,
           event_type = excluded.event_type, occurred_at = excluded.occurred_at, desired = excluded.desired,
           profile = excluded.profile, version = state.version + 1, delivery = 'pending', attempts = 0,
           first_failure_at = NULL, next_attempt_at = ?, last_error = NULL, updated_at = excluded.updated_at,
           source_version = excluded.source_version,
           origin = CASE WHEN excluded.origin IS NULL OR (state.delivered_version < state.version AND state.origin IS NULL) THEN NULL ELSE excluded.origin END`,
        change.provider, change.userId, externalId, change.eventId, change.type, change.occurredAt,
        JSON.stringify(desired), profile, now, change.version ?? null, origin, waitUntil,
      );
    } else {
      // An older event filled in fields: the newest event stays the one that orders what follows.
      this.write(
        `UPDATE state SET desired = ?, profile = ?, version = version + 1, delivery = 'pending', attempts = 0,
           first_failure_at = NULL, next_attempt_at = ?, last_error = NULL, updated_at = ?,
           origin = CASE WHEN ? IS NULL OR (delivered_version < version AND origin IS NULL) THEN NULL ELSE ? END WHERE id = 1`,
        JSON.stringify(desired), profile, waitUntil, now, origin, origin,
      );
    }
    await this.setAlarm(waitUntil ?? now);
    return "recorded";
  }

  /** Delivery: make orq.ai hold the newest desired state. One delivery at a time per identity. */
  override async alarm(): Promise<void> {
    this.meter.requests++;
    this.delivering ??= this.deliver().finally(() => {
      this.delivering = undefined;
    });
    return this.delivering;
  }

  /**
   * The scheduler's call when this identity's turn has come (it was waiting for the workspace).
   * False when it will not call now: nothing left to deliver (a later alarm or a replay got there
   * first), or orq.ai's Retry-After for this identity has not passed (its own alarm then asks the
   * scheduler again), so the scheduler gives the turn to the next one at once.
   */
  async wake(): Promise<boolean> {
    this.meter.requests++;
    const state = this.readState();
    if (!needsDelivery(state) && !budgetDue(state, Date.now())) return false;
    if (state!.not_before !== null && state!.not_before > Date.now()) return false;
    this.wakes++;
    await this.setAlarm(Date.now());
    return true;
  }

  /** The queued fallback alarm, unless the scheduler woke this object since `wakesBefore`. */
  private async waitToBeWoken(wakesBefore: number, at: number): Promise<void> {
    await this.setAlarm(this.wakes !== wakesBefore ? Date.now() : at);
  }

  private async deliver(): Promise<void> {
    const wakesBefore = this.wakes;
    const state = this.readState();
    if (!state) return;
    if (!needsDelivery(state)) {
      // The identity is where it should be: its budget follows (never before: a budget needs its identity).
      const row: StateRow = state;
      if (budgetWork(row)) {
        if (budgetDue(row, Date.now())) await this.deliverBudget(wakesBefore);
        else if (row.budget_next_at !== null) await this.setAlarm(row.budget_next_at);
      }
      return;
    }
    // orq.ai asked this identity to wait (Retry-After): no call before then, whoever woke it.
    if (state.not_before !== null && state.not_before > Date.now()) {
      await this.setAlarm(state.not_before);
      return;
    }
    const permit = await this.acquirePermit(state);
    if (permit === "queued") {
      // orq.ai is paced, paused or has a backlog: the scheduler wakes this identity when its turn
      // comes; the alarm is only a safety net. Not an attempt, not a failure of this identity.
      await this.waitToBeWoken(wakesBefore, Date.now() + QUEUED_FALLBACK_MS);
      return;
    }
    try {
      await this.deliverNow(permit, wakesBefore);
    } finally {
      permit?.[Symbol.dispose]?.();
    }
    // In the same run, with a permit of its own: the budget for the identity just delivered.
    const after = this.readState();
    if (after && !needsDelivery(after) && budgetDue(after, Date.now())) await this.deliverBudget(wakesBefore);
  }

  /**
   * Makes orq.ai hold the budget the user's plan gives (or none), after the identity landed. Its
   * own permit from the scheduler, its own retries: a failing Budgets API never holds the identity
   * back, and a permanent refusal marks only the budget as failed.
   */
  private async deliverBudget(wakesBefore: number): Promise<void> {
    const state = this.readState();
    const work = state && budgetWork(state);
    if (!state || !work) return;
    const permit = await this.acquirePermit(state);
    if (permit === "queued") {
      await this.waitToBeWoken(wakesBefore, Date.now() + QUEUED_FALLBACK_MS);
      return;
    }
    const observed: { rate?: RateHeaders } = {};
    const config = getConfig(this.env).orq;
    const client = createOrqBudgetsClient({ ...config, fetch: fetchObservingRate(observed) });
    const known = state.budget_held === null ? {} : state.budget_held === "null" ? { exists: false } : state.budget_id ? { budgetId: state.budget_id } : {};
    const result = await syncBudget(client, work.externalId, work.budget, known);
    const verdict: Verdict = permit ? await permit.finish(callReport(result, observed.rate)).catch((): Verdict => "own") : "own";
    permit?.[Symbol.dispose]?.();
    const now = Date.now();
    logLine({
      msg: "orq_budget",
      provider: state.provider,
      user_id: state.user_id,
      plan: work.budget?.plan ?? "(none)",
      calls: result.calls,
      status: result.status,
      outcome: result.ok ? result.action : verdict === "wait" ? "wait_for_orq" : result.retryable ? "retry" : "permanent_failure",
    });
    if (result.ok) {
      this.write(
        `UPDATE state SET budget_held = ?, budget_id = ?, budget_state = NULL, budget_error = NULL, budget_attempts = 0, budget_next_at = NULL,
           budget_failed_for = NULL`,
        JSON.stringify(work.budget), result.budgetId ?? null,
      );
      return;
    }
    const budgetId = result.budgetId ?? state.budget_id;
    if (verdict === "wait") {
      // The workspace's trouble (outage, rate limit, key): the scheduler wakes this object.
      this.write("UPDATE state SET budget_id = ?, budget_error = ?, budget_next_at = NULL", budgetId, `waiting for orq.ai: ${result.reason}`);
      await this.waitToBeWoken(wakesBefore, now + QUEUED_FALLBACK_MS);
      return;
    }
    if (result.retryable) {
      const attempts = state.budget_attempts + 1;
      const next = now + retryDelayMs(attempts, result.retryAfterMs);
      this.write(
        "UPDATE state SET budget_id = ?, budget_state = 'retrying', budget_error = ?, budget_attempts = ?, budget_next_at = ?",
        budgetId, result.reason, attempts, next,
      );
      await this.setAlarm(next);
      return;
    }
    this.write(
      "UPDATE state SET budget_id = ?, budget_state = 'failed', budget_error = ?, budget_next_at = NULL, budget_failed_for = ?",
      budgetId, result.reason, JSON.stringify(work.budget),
    );
    logLine({ msg: "budget_failed", provider: state.provider, user_id: state.user_id, status: result.status, reason: result.reason });
  }

  private async deliverNow(permit: PermitStub | undefined, wakesBefore: number): Promise<void> {
    // Read again: events may have arrived while the scheduler was asked.
    const state = this.readState();
    if (!state || !needsDelivery(state)) {
      await permit?.finish({ calls: 0, outcome: "ok" });
      return;
    }

    const sentVersion = state.version;
    const attempt = state.attempts + 1;
    const started = Date.now();
    const desired = JSON.parse(state.desired) as DesiredIdentity;
    const observed: { rate?: RateHeaders } = {};
    const result = await syncIdentity(this.orqClient(observed), desired, {
      existsInOrq: state.exists_in_orq === null ? undefined : state.exists_in_orq === 1,
      preferCreate: state.event_type === "created",
      subject: { provider: state.provider, userId: state.user_id },
    });
    const now = Date.now();
    const delivered = result.ok
      ? { provider: state.provider, userId: state.user_id, externalId: state.external_id, eventType: state.event_type, status: result.status, at: now }
      : undefined;
    const verdict: Verdict = permit ? await permit.finish(callReport(result, observed.rate, delivered)).catch((): Verdict => "own") : "own";
    const waitsForWorkspace = !result.ok && verdict === "wait";
    logLine({
      msg: "orq_attempt",
      provider: state.provider,
      user_id: state.user_id,
      operation: desired.kind === "deleted" ? "delete" : "upsert",
      attempt,
      calls: result.calls,
      status: result.status,
      outcome: result.ok ? "delivered" : waitsForWorkspace ? "wait_for_orq" : result.retryable ? "retry" : "permanent_failure",
      auth_problem: result.ok ? undefined : result.authProblem || undefined,
      ms: now - started,
    });

    // Events that arrived while orq.ai was being called supersede what was sent.
    const latest = this.readState() ?? state;
    const superseded = latest.version > sentVersion;
    if (result.ok) {
      this.write(
        `UPDATE state SET delivered_version = ?, exists_in_orq = ?, delivery = ?, attempts = 0, first_failure_at = NULL,
           next_attempt_at = NULL, not_before = NULL, last_status = ?, last_error = NULL, updated_at = ?,
           budget_held = CASE WHEN ? THEN 'null' WHEN ? AND budget_held IS NULL THEN 'null' ELSE budget_held END,
           budget_id = CASE WHEN ? THEN NULL ELSE budget_id END`,
        sentVersion, result.existsInOrq ? 1 : 0, superseded ? "pending" : "delivered", result.status, now,
        // orq.ai removes a deleted identity's budget with it; an identity it just created (201) has none yet,
        // so its first budget is one POST, no lookup.
        removesBudget(desired) ? 1 : 0, result.status === 201 ? 1 : 0, removesBudget(desired) ? 1 : 0,
      );
      this.write("DELETE FROM seen_events WHERE seen_at < ?", now - SEEN_EVENTS_TTL_MS);
      if (superseded) await this.setAlarm(now);
      // Only a change of state is reported: the happy path costs no call to the shared status object.
      if (latest.reported !== "ok") await this.report("ok", latest, result, now);
      return;
    }
    // What the failed attempt learned about orq.ai saves a call next time (PATCH → 404 → POST).
    const learned = result.existsInOrq === undefined ? null : result.existsInOrq ? 1 : 0;
    // A Retry-After about this identity holds for the next call, also if a new event arrives.
    const notBefore = result.retryAfterMs === undefined ? null : now + result.retryAfterMs;
    if (waitsForWorkspace) {
      // orq.ai is failing for everyone (or the key is rejected, or the workspace is rate-limited):
      // the scheduler has this identity on its waiting list. Not this identity's failure: no
      // attempt counted, and its retry window starts again once orq.ai works.
      this.write(
        `UPDATE state SET first_failure_at = NULL, next_attempt_at = ?, last_status = ?, last_error = ?,
           exists_in_orq = COALESCE(?, exists_in_orq), updated_at = ?`,
        now + QUEUED_FALLBACK_MS, result.status ?? null, `waiting for orq.ai: ${result.reason}`, learned, now,
      );
      await this.waitToBeWoken(wakesBefore, superseded ? now : now + QUEUED_FALLBACK_MS);
      return;
    }
    if (superseded) {
      this.write(
        "UPDATE state SET exists_in_orq = COALESCE(?, exists_in_orq), last_status = ?, last_error = ?, not_before = ?, next_attempt_at = ?, updated_at = ?",
        learned, result.status ?? null, result.reason, notBefore, notBefore, now,
      );
      await this.setAlarm(notBefore ?? now);
      return;
    }

    const firstFailureAt = latest.first_failure_at ?? now;
    // A wrong API key is the operator's to fix: keep every event and keep trying, never give up.
    const givingUp = !result.retryable || (!result.authProblem && now - firstFailureAt > RETRY_WINDOW_MS);
    const reason = result.retryable && givingUp ? `gave up after ${attempt} attempts: ${result.reason}` : result.reason;
    const nextAttemptAt = givingUp ? null : now + retryDelayMs(attempt, result.retryAfterMs);
    this.write(
      `UPDATE state SET delivery = ?, attempts = ?, first_failure_at = ?, next_attempt_at = ?, not_before = ?, last_status = ?,
         last_error = ?, exists_in_orq = COALESCE(?, exists_in_orq), updated_at = ?`,
      givingUp ? "failed" : "retrying", attempt, firstFailureAt, nextAttemptAt, notBefore, result.status ?? null, reason, learned, now,
    );
    if (nextAttemptAt !== null) await this.setAlarm(nextAttemptAt);
    else logLine({ msg: "delivery_failed", provider: state.provider, user_id: state.user_id, attempts: attempt, status: result.status, reason });
    await this.report(givingUp ? "failed" : "retrying", { ...latest, attempts: attempt, first_failure_at: firstFailureAt }, { ...result, reason }, now);
  }

  /** Current state for operators; null when this identity was never seen. */
  inspect(): IdentityStatus | null {
    this.meter.requests++;
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
      budget: budgetStatus(state),
    };
  }

  /** Re-attempts delivery of the newest state now, also after a permanent failure. */
  async replay(): Promise<boolean> {
    this.meter.requests++;
    const state = this.readState();
    if (!state) return false;
    this.sql.exec(
      `UPDATE state SET delivered_version = MIN(delivered_version, version - 1), delivery = 'pending', attempts = 0,
         first_failure_at = NULL, next_attempt_at = NULL, updated_at = ?`,
      Date.now(),
    );
    await this.setAlarm(Date.now());
    return true;
  }

  private readState(): StateRow | undefined {
    return this.sql.exec<StateRow>("SELECT * FROM state WHERE id = 1").toArray()[0];
  }

  /**
   * A permit from the workspace's scheduler, or `queued` when the identity must wait its turn
   * (the scheduler has written it to its waiting list and will wake it). `undefined` when the
   * scheduler cannot be reached: then deliver anyway — pacing protects orq.ai, it must never be
   * the reason a change stops landing (a 429 is then handled as any other answer).
   */
  private async acquirePermit(state: StateRow): Promise<PermitStub | "queued" | undefined> {
    const { timeoutMs, maxConcurrency, ratePerMinute } = getConfig(this.env).orq;
    try {
      const answer = await this.env.ORQ_SCHEDULER.getByName(SCHEDULER_NAME).acquire({
        name: identityObjectName(state.provider, state.user_id),
        since: state.updated_at,
        maxConcurrency,
        ceilingPerMinute: ratePerMinute,
        // An attempt is at most five calls (PATCH → 404 → POST → 400 naming a field → POST without
        // it → other 4xx → GET probe → PATCH, the probe path and the field retry never both twice).
        permitMs: 5 * timeoutMs + 5_000,
        ...(state.origin === "reconcile" && { background: true }),
      });
      return "permit" in answer ? (answer.permit as unknown as PermitStub) : "queued";
    } catch (error) {
      logLine({ msg: "scheduler_unavailable", error: (error as Error).name });
      return undefined;
    }
  }

  private orqClient(observed: { rate?: RateHeaders }): OrqClient {
    // The scheduler learns the workspace's limit from the headers of every answer.
    return createOrqClient({ ...getConfig(this.env).orq, fetch: fetchObservingRate(observed) });
  }

  /** A write, with the rows it wrote counted (the cost test reads them). */
  private write(query: string, ...bindings: SqlStorageValue[]): void {
    const cursor = this.sql.exec(query, ...bindings);
    cursor.toArray();
    this.meter.rowsWritten += cursor.rowsWritten;
  }

  /** `setAlarm` is one row written. */
  private async setAlarm(at: number): Promise<void> {
    this.meter.rowsWritten++;
    await this.ctx.storage.setAlarm(at);
  }

  /** Billing units this object served since it started; this call is not counted. */
  usage(): { requests: number; rowsWritten: number } {
    return { ...this.meter };
  }

  /**
   * Tells BridgeStatus (the failure index) when this identity starts failing, changes failure
   * state, recovers, or starts failing again after a replay — never on a plain success (the
   * scheduler keeps the status page's recent deliveries), so the happy path costs no call to it.
   * Made from the alarm after this identity's state is stored; if it fails, only the index lags.
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
      this.write("UPDATE state SET reported = ?", next);
    } catch (error) {
      // The index catches up at the next state change; delivery itself is unaffected.
      logLine({ msg: "status_report_failed", provider: state.provider, user_id: state.user_id, error: (error as Error).name });
    }
  }
}
