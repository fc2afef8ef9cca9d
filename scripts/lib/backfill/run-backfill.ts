/**
 * The backfill itself, as a function the CLI (scripts/backfill.ts) and the tests call: list every
 * user of a provider, page by page, and make orq.ai hold what the webhooks would have given it.
 *
 * Resumable: a checkpoint records the page cursor and how many users of that page are done; a
 * re-run continues there (pages before it are not listed again). Users are synced a few at a time
 * (`concurrency`), in listing order, so whatever is interrupted, the done users form an unbroken
 * prefix of the listing and the checkpoint is exact.
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { parseConfig } from "../../../src/config";
import { createOrqClient } from "../../../src/deliver/orq-client";
import type { MappingOptions } from "../../../src/identity/to-orq-identity";
import {
  MAX_RECORDED_FAILURES,
  checkpointPath,
  loadCheckpoint,
  removeCheckpoint,
  saveCheckpoint,
  settingsMismatch,
  totalOf,
  zeroCounts,
  type Checkpoint,
  type CheckpointSettings,
  type FailedUser,
  type OutcomeCounts,
} from "./checkpoint";
import { createProgress, formatDuration, type ProgressSink } from "./progress";
import { backfillProviders } from "./providers";
import { DEFAULT_RETRY_POLICY, createRateLimitGate, type RetryPolicy } from "./rate-limit";
import { backfillUser, type UserOutcome, type UserSyncContext } from "./sync-user";
import type { UserPage } from "./user-source";

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

export async function runBackfill(options: BackfillOptions): Promise<BackfillResult> {
  const now = options.now ?? Date.now;
  const dryRun = options.dryRun ?? false;
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const sink = options.progress ?? { write: (text: string) => process.stderr.write(text), isTTY: process.stderr.isTTY };
  const concurrency = Math.min(Math.max(1, Math.floor(options.concurrency ?? DEFAULT_CONCURRENCY)), MAX_CONCURRENCY);
  const checkpointDir = options.checkpointDir ?? ".backfill";
  const retry = options.retry ?? DEFAULT_RETRY_POLICY;
  const doFetch = options.fetch ?? fetch;

  const provider = backfillProviders.find((candidate) => candidate.name === options.provider);
  if (!provider) return notStarted(`unknown provider "${options.provider}"; one of ${backfillProviders.map((p) => p.name).join(", ")}`);

  // The bridge's own configuration: the same variables give the same mapping as the webhooks.
  const config = parseConfig(options.env);
  const orqProblems = config.problems.filter((problem) => problem.variable.startsWith("ORQ_") && problem.variable !== "ORQ_API_KEY");
  if (orqProblems.length > 0) return notStarted(orqProblems.map((problem) => `${problem.variable} ${problem.problem}`).join("; "));
  const apiKey = config.orq.apiKey;
  if (!apiKey) return notStarted("ORQ_API_KEY is not set");
  const mapping = config.mapping;

  const file = checkpointPath(checkpointDir, provider.name);
  if (options.restart && !dryRun) await removeProviderState(checkpointDir, provider.name);
  const loaded = dryRun || options.restart ? ({ kind: "none" } as const) : await loadCheckpoint(file);
  if (loaded.kind === "unreadable") return notStarted(loaded.problem);
  const checkpoint = loaded.kind === "found" ? loaded.checkpoint : undefined;

  const startedAt = now();
  const progress = createProgress({
    sink,
    label: provider.name + (dryRun ? " (dry run)" : ""),
    dryRun,
    doneBefore: checkpoint ? totalOf(checkpoint.counts) : 0,
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
  const api = { fetch: doFetch, retry, timeoutMs: 30_000, onWait, ...(options.signal && { signal: options.signal }) };

  const opened = await provider.open({
    env: options.env,
    api,
    resumeFrom: checkpoint?.position.cursor,
    pageSize: options.pageSize,
    stateDir: checkpointDir,
    choices: options.choices ?? {},
    note: (message) => progress.note(message),
    now,
  });
  if (!opened.ok) return notStarted(opened.problem);
  const source = opened.source;

  const settings: CheckpointSettings = { source: source.identity, orqUrl: config.orq.baseUrl, mapping: mappingFingerprint(mapping) };
  if (checkpoint) {
    const mismatch = settingsMismatch(checkpoint.settings, settings);
    if (mismatch) return notStarted(`${file} was made against ${mismatch}; run with --restart to start over`);
    progress.note(`Resuming from ${file}: ${totalOf(checkpoint.counts)} users already done (saved ${checkpoint.savedAt}).`);
  }
  progress.setTotal(source.total);

  // ---- state: what is committed (an unbroken prefix of the listing) and what is in flight ----
  const committed: OutcomeCounts = checkpoint ? { ...checkpoint.counts } : zeroCounts();
  const failures: FailedUser[] = checkpoint ? [...checkpoint.failures] : [];
  const beyondPrefix = zeroCounts(); // finished users after a gap in the current page (not yet committed)
  let position: Checkpoint["position"] = checkpoint?.position ?? { cursor: undefined, skip: 0 };
  let liveFailureLines = 0;
  const checkpointStartedAt = checkpoint?.startedAt ?? new Date(startedAt).toISOString();

  const liveCounts = (): OutcomeCounts => ({
    created: committed.created + beyondPrefix.created,
    updated: committed.updated + beyondPrefix.updated,
    unchanged: committed.unchanged + beyondPrefix.unchanged,
    failed: committed.failed + beyondPrefix.failed,
  });

  let saving = Promise.resolve();
  let lastSavedAt = now();
  const save = (): Promise<void> => {
    if (dryRun) return Promise.resolve();
    lastSavedAt = now();
    const snapshot: Checkpoint = {
      version: 1,
      provider: provider.name,
      settings,
      startedAt: checkpointStartedAt,
      savedAt: new Date(now()).toISOString(),
      position: { ...position },
      counts: { ...committed },
      failures: failures.slice(0, MAX_RECORDED_FAILURES),
    };
    // Chained: two saves never write the same temporary file at once.
    saving = saving.then(() => saveCheckpoint(file, snapshot));
    return saving;
  };

  const report = (outcome: UserOutcome): void => {
    if (outcome.kind === "failed") {
      if (liveFailureLines++ < LIVE_FAILURE_LINES) progress.note(`failed  ${outcome.userId}: ${outcome.reason}`);
      return;
    }
    if (outcome.kind === "stopped") return;
    const verb = dryRun ? { created: "would create", updated: "would update", unchanged: "unchanged" } : { created: "created", updated: "updated", unchanged: "unchanged" };
    const show = outcome.kind === "unchanged" ? options.verbose : dryRun || options.verbose;
    if (!show) return;
    const detail = outcome.kind === "updated" ? `  (${outcome.fields.join(", ")})` : "";
    progress.note(`${verb[outcome.kind].padEnd(12)}  ${outcome.externalId}${detail}`, print);
  };

  const syncContext: UserSyncContext = {
    provider,
    mapping,
    orq: createOrqClient({ baseUrl: config.orq.baseUrl, apiKey, timeoutMs: config.orq.timeoutMs, fetch: doFetch }),
    read: { baseUrl: config.orq.baseUrl, apiKey, timeoutMs: config.orq.timeoutMs, fetch: doFetch, ...(options.signal && { signal: options.signal }) },
    gate: createRateLimitGate(now),
    retry,
    dryRun,
    now,
    onWait,
    ...(options.signal && { signal: options.signal }),
  };

  /** Syncs one page from `skip`, `concurrency` users at a time; returns why it stopped early, if it did. */
  async function syncPage(page: UserPage, skip: number): Promise<string | undefined> {
    let next = skip;
    let prefix = skip;
    let stopReason: string | undefined;
    const finished = new Map<number, UserOutcome>();

    const commit = (outcome: UserOutcome) => {
      if (outcome.kind === "stopped") return;
      committed[outcome.kind]++;
      beyondPrefix[outcome.kind]--;
      if (outcome.kind === "failed" && failures.length < MAX_RECORDED_FAILURES) failures.push({ userId: outcome.userId, reason: outcome.reason });
    };

    const worker = async () => {
      while (stopReason === undefined && next < page.users.length) {
        if (options.signal?.aborted) {
          stopReason = "interrupted";
          return;
        }
        const index = next++;
        const outcome = await backfillUser(page.users[index], syncContext);
        if (outcome.kind === "stopped") {
          stopReason ??= outcome.reason;
          return;
        }
        beyondPrefix[outcome.kind]++;
        finished.set(index, outcome);
        report(outcome);
        for (let done = finished.get(prefix); done; done = finished.get(prefix)) {
          commit(done);
          finished.delete(prefix);
          prefix++;
        }
        position = { cursor: page.cursor, skip: prefix };
        progress.update(liveCounts());
        if (now() - lastSavedAt >= (options.checkpointEveryMs ?? 2_000)) void save();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    // Users finished after a gap are not in the checkpoint: the resumed run does them again.
    for (const outcome of finished.values()) if (outcome.kind !== "stopped") beyondPrefix[outcome.kind]--;
    position = { cursor: page.cursor, skip: prefix };
    return stopReason;
  }

  // ---- the listing, one page ahead of the syncing ----
  let status: BackfillStatus = "completed";
  let reason: string | undefined;
  const pages = source.pages();
  let upcoming = pages.next();
  let skip = position.skip;
  for (;;) {
    const step = await upcoming;
    if (step.done) break;
    const page = step.value;
    if (!page.ok) {
      status = page.interrupted ? "interrupted" : "stopped";
      reason = page.reason;
      break;
    }
    upcoming = pages.next();
    // Settled here too, so a listing failure while the last page syncs is never an unhandled rejection.
    upcoming.catch(() => undefined);
    position = { cursor: page.cursor, skip };
    const stopped = await syncPage(page, skip);
    if (stopped !== undefined) {
      status = stopped === "interrupted" ? "interrupted" : "stopped";
      reason = stopped;
      break;
    }
    // After the last page the cursor stays on it, every user done: resuming there lists it once more and skips it.
    position = page.next ? { cursor: page.next, skip: 0 } : { cursor: page.cursor, skip: page.users.length };
    skip = 0;
    await save();
  }
  void pages.return(undefined).catch(() => undefined);

  const counts = liveCounts();
  progress.finish(counts);
  const elapsedMs = now() - startedAt;
  const doneThisRun = totalOf(counts) - (checkpoint ? totalOf(checkpoint.counts) : 0);
  let checkpointFile: string | undefined;
  if (status === "completed" || dryRun) {
    // A dry run keeps no checkpoint, so nothing it downloaded could be resumed from.
    if (!dryRun) await removeCheckpoint(file);
    await source.cleanUp?.();
  } else {
    await save();
    await saving;
    checkpointFile = file;
  }

  const usersPerSecond = elapsedMs > 0 ? (doneThisRun * 1000) / elapsedMs : 0;
  const verb = dryRun ? "would " : "";
  const summary =
    `backfill ${provider.name}${dryRun ? " (dry run)" : ""}: ${status}` +
    ` · ${verb}create ${counts.created} · ${verb}update ${counts.updated} · unchanged ${counts.unchanged} · failed ${counts.failed}` +
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
    total: source.total,
    doneThisRun,
    elapsedMs,
    usersPerSecond,
    failures,
    summary,
    ...(reason !== undefined && { reason }),
    ...(checkpointFile !== undefined && { checkpointFile }),
  };
}

function notStarted(problem: string): BackfillResult {
  return { status: "not_started", problem };
}

/** The mapping settings that shape identities (ORQ_ON_DELETE does not: a backfill never deletes). */
function mappingFingerprint(mapping: MappingOptions): unknown {
  const { tags, metadataKeys, externalIdSource, externalIdPrefix } = mapping;
  return { tags, metadataKeys, externalIdSource, externalIdPrefix };
}

/** `--restart`: the checkpoint and whatever the provider's source kept beside it (an export file). */
async function removeProviderState(dir: string, provider: string): Promise<void> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(entries.filter((name) => name === `${provider}.json` || name.startsWith(`${provider}-`)).map((name) => rm(join(dir, name), { force: true })));
}
