/**
 * The reconcile engine: makes orq.ai equal the provider's users, in bounded chunks.
 *
 * A cycle has three phases, each resumable from a stored cursor:
 * 1. **owned**: list the identities the bridge owns in orq.ai (those carrying the provider's tag,
 *    which the bridge always writes), page by page, and keep them.
 * 2. **users**: list the provider's users page by page; map each one exactly as a webhook would
 *    (listed-user.ts) and compare it with what orq.ai holds (identity-diff.ts). A user who differs
 *    is handed to its own identity object (`apply`), so dedupe, ordering, tombstones, the
 *    scheduler and "2xx = stored" apply unchanged; an unchanged user costs nothing.
 * 3. **deletions**: owned identities no listed user maps to are deletion candidates. Deletions are
 *    the dangerous part (RECONCILE.md, lessons 3): none after a listing that did not complete or
 *    was empty, none when there are more than `maxDeletes` candidates (a circuit breaker the
 *    operator lifts with `confirmDeletes`), and each one confirmed by the provider answering 404
 *    for that user; a candidate whose user id cannot be told from its external id (a changed
 *    ORQ_EXTERNAL_ID_* mapping) is deleted only once it was a candidate of the previous complete cycle too.
 *
 * Every chunk spends at most `limits.subrequests` HTTP requests and `limits.applies` identity-object
 * calls, then stops with its cursor stored: the Worker runs one chunk per Durable Object alarm (a
 * Free-plan invocation allows 50 subrequests), the CLI (`npm run backfill`) one after another. A
 * chunk run twice changes nothing more (alarms are at-least-once): the identity objects dedupe and order.
 *
 * What the runners differ in is theirs to choose, not a second engine: where `apply` sends a
 * difference (the Worker: the user's identity object; the CLI: orq.ai directly), how many go at
 * once (`limits.concurrency`), whether deletions run at all (`context.deletions`), when a chunk is
 * cut short (`limits.signal`), and what they show per user (`io.onUser`).
 */
import { DELETED_TAG, type MappingOptions } from "../identity/to-orq-identity";
import type { IdentityChange, RecordOutcome } from "../record/identity-change";
import { planIdentityWrite, type StoredIdentity } from "./identity-diff";
import { readBudget } from "../deliver/orq-budget-schemas";
import { sameBudget } from "../identity/budget-plan";
import { toListedChange } from "./listed-user";
import type { OrqIdentity, OrqIdentityPage, OrqListFailure } from "./orq-listing";
import type { Cursor, SourceFailure, UserPage, UserSource } from "./user-source";

/**
 * What `apply` answers: the identity object's `reconcile()` outcome (ReconcileOutcome in
 * src/record/identity-sync.ts, spelled out here because that module needs workerd and the engine
 * also runs under Node, in `npm run backfill`; the Worker runner's type-check keeps the two equal).
 */
export type ReconcileOutcome = RecordOutcome | "reasserted" | "unchanged" | "pending" | "failed";

export type CyclePhase = "owned" | "users" | "deletions" | "done";
export type CycleTrigger = "cron" | "admin" | "cli";

export interface CycleCounts {
  users_seen: number;
  owned_seen: number;
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  /** Deletion candidates not deleted: more than the limit, or the listing was empty. */
  deletions_held_back: number;
  /** Candidates the provider still knows (a 200 for the user): kept. */
  kept: number;
  /** Listed users the mapping could not turn into an identity, or an identity object refused. */
  failed: number;
}

/** One difference, as a dry run reports it (no email, no name: ids and field names only). */
export interface DriftSample {
  user_id: string;
  action: "create" | "update" | "delete";
  fields?: string[];
}

export interface Cycle {
  id: string;
  provider: string;
  trigger: CycleTrigger;
  dryRun: boolean;
  confirmDeletes: boolean;
  startedAt: number;
  endedAt?: number;
  phase: CyclePhase;
  counts: CycleCounts;
  /** Why the cycle ended without completing (then it deleted nothing more). */
  error?: string;
  /** Why deletions were held back, when they were. */
  heldBack?: string;
  ownedCursor: string | null;
  ownedPages: number;
  usersCursor: Cursor | null;
  usersPages: number;
  /** Retryable failures in a row; the cycle fails after `limits.maxFailures`. */
  failures: number;
  lastFailure?: string;
  /** HTTP requests and identity-object calls spent so far. */
  requests: number;
  applies: number;
  drift: DriftSample[];
  /** Candidates of this cycle whose user id could not be told (deleted if the next complete cycle lacks them too). */
  orphans?: string[];
}

/** A difference waiting to be handed to its identity object (or, in `deletions`, to be confirmed). */
export type WorkItem =
  | { kind: "apply"; userId: string; change: IdentityChange; orqHolds: StoredIdentity | null; action: "create" | "update"; fields?: string[] }
  | { kind: "delete"; externalId: string; userId: string | null };

/** What a cycle keeps between chunks (Durable Object storage, or memory in the CLI). */
export interface CycleStore {
  addOwned(page: number, identities: readonly OrqIdentity[]): void;
  owned(): Map<string, OrqIdentity>;
  addSeen(page: number, externalIds: readonly string[]): void;
  seen(): Set<string>;
  /** The work of the current page (or the deletion candidates), from `offset` on. */
  setWork(items: readonly WorkItem[]): void;
  work(): WorkItem[];
  /** Candidates whose user id could not be told, from the previous complete cycle. */
  previousOrphans(): Set<string>;
}

/** Not a failure: the call may not go out yet (the workspace's scheduler serves live changes first). */
export interface NotYet {
  ok: false;
  notYet: true;
  reason: string;
  retryAfterMs: number;
  requests: 0;
}

export interface ReconcileIo {
  listOwned(cursor: string | undefined): Promise<OrqIdentityPage | OrqListFailure | NotYet>;
  listUsers(cursor: Cursor | undefined): Promise<UserPage | SourceFailure>;
  confirmGone(userId: string): Promise<{ ok: true; gone: boolean; requests: number } | SourceFailure>;
  /** Hands one difference to the user's identity object (the per-user path). */
  apply(userId: string, change: IdentityChange, orqHolds: StoredIdentity | null): Promise<ReconcileOutcome>;
  now(): number;
  /** Told about every user once it is counted (`cycle.counts` already include it): a runner's progress display. */
  onUser?(event: UserEvent): void;
}

/** What became of one listed user (or one deletion candidate), as `io.onUser` hears it. */
export type UserEvent =
  | { kind: "unchanged"; userId: string; externalId: string }
  /** The mapping could not turn the listed user into an identity (counted as failed). */
  | { kind: "invalid"; userId: string; reason: string }
  /** A difference: what `apply` answered, or `dry_run` when it was only counted. */
  | { kind: "create" | "update" | "delete"; userId: string; externalId: string; fields?: string[]; outcome: ReconcileOutcome | "dry_run" }
  /** A deletion candidate the provider still knows (`kept`), or whose user cannot be told yet (`held_back`). */
  | { kind: "kept" | "held_back"; userId: string | null; externalId: string };

export interface ReconcileContext {
  source: UserSource;
  mapping: MappingOptions;
  /** `RECONCILE_MAX_DELETES`; default: 5 or 2 % of the owned identities, whichever is more. */
  maxDeletes: number | undefined;
  /**
   * false: the deletion phase deletes nothing; its candidates are counted as held back. Default
   * true. (`npm run backfill` deletes only when asked to.)
   */
  deletions?: boolean;
  /** How the operator lifts the deletion limit, for the held-back message; default the admin API's `confirm_deletes`. */
  confirmDeletesHint?: string;
}

export interface ChunkLimits {
  subrequests: number;
  applies: number;
  maxFailures: number;
  /**
   * Differences (and deletions) handed over at once; default 1. With more, a chunk may overshoot
   * `subrequests` by the confirmations in flight.
   */
  concurrency?: number;
  /**
   * Aborted: the chunk stops as if its budget were spent — nothing new starts, what is in flight
   * finishes, a call that fails meanwhile is not counted as a failure — and answers `continue`,
   * with the cycle and store as consistent as after any chunk.
   */
  signal?: AbortSignal;
}

export type ChunkResult =
  | { state: "continue" }
  /** A retryable failure: run the next chunk after `waitMs`. */
  | { state: "wait"; waitMs: number }
  | { state: "done" };

const DRIFT_KEPT = 20;
const BACKOFF_BASE_MS = 2_000;
const BACKOFF_CAP_MS = 5 * 60_000;

export function zeroCounts(): CycleCounts {
  return { users_seen: 0, owned_seen: 0, created: 0, updated: 0, deleted: 0, unchanged: 0, deletions_held_back: 0, kept: 0, failed: 0 };
}

export function newCycle(fields: { id: string; provider: string; trigger: CycleTrigger; dryRun: boolean; confirmDeletes: boolean; startedAt: number }): Cycle {
  return { ...fields, phase: "owned", counts: zeroCounts(), ownedCursor: null, ownedPages: 0, usersCursor: null, usersPages: 0, failures: 0, requests: 0, applies: 0, drift: [] };
}

export function deletionLimit(ownedSeen: number, configured: number | undefined): number {
  return configured ?? Math.max(5, Math.ceil(ownedSeen * 0.02));
}

/** The provider user id an owned identity was made for, when the current mapping can tell. */
export function userIdOf(externalId: string, mapping: MappingOptions): string | null {
  if (mapping.externalIdSource !== "provider_id" || !externalId.startsWith(mapping.externalIdPrefix)) return null;
  const userId = externalId.slice(mapping.externalIdPrefix.length);
  return userId === "" ? null : userId;
}

/**
 * Runs the cycle on until the chunk's budget is spent, the cycle is done, or a retryable failure
 * asks for a wait. Mutates `cycle` (the caller stores it after every chunk).
 */
export async function runChunk(cycle: Cycle, store: CycleStore, io: ReconcileIo, context: ReconcileContext, limits: ChunkLimits): Promise<ChunkResult> {
  let requests = 0;
  let applies = 0;
  const spend = (n: number) => {
    requests += n;
    cycle.requests += n;
  };
  const aborted = () => limits.signal?.aborted === true;
  const failed = (failure: { reason: string; retryable: boolean; retryAfterMs?: number; authProblem?: boolean }): ChunkResult => {
    // Cut short by the runner: the call that failed is tried again in a later chunk.
    if (aborted()) return { state: "continue" };
    cycle.failures++;
    cycle.lastFailure = failure.reason;
    if (!failure.retryable || failure.authProblem || cycle.failures >= limits.maxFailures) {
      finish(cycle, io.now(), failure.retryable && !failure.authProblem ? `${failure.reason} (after ${cycle.failures} attempts)` : failure.reason);
      return { state: "done" };
    }
    const backoff = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (cycle.failures - 1));
    return { state: "wait", waitMs: Math.max(backoff, failure.retryAfterMs ?? 0) };
  };

  while (cycle.phase !== "done") {
    if (aborted()) return { state: "continue" };
    // Work already planned (a page's differences, or deletion candidates) goes first.
    const work = store.work();
    if (work.length > 0) {
      const finished = new Set<number>();
      let next = 0;
      let stop: ChunkResult | undefined;
      // `concurrency` of these take items in order; with one, they are handed over one after another.
      const handOver = async (): Promise<void> => {
        while (stop === undefined && next < work.length && !aborted()) {
          const index = next;
          const item = work[index]!;
          if (item.kind === "apply") {
            if (applies >= limits.applies) return;
            next++;
            applies++;
            cycle.applies++;
            const outcome = await io.apply(item.userId, item.change, item.orqHolds).catch((): ReconcileOutcome | "unreachable" => "unreachable");
            if (outcome === "unreachable") {
              stop ??= failed({ reason: `the identity object of ${item.userId} could not be reached`, retryable: true });
              return;
            }
            countApplied(cycle, item.action, outcome);
            io.onUser?.({ kind: item.action, userId: item.userId, externalId: externalIdOf(item.change), ...(item.fields && { fields: item.fields }), outcome });
          } else {
            if (requests >= limits.subrequests || applies >= limits.applies) return;
            next++;
            const deleted = await deleteCandidate(cycle, store, io, context, item, spend);
            if (deleted !== "ok") {
              stop ??= failed(deleted);
              return;
            }
            applies++;
            cycle.applies++;
          }
          finished.add(index);
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, Math.floor(limits.concurrency ?? 1)) }, handOver));
      store.setWork(finished.size === work.length ? [] : work.filter((_, index) => !finished.has(index)));
      if (stop) return stop;
      if (finished.size < work.length) return { state: "continue" };
      cycle.failures = 0;
      if (cycle.phase === "deletions") finish(cycle, io.now());
      continue;
    }
    if (requests >= limits.subrequests) return { state: "continue" };

    if (cycle.phase === "owned") {
      const page = await io.listOwned(cycle.ownedCursor ?? undefined);
      spend(page.requests);
      if (!page.ok && "notYet" in page) return { state: "wait", waitMs: page.retryAfterMs };
      if (!page.ok) return failed({ ...page, reason: `orq.ai identities list: ${page.reason}` });
      cycle.failures = 0;
      store.addOwned(cycle.ownedPages++, page.identities);
      cycle.counts.owned_seen += page.identities.length;
      cycle.ownedCursor = page.next;
      if (page.next === null) cycle.phase = "users";
      continue;
    }

    if (cycle.phase === "users") {
      const page = await io.listUsers(cycle.usersCursor ?? undefined);
      spend(page.requests);
      if (!page.ok) return failed({ ...page, reason: `${context.source.name} users list: ${page.reason}` });
      cycle.failures = 0;
      const owned = store.owned();
      const seen: string[] = [];
      const items: WorkItem[] = [];
      for (const user of page.users) {
        cycle.counts.users_seen++;
        const listed = toListedChange(context.source, user, context.mapping, io.now());
        if (!listed.ok) {
          cycle.counts.failed++;
          io.onUser?.({ kind: "invalid", userId: listed.userId, reason: listed.reason });
          continue;
        }
        seen.push(listed.externalId);
        const holds = owned.get(listed.externalId);
        const identityPlan = planIdentityWrite(listed.identity, holds);
        // Plan-driven budgets: an identity that is right but whose budget is not counts as an update.
        const plan: typeof identityPlan =
          identityPlan.kind === "unchanged" && holds && budgetDiffers(listed.change.desired, holds) ? { kind: "update", fields: ["budget"] } : identityPlan;
        if (plan.kind === "unchanged") {
          cycle.counts.unchanged++;
          io.onUser?.({ kind: "unchanged", userId: listed.userId, externalId: listed.externalId });
          continue;
        }
        const action = plan.kind === "create" ? "create" : "update";
        const fields = plan.kind === "update" ? plan.fields : undefined;
        sample(cycle, { user_id: listed.userId, action, ...(fields && { fields }) });
        if (cycle.dryRun) {
          cycle.counts[action === "create" ? "created" : "updated"]++;
          io.onUser?.({ kind: action, userId: listed.userId, externalId: listed.externalId, ...(fields && { fields }), outcome: "dry_run" });
          continue;
        }
        const change: IdentityChange = holds ? listed.change : { ...listed.change, type: "created" };
        items.push({ kind: "apply", userId: listed.userId, change, orqHolds: holds ? storedFields(holds) : null, action, ...(fields && { fields }) });
      }
      store.addSeen(cycle.usersPages++, seen);
      cycle.usersCursor = page.next;
      store.setWork(items);
      if (page.next === null) planDeletions(cycle, store, context);
      continue;
    }

    if (cycle.phase === "deletions") {
      // planDeletions left no work: nothing to delete.
      finish(cycle, io.now());
    }
  }
  return { state: "done" };
}

function planDeletions(cycle: Cycle, store: CycleStore, context: ReconcileContext): void {
  cycle.phase = "deletions";
  const seen = store.seen();
  // ORQ_ON_DELETE=ignore leaves orq.ai alone; with `tag`, an identity already tagged deleted is done.
  const { onDelete } = context.mapping;
  if (onDelete === "ignore") return;
  const candidates = [...store.owned()]
    .filter(([externalId, identity]) => !seen.has(externalId) && !(onDelete === "tag" && identity.tags?.includes(DELETED_TAG)))
    .map(([externalId]) => externalId)
    .sort();
  if (candidates.length === 0) return;
  if (context.deletions === false) {
    cycle.counts.deletions_held_back = candidates.length;
    cycle.heldBack = "deletions are off";
    return;
  }
  // An empty listing is never the truth about a user base that has identities (RECONCILE.md).
  if (cycle.counts.users_seen === 0) {
    cycle.counts.deletions_held_back = candidates.length;
    cycle.heldBack = "the provider listed no users at all";
    return;
  }
  const limit = deletionLimit(cycle.counts.owned_seen, context.maxDeletes);
  if (candidates.length > limit && !cycle.confirmDeletes) {
    cycle.counts.deletions_held_back = candidates.length;
    const hint = context.confirmDeletesHint ?? 'run POST /admin/reconcile with "confirm_deletes": true';
    cycle.heldBack = `${candidates.length} deletions exceed RECONCILE_MAX_DELETES (${limit}); ${hint} to go ahead`;
    return;
  }
  // After the last page's own differences, which are still to be handed over.
  store.setWork([...store.work(), ...candidates.map((externalId): WorkItem => ({ kind: "delete", externalId, userId: userIdOf(externalId, context.mapping) }))]);
}

async function deleteCandidate(
  cycle: Cycle,
  store: CycleStore,
  io: ReconcileIo,
  context: ReconcileContext,
  item: Extract<WorkItem, { kind: "delete" }>,
  spend: (n: number) => void,
): Promise<"ok" | { reason: string; retryable: boolean; retryAfterMs?: number; authProblem?: boolean }> {
  let userId = item.userId;
  if (userId !== null) {
    const confirmed = await io.confirmGone(userId);
    spend(confirmed.requests);
    if (!confirmed.ok) return { ...confirmed, reason: `confirming a deletion: ${confirmed.reason}` };
    if (!confirmed.gone) {
      // Listed nowhere, yet the provider knows the user: an identity no current mapping makes. Kept.
      cycle.counts.kept++;
      io.onUser?.({ kind: "kept", userId, externalId: item.externalId });
      return "ok";
    }
  } else if (!store.previousOrphans().has(item.externalId)) {
    // Cannot be confirmed with a read: deleted only when a second complete listing lacks it too.
    cycle.counts.deletions_held_back++;
    cycle.orphans = [...(cycle.orphans ?? []), item.externalId];
    io.onUser?.({ kind: "held_back", userId: null, externalId: item.externalId });
    return "ok";
  }
  userId ??= item.externalId;
  sample(cycle, { user_id: userId, action: "delete" });
  if (cycle.dryRun) {
    cycle.counts.deleted++;
    io.onUser?.({ kind: "delete", userId, externalId: item.externalId, outcome: "dry_run" });
    return "ok";
  }
  const { onDelete } = context.mapping;
  const change: IdentityChange = {
    provider: context.source.name,
    userId,
    eventId: `reconcile-deleted:${cycle.id}`,
    type: "deleted",
    // The listing's time: a webhook that happened after it (the user signed up again) still wins.
    occurredAt: cycle.startedAt,
    desired: onDelete === "tag" ? { kind: "deleted", externalId: item.externalId, onDelete, tags: [...deletedTags(context)] } : { kind: "deleted", externalId: item.externalId, onDelete },
  };
  const outcome = await io.apply(userId, change, null).catch(() => "unreachable" as const);
  if (outcome === "unreachable") return { reason: `the identity object of ${userId} could not be reached`, retryable: true };
  if (outcome === "recorded") cycle.counts.deleted++;
  io.onUser?.({ kind: "delete", userId, externalId: item.externalId, outcome });
  return "ok";
}

function deletedTags(context: ReconcileContext): string[] {
  return [...new Set([context.source.name, ...context.mapping.tags, DELETED_TAG])];
}

function countApplied(cycle: Cycle, action: "create" | "update", outcome: ReconcileOutcome): void {
  if (outcome === "recorded" || outcome === "reasserted") cycle.counts[action === "create" ? "created" : "updated"]++;
  else if (outcome === "failed") cycle.counts.failed++;
  // stale/duplicate/pending/unchanged: a newer event or a delivery under way decides.
  else cycle.counts.unchanged++;
}

function sample(cycle: Cycle, drift: DriftSample): void {
  if (cycle.drift.length < DRIFT_KEPT) cycle.drift.push(drift);
}

function externalIdOf(change: IdentityChange): string {
  return change.desired.kind === "present" ? change.desired.identity.external_id : change.desired.externalId;
}

function storedFields(identity: OrqIdentity): StoredIdentity {
  return {
    display_name: identity.display_name, email: identity.email, avatar_url: identity.avatar_url, tags: identity.tags, metadata: identity.metadata,
    ...(identity.budget !== undefined && { budget: identity.budget }),
  };
}

/** Whether the budget orq.ai lists for the identity is not the one its plan gives (false when budgets were not listed). */
function budgetDiffers(desired: IdentityChange["desired"], holds: OrqIdentity): boolean {
  if (desired.kind !== "present" || desired.budget === undefined || holds.budget === undefined) return false;
  const seen = holds.budget === null ? undefined : readBudget(holds.budget);
  return desired.budget === null ? seen !== undefined : seen === undefined || !sameBudget(desired.budget, seen);
}

function finish(cycle: Cycle, now: number, error?: string): void {
  cycle.phase = "done";
  cycle.endedAt = now;
  if (error !== undefined) cycle.error = error;
}
