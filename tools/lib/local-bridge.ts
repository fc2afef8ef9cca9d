/**
 * The bridge under a real `wrangler dev`, delivering to an orq.ai emulator in this process, for
 * `npm run chaos` and `npm run load`: start both, sign and send webhooks over keep-alive HTTP,
 * and read the memory of the workerd process that runs the bridge.
 *
 * Node-only (node:http, /proc): never import it from src/.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { Agent, request } from "node:http";
import { startOrqEmulator, type OrqEmulator } from "../../emulator/orq-emulator";
import { freePort, launchWranglerDev, startDevServer, type DevServer } from "./dev-server";
import { DEV_SECRETS } from "../../signing/dev-secrets";
import { SAMPLE_PROVIDERS, loadFixture, type SampleEvent } from "../../signing/sample-webhooks";
import type { ChaosFixtures, ChaosProvider } from "./chaos-plan";

export { sleep } from "./dev-server";

export interface LocalBridge {
  bridgeUrl: string;
  /** wrangler's DevTools port for the bridge's isolate (see inspector.ts). */
  inspectorPort: number;
  emulator: OrqEmulator;
  server: DevServer;
  close(): Promise<void>;
}

/** The emulator first (quiet: thousands of requests), then wrangler dev pointed at it with `vars` on top of the dev secrets. */
export async function startLocalBridge(vars: Record<string, string>, onOutput?: (chunk: string) => void): Promise<LocalBridge> {
  const emulator = await startOrqEmulator({ port: 0, quiet: true });
  try {
    const inspectorPort = await freePort();
    const server = await startDevServer({ orqUrl: emulator.url, vars: { ...DEV_SECRETS, ...vars }, startTimeoutMs: 180_000, inspectorPort, onOutput });
    return {
      bridgeUrl: server.url,
      inspectorPort,
      emulator,
      server,
      close: async () => {
        await server.close();
        await emulator.close();
      },
    };
  } catch (error) {
    await emulator.close();
    throw error;
  }
}

/** The no-op Hono Worker of `npm run bench` (reads the request, answers 200): the control for memory and throughput. */
export const NOOP_WORKER_DIR = new URL("../../bench/noop-worker/", import.meta.url);

/**
 * Any Worker folder under plain `wrangler dev` (wrangler's own state folder and .dev.vars), up once
 * `readyPath` answers 200; close() stops its whole process group.
 */
export async function startPlainWranglerDev(dir: URL, readyPath: string): Promise<{ url: string; inspectorPort: number; close(): Promise<void> }> {
  if (!existsSync(new URL("wrangler.toml", dir))) throw new Error(`no wrangler.toml in ${dir.pathname}`);
  const inspectorPort = await freePort();
  const started = await launchWranglerDev({ label: `wrangler dev in ${dir.pathname}`, cwd: dir.pathname, port: await freePort(), inspectorPort, readyPath, timeoutMs: 180_000 });
  if (!started.ok) throw started.error;
  return { url: started.wrangler.url, inspectorPort, close: started.wrangler.stop };
}

export function loadChaosFixtures(): ChaosFixtures {
  const events: SampleEvent[] = ["user.created", "user.updated", "user.deleted"];
  const load = (provider: ChaosProvider) => Object.fromEntries(events.map((event) => [event, loadFixture(provider, event)]));
  return { clerk: load("clerk"), auth0: load("auth0") } as ChaosFixtures;
}

/** Headers authenticating `body` as the provider sends it, signed now (Svix timestamps must be fresh). */
export function signNow(provider: ChaosProvider, body: string, eventId: string): Record<string, string> {
  const spec = SAMPLE_PROVIDERS[provider];
  return spec.sign(body, { eventId, now: Date.now(), secret: DEV_SECRETS[spec.secretBinding] });
}

export interface Answer {
  status: number;
  body: string;
  ms: number;
}

/** POSTs over a keep-alive pool; a network error is status 0 with the error as the body. */
export function createPoster(baseUrl: string, connections: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const base = new URL(baseUrl);
  function post(path: string, headers: Record<string, string>, body: string): Promise<Answer> {
    const started = performance.now();
    return new Promise((resolve) => {
      const req = request(
        { host: base.hostname, port: base.port, path, method: "POST", agent, headers: { ...headers, "content-length": Buffer.byteLength(body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), ms: performance.now() - started }));
          res.on("error", (error) => resolve({ status: 0, body: error.message, ms: performance.now() - started }));
        },
      );
      req.setTimeout(60_000, () => req.destroy(new Error("no answer within 60 s")));
      req.on("error", (error) => resolve({ status: 0, body: error.message, ms: performance.now() - started }));
      req.end(body);
    });
  }
  return { post, close: () => agent.destroy() };
}

/** Runs `work` over `items`, `limit` at a time, in order of start. */
export async function inParallel<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index]!, index);
      }
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Memory of the workerd process(es) wrangler dev started: found through the process tree, not by name
// ---------------------------------------------------------------------------------------------------------------

interface ProcessInfo {
  pid: number;
  ppid: number;
  name: string;
}

function readProcesses(): ProcessInfo[] {
  const processes: ProcessInfo[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid …": comm may contain spaces and parentheses, so split at the last ')'.
      const close = stat.lastIndexOf(")");
      const name = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      processes.push({ pid: Number(entry), ppid, name });
    } catch {
      // exited meanwhile
    }
  }
  return processes;
}

/** workerd processes below this Node process (wrangler dev → workerd). */
export function workerdDescendants(root = process.pid): number[] {
  const all = readProcesses();
  const below = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const info of all) {
      if (!below.has(info.pid) && below.has(info.ppid)) {
        below.add(info.pid);
        grew = true;
      }
    }
  }
  return all.filter((info) => info.pid !== root && below.has(info.pid) && info.name === "workerd").map((info) => info.pid);
}

export interface Rss {
  pids: number[];
  /** VmRSS, MiB: everything resident. */
  mib: number;
  /** RssAnon, MiB: heap and other private memory (what a leak grows). */
  anonMib: number;
  /** RssFile + RssShmem, MiB: mapped files (SQLite databases and their WAL) and shared memory. */
  fileMib: number;
}

/** The kB figures of /proc/<pid>/status we report, in MiB; undefined when the process is gone. */
function memoryOf(pid: number): { rss: number; anon: number; file: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
    return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") + kb("RssShmem") };
  } catch {
    return undefined;
  }
}

/**
 * `wrangler dev` runs two workerd processes: the Worker's own (started with `--inspector-addr`)
 * and wrangler's proxy (its ProxyWorker and InspectorProxyWorker, no Worker code), measured apart.
 */
export function workerdMemory(): { worker: Rss; wrangler: Rss } {
  const pids = workerdDescendants();
  const isWorker = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("--inspector-addr");
    } catch {
      return false;
    }
  };
  return { worker: rssOf(pids.filter(isWorker)), wrangler: rssOf(pids.filter((pid) => !isWorker(pid))) };
}

function rssOf(pids: number[]): Rss {
  const total: Rss = { pids, mib: 0, anonMib: 0, fileMib: 0 };
  for (const pid of pids) {
    const memory = memoryOf(pid);
    if (!memory) continue;
    total.mib += memory.rss;
    total.anonMib += memory.anon;
    total.fileMib += memory.file;
  }
  return total;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

