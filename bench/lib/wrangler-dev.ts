/**
 * A Worker under a real `wrangler dev`, for the ingest and time-to-land measurements. Each Worker
 * runs from a snapshot of its sources in a temp dir (edits made meanwhile by others do not make
 * wrangler rebuild mid-measurement), with its Durable Object state there too (`--persist-to`) and
 * an empty env file (a developer's .dev.vars never leaks in). Started by tools/lib/dev-server.ts's
 * launchWranglerDev, as the tests' bridge is.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, launchWranglerDev } from "../../tools/lib/dev-server";
import { makeTempDir, removeTempDir } from "./cleanup";

const MAX_LOG_CHARS = 100_000;

/**
 * Durable Object state goes to tmpfs when the machine has one: on disk, every SQLite commit of
 * `wrangler dev` waits for this VM's disk (an artefact of local dev, not of the Worker), which
 * made the bridge's numbers swing by 3-5x between runs. BENCH_STATE_DIR overrides.
 */
export const STATE_ROOT = process.env.BENCH_STATE_DIR || (existsSync("/dev/shm") ? "/dev/shm" : undefined);

export interface WorkerSpec {
  /** Short label for messages. */
  label: string;
  /** [absolute source, path inside the snapshot] pairs copied into the snapshot. */
  files: ReadonlyArray<readonly [string, string]>;
  /** Folder inside the snapshot holding wrangler.toml, where wrangler runs; default the snapshot root. */
  workDir?: string;
  /** The node_modules the Worker is bundled with, linked (not copied) at the snapshot root. */
  nodeModules: string;
  vars?: Record<string, string>;
  /** GET path answering 200 once the Worker is up. */
  readyPath: string;
}

export interface RunningWorker {
  label: string;
  url: string;
  /** CPU seconds (user + system) used so far by this Worker's workerd processes, and by all of `wrangler dev` (wrangler's Node process too). */
  cpuSeconds(): { workerd: number; all: number };
  /** The tail of wrangler's and workerd's output. */
  logs(): string;
  close(): Promise<void>;
}

/** Copies the Worker's sources into a fresh temp dir (removed on exit); returns it and where to run wrangler. */
export function snapshotWorker(spec: Pick<WorkerSpec, "label" | "files" | "workDir" | "nodeModules">): { dir: string; workDir: string } {
  const dir = makeTempDir(`orq-bench-${spec.label}-`);
  const app = join(dir, "app");
  for (const [source, target] of spec.files) {
    if (existsSync(source)) cpSync(source, join(app, target), { recursive: true });
  }
  symlinkSync(spec.nodeModules, join(app, "node_modules"), "dir");
  return { dir, workDir: join(app, spec.workDir ?? ".") };
}

export async function startWorker(spec: WorkerSpec, startTimeoutMs = 180_000): Promise<RunningWorker> {
  const { dir, workDir } = snapshotWorker(spec);
  const envFile = join(dir, "empty.env");
  writeFileSync(envFile, "");
  const stateDir = STATE_ROOT ? makeTempDir(`orq-bench-${spec.label}-state-`, STATE_ROOT) : join(dir, "state");

  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const started = await startOnce(spec, dir, workDir, envFile, stateDir, await freePort(), startTimeoutMs);
    if (started.ok) {
      const close = started.worker.close;
      return {
        ...started.worker,
        close: async () => {
          await close();
          removeTempDir(stateDir);
        },
      };
    }
    lastError = started.error;
    console.warn(`  ${spec.label}: wrangler dev did not start (attempt ${attempt} of 3)`);
  }
  removeTempDir(dir);
  removeTempDir(stateDir);
  throw lastError ?? new Error(`${spec.label}: wrangler dev did not start`);
}

type StartResult = { ok: true; worker: RunningWorker } | { ok: false; error: Error };

async function startOnce(spec: WorkerSpec, dir: string, workDir: string, envFile: string, stateDir: string, port: number, timeoutMs: number): Promise<StartResult> {
  const started = await launchWranglerDev({ label: spec.label, cwd: workDir, port, stateDir, envFile, vars: spec.vars, readyPath: spec.readyPath, timeoutMs, maxLogChars: MAX_LOG_CHARS });
  if (!started.ok) return started;
  const { wrangler } = started;
  return {
    ok: true,
    worker: {
      label: spec.label,
      url: wrangler.url,
      cpuSeconds: () => (wrangler.pid === undefined ? { workerd: 0, all: 0 } : processGroupCpuSeconds(wrangler.pid)),
      logs: wrangler.logs,
      close: async () => {
        await wrangler.stop();
        removeTempDir(dir);
      },
    },
  };
}

let clockTicks: number | undefined;

/** Sums utime + stime (/proc/<pid>/stat) of the processes in one process group (all, and workerd only); 0 where /proc is missing. */
export function processGroupCpuSeconds(processGroup: number): { workerd: number; all: number } {
  clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  let workerdTicks = 0;
  let allTicks = 0;
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return { workerd: 0, all: 0 };
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp …": comm may hold spaces, so split after its closing parenthesis.
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    if (Number(fields[2]) !== processGroup) continue;
    const ticks = Number(fields[11]) + Number(fields[12]);
    allTicks += ticks;
    if (comm === "workerd") workerdTicks += ticks;
  }
  return { workerd: workerdTicks / clockTicks, all: allTicks / clockTicks };
}
