/**
 * The backfill itself, as a function the CLI (cli/backfill.ts) and the tests call: a runner of
 * the bridge's reconcile engine (src/reconcile/engine.ts), the same one the Worker runs in its
 * Durable Object alarms. The engine lists the identities the bridge owns in orq.ai (by the
 * provider's tag), lists the provider's users page by page, maps each exactly as a webhook would
 * (`toListedChange`) and compares (`planIdentityWrite`); this runner only supplies what a CLI does
 * differently: differences are written to orq.ai directly (sync-user.ts; a CLI has no Durable
 * Objects), several at once (`--concurrency`), with waits instead of alarms, a progress display,
 * and deletions only when asked for (`--delete`).
 *
 * Resumable: between the engine's chunks, a checkpoint records its cycle (phase, cursors, counts)
 * and the differences still to write, the listed pages beside it (cycle-store.ts); a re-run
 * continues there (pages before it are not listed again).
 */
import { randomUUID } from "node:crypto";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { parseConfig } from "../../../src/config";
import { createOrqClient } from "../../../src/deliver/orq-client";
import { createOrqBudgetsClient } from "../../../src/deliver/orq-budgets";
import type { MappingOptions } from "../../../src/identity/to-orq-identity";
import { newCycle, runChunk, type ChunkLimits, type Cycle, type ReconcileContext, type ReconcileIo, type UserEvent } from "../../../src/reconcile/engine";
import {
  CHECKPOINT_VERSION,
  MAX_RECORDED_FAILURES,
  checkpointPath,
  loadCheckpoint,
  removeCheckpoint,
  saveCheckpoint,
  settingsMismatch,
  totalOf,
  type Checkpoint,
  type CheckpointSettings,
  type FailedUser,
  type OutcomeCounts,
} from "./checkpoint";
import { createCycleStore, loadPages, pagesPath, removePages, type BackfillStore } from "./cycle-store";
import { createProgress, formatDuration, type ProgressSink } from "./progress";
import { backfillProviders } from "./providers";
import { DEFAULT_RETRY_POLICY, createRateLimitGate, sleep, type RetryPolicy } from "./rate-limit";
import { listOwnedPage, writeChange, type GaveUp, type OrqContext } from "./sync-user";

export interface BackfillOptions {
  /** `clerk` or `auth0` (see providers.ts). */
  provider: string;
  /** Provider credentials and the bridge's own variables (ORQ_API_URL, ORQ_API_KEY, ORQ_TAGS, …). */
  env: Readonly<Record<string, string | undefined>>;
  /** Compare and report, write nothing (and leave any checkpoint alone). */
  dryRun?: boolean;
  /** Ignore (and remove) the checkpoint: start from the first user. */
  restart?: boolean;
  /** orq.ai users in flight at once; default 4. */
  concurrency?: number;
  /** Default `.backfill`. */
  checkpointDir?: string;
  /** Users per listing request; default (and cap) each API's maximum. */
  pageSize?: number;
  /** Provider-specific flags: `auth0-source` (auto | pages | export), `auth0-export-poll-ms`. */
  choices?: Readonly<Record<string, string | undefined>>;
  /**
   * Also handle identities tagged with the provider in orq.ai whose user the provider no longer
   * has, per ORQ_ON_DELETE, as a reconcile cycle does: only after a complete listing, each
   * confirmed by the provider's 404, none beyond RECONCILE_MAX_DELETES unless `confirmDeletes`.
   * Off by default: a backfill only creates and updates.
   */
  delete?: boolean;
  /** Lifts the RECONCILE_MAX_DELETES limit (with `delete`). */
  confirmDeletes?: boolean;
  /** Also print unchanged users (dry run) and every write (real run). */
  verbose?: boolean;
  /** Abort = Ctrl-C: finish the requests in flight, save the checkpoint, stop. */
  signal?: AbortSignal;
  /** Progress display; default stderr. */
  progress?: ProgressSink;
  /** Plain-line interval when the sink is not a terminal; default 5 s. */
  progressIntervalMs?: number;
  /** Report lines (dry-run plan, summary); default stdout. */
  print?: (line: string) => void;
  retry?: RetryPolicy;
  fetch?: typeof fetch;
  now?: () => number;
  /** How often the checkpoint is saved within a page; default 2 s. */
  checkpointEveryMs?: number;
}

export type BackfillStatus =
  /** Every listed user was handled (some may have failed: see `failures`). */
  | "completed"
  /** Stopped by the operator; the checkpoint is saved. */
  | "interrupted"
  /** Stopped by an error that every further user would hit (listing failed, orq.ai key rejected); the checkpoint is saved. */
  | "stopped";

export type BackfillResult =
  | {
      status: BackfillStatus;
      dryRun: boolean;
      /** Across resumed runs: everything the checkpoint held plus this run. */
      counts: OutcomeCounts;
      total: number | undefined;
      /** Users this run handled (the rate's numerator). */
      doneThisRun: number;
      elapsedMs: number;
      usersPerSecond: number;
      failures: FailedUser[];
      /** The engine's cycle as it ended: every count (owned identities seen, deleted, held back, …). */
      cycle: Cycle;
      /** Why it stopped (status `stopped` or `interrupted`). */
      reason?: string;
      /** Present while a checkpoint remains to resume from. */
      checkpointFile?: string;
      summary: string;
    }
  | { status: "not_started"; problem: string };

const DEFAULT_CONCURRENCY = 4;
const MAX_CONCURRENCY = 32;
const LIVE_FAILURE_LINES = 10;
const WAIT_NOTE_EVERY_MS = 3_000;
/** Engine failures in a row before a cycle ends (only an unexpected error gets there: the CLI's own calls retry). */
const MAX_FAILURES = 6;

export async function runBackfill(options: BackfillOptions): Promise<BackfillResult> {
  const now = options.now ?? Date.now;
  const dryRun = options.dryRun ?? false;
  const deletions = options.delete ?? false;
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const sink = options.progress ?? { write: (text: string) => process.stderr.write(text), isTTY: process.stderr.isTTY };
  const concurrency = Math.min(Math.max(1, Math.floor(options.concurrency ?? DEFAULT_CONCURRENCY)), MAX_CONCURRENCY);
  const checkpointDir = options.checkpointDir ?? ".backfill";
  const retry = options.retry ?? DEFAULT_RETRY_POLICY;
  const doFetch = options.fetch ?? fetch;

  const provider = backfillProviders.find((candidate) => candidate.name === options.provider);
  if (!provider) return notStarted(`unknown provider "${options.provider}"; one of ${backfillProviders.map((p) => p.name).join(", ")}`);
  if (options.confirmDeletes && !deletions) return notStarted("--confirm-deletes goes with --delete");

  // The bridge's own configuration: the same variables give the same mapping as the webhooks.
  const config = parseConfig(options.env);
  const relevant = (variable: string) => (variable.startsWith("ORQ_") && variable !== "ORQ_API_KEY") || (deletions && variable === "RECONCILE_MAX_DELETES");
  const configProblems = config.problems.filter((problem) => relevant(problem.variable));
  if (configProblems.length > 0) return notStarted(configProblems.map((problem) => `${problem.variable} ${problem.problem}`).join("; "));
  const apiKey = config.orq.apiKey;
  if (!apiKey) return notStarted("ORQ_API_KEY is not set");
  const mapping = config.mapping;

  const file = checkpointPath(checkpointDir, provider.name);
  const pagesFile = pagesPath(checkpointDir, provider.name);
  if (options.restart && !dryRun) await removeProviderState(checkpointDir, provider.name);
  const loaded = dryRun || options.restart ? ({ kind: "none" } as const) : await loadCheckpoint(file);
  if (loaded.kind === "unreadable") return notStarted(loaded.problem);
  const checkpoint = loaded.kind === "found" ? loaded.checkpoint : undefined;
  if (checkpoint && checkpoint.deletions !== deletions) {
    return notStarted(`${file} was started ${checkpoint.deletions ? "with" : "without"} --delete; run it the same way, or start over with --restart`);
  }

  const startedAt = now();
  const doneBefore = checkpoint ? totalOf(outcomeCounts(checkpoint.cycle)) : 0;
  const progress = createProgress({
    sink,
    label: provider.name + (dryRun ? " (dry run)" : ""),
    dryRun,
    doneBefore,
    lineIntervalMs: options.progressIntervalMs ?? 5_000,
    now,
  });
  // One line per wait would flood the terminal when orq.ai is flaky: at most one every few
  // seconds per API (the part of `why` before its first colon).
  const waitNotes = new Map<string, { at: number; unshown: number }>();
  const onWait = (ms: number, why: string) => {
    const api = why.split(":")[0] ?? why;
    const last = waitNotes.get(api) ?? { at: Number.NEGATIVE_INFINITY, unshown: 0 };
    if (now() - last.at < WAIT_NOTE_EVERY_MS) {
      last.unshown++;
      waitNotes.set(api, last);
      return;
    }
    const more = last.unshown > 0 ? ` (and ${last.unshown} other retries since the last note)` : "";
    waitNotes.set(api, { at: now(), unshown: 0 });
    progress.note(`${why}: waiting ${(ms / 1000).toFixed(1)} s${more}`);
  };

  // Ctrl-C (`options.signal`), or an error every further call would hit: the engine's chunk stops
  // after what is in flight, and the checkpoint is saved.
  const halt = new AbortController();
  let stopReason: string | undefined;
  const stopWith = (reason: string) => {
    stopReason ??= reason;
    halt.abort();
  };
  const onInterrupt = () => halt.abort();
  if (options.signal?.aborted) halt.abort();
  options.signal?.addEventListener("abort", onInterrupt, { once: true });
  const notStartedAfterAll = (problem: string): BackfillResult => {
    options.signal?.removeEventListener("abort", onInterrupt);
    return notStarted(problem);
  };

  const api = { fetch: doFetch, retry, timeoutMs: 30_000, onWait, signal: halt.signal };
  const opened = await provider.open({
    env: options.env,
    api,
    // Where the cycle's listing stands, or (before its first page, or once it is complete) where it opens again.
    resumeFrom: checkpoint ? (checkpoint.cycle.usersCursor ?? checkpoint.listingStart) : undefined,
    pageSize: options.pageSize,
    stateDir: checkpointDir,
    choices: options.choices ?? {},
    note: (message) => progress.note(message),
    now,
  });
  if (!opened.ok) return notStartedAfterAll(opened.problem);
  const listing = opened.source;

  const settings: CheckpointSettings = { source: listing.identity, orqUrl: config.orq.baseUrl, mapping: mappingFingerprint(mapping, deletions) };
  let store: BackfillStore;
  if (checkpoint) {
    const mismatch = settingsMismatch(checkpoint.settings, settings);
    if (mismatch) return notStartedAfterAll(`${file} was made against ${mismatch}; run with --restart to start over`);
    const pages = await loadPages(pagesFile, checkpoint.cycle);
    if (!pages.ok) return notStartedAfterAll(pages.problem);
    store = createCycleStore(pagesFile, { pages: pages.pages, work: checkpoint.work });
    progress.note(`Resuming from ${file}: ${doneBefore} users already done (saved ${checkpoint.savedAt}).`);
  } else {
    if (!dryRun) await removePages(pagesFile);
    store = createCycleStore(dryRun ? undefined : pagesFile);
  }
  progress.setTotal(listing.total);

  const cycle: Cycle =
    checkpoint?.cycle ??
    newCycle({ id: `${startedAt.toString(36)}-${randomUUID().slice(0, 8)}`, provider: provider.name, trigger: "cli", dryRun, confirmDeletes: options.confirmDeletes ?? false, startedAt });
  // Confirming on a resumed run counts: the limit is checked once the listing is complete.
  if (options.confirmDeletes) cycle.confirmDeletes = true;
  const failures: FailedUser[] = checkpoint ? [...checkpoint.failures] : [];
  let liveFailureLines = 0;
  const checkpointStartedAt = checkpoint?.startedAt ?? new Date(startedAt).toISOString();
  const listingStart = checkpoint ? checkpoint.listingStart : listing.start;

  let lastSavedAt = now();
  const save = async (): Promise<void> => {
    if (dryRun) return;
    lastSavedAt = now();
    const snapshot: Checkpoint = {
      version: CHECKPOINT_VERSION,
      provider: provider.name,
      settings,
      startedAt: checkpointStartedAt,
      savedAt: new Date(now()).toISOString(),
      deletions,
      ...(listingStart !== undefined && { listingStart }),
      cycle,
      work: store.pending(),
      failures: failures.slice(0, MAX_RECORDED_FAILURES),
    };
    await saveCheckpoint(file, snapshot);
  };

  const recordFailure = (userId: string, reason: string): void => {
    if (failures.length < MAX_RECORDED_FAILURES) failures.push({ userId, reason });
    if (liveFailureLines++ < LIVE_FAILURE_LINES) progress.note(`failed  ${userId}: ${reason}`);
  };

  const verbs = dryRun
    ? { create: "would create", update: "would update", delete: "would delete" }
    : { create: "created", update: "updated", delete: "deleted" };
  const onUser = (event: UserEvent): void => {
    switch (event.kind) {
      case "invalid":
        recordFailure(event.userId, event.reason);
        break;
      case "unchanged":
        if (options.verbose) progress.note(`${"unchanged".padEnd(12)}  ${event.externalId}`, print);
        break;
      case "create":
      case "update":
      case "delete": {
        // A failed write was reported, with its reason, by the write itself.
        if (event.outcome !== "dry_run" && event.outcome !== "recorded") break;
        if (!dryRun && !options.verbose && event.kind !== "delete") break;
        const detail = event.fields ? `  (${event.fields.join(", ")})` : "";
        progress.note(`${verbs[event.kind].padEnd(12)}  ${event.externalId}${detail}`, print);
        break;
      }
      case "kept":
        if (options.verbose) progress.note(`kept          ${event.externalId}: ${provider.name} still has ${event.userId}`);
        break;
      case "held_back":
        if (options.verbose) progress.note(`held back     ${event.externalId}: its ${provider.name} user cannot be told from it`);
        break;
    }
    progress.update(outcomeCounts(cycle));
  };

  const orqContext: OrqContext = {
    orq: createOrqClient({ baseUrl: config.orq.baseUrl, apiKey, timeoutMs: config.orq.timeoutMs, fetch: doFetch }),
    budgets: createOrqBudgetsClient({ baseUrl: config.orq.baseUrl, apiKey, timeoutMs: config.orq.timeoutMs, fetch: doFetch }),
    list: { baseUrl: config.orq.baseUrl, apiKey, timeoutMs: config.orq.timeoutMs, fetch: doFetch, signal: halt.signal, includeBudget: config.mapping.budgets !== undefined },
    gate: createRateLimitGate(now),
    retry,
    signal: halt.signal,
    onWait,
  };

  // Each call waits and retries as a CLI can; one that still fails stops the run (the engine,
  // its chunk aborted, keeps the cycle where it was, to resume from the checkpoint).
  const io: ReconcileIo = {
    async listOwned(cursor) {
      const page = await listOwnedPage(orqContext, provider.name, cursor);
      if (page.ok) {
        if (page.next === null) progress.note(`orq.ai holds ${cycle.counts.owned_seen + page.identities.length} identities tagged ${provider.name}; comparing each ${provider.name} user with them.`);
        return page;
      }
      if (!page.interrupted) stopWith(`orq.ai identities list: ${page.reason}`);
      return { ok: false, kind: "failed", retryable: false, authProblem: false, reason: page.reason, requests: 1 };
    },
    async listUsers(cursor) {
      const page = await listing.listPage(cursor);
      if (page.ok) {
        if (page.warning) progress.note(`Warning: ${page.warning}`);
        return page;
      }
      if (!page.interrupted) stopWith(page.reason);
      return { ok: false, reason: page.reason, retryable: false, requests: 0 };
    },
    async confirmGone(userId) {
      const answer = await listing.confirmGone(userId);
      if (answer.ok) return answer;
      if (!answer.interrupted) stopWith(`confirming the deletion of ${userId}: ${answer.reason}`);
      return { ok: false, reason: answer.reason, retryable: false, requests: 0 };
    },
    apply: (userId, change, orqHolds) =>
      writeChange(orqContext, change, orqHolds, (reason) => recordFailure(userId, reason)).catch((error: unknown) => {
        const gaveUp = error as Partial<GaveUp>;
        if (gaveUp.interrupted !== true) stopWith(typeof gaveUp.reason === "string" ? gaveUp.reason : `writing ${userId}: ${String(error)}`);
        throw error;
      }),
    now,
    onUser,
  };
  const context: ReconcileContext = {
    source: provider.source,
    mapping,
    maxDeletes: config.reconcile.maxDeletes,
    deletions,
    confirmDeletesHint: "run again with --delete --confirm-deletes",
  };
  // One listing request per chunk, and at most a few hundred writes: between chunks the cycle is
  // consistent, so that is where the checkpoint is saved.
  const limits: ChunkLimits = { subrequests: 1, applies: Math.max(100, concurrency * 25), maxFailures: MAX_FAILURES, concurrency, signal: halt.signal };

  if (cycle.phase === "owned") progress.note(`Listing the identities tagged ${provider.name} in orq.ai…`);
  // A function, so the type-checker does not take the phase for fixed while runChunk changes it.
  const over = () => cycle.phase === "done";
  while (!over() && !halt.signal.aborted) {
    const result = await runChunk(cycle, store, io, context, limits);
    if (result.state === "wait" && !halt.signal.aborted) {
      onWait(result.waitMs, cycle.lastFailure ?? "retrying");
      await sleep(result.waitMs, halt.signal);
    }
    if (!over() && (store.pending().length === 0 || now() - lastSavedAt >= (options.checkpointEveryMs ?? 2_000))) await save();
  }
  options.signal?.removeEventListener("abort", onInterrupt);

  let status: BackfillStatus;
  let reason: string | undefined;
  const complete = cycle.phase === "done" && cycle.error === undefined;
  if (complete) status = "completed";
  else if (stopReason !== undefined) [status, reason] = ["stopped", stopReason];
  else if (cycle.phase !== "done") [status, reason] = ["interrupted", "interrupted"];
  // The engine ended the cycle itself (an unexpected error, again and again): nothing to resume.
  else [status, reason] = ["stopped", cycle.error];

  const counts = outcomeCounts(cycle);
  const heldBack = cycle.counts.deletions_held_back;
  if (complete && heldBack > 0) {
    progress.note(
      deletions
        ? `Deletions held back: ${cycle.heldBack ?? `${heldBack} identities`}.`
        : `${heldBack} identities tagged ${provider.name} in orq.ai belong to no listed user; none was deleted (a backfill deletes only with --delete).`,
    );
  }
  progress.finish(counts);
  const elapsedMs = now() - startedAt;
  const doneThisRun = totalOf(counts) - doneBefore;
  let checkpointFile: string | undefined;
  if (cycle.phase === "done" || dryRun) {
    // A dry run keeps no checkpoint, so nothing it downloaded could be resumed from.
    if (!dryRun) await Promise.all([removeCheckpoint(file), removePages(pagesFile)]);
    await listing.cleanUp?.();
  } else {
    await save();
    checkpointFile = file;
  }

  const usersPerSecond = elapsedMs > 0 ? (doneThisRun * 1000) / elapsedMs : 0;
  const verb = dryRun ? "would " : "";
  const summary =
    `backfill ${provider.name}${dryRun ? " (dry run)" : ""}: ${status}` +
    ` · ${verb}create ${counts.created} · ${verb}update ${counts.updated} · unchanged ${counts.unchanged} · failed ${counts.failed}` +
    (deletions ? ` · ${verb}delete ${cycle.counts.deleted}${heldBack > 0 ? ` · deletions held back ${heldBack}` : ""}` : "") +
    ` · ${doneThisRun} users in ${formatDuration(elapsedMs)} (${usersPerSecond.toFixed(1)} users/s)` +
    (dryRun ? " · nothing was written" : "");
  for (const failure of failures.slice(0, 20)) progress.note(`failed  ${failure.userId}: ${failure.reason}`);
  if (failures.length > 20) progress.note(`… and ${counts.failed - 20} more failed users`);
  if (reason) progress.note(`Stopped: ${reason}`);
  if (checkpointFile) progress.note(`Checkpoint saved to ${checkpointFile}: run the same command again to resume.`);
  print(summary);

  return {
    status,
    dryRun,
    counts,
    total: listing.total,
    doneThisRun,
    elapsedMs,
    usersPerSecond,
    failures,
    cycle,
    summary,
    ...(reason !== undefined && { reason }),
    ...(checkpointFile !== undefined && { checkpointFile }),
  };
}

/** The four counts the progress display and summary show, from the engine's. */
function outcomeCounts(cycle: Cycle): OutcomeCounts {
  const { created, updated, unchanged, failed } = cycle.counts;
  return { created, updated, unchanged, failed };
}

function notStarted(problem: string): BackfillResult {
  return { status: "not_started", problem };
}

/** The mapping settings that shape identities, and what a deletion does when the run deletes. */
function mappingFingerprint(mapping: MappingOptions, deletions: boolean): unknown {
  const { tags, metadataKeys, externalIdSource, externalIdPrefix, onDelete } = mapping;
  return { tags, metadataKeys, externalIdSource, externalIdPrefix, ...(deletions && { onDelete }) };
}

/** `--restart`: the checkpoint and whatever was kept beside it (the listed pages, an export file). */
async function removeProviderState(dir: string, provider: string): Promise<void> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(entries.filter((name) => name === `${provider}.json` || name.startsWith(`${provider}-`)).map((name) => rm(join(dir, name), { force: true })));
}
