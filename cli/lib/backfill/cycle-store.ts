/**
 * What the reconcile engine keeps between chunks (its `CycleStore`), for the backfill: in memory,
 * and, unless it is a dry run, beside the checkpoint so an interrupted backfill resumes the same
 * cycle. The owned identities and the listed users' external ids go to `<provider>-pages.ndjson`,
 * one line per listed page, appended as the engine adds them (the Worker keeps one row per page
 * alike); the pending work and the cycle itself go into the checkpoint (checkpoint.ts).
 *
 * A line is kept by its page number, a later line winning: a page listed again after an
 * interruption replaces the one before, and pages beyond the checkpoint's cycle are ignored.
 * The file holds what orq.ai holds (names, email addresses), so only its owner may read it.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Cycle, CycleStore, WorkItem } from "../../../src/reconcile/engine";
import type { OrqIdentity } from "../../../src/reconcile/orq-listing";

type PageLine = { owned: number; identities: OrqIdentity[] } | { seen: number; externalIds: string[] };

export interface BackfillStore extends CycleStore {
  /** Pending work, for the checkpoint. */
  pending(): WorkItem[];
}

export interface StoredPages {
  owned: Map<number, OrqIdentity[]>;
  seen: Map<number, string[]>;
}

export function pagesPath(dir: string, provider: string): string {
  return join(dir, `${provider}-pages.ndjson`);
}

/** `file` undefined: memory only (a dry run). */
export function createCycleStore(file: string | undefined, resumed?: { pages: StoredPages; work: WorkItem[] }): BackfillStore {
  const ownedPages = new Map(resumed?.pages.owned);
  const seenPages = new Map(resumed?.pages.seen);
  let work: WorkItem[] = [...(resumed?.work ?? [])];
  let ownedIndex: Map<string, OrqIdentity> | undefined;
  if (file) mkdirSync(dirname(file), { recursive: true });
  const append = (line: PageLine) => {
    if (file) appendFileSync(file, `${JSON.stringify(line)}\n`, { mode: 0o600 });
  };
  return {
    addOwned(page, identities) {
      ownedPages.set(page, [...identities]);
      ownedIndex = undefined;
      append({ owned: page, identities: [...identities] });
    },
    owned() {
      if (!ownedIndex) {
        ownedIndex = new Map();
        for (const page of [...ownedPages.keys()].sort((a, b) => a - b)) for (const identity of ownedPages.get(page) ?? []) ownedIndex.set(identity.external_id, identity);
      }
      // The engine only reads it.
      return ownedIndex;
    },
    addSeen(page, externalIds) {
      seenPages.set(page, [...externalIds]);
      append({ seen: page, externalIds: [...externalIds] });
    },
    seen() {
      const seen = new Set<string>();
      for (const ids of seenPages.values()) for (const id of ids) seen.add(id);
      return seen;
    },
    setWork(items) {
      work = [...items];
    },
    work: () => [...work],
    pending: () => [...work],
    // Deletions the CLI cannot confirm with a read are never made: no earlier cycle vouches for them.
    previousOrphans: () => new Set<string>(),
  };
}

/** The pages a checkpoint's cycle has listed, or why they cannot be read back. */
export async function loadPages(file: string, cycle: Cycle): Promise<{ ok: true; pages: StoredPages } | { ok: false; problem: string }> {
  const pages: StoredPages = { owned: new Map(), seen: new Map() };
  let text = "";
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") return { ok: false, problem: `cannot read ${file}: ${(error as Error).message}` };
  }
  for (const raw of text.split("\n")) {
    if (!raw.trim()) continue;
    let line: PageLine;
    try {
      line = JSON.parse(raw) as PageLine;
    } catch {
      // A line cut short by a crash mid-write: its page is listed again.
      continue;
    }
    if ("owned" in line && line.owned < cycle.ownedPages) pages.owned.set(line.owned, line.identities);
    if ("seen" in line && line.seen < cycle.usersPages) pages.seen.set(line.seen, line.externalIds);
  }
  if (pages.owned.size < cycle.ownedPages || pages.seen.size < cycle.usersPages) {
    return { ok: false, problem: `${file} lacks pages the checkpoint counts on; run with --restart to start over` };
  }
  return { ok: true, pages };
}

export async function removePages(file: string): Promise<void> {
  await rm(file, { force: true });
}
