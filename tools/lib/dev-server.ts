/**
 * The bridge under a real `wrangler dev`, for end-to-end tests over HTTP, and small helpers to
 * watch the orq.ai emulator. Each server runs in a fresh temp dir holding a snapshot of the Worker's
 * sources (so edits made while tests run do not make wrangler rebuild and reload under them), its
 * Durable Object state (so runs never share state) and an empty env file (so a developer's
 * .dev.vars never leaks into tests).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEV_SECRETS } from "../../signing/dev-secrets";

// biome-ignore lint: JSON answers are free-form
export type Json = any;

const PROJECT_DIR = fileURLToPath(new URL("../../", import.meta.url));
const WRANGLER = join(PROJECT_DIR, "node_modules", ".bin", "wrangler");
const MAX_LOG_CHARS = 200_000;
/** What `wrangler dev` needs to build the Worker; node_modules is linked, not copied. */
const SNAPSHOT = ["src", "wrangler.toml", "package.json", "tsconfig.json"];

/** What the shared test bridge is configured with (besides ORQ_API_URL). */
export const TEST_BRIDGE_VARS = {
  ...DEV_SECRETS,
  ORQ_TAGS: "node-e2e",
  ORQ_METADATA_KEYS: "plan,department",
  ADMIN_TOKEN: "dev-only-admin-token-for-the-status-page",
} as const;

export interface DevServerOptions {
  /** The orq.ai (emulator) base URL the bridge delivers to. */
  orqUrl: string;
  /** Env bindings; default TEST_BRIDGE_VARS. */
  vars?: Record<string, string>;
  /** How long to wait for `/health`; default 120 s (a cold start on a loaded 2-core machine can take a while). */
  startTimeoutMs?: number;
  /** Called with every chunk wrangler and workerd print (the logs() tail is bounded). */
  onOutput?: (chunk: string) => void;
  /** wrangler's inspector (DevTools) port; default 0, any free one. */
  inspectorPort?: number;
}

export interface DevServer {
  url: string;
  port: number;
  /** wrangler's and workerd's output so far (the tail, when long). */
  logs(): string;
  /** Stops wrangler and everything it started (the whole process group) and removes the temp dir. */
  close(): Promise<void>;
}

/** A port that was free a moment ago (wrangler needs a number; a clash is retried by startDevServer). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const dir = mkdtempSync(join(tmpdir(), "orq-bridge-wrangler-dev-"));
  const envFile = join(dir, "empty.env");
  let lastError: Error | undefined;
  try {
    writeFileSync(envFile, "");
    snapshotProject(join(dir, "app"));
    for (let attempt = 1; attempt <= 3; attempt++) {
      const port = await freePort();
      const started = await startOnce(port, dir, envFile, options);
      if (started.ok) return started.server;
      lastError = started.error;
      if (!started.retry) break;
      console.warn(`wrangler dev did not start (attempt ${attempt} of 3); retrying.\n${started.error.message}`);
    }
  } catch (error) {
    lastError = error as Error;
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError ?? new Error("wrangler dev did not start");
}

function snapshotProject(target: string): void {
  for (const entry of SNAPSHOT) {
    const source = join(PROJECT_DIR, entry);
    if (existsSync(source)) cpSync(source, join(target, entry), { recursive: true });
  }
  symlinkSync(join(PROJECT_DIR, "node_modules"), join(target, "node_modules"), "dir");
}

type StartResult = { ok: true; server: DevServer } | { ok: false; retry: boolean; error: Error };

async function startOnce(port: number, dir: string, envFile: string, options: DevServerOptions): Promise<StartResult> {
  const started = await launchWranglerDev({
    label: "wrangler dev",
    cwd: join(dir, "app"),
    port,
    inspectorPort: options.inspectorPort,
    stateDir: join(dir, "state"),
    envFile,
    vars: { ...(options.vars ?? TEST_BRIDGE_VARS), ORQ_API_URL: options.orqUrl },
    readyPath: "/health",
    timeoutMs: options.startTimeoutMs ?? 120_000,
    onOutput: options.onOutput,
  });
  // A port taken meanwhile, or a transient crash (esbuild has been seen to panic on a loaded machine): try again.
  if (!started.ok) return { ok: false, retry: started.exited, error: started.error };
  const { wrangler } = started;
  return {
    ok: true,
    server: {
      url: wrangler.url,
      port,
      logs: wrangler.logs,
      close: async () => {
        await wrangler.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// One `wrangler dev` process (the bridge here; the benchmark's Workers and plain Worker folders too)
// ---------------------------------------------------------------------------------------------------------------

export interface WranglerDevLaunch {
  /** Names the Worker in error messages. */
  label: string;
  /** The folder holding wrangler.toml. */
  cwd: string;
  port: number;
  /** wrangler's inspector (DevTools) port; default 0, any free one. */
  inspectorPort?: number;
  /** `--persist-to`: where Durable Object state lives; default wrangler's own (.wrangler/state in cwd). */
  stateDir?: string;
  /** `--env-file`; default wrangler's own (.dev.vars in cwd). */
  envFile?: string;
  vars?: Record<string, string>;
  /** GET path answering 200 once the Worker is up. */
  readyPath: string;
  timeoutMs: number;
  /** Called with every chunk wrangler and workerd print (logs() keeps a bounded tail). */
  onOutput?: (chunk: string) => void;
  /** The tail kept for logs(); default 200,000 characters. */
  maxLogChars?: number;
}

export interface WranglerDev {
  url: string;
  /** The process group's id (wrangler's pid), for reading its CPU time; undefined if the spawn failed. */
  pid: number | undefined;
  /** wrangler's and workerd's output so far (the tail, when long). */
  logs(): string;
  /** Stops wrangler and everything it started (the whole process group). */
  stop(): Promise<void>;
}

/**
 * Starts `wrangler dev` in its own process group (detached), so stop() ends wrangler and its
 * workerd children together, and waits until `readyPath` answers 200. Its output is always drained
 * (a full pipe would block workerd's logging and stall the Worker). If this process exits without
 * stop(), the group is killed. One attempt: `exited` says wrangler died before it was ready (a port
 * taken meanwhile, a transient crash), which a caller may retry on another port.
 */
export async function launchWranglerDev(launch: WranglerDevLaunch): Promise<{ ok: true; wrangler: WranglerDev } | { ok: false; exited: boolean; error: Error }> {
  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(launch.port),
    "--inspector-port",
    String(launch.inspectorPort ?? 0),
    ...(launch.stateDir ? ["--persist-to", launch.stateDir] : []),
    ...(launch.envFile ? ["--env-file", launch.envFile] : []),
    "--show-interactive-dev-session=false",
    ...Object.entries(launch.vars ?? {}).flatMap(([key, value]) => ["--var", `${key}:${value}`]),
  ];
  const child = spawn(WRANGLER, args, {
    cwd: launch.cwd,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  const maxLogChars = launch.maxLogChars ?? MAX_LOG_CHARS;
  let log = "";
  const append = (chunk: Buffer) => {
    launch.onOutput?.(chunk.toString("utf8"));
    log += chunk.toString("utf8");
    if (log.length > maxLogChars) log = log.slice(-maxLogChars);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.once("error", (error) => append(Buffer.from(`\n[spawn error] ${error.message}\n`)));
  // If this process dies without calling stop(), do not leave wrangler running.
  const killOnExit = () => killGroup(child, "SIGKILL");
  process.once("exit", killOnExit);
  const stop = async () => {
    process.off("exit", killOnExit);
    await stopGroup(child, exited);
  };

  const url = `http://127.0.0.1:${launch.port}`;
  const deadline = Date.now() + launch.timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      return { ok: false, exited: true, error: new Error(`${launch.label} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${excerpt(log)}`) };
    }
    try {
      const response = await fetch(`${url}${launch.readyPath}`, { signal: AbortSignal.timeout(5_000) });
      await response.body?.cancel();
      if (response.status === 200) return { ok: true, wrangler: { url, pid: child.pid, logs: () => log, stop } };
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  await stop();
  return { ok: false, exited: false, error: new Error(`${launch.label}: no 200 on ${launch.readyPath} within ${launch.timeoutMs} ms:\n${excerpt(log)}`) };
}

/** Sends `signal` to a detached child's whole process group. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** SIGTERM to the group, SIGKILL after 5 s; then SIGKILL again for any straggler (workerd) left in the group. */
async function stopGroup(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    killGroup(child, "SIGTERM");
    const timer = setTimeout(() => killGroup(child, "SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
  killGroup(child, "SIGKILL");
}

/** The start and the end of a long log: a crash's cause is at the top of its dump, the last words at the bottom. */
function excerpt(text: string, lines = 30): string {
  const all = text.split("\n");
  if (all.length <= 2 * lines) return text;
  return [...all.slice(0, lines), `… (${all.length - 2 * lines} lines) …`, ...all.slice(-lines)].join("\n");
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------------------------
// Polling and the emulator's control API
// ---------------------------------------------------------------------------------------------------------------

/**
 * Polls `probe` until it returns something other than undefined, and returns that. Generous by
 * default (deliveries normally take ~100 ms; a loaded CI machine can be far slower).
 */
export async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, { timeoutMs = 30_000, intervalMs = 100 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    await sleep(intervalMs);
  }
}

async function emulatorGet(orqUrl: string, path: string): Promise<Json | null> {
  const response = await fetch(`${orqUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`emulator GET ${path}: ${response.status}`);
  return response.json();
}

/** The identity the emulator holds for an external id, or null. */
export function orqIdentity(orqUrl: string, externalId: string): Promise<Json | null> {
  return emulatorGet(orqUrl, `/__emulator/identities/${encodeURIComponent(externalId)}`);
}

/** Writes (POST/PATCH/DELETE) the emulator received for one external id, oldest first. */
export async function orqWrites(orqUrl: string, externalId: string): Promise<Json[]> {
  const answer = await emulatorGet(orqUrl, `/__emulator/requests?external_id=${encodeURIComponent(externalId)}`);
  return (answer?.requests ?? []).filter((request: Json) => request.method !== "GET");
}

/** Waits until the emulator holds an identity for `externalId` that satisfies `matches`. */
export function waitForIdentity(orqUrl: string, externalId: string, matches: (identity: Json) => boolean = () => true): Promise<Json> {
  return waitFor(async () => {
    const identity = await orqIdentity(orqUrl, externalId);
    return identity && matches(identity) ? identity : undefined;
  }, `orq.ai to hold a matching identity ${externalId}`);
}

/** Waits until the emulator no longer holds `externalId`. */
export function waitForNoIdentity(orqUrl: string, externalId: string): Promise<true> {
  return waitFor(async () => ((await orqIdentity(orqUrl, externalId)) === null ? true : undefined), `orq.ai to drop ${externalId}`);
}

/** A unique user id per test, so tests never share an identity in the shared emulator and bridge. */
export function uniqueId(prefix: string): string {
  return `${prefix}${randomUUID().replaceAll("-", "").slice(0, 20)}`;
}
