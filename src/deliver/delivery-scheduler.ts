import { DurableObject, RpcTarget } from "cloudflare:workers";
import { logLine } from "../log";

/**
 * The one scheduler for calls to orq.ai: it decides when an identity may call, for the whole
 * workspace (one API key = one workspace = this one object).
 *
 * - **Pace.** orq.ai limits calls per workspace over a rolling 60 s window. The scheduler keeps the
 *   same window of the calls it let out and grants a call only while the window has room under the
 *   limit: the operator's `ORQ_RATE_LIMIT_PER_MINUTE`, or what orq.ai's answers taught it. A pace is
 *   learned only from evidence of the workspace's limit: `X-RateLimit-Limit` on any answer, or a run
 *   of RUN_429 refusals (429) for two or more identities with no success in between (a real limit
 *   refuses everything until its window frees; then the calls that fitted in the window are the
 *   estimate). orq.ai also answers 429 for identity, API-key and workspace budgets: a lone 429 with
 *   `Retry-After` pauses everyone until then and teaches nothing. `X-RateLimit-Remaining: 0` pauses
 *   until `X-RateLimit-Reset`.
 * - **First burst.** Until a pace is known, at most UNKNOWN_PACE_CONCURRENCY calls are in flight: a
 *   call over the internet takes 100 ms or more and orq.ai's limits are tens to hundreds per minute,
 *   so a handful in flight already outruns any plan, and only those few meet the first 429 (whose
 *   headers, or the run of refusals, then teach the pace). Once more calls than any published plan
 *   allows were accepted within a minute (UNCAPPED_AFTER_ACCEPTED) without a limit showing, the cap
 *   is lifted. The window's grant times are saved with every 429 and state change, so a scheduler
 *   evicted during a pause still knows them.
 * - **Outage.** Network errors, timeouts, 5xx and 429 without a usable `Retry-After` are failures
 *   that may be the workspace's. While another identity's call succeeded meanwhile, the failure is
 *   that identity's own (it backs off itself). Three such failures in a row from two or more
 *   identities, with no success in between, are an outage: nobody calls, and one waiting identity
 *   at a time is let out as a probe every PROBE_MS. 401/403 pause everyone the same way (the key).
 * - **Backlog.** An identity that may not call now is written to `waiting` (one row) and told that
 *   it will be woken; its object goes to sleep. When calls may go out again, the oldest waiting
 *   identities are woken first, as many as the pace allows, so a long outage costs stored rows,
 *   never live objects.
 * - **Live changes first.** A call for a reconcile cycle (`background`) waits behind every live
 *   change: it is granted only when no live change waits, and it uses at most half of the pace
 *   once the pace is known (learned or configured) and half of the concurrency, so a signup made
 *   while a reconcile heals thousands of users still goes out at once. Before the pace is known a
 *   reconcile may run into the limit once; the 429 then teaches the pace.
 * - **Liveness.** While the backlog is not empty, a call goes out whenever the pace and the
 *   concurrency allow one. A woken identity's place is held for it only briefly (RESERVATION_MS): an
 *   identity that will not call (nothing to send, or in its own Retry-After) says so when woken and
 *   its place goes to the next one at once; one that said it would call but does not ask in time
 *   loses the place and is woken again later. A dispatch asked for while one runs runs right after.
 * - **Cost.** On the happy path an identity makes one call to this object (`acquire`); the answer
 *   carries a `Permit` (an RpcTarget) whose `finish` rides the same billed request, and nothing is
 *   written here except one row of "recent deliveries" (a 50-row ring) for the status page.
 * - **Concurrency.** At most `ORQ_MAX_CONCURRENCY` calls in flight, and fewer after failures: the
 *   allowance starts at START_WINDOW, grows by one per success and halves per failure (AIMD), so a
 *   sudden outage costs a handful of calls, not a whole burst.
 */

export type SchedulerMode = "flowing" | "rate_limited" | "outage" | "key_rejected";

export interface AcquireRequest {
  /** The identity object's name (`provider:user_id`). */
  name: string;
  /** Since when this identity has had a change waiting: the backlog is woken oldest first. */
  since: number;
  maxConcurrency: number;
  /** `ORQ_RATE_LIMIT_PER_MINUTE`, when set. */
  ceilingPerMinute?: number;
  /** How long a permit lives if it is never finished (longer than any call sequence). */
  permitMs: number;
  /** A reconcile cycle's change: after live ones, within half the pace. */
  background?: boolean;
}

export type AcquireAnswer =
  | { permit: Permit }
  /** Written to the waiting list: the scheduler wakes the identity; `fallbackMs` is its safety alarm. */
  | { queued: true; fallbackMs: number };

/** Rate-limit headers of orq.ai's last answer in the attempt (any status). */
export interface RateHeaders {
  limit?: number;
  remaining?: number;
  resetMs?: number;
}

export interface CallReport {
  calls: number;
  /**
   * `ok`: orq.ai did what was asked. `refused`: orq.ai answered about this identity (400/422 and
   * the like): proof that the workspace works. `failed`: network, timeout, 5xx, 429. `auth`: 401/403.
   */
  outcome: "ok" | "refused" | "failed" | "auth";
  status?: number;
  retryAfterMs?: number;
  rate?: RateHeaders;
  /** A delivery, for the status page's "recent deliveries" (successes only). */
  delivered?: RecentDeliveryInput;
}

/**
 * `done`: nothing more to do with the scheduler. `wait`: the failure is the workspace's: the
 * identity is on the waiting list and will be woken; it must not count the attempt as its own.
 * `own`: the failure is this identity's: it backs off on its own schedule.
 */
export type Verdict = "done" | "wait" | "own";

export interface RecentDeliveryInput {
  provider: string;
  userId: string;
  externalId: string;
  eventType: string;
  status: number | null;
  at: number;
}

export interface SchedulerStats {
  state: SchedulerMode;
  since: number;
  /** Calls per minute the scheduler keeps to, and where that figure came from; null = none known. */
  pace: { perMinute: number; source: "configured" | "learned from headers" | "learned from 429" } | null;
  callsLastMinute: number;
  inFlight: number;
  concurrencyAllowance: number;
  /** Woken identities whose place is held until they ask (briefly). */
  reserved: number;
  backlog: number;
  /** Of the backlog, changes found by a reconcile cycle (they wait behind live ones). */
  reconcileBacklog: number;
  oldestWaitingSince: number | null;
  pausedUntil: number | null;
  nextProbeAt: number | null;
}

/** The name of the workspace's scheduler. */
export const SCHEDULER_NAME = "orq-workspace";

const WINDOW_MS = 60_000;
/** orq.ai counts a call when it arrives, a little after it was granted: keep a margin. */
const WINDOW_MARGIN_MS = 1_000;
const START_WINDOW = 2;
export const PROBE_MS = 5_000;
const OUTAGE_FAILURES = 3;
/** How long a woken identity's place is held for it. */
const RESERVATION_MS = 2_000;
/** A queued identity's own safety alarm, in case it is never woken (it then asks again). */
export const QUEUED_FALLBACK_MS = 10 * 60_000;
const RECENT_KEPT = 50;
const LEARNED_429_TTL_MS = 5 * 60_000;
const MIN_FITTED = 10;
/** 429s in a row (no success in between), from two or more identities, that show the workspace's limit. */
const RUN_429 = 3;
/** Calls in flight at most until the pace is known (learned or configured). */
export const UNKNOWN_PACE_CONCURRENCY = 4;
/** Calls accepted in the last minute, with no limit shown, after which the handful cap is lifted. */
const UNCAPPED_AFTER_ACCEPTED = 200;
/** Woken per dispatch round at most; the next round follows as permits finish. */
const WAKE_BATCH = 100;

interface PermitEntry {
  name: string;
  grantedAt: number;
  expiresAt: number;
  background: boolean;
}

interface Reservation {
  until: number;
  background: boolean;
}

/** A permit as the identity holds it: a stub whose calls ride the request that granted it. */
export interface PermitStub {
  finish(report: CallReport): Promise<Verdict>;
  [Symbol.dispose]?(): void;
}

/** One granted call sequence; `finish` rides the request that granted it. */
export class Permit extends RpcTarget {
  constructor(
    private readonly scheduler: DeliveryScheduler,
    private readonly id: string,
  ) {
    super();
  }

  finish(report: CallReport): Verdict {
    return this.scheduler.finishPermit(this.id, report);
  }
}

export class DeliveryScheduler extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private mode: SchedulerMode = "flowing";
  private modeSince = Date.now();
  /** Grant times of calls in the current window (one entry per call). */
  private sent: number[] = [];
  /** Grant times of the calls orq.ai accepted (answered other than 429/5xx/network) in the window. */
  private accepted: number[] = [];
  private readonly permits = new Map<string, PermitEntry>();
  /** Woken identities whose next acquire is granted: name → until when. */
  private readonly reserved = new Map<string, Reservation>();
  /** Grant times of reconcile (background) calls in the current window. */
  private sentBackground: number[] = [];
  private allowance = START_WINDOW;
  private maxConcurrency = 50;
  private ceiling: number | undefined;
  /** A limit learned from a 429 alone is an estimate: it lapses after LEARNED_429_TTL_MS, so a raised limit is found again. */
  private learned: { perMinute: number; source: "learned from headers" | "learned from 429"; at: number } | undefined;
  private pausedUntil = 0;
  /**
   * What orq.ai's latest answer with figures said: calls it still allows, when its window frees up,
   * when that answer came (`at`) and when its call was let out (`grantedAt`).
   */
  private told: { remaining: number; at: number; resetAt: number; grantedAt: number } | undefined;
  private nextProbeAt = 0;
  private lastSuccessAt = 0;
  private streak = { failures: 0, names: new Set<string>() };
  /** 429s since the last success, and for whom: RUN_429 of them from two or more identities are the workspace's limit. */
  private refusals = { count: 0, names: new Set<string>() };
  private waitingCount: number;
  /** Of those, live changes (not a reconcile's). */
  private waitingLive: number;
  private alarmAt: number | null = null;
  private recentSeq: number;
  private dispatching?: Promise<void>;
  /** A dispatch was asked for while one ran: run again once it ends. */
  private dispatchAgain = false;
  /** Billing units this object served, by caller (bounded): what the cost test reads. */
  private readonly usage = new Map<string, { requests: number; rowsWritten: number }>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS waiting (name TEXT PRIMARY KEY, since INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS waiting_by_since ON waiting (since);
      CREATE TABLE IF NOT EXISTS workspace (
        id INTEGER PRIMARY KEY CHECK (id = 1), mode TEXT NOT NULL, mode_since INTEGER NOT NULL,
        learned_per_minute INTEGER, learned_source TEXT, paused_until INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS recent (
        slot INTEGER PRIMARY KEY, seq INTEGER NOT NULL, provider TEXT NOT NULL, user_id TEXT NOT NULL,
        external_id TEXT NOT NULL, event_type TEXT NOT NULL, status INTEGER, at INTEGER NOT NULL);
    `);
    // waiting.background (reconcile calls wait behind live ones): added to the tables of schedulers
    // created before it; their waiting rows are live changes (0).
    const columns = this.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('waiting')").toArray().map((row) => row.name);
    if (!columns.includes("background")) this.sql.exec("ALTER TABLE waiting ADD COLUMN background INTEGER NOT NULL DEFAULT 0");
    this.sql.exec("CREATE INDEX IF NOT EXISTS waiting_by_priority ON waiting (background, since)");
    // workspace.window_log: the grant times of the window, saved whenever the workspace row is (a 429,
    // a state change): a scheduler evicted while it waits out orq.ai's Retry-After (an idle object goes
    // after some seconds) wakes knowing which calls still count, instead of letting a whole window out
    // at once at its edge. Added to the tables of schedulers created before it.
    const workspaceColumns = this.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('workspace')").toArray().map((row) => row.name);
    if (!workspaceColumns.includes("window_log")) this.sql.exec("ALTER TABLE workspace ADD COLUMN window_log TEXT");
    this.waitingCount = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM waiting").one().n;
    this.waitingLive = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM waiting WHERE background = 0").one().n;
    this.recentSeq = this.sql.exec<{ s: number | null }>("SELECT MAX(seq) AS s FROM recent").one().s ?? 0;
    const saved = this.sql.exec<WorkspaceRow>("SELECT * FROM workspace").toArray()[0];
    if (saved) {
      this.mode = saved.mode;
      this.modeSince = saved.mode_since;
      this.pausedUntil = saved.paused_until;
      if (saved.learned_per_minute !== null) {
        this.learned = { perMinute: saved.learned_per_minute, source: saved.learned_source ?? "learned from 429", at: saved.mode_since };
      }
      const windowStart = Date.now() - WINDOW_MS - WINDOW_MARGIN_MS;
      const log = saved.window_log ? (JSON.parse(saved.window_log) as unknown) : [];
      if (Array.isArray(log)) this.sent = log.filter((at): at is number => typeof at === "number" && at > windowStart).sort((a, b) => a - b);
      // A restarted scheduler that was paused probes soon rather than trusting a stale clock.
      if (this.mode === "outage" || this.mode === "key_rejected") this.nextProbeAt = Date.now() + PROBE_MS;
    }
    void ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  acquire(request: AcquireRequest): AcquireAnswer {
    const now = Date.now();
    this.meter(request.name, 1, 0);
    this.maxConcurrency = request.maxConcurrency;
    this.ceiling = request.ceilingPerMinute;
    this.prune(now);
    const reservation = this.reserved.get(request.name);
    if (reservation !== undefined) {
      this.reserved.delete(request.name);
      return { permit: this.grant(request, now) };
    }
    // Newcomers queue behind a backlog, so it drains oldest first; live changes pass reconcile work.
    const background = request.background === true;
    const mayGo = background
      ? this.waitingCount === 0 && this.backgroundRoom(now) > 0 && this.backgroundSlots() > 0
      : this.waitingLive === 0;
    if (mayGo && this.mayCallNow(now) && this.freeSlots() > 0) return { permit: this.grant(request, now) };
    this.enqueue(request.name, request.since, background);
    this.scheduleDispatch(now);
    return { queued: true, fallbackMs: QUEUED_FALLBACK_MS };
  }

  finishPermit(id: string, report: CallReport): Verdict {
    const now = Date.now();
    this.prune(now);
    const permit = this.permits.get(id);
    if (!permit) return report.outcome === "ok" || report.outcome === "refused" ? "done" : "own";
    this.permits.delete(id);
    for (let extra = 1; extra < report.calls; extra++) this.sent.push(now);
    this.learnFromHeaders(report.rate, now, permit.grantedAt);

    let verdict: Verdict;
    if (report.outcome === "ok" || report.outcome === "refused") {
      this.lastSuccessAt = now;
      for (let call = 0; call < Math.max(1, report.calls); call++) this.accepted.push(permit.grantedAt);
      this.streak = { failures: 0, names: new Set() };
      this.refusals = { count: 0, names: new Set() };
      this.allowance = Math.min(this.maxConcurrency, this.allowance + 1);
      if (this.mode === "outage" || this.mode === "key_rejected") this.setMode("flowing", now, { reason: "a call succeeded" });
      if (report.delivered) this.rememberRecent(permit.name, report.delivered);
      verdict = "done";
    } else if (this.lastSuccessAt > permit.grantedAt && this.mode === "flowing" && !(report.status === 429 && report.retryAfterMs !== undefined)) {
      // Another identity's call succeeded while this one was out: orq.ai and the key work, and the
      // workspace is not over its limit. This answer is about this identity (a
      // 5xx for this id, a 429 without Retry-After): it backs off on its own. A 429 with Retry-After
      // is the workspace's limit, whatever else succeeded at the edge of its window.
      verdict = "own";
    } else if (report.outcome === "auth") {
      if (this.mode !== "key_rejected") this.setMode("key_rejected", now, { status: report.status });
      this.nextProbeAt = now + PROBE_MS;
      verdict = "wait";
    } else if (report.status === 429 && report.retryAfterMs !== undefined) {
      this.rateLimited(now, report, permit.name);
      verdict = "wait";
    } else {
      verdict = this.workspaceFailure(permit, now, report);
    }
    if (verdict === "wait") this.enqueue(permit.name, this.mode === "outage" || this.mode === "key_rejected" ? now : permit.grantedAt, permit.background);
    if (this.waitingCount > 0) this.kickDispatch();
    return verdict;
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    this.meter("(scheduler alarm)", 1, 0);
    this.kickDispatch();
    await this.dispatching;
  }

  stats(): SchedulerStats {
    const now = Date.now();
    this.prune(now);
    const oldest = this.sql.exec<{ since: number | null }>("SELECT MIN(since) AS since FROM waiting").one().since;
    const paused = this.mode === "outage" || this.mode === "key_rejected";
    return {
      state: this.mode === "rate_limited" && this.pausedUntil <= now ? "flowing" : this.mode,
      since: this.modeSince,
      pace: this.pace(),
      callsLastMinute: this.sent.length,
      inFlight: this.permits.size,
      concurrencyAllowance: this.concurrency(),
      reserved: this.reserved.size,
      backlog: this.waitingCount,
      reconcileBacklog: this.waitingCount - this.waitingLive,
      oldestWaitingSince: oldest,
      pausedUntil: this.pausedUntil > now ? this.pausedUntil : null,
      nextProbeAt: paused ? this.nextProbeAt : null,
    };
  }

  /** The last successful deliveries, newest first (the status page). */
  recentDeliveries(limit = RECENT_KEPT): RecentDeliveryInput[] {
    return this.sql
      .exec<RecentRow>("SELECT * FROM recent ORDER BY seq DESC LIMIT ?", limit)
      .toArray()
      .map((row) => ({ provider: row.provider, userId: row.user_id, externalId: row.external_id, eventType: row.event_type, status: row.status, at: row.at }));
  }

  /** Billing units served to one caller (tests and capacity planning); this call is not counted. */
  usageOf(name: string): { requests: number; rowsWritten: number } {
    return this.usage.get(name) ?? { requests: 0, rowsWritten: 0 };
  }

  // ---- internals ----

  private grant(request: AcquireRequest, now: number): Permit {
    const id = crypto.randomUUID();
    const background = request.background === true;
    this.permits.set(id, { name: request.name, grantedAt: now, expiresAt: now + request.permitMs, background });
    this.sent.push(now);
    if (background) this.sentBackground.push(now);
    return new Permit(this, id);
  }

  /** Whether the workspace may call at all now (pace and pauses; not concurrency). */
  private mayCallNow(now: number): boolean {
    if (this.mode === "outage" || this.mode === "key_rejected") return false;
    return this.pausedUntil <= now && this.room(now) > 0;
  }

  /**
   * How many more calls the rate limit allows now. When orq.ai's answer said how many it still
   * allows (`X-RateLimit-Remaining`), that is the truth as of the call it answers, less the calls
   * let out after that call (answered or not: an answer can overtake an earlier call's, whose figure
   * is then older and higher) and those let out before it still unanswered; once its
   * `X-RateLimit-Reset` has passed, at least one more (whose answer tells the next figure).
   * Without fresh headers, the calls of the last minute against the pace. A configured ceiling
   * always holds.
   */
  private room(now: number): number {
    const ceiling = this.ceiling === undefined ? Number.POSITIVE_INFINITY : this.ceiling - this.sent.length;
    const told = this.told;
    let room: number;
    if (told && now - told.at < WINDOW_MS) {
      // Calls let out before that call (or with it) and still unanswered may not be counted in its figure yet.
      let unanswered = 0;
      for (const permit of this.permits.values()) if (permit.grantedAt <= told.grantedAt) unanswered++;
      room = told.remaining - this.sentSince(told.grantedAt) - unanswered;
      // Past its reset point, at least one more call (its answer tells the next figure).
      if (now >= told.resetAt) room = Math.max(room, 1 - this.sentSince(told.resetAt));
    } else {
      const limit = this.pace()?.perMinute;
      room = limit === undefined ? Number.POSITIVE_INFINITY : limit - this.sent.length;
    }
    return Math.min(room, ceiling) - this.reserved.size;
  }

  /** When the rate limit will have room again (the window's oldest call leaving, or orq.ai's reset). */
  private roomAt(now: number): number {
    const told = this.told;
    if (told && now - told.at < WINDOW_MS && told.resetAt > now) return told.resetAt;
    return this.sent.length > 0 ? this.sent[0]! + WINDOW_MS + WINDOW_MARGIN_MS : now + 1_000;
  }

  private sentSince(at: number): number {
    let count = 0;
    for (let i = this.sent.length - 1; i >= 0 && this.sent[i]! > at; i--) count++;
    return count;
  }

  private freeSlots(): number {
    return this.concurrency() - this.permits.size - this.reserved.size;
  }

  /** How many more reconcile calls the window allows: half the pace once it is known. */
  private backgroundRoom(now: number): number {
    const pace = this.pace()?.perMinute;
    if (pace === undefined) return this.room(now);
    let reserved = 0;
    for (const reservation of this.reserved.values()) if (reservation.background) reserved++;
    return Math.min(this.room(now), Math.max(1, Math.floor(pace / 2)) - this.sentBackground.length - reserved);
  }

  /** Reconcile calls may take half the concurrency, so live changes always find a slot. */
  private backgroundSlots(): number {
    let used = 0;
    for (const permit of this.permits.values()) if (permit.background) used++;
    for (const reservation of this.reserved.values()) if (reservation.background) used++;
    return Math.max(1, Math.floor(this.concurrency() / 2)) - used;
  }

  /** Calls that may be in flight at once: the AIMD allowance, ORQ_MAX_CONCURRENCY, and a handful until the pace is known. */
  private concurrency(): number {
    // More calls accepted within a minute than any published plan allows (Pro: 100) and no limit
    // shown: the workspace has room for more than a handful in flight.
    const blind = this.pace() === null && this.accepted.length < UNCAPPED_AFTER_ACCEPTED;
    const cap = blind ? Math.min(UNKNOWN_PACE_CONCURRENCY, this.maxConcurrency) : this.maxConcurrency;
    return Math.min(this.allowance, cap);
  }

  private pace(): SchedulerStats["pace"] {
    const learned = this.learned && !this.learnedExpired(Date.now()) ? this.learned : undefined;
    if (this.ceiling !== undefined && (learned === undefined || this.ceiling <= learned.perMinute)) {
      return { perMinute: this.ceiling, source: "configured" };
    }
    return learned ? { perMinute: learned.perMinute, source: learned.source } : null;
  }

  private learnedExpired(now: number): boolean {
    return this.learned?.source === "learned from 429" && now - this.learned.at > LEARNED_429_TTL_MS;
  }

  private learnFromHeaders(rate: RateHeaders | undefined, now: number, grantedAt: number): void {
    if (!rate) {
      // An answer without the headers after orq.ai's reset point: its figures are used up and no
      // new ones come (orq.ai sends them only with 429s): pace by the window log from here.
      if (this.told && now >= this.told.resetAt) this.told = undefined;
      return;
    }
    // Answers overtake each other: one for a call let out earlier carries an older, higher figure.
    // room() counts every call let out after the answered one against it, so either figure holds.
    if (rate.remaining !== undefined) {
      this.told = { remaining: rate.remaining, at: now, resetAt: now + (rate.resetMs ?? WINDOW_MS), grantedAt };
    }
    if (rate.limit !== undefined && rate.limit > 0 && rate.limit !== this.learned?.perMinute) {
      this.learned = { perMinute: rate.limit, source: "learned from headers", at: now };
      this.saveWorkspace();
      logLine({ msg: "orq_pace", per_minute: rate.limit, source: "learned from headers" });
    }
    if (rate.remaining === 0 && rate.resetMs !== undefined && now + rate.resetMs > this.pausedUntil) {
      this.pausedUntil = now + Math.min(rate.resetMs, WINDOW_MS + WINDOW_MARGIN_MS);
    }
  }

  private rateLimited(now: number, report: CallReport, name: string): void {
    this.pausedUntil = Math.max(this.pausedUntil, now + report.retryAfterMs!);
    this.refusals.count++;
    this.refusals.names.add(name);
    const aRun = this.refusals.count >= RUN_429 && this.refusals.names.size >= 2;
    if (report.rate?.limit === undefined && aRun) {
      // Without the header, only a run of refusals is the workspace's limit (scattered 429s between
      // successes are budgets or one identity's). Then what fitted in the window before it is the
      // best estimate — unless the bridge itself sent too little to have spent the limit: orq.ai's
      // smallest plan allows 20 calls/min, so a refusal after a handful of calls was caused by
      // other traffic in the workspace; the pause is kept, no pace is learned.
      const fitted = this.accepted.length;
      // Once estimated, a later 429 only pauses: at the edge of orq.ai's window (its clock and the
      // bridge's differ by a call's latency) what fitted in the bridge's window is an undercount.
      if (fitted >= MIN_FITTED && (this.learned === undefined || this.learnedExpired(now))) {
        this.learned = { perMinute: fitted, source: "learned from 429", at: now };
        logLine({ msg: "orq_pace", per_minute: fitted, source: "learned from 429" });
      }
    }
    if (this.mode !== "rate_limited") this.setMode("rate_limited", now, { retry_after_ms: report.retryAfterMs, status: 429 });
    else this.saveWorkspace();
  }

  private workspaceFailure(permit: PermitEntry, now: number, report: CallReport): Verdict {
    this.allowance = Math.max(1, Math.floor(this.allowance / 2));
    if (this.mode === "outage") {
      // A failed probe: the next one in PROBE_MS.
      this.nextProbeAt = now + PROBE_MS;
      return "wait";
    }
    this.streak.failures++;
    this.streak.names.add(permit.name);
    if (this.streak.failures >= OUTAGE_FAILURES && this.streak.names.size >= 2) {
      this.nextProbeAt = now + PROBE_MS;
      this.setMode("outage", now, { status: report.status, failures: this.streak.failures });
      return "wait";
    }
    return "own";
  }

  private enqueue(name: string, since: number, background: boolean): void {
    // A live change for an identity waiting as reconcile work makes it live.
    const before = background ? undefined : this.sql.exec<{ background: number }>("SELECT background FROM waiting WHERE name = ?", name).toArray()[0];
    const cursor = before
      ? this.sql.exec("UPDATE waiting SET background = 0 WHERE name = ? AND background = 1", name)
      : this.sql.exec("INSERT INTO waiting (name, since, background) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING", name, since, background ? 1 : 0);
    cursor.toArray();
    if (cursor.rowsWritten > 0) {
      if (!before) this.waitingCount++;
      if (!background) this.waitingLive++;
    }
    this.meter(name, 0, cursor.rowsWritten);
  }

  /** The next time a call may go out for the backlog, and an alarm for it. */
  private scheduleDispatch(now: number): void {
    let at: number;
    if (this.mode === "outage" || this.mode === "key_rejected") at = Math.max(now, this.nextProbeAt);
    else if (this.pausedUntil > now) at = this.pausedUntil;
    else {
      at = this.room(now) <= 0 ? this.roomAt(now) : now + 1_000;
      // Only reconcile work waits and its half of the pace is spent: when its oldest call leaves.
      if (this.waitingLive === 0 && this.backgroundRoom(now) <= 0 && this.sentBackground.length > 0) {
        at = Math.max(at, this.sentBackground[0]! + WINDOW_MS + WINDOW_MARGIN_MS);
      }
      // A held place that is not taken frees up when it lapses.
      for (const { until } of this.reserved.values()) at = Math.min(at, until);
    }
    if (this.alarmAt === null || this.alarmAt > at || this.alarmAt < now) {
      this.alarmAt = at;
      void this.ctx.storage.setAlarm(at);
      this.meter("(scheduler alarm)", 0, 1);
    }
  }

  private kickDispatch(): void {
    if (this.dispatching) {
      this.dispatchAgain = true;
      return;
    }
    this.dispatching = (async () => {
      do {
        this.dispatchAgain = false;
        await this.dispatch();
      } while (this.dispatchAgain && this.waitingCount > 0);
    })().finally(() => {
      this.dispatching = undefined;
    });
  }

  /** Wakes the oldest waiting identities the pace allows now; plans the next round. */
  private async dispatch(): Promise<void> {
    const now = Date.now();
    this.prune(now);
    if (this.waitingCount === 0) return;
    let wake: number;
    if (this.mode === "outage" || this.mode === "key_rejected") {
      const probeOut = this.permits.size > 0 || this.reserved.size > 0;
      wake = now >= this.nextProbeAt && !probeOut ? 1 : 0;
      if (wake) this.nextProbeAt = now + PROBE_MS;
    } else if (!this.mayCallNow(now)) {
      wake = 0;
    } else {
      wake = Math.max(0, Math.min(WAKE_BATCH, this.freeSlots(), this.room(now)));
      if (this.mode === "rate_limited") this.setMode("flowing", now, { reason: "rate limit window passed" });
    }
    if (wake > 0) {
      // Live changes first, oldest first; then reconcile work within its half of pace and slots.
      const rows = this.sql.exec<{ name: string; background: number }>("SELECT name, background FROM waiting WHERE background = 0 ORDER BY since, name LIMIT ?", wake).toArray();
      const probing = this.mode === "outage" || this.mode === "key_rejected";
      const backgroundWake = Math.min(wake - rows.length, probing ? 1 : Math.min(this.backgroundRoom(now), this.backgroundSlots()));
      if (backgroundWake > 0) {
        rows.push(...this.sql.exec<{ name: string; background: number }>("SELECT name, background FROM waiting WHERE background = 1 ORDER BY since, name LIMIT ?", backgroundWake).toArray());
      }
      for (const { name, background } of rows) {
        const cursor = this.sql.exec("DELETE FROM waiting WHERE name = ?", name);
        if (cursor.rowsWritten > 0) {
          this.waitingCount--;
          if (!background) this.waitingLive--;
        }
        this.reserved.set(name, { until: now + RESERVATION_MS, background: background === 1 });
      }
      let idle = 0;
      await Promise.all(
        rows.map(({ name }) =>
          this.env.IDENTITY_SYNC.getByName(name)
            .wake()
            .then((waking) => {
              if (waking) return;
              // Nothing left to deliver there: its turn goes to the next one.
              this.reserved.delete(name);
              idle++;
            })
            .catch((error: Error) => {
              // It keeps its own safety alarm; put it back so the order holds.
              const background = this.reserved.get(name)?.background ?? false;
              this.reserved.delete(name);
              this.enqueue(name, now, background);
              logLine({ msg: "scheduler_wake_failed", error: error.name });
            }),
        ),
      );
      if (idle > 0 && this.waitingCount > 0) {
        // A probe or a slot given to an identity with nothing to send: pass it on now.
        if (this.mode === "outage" || this.mode === "key_rejected") this.nextProbeAt = now;
        return this.dispatch();
      }
    }
    if (this.waitingCount > 0) this.scheduleDispatch(Date.now());
  }

  private setMode(mode: SchedulerMode, now: number, fields: Record<string, string | number | undefined>): void {
    const previous = this.mode;
    this.mode = mode;
    this.modeSince = now;
    if (mode !== "outage") this.streak = { failures: 0, names: new Set() };
    this.saveWorkspace();
    logLine({ msg: "orq_state", state: mode, previous, backlog: this.waitingCount, ...fields });
  }

  private saveWorkspace(): void {
    this.sql.exec(
      `INSERT INTO workspace (id, mode, mode_since, learned_per_minute, learned_source, paused_until, window_log) VALUES (1, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET mode = excluded.mode, mode_since = excluded.mode_since,
         learned_per_minute = excluded.learned_per_minute, learned_source = excluded.learned_source, paused_until = excluded.paused_until,
         window_log = excluded.window_log`,
      this.mode, this.modeSince, this.learned?.perMinute ?? null, this.learned?.source ?? null, this.pausedUntil, JSON.stringify(this.sent),
    );
  }

  private rememberRecent(name: string, delivery: RecentDeliveryInput): void {
    this.recentSeq++;
    // A ring of RECENT_KEPT rows: one row written per delivery, nothing deleted.
    const cursor = this.sql.exec(
      `INSERT INTO recent (slot, seq, provider, user_id, external_id, event_type, status, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (slot) DO UPDATE SET seq = excluded.seq, provider = excluded.provider, user_id = excluded.user_id,
         external_id = excluded.external_id, event_type = excluded.event_type, status = excluded.status, at = excluded.at`,
      this.recentSeq % RECENT_KEPT, this.recentSeq, delivery.provider, delivery.userId, delivery.externalId, delivery.eventType, delivery.status, delivery.at,
    );
    cursor.toArray();
    this.meter(name, 0, cursor.rowsWritten);
  }

  private prune(now: number): void {
    const windowStart = now - WINDOW_MS - WINDOW_MARGIN_MS;
    let drop = 0;
    while (drop < this.sent.length && this.sent[drop]! <= windowStart) drop++;
    if (drop > 0) this.sent = this.sent.slice(drop);
    // Accepted calls come in answer order, not grant order: filter rather than cut.
    if (this.accepted.length > 0) this.accepted = this.accepted.filter((at) => at > windowStart);
    for (const [id, permit] of this.permits) if (permit.expiresAt <= now) this.permits.delete(id);
    for (const [name, { until }] of this.reserved) if (until <= now) this.reserved.delete(name);
    let dropBackground = 0;
    while (dropBackground < this.sentBackground.length && this.sentBackground[dropBackground]! <= windowStart) dropBackground++;
    if (dropBackground > 0) this.sentBackground = this.sentBackground.slice(dropBackground);
  }

  private meter(name: string, requests: number, rowsWritten: number): void {
    const entry = this.usage.get(name) ?? { requests: 0, rowsWritten: 0 };
    entry.requests += requests;
    entry.rowsWritten += rowsWritten;
    this.usage.delete(name);
    this.usage.set(name, entry);
    if (this.usage.size > 1000) this.usage.delete(this.usage.keys().next().value!);
  }
}

interface WorkspaceRow extends Record<string, SqlStorageValue> {
  window_log: string | null;
  mode: SchedulerMode;
  mode_since: number;
  learned_per_minute: number | null;
  learned_source: "learned from headers" | "learned from 429" | null;
  paused_until: number;
}

interface RecentRow extends Record<string, SqlStorageValue> {
  provider: string;
  user_id: string;
  external_id: string;
  event_type: string;
  status: number | null;
  at: number;
}
