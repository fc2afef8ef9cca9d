/**
 * The benchmark's temp dirs and its emulator process are registered here and undone on every way
 * out: normal exit, an exception, Ctrl-C (SIGINT), SIGTERM or SIGHUP (the signal handlers end in
 * process.exit, whose `exit` event also stops every `wrangler dev` that launchWranglerDev started).
 * Child processes are started detached (their own process group), so one kill stops the group.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killGroup } from "../../tools/lib/dev-server";

const groups = new Set<ChildProcess>();
const dirs = new Set<string>();
let installed = false;

export function trackProcessGroup(child: ChildProcess): void {
  installHandlers();
  groups.add(child);
}

export function untrackProcessGroup(child: ChildProcess): void {
  groups.delete(child);
}

/** A fresh temp dir that is removed on exit (or earlier with `removeTempDir`). */
export function makeTempDir(prefix: string, root = tmpdir()): string {
  installHandlers();
  const dir = mkdtempSync(join(root, prefix));
  dirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Synchronous on purpose: it also runs in the `exit` handler, where nothing async completes. */
function cleanUpNow(): void {
  for (const child of groups) killGroup(child, "SIGKILL");
  groups.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  process.on("exit", cleanUpNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      console.error(`\n${signal}: stopping wrangler, workerd and the emulator, removing temp dirs.`);
      cleanUpNow();
      process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
    });
  }
}
