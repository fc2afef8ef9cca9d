/**
 * The checkpoint file (`.backfill/<provider>.json`): the reconcile engine's cycle (its phase,
 * cursors and counts) and the differences still to write, written atomically between the engine's
 * chunks after every page, every few seconds within a page, and on Ctrl-C. The pages the cycle
 * listed are kept beside it (cycle-store.ts). A completed backfill removes both, so the next run
 * starts from the beginning (and, comparing with orq.ai, writes only what changed).
 */
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Cycle, WorkItem } from "../../../src/reconcile/engine";
import type { Cursor } from "./user-source";

export interface OutcomeCounts {
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
}

export interface FailedUser {
  userId: string;
  reason: string;
}

export const CHECKPOINT_VERSION = 2;

export interface Checkpoint {
  version: typeof CHECKPOINT_VERSION;
  provider: string;
  /**
   * What the run was made against (source account, orq.ai URL, mapping): resuming against
   * something else would mix two backfills, so it is refused.
   */
  settings: CheckpointSettings;
  startedAt: string;
  savedAt: string;
  /** Whether the run deletes (`--delete`); a checkpoint resumes only the same way. */
  deletions: boolean;
  /** Where the listing opens again from its beginning (an Auth0 export job); see BackfillListing.start. */
  listingStart?: Cursor;
  /** The engine's cycle: phase, the orq.ai and provider cursors, and the counts so far. */
  cycle: Cycle;
  /** Differences (or deletion candidates) planned and not yet written. */
  work: WorkItem[];
  /** The first MAX_RECORDED_FAILURES failed users, for the final report. */
  failures: FailedUser[];
}

export interface CheckpointSettings {
  source: string;
  orqUrl: string;
  mapping: unknown;
}

export const MAX_RECORDED_FAILURES = 1000;

export function checkpointPath(dir: string, provider: string): string {
  return join(dir, `${provider}.json`);
}

export type LoadedCheckpoint = { kind: "none" } | { kind: "found"; checkpoint: Checkpoint } | { kind: "unreadable"; problem: string };

export async function loadCheckpoint(file: string): Promise<LoadedCheckpoint> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { kind: "none" };
    return { kind: "unreadable", problem: `cannot read ${file}: ${(error as Error).message}` };
  }
  let parsed: Partial<Omit<Checkpoint, "version">> & { version?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch (error) {
    return { kind: "unreadable", problem: `${file} is not a backfill checkpoint (${(error as Error).message}); remove it or run with --restart` };
  }
  if (parsed.version === 1) {
    // Before the backfill ran the reconcile engine: its position cannot be carried over.
    return { kind: "unreadable", problem: `${file} was saved by an earlier version of the backfill and cannot be resumed; start over with --restart (users already in orq.ai are found unchanged and cost no write)` };
  }
  if (parsed.version !== CHECKPOINT_VERSION || !parsed.cycle || !Array.isArray(parsed.work) || !parsed.settings) {
    return { kind: "unreadable", problem: `${file} is not a backfill checkpoint; remove it or run with --restart` };
  }
  return { kind: "found", checkpoint: { failures: [], deletions: false, ...parsed } as Checkpoint };
}

/** Written to a temporary file and renamed, so an interruption mid-write never leaves half a checkpoint. */
export async function saveCheckpoint(file: string, checkpoint: Checkpoint): Promise<void> {
  await mkdir(join(file, ".."), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  // It holds the pending identities (names, email addresses): for its owner only.
  await writeFile(temporary, `${JSON.stringify(checkpoint)}\n`, { mode: 0o600 });
  await rename(temporary, file);
}

export async function removeCheckpoint(file: string): Promise<void> {
  await rm(file, { force: true });
}

/** Why a checkpoint cannot be resumed with these settings, or undefined when it can. */
export function settingsMismatch(saved: CheckpointSettings, current: CheckpointSettings): string | undefined {
  if (saved.source !== current.source) return "a different provider account";
  if (saved.orqUrl !== current.orqUrl) return `a different orq.ai URL (${saved.orqUrl})`;
  if (JSON.stringify(saved.mapping) !== JSON.stringify(current.mapping)) return "different mapping settings (ORQ_TAGS, ORQ_METADATA_KEYS, ORQ_EXTERNAL_ID_…)";
  return undefined;
}

export function zeroCounts(): OutcomeCounts {
  return { created: 0, updated: 0, unchanged: 0, failed: 0 };
}

export function totalOf(counts: OutcomeCounts): number {
  return counts.created + counts.updated + counts.unchanged + counts.failed;
}
