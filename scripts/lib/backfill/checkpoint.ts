/**
 * The checkpoint file (`.backfill/<provider>.json`): where listing resumes and what was already
 * done, written atomically after every page, every few seconds within a page, and on Ctrl-C.
 * A completed backfill removes it, so the next run starts from the beginning (and, comparing with
 * orq.ai, writes only what changed).
 */
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
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

export interface Checkpoint {
  version: 1;
  provider: string;
  /**
   * What the run was made against (source account, orq.ai URL, mapping): resuming against
   * something else would mix two backfills, so it is refused.
   */
  settings: CheckpointSettings;
  startedAt: string;
  savedAt: string;
  /** Listing resumes at `cursor`, skipping its first `skip` users (done before the interruption). */
  position: { cursor: Cursor | undefined; skip: number };
  /** Outcomes of every user before `position`. */
  counts: OutcomeCounts;
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
  try {
    const parsed = JSON.parse(text) as Partial<Checkpoint>;
    if (parsed.version !== 1 || !parsed.position || !parsed.counts || !parsed.settings) throw new Error("not a backfill checkpoint");
    return { kind: "found", checkpoint: { failures: [], ...parsed } as Checkpoint };
  } catch (error) {
    return { kind: "unreadable", problem: `${file} is not a backfill checkpoint (${(error as Error).message}); remove it or run with --restart` };
  }
}

/** Written to a temporary file and renamed, so an interruption mid-write never leaves half a checkpoint. */
export async function saveCheckpoint(file: string, checkpoint: Checkpoint): Promise<void> {
  await mkdir(join(file, ".."), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(checkpoint, null, 2)}\n`);
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
