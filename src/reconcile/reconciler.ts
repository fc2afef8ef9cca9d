import { DurableObject } from "cloudflare:workers";
import { getConfig } from "../config";
import { logLine } from "../log";
import { identityObjectName } from "../record/identity-change";
import { newCycle, runChunk, type Cycle, type CycleStore, type CycleTrigger, type ReconcileIo, type WorkItem } from "./engine";
import { listOwnedIdentities, type OrqIdentity } from "./orq-listing";
import { SCHEDULER_NAME, type PermitStub, type RateHeaders } from "../deliver/delivery-scheduler";
import { callReport, fetchObservingRate } from "../deliver/rate-headers";
import { userSources } from "./sources/registry";
import type { UserSource, UserSourceContext } from "./user-source";

/**
 * The Worker's runner of the reconcile engine (engine.ts): one object per provider, named after it.
 * The Cron Trigger and `POST /admin/reconcile` only start a cycle (a Cron run has 10 ms of CPU on
 * the Free plan); the work runs in this object's alarms, one bounded chunk each (at most
 * `RECONCILE_SUBREQUESTS` HTTP requests, default 40 of the Free plan's 50), with the cycle, the
 * identities listed so far and the page's pending differences stored here between chunks. A
 * listing that fails is retried with backoff across alarms (Retry-After honoured); after
 * MAX_FAILURES in a row the cycle ends as failed, having deleted nothing, and the next one starts over.
 *
 * Cost: the owned identities are kept one row per listed page (200 identities), the listed users'
 * external ids one row per provider page, so a cycle over 1,000 unchanged users writes about ten rows.
 */

export interface StartRequest {
  trigger: CycleTrigger;
  dryRun?: boolean;
  confirmDeletes?: boolean;
}

export interface ReconcileStatus {
  provider: string;
  configured: boolean;
  /** Why it is not configured (the first variable to set), or a problem with the settings. */
  problem?: string;
  state: "running" | "idle";
  /** The cycle under way. */
  current: Cycle | null;
  /** The last cycle that ended (complete or failed). */
  last: Cycle | null;
  /** The last cycle that completed without error (the one /health measures the age of). */
  lastComplete: Cycle | null;
}

export type StartAnswer = { started: true; status: ReconcileStatus } | { started: false; reason: "running" | "not_configured"; status: ReconcileStatus };

const MAX_FAILURES = 6;
/** Identity-object calls per chunk (subrequests to internal services: 1,000 per invocation on Free). */
const APPLIES_PER_CHUNK = 400;
const PROVIDER_TIMEOUT_MS = 15_000;
/** When the scheduler said not yet: ask again this much later. */
const NOT_YET_MS = 2_000;

interface JsonRow extends Record<string, SqlStorageValue> {
  data: string;
}

export class Reconciler extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** Rows written since this object started (the cost test reads them); setAlarm is one. */
  private rowsWritten = 0;
  private requests = 0;
  private running?: Promise<void>;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS cycle (slot TEXT PRIMARY KEY, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS owned_page (page INTEGER PRIMARY KEY, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS seen_page (page INTEGER PRIMARY KEY, data TEXT NOT NULL);
    `);
  }

  /** Starts a cycle unless one is running. The provider is this object's name. */
  async start(provider: string, request: StartRequest): Promise<StartAnswer> {
    this.requests++;
    const source = sourceNamed(provider);
    const running = this.read<Cycle>("current");
    if (running) {
      // A chain of alarms that broke (retries spent on an error) would leave the cycle "running" for
      // ever: the next start picks it up again from its cursor.
      if ((await this.ctx.storage.getAlarm()) === null) await this.setAlarm(Date.now());
      return { started: false, reason: "running", status: this.status(provider) };
    }
    const configured = source?.configure(this.env as never);
    if (!source || !configured?.ok) return { started: false, reason: "not_configured", status: this.status(provider) };
    const now = Date.now();
    const cycle = newCycle({
      id: `${now.toString(36)}-${crypto.randomUUID().slice(0, 8)}`,
      provider,
      trigger: request.trigger,
      dryRun: request.dryRun === true,
      confirmDeletes: request.confirmDeletes === true,
      startedAt: now,
    });
    this.clearScratch();
    this.save("current", cycle);
    await this.setAlarm(now);
    logLine({ msg: "reconcile_started", provider, cycle: cycle.id, trigger: request.trigger, dry_run: cycle.dryRun || undefined });
    return { started: true, status: this.status(provider) };
  }

  status(provider: string): ReconcileStatus {
    const source = sourceNamed(provider);
    const configured = source?.configure(this.env as never);
    const current = this.read<Cycle>("current");
    return {
      provider,
      configured: configured?.ok === true,
      ...(configured && !configured.ok && { problem: configured.problem }),
      ...(!source && { problem: `${provider} cannot be listed yet` }),
      state: current ? "running" : "idle",
      current,
      last: this.read<Cycle>("last"),
      lastComplete: this.read<Cycle>("last_complete"),
    };
  }

  /** Billing units served since this object started; this call is not counted. */
  usage(): { requests: number; rowsWritten: number } {
    return { requests: this.requests, rowsWritten: this.rowsWritten };
  }

  override async alarm(): Promise<void> {
    this.requests++;
    this.running ??= this.runOneChunk().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runOneChunk(): Promise<void> {
    const cycle = this.read<Cycle>("current");
    if (!cycle) return;
    const source = sourceNamed(cycle.provider);
    const configured = source?.configure(this.env as never);
    const config = getConfig(this.env);
    if (!source || !configured?.ok) {
      cycle.phase = "done";
      cycle.endedAt = Date.now();
      cycle.error = configured && !configured.ok ? configured.problem : `${cycle.provider} cannot be listed`;
      return this.end(cycle);
    }
    const client = configured.client;
    const sourceContext: UserSourceContext = { fetch: (input, init) => fetch(input, init), timeoutMs: PROVIDER_TIMEOUT_MS };
    const orqKey = config.orq.apiKey;
    const io: ReconcileIo = {
      listOwned: async (cursor) => {
        if (!orqKey) return { ok: false, kind: "failed", retryable: false, authProblem: true, reason: "ORQ_API_KEY is not set", requests: 1 };
        // orq.ai reads are calls like any other: through the workspace's scheduler, after live changes.
        const permit = await this.orqPermit(cycle, config.orq);
        if (permit === "not_yet") return { ok: false, notYet: true, reason: "live changes first", retryAfterMs: NOT_YET_MS, requests: 0 };
        const observed: { rate?: RateHeaders } = {};
        const page = await listOwnedIdentities(
          {
            baseUrl: config.orq.baseUrl, apiKey: orqKey, timeoutMs: config.orq.timeoutMs, includeBudget: config.mapping.budgets !== undefined,
            fetch: fetchObservingRate(observed),
          },
          cycle.provider,
          cursor,
        );
        await permit?.finish(callReport(page.ok ? { ok: true, calls: 1, status: 200 } : { ...page, calls: 1 }, observed.rate)).catch(() => undefined);
        return page;
      },
      listUsers: (cursor) => client.listPage(cursor, sourceContext),
      confirmGone: (userId) => client.confirmGone(userId, sourceContext),
      apply: (userId, change, orqHolds) => this.env.IDENTITY_SYNC.getByName(identityObjectName(cycle.provider, userId)).reconcile(change, orqHolds),
      now: () => Date.now(),
    };
    let result;
    try {
      result = await runChunk(cycle, this.store(), io, { source, mapping: config.mapping, maxDeletes: config.reconcile.maxDeletes }, {
        subrequests: config.reconcile.subrequests,
        applies: APPLIES_PER_CHUNK,
        maxFailures: MAX_FAILURES,
      });
    } catch (error) {
      // A bug, not a provider's answer: the cycle ends as failed (nothing more is deleted).
      cycle.phase = "done";
      cycle.endedAt = Date.now();
      cycle.error = `internal error (${(error as Error).name})`;
      return this.end(cycle);
    }
    if (result.state === "done") return this.end(cycle);
    this.save("current", cycle);
    await this.setAlarm(Date.now() + (result.state === "wait" ? result.waitMs : 0));
    if (result.state === "wait") logLine({ msg: "reconcile_wait", provider: cycle.provider, cycle: cycle.id, wait_ms: result.waitMs, reason: cycle.lastFailure });
  }

  /**
   * A background permit from the workspace's scheduler for one orq.ai read: `not_yet` while live
   * changes wait or reconcile work has used its half of the pace (the next chunk asks again);
   * undefined when the scheduler cannot be reached (the read goes anyway, as deliveries do).
   */
  private async orqPermit(cycle: Cycle, orq: { timeoutMs: number; maxConcurrency: number; ratePerMinute: number | undefined }): Promise<PermitStub | "not_yet" | undefined> {
    try {
      const answer = await this.env.ORQ_SCHEDULER.getByName(SCHEDULER_NAME).acquire({
        name: `reconcile:${cycle.provider}`,
        since: cycle.startedAt,
        maxConcurrency: orq.maxConcurrency,
        ceilingPerMinute: orq.ratePerMinute,
        permitMs: orq.timeoutMs + 5_000,
        background: true,
      });
      return "permit" in answer ? (answer.permit as unknown as PermitStub) : "not_yet";
    } catch {
      return undefined;
    }
  }

  /** A cycle ended: one log line with its counts, kept as the last (and last complete) cycle. */
  private end(cycle: Cycle): void {
    const complete = cycle.error === undefined;
    this.sql.exec("DELETE FROM cycle WHERE slot = 'current'");
    this.rowsWritten++;
    this.save("last", cycle);
    if (complete) {
      this.save("last_complete", cycle);
      this.save("orphans", (cycle.orphans ?? []) as never);
    }
    this.clearScratch();
    logLine({
      msg: complete ? "reconcile_complete" : "reconcile_failed",
      provider: cycle.provider,
      cycle: cycle.id,
      trigger: cycle.trigger,
      dry_run: cycle.dryRun || undefined,
      ms: (cycle.endedAt ?? Date.now()) - cycle.startedAt,
      ...cycle.counts,
      requests: cycle.requests,
      error: cycle.error,
      held_back: cycle.heldBack,
    });
  }

  private store(): CycleStore {
    return {
      addOwned: (page, identities) => this.write("INSERT OR REPLACE INTO owned_page (page, data) VALUES (?, ?)", page, JSON.stringify(identities)),
      owned: () => {
        const owned = new Map<string, OrqIdentity>();
        for (const row of this.sql.exec<JsonRow>("SELECT data FROM owned_page ORDER BY page")) {
          for (const identity of JSON.parse(row.data) as OrqIdentity[]) owned.set(identity.external_id, identity);
        }
        return owned;
      },
      addSeen: (page, externalIds) => this.write("INSERT OR REPLACE INTO seen_page (page, data) VALUES (?, ?)", page, JSON.stringify(externalIds)),
      seen: () => {
        const seen = new Set<string>();
        for (const row of this.sql.exec<JsonRow>("SELECT data FROM seen_page")) for (const id of JSON.parse(row.data) as string[]) seen.add(id);
        return seen;
      },
      setWork: (items) => {
        if (items.length === 0) this.write("DELETE FROM cycle WHERE slot = 'work'");
        else this.save("work", items as never);
      },
      work: () => this.read<WorkItem[]>("work") ?? [],
      previousOrphans: () => new Set(this.read<string[]>("orphans") ?? []),
    };
  }

  private clearScratch(): void {
    this.write("DELETE FROM owned_page");
    this.write("DELETE FROM seen_page");
    this.write("DELETE FROM cycle WHERE slot = 'work'");
  }

  private read<T>(slot: string): T | null {
    const row = this.sql.exec<JsonRow>("SELECT data FROM cycle WHERE slot = ?", slot).toArray()[0];
    return row ? (JSON.parse(row.data) as T) : null;
  }

  private save(slot: string, value: object): void {
    this.write("INSERT INTO cycle (slot, data) VALUES (?, ?) ON CONFLICT (slot) DO UPDATE SET data = excluded.data", slot, JSON.stringify(value));
  }

  private write(query: string, ...bindings: SqlStorageValue[]): void {
    const cursor = this.sql.exec(query, ...bindings);
    cursor.toArray();
    this.rowsWritten += cursor.rowsWritten;
  }

  private async setAlarm(at: number): Promise<void> {
    this.rowsWritten++;
    await this.ctx.storage.setAlarm(at);
  }
}

function sourceNamed(name: string): UserSource | undefined {
  return userSources.find((source) => source.name === name);
}
