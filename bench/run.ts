/**
 * `npm run bench`: bundle size, ingest throughput and latency, time to land and the hot path of
 * the bridge, each next to a baseline measured in the same run (a no-op Hono Worker, the
 * documented glue built on the official SDKs in bench/peer-official-sdk, and `standardwebhooks`).
 * Prints the report and writes it to BENCHMARKS.md between its `bench:begin`/`bench:end` markers
 * (the hand-written findings around them are kept).
 *
 * Knobs (environment): BENCH_DURATION_S (seconds per ingest measurement, default 10),
 * BENCH_WARMUP_S (default 3), BENCH_BURST (signups in the time-to-land burst, default 1000),
 * BENCH_ORQ_LATENCY_MS (latency added in front of the emulator for section 2b, default 100; 0 skips it),
 * BENCH_BRIDGE_DIR (measure a copy of the bridge instead of this checkout: a folder with src/,
 * wrangler.toml, package.json, tsconfig.json and node_modules, e.g. a symlink to this one's),
 * BENCH_STATE_DIR (where Durable Object state goes; default /dev/shm when present),
 * BENCH_OUTPUT (write the report there instead of BENCHMARKS.md).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { DEV_SECRETS } from "../signing/dev-secrets";
import { measureBundle, type BundleSize } from "./lib/bundle";
import { startEmulator, type EmulatorHandle } from "./lib/emulator";
import { measureHotPath, type HotPathResult } from "./lib/hot-path";
import { measureHotPathInWorkerd, type WorkerdHotPathResult } from "./lib/hot-path-workerd";
import { runLoad } from "./lib/load";
import { describeMachine } from "./lib/machine";
import { BENCH_DIR, BRIDGE_DIR, NOOP_DIR, PEER_DIR, PROJECT_DIR } from "./lib/paths";
import { renderReport, writeReport, type Report, type TargetName } from "./lib/report";
import { createClerkSigner, type ClerkSigner } from "./lib/signed-clerk";
import { measureTimeToLand, type TimeToLandResult } from "./lib/time-to-land";
import { STATE_ROOT, startWorker, type RunningWorker, type WorkerSpec } from "./lib/wrangler-dev";

const DURATION_S = numberFromEnv("BENCH_DURATION_S", 10);
const WARMUP_S = numberFromEnv("BENCH_WARMUP_S", 3);
const BURST = numberFromEnv("BENCH_BURST", 1000);
/** The extra measurement with a remote orq.ai's latency added in front of the emulator; 0 skips it. */
const ORQ_LATENCY_MS = numberFromEnv("BENCH_ORQ_LATENCY_MS", 100, { allowZero: true });
const CONCURRENCIES = [1, 16] as const;
const ROUTE = "/webhooks/clerk";
const SECRET = DEV_SECRETS.CLERK_WEBHOOK_SIGNING_SECRET;
/** How long to wait for the bridge's delivery backlog after a run before moving on. */
const DRAIN_WAIT_S = 60;
const OUTPUT = process.env.BENCH_OUTPUT ? join(process.env.BENCH_OUTPUT) : join(PROJECT_DIR, "BENCHMARKS.md");

function numberFromEnv(name: string, fallback: number, { allowZero = false } = {}): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !allowZero)) throw new Error(`${name} must be a ${allowZero ? "non-negative" : "positive"} number, got ${JSON.stringify(raw)}`);
  return value;
}

const startedAt = Date.now();
const step = (message: string) => console.log(`[bench +${Math.round((Date.now() - startedAt) / 1000)}s] ${message}`);

function theCommand(): string {
  const overrides = ["BENCH_DURATION_S", "BENCH_WARMUP_S", "BENCH_BURST", "BENCH_ORQ_LATENCY_MS", "BENCH_BRIDGE_DIR", "BENCH_STATE_DIR", "BENCH_OUTPUT"]
    .filter((name) => process.env[name])
    .map((name) => `${name}=${process.env[name]} `)
    .join("");
  return `${overrides}${process.env.npm_lifecycle_event === "bench" ? "npm run bench" : "npx tsx bench/run.ts"}`;
}

// ---------------------------------------------------------------------------------------------------------------
// The three Workers under test (plus the hot-path Worker), each from a snapshot of its sources
// ---------------------------------------------------------------------------------------------------------------

const bridgeNodeModules = existsSync(join(BRIDGE_DIR, "node_modules")) ? join(BRIDGE_DIR, "node_modules") : join(PROJECT_DIR, "node_modules");
const rootNodeModules = join(PROJECT_DIR, "node_modules");

const specs = {
  bridge: {
    label: "bridge",
    files: ["src", "wrangler.toml", "package.json", "tsconfig.json"].map((entry) => [join(BRIDGE_DIR, entry), entry] as const),
    nodeModules: bridgeNodeModules,
    readyPath: "/health",
  },
  noop: {
    label: "noop",
    files: [[join(NOOP_DIR, "src"), "src"], [join(NOOP_DIR, "wrangler.toml"), "wrangler.toml"]],
    nodeModules: rootNodeModules,
    readyPath: "/health",
  },
  peer: {
    label: "peer",
    files: ["src", "wrangler.toml", "package.json"].map((entry) => [join(PEER_DIR, entry), entry] as const),
    nodeModules: join(PEER_DIR, "node_modules"),
    readyPath: "/health",
  },
  hotPath: {
    label: "hot-path",
    files: [
      [join(BRIDGE_DIR, "src"), "src"],
      [join(BENCH_DIR, "hot-path-worker", "src"), "bench/hot-path-worker/src"],
      [join(BENCH_DIR, "hot-path-worker", "wrangler.toml"), "bench/hot-path-worker/wrangler.toml"],
    ],
    workDir: "bench/hot-path-worker",
    nodeModules: rootNodeModules,
    readyPath: "/health",
  },
} satisfies Record<string, WorkerSpec>;

/** Installs the peer's own dependencies (never into the bridge's node_modules). */
async function ensurePeerInstalled(): Promise<string | undefined> {
  const marker = join(PEER_DIR, "node_modules", "@orq-ai", "node", "package.json");
  if (existsSync(marker) && existsSync(join(PEER_DIR, "node_modules", "@clerk", "backend", "package.json"))) return undefined;
  step("installing the peer's dependencies (bench/peer-official-sdk, --legacy-peer-deps)");
  try {
    await promisify(execFile)("npm", ["install", "--prefix", PEER_DIR, "--legacy-peer-deps", "--no-audit", "--no-fund"], {
      cwd: PEER_DIR,
      maxBuffer: 16 * 1024 * 1024,
    });
    return existsSync(marker) ? undefined : "npm install finished but @orq-ai/node is missing";
  } catch (error) {
    return `npm install failed: ${(error as Error).message.split("\n").slice(0, 3).join(" ")}`;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Ingest
// ---------------------------------------------------------------------------------------------------------------

/** Rough 2xx/s of each target, from its warm-ups, to size the pre-signed pools. */
const observedRate = new Map<string, number>();

async function measureIngest(target: TargetName, worker: RunningWorker, connections: number, signer: ClerkSigner, emulator: EmulatorHandle) {
  const prefix = `user_${target}_c${connections}_${Date.now()}_`;
  const warmPool = signer.many(`${prefix}warm_`, Math.ceil((observedRate.get(target) ?? 1500) * WARMUP_S * 1.5) + 100);
  const warm = await runLoad({ url: worker.url, path: ROUTE, connections, durationS: WARMUP_S, pool: warmPool, signer, spillPrefix: `${prefix}warmspill_` });
  observedRate.set(target, Math.max(observedRate.get(target) ?? 0, warm.okPerSecond));
  if (target === "bridge") await waitForDrain(emulator);

  // Pre-sign enough distinct requests for the timed run (2x the warm-up rate, plus a margin).
  const pool = signer.many(prefix, Math.ceil(observedRate.get(target)! * DURATION_S * 2) + 500);
  const baseline = (await emulator.stats()).identities;
  const cpuBefore = worker.cpuSeconds();
  const result = await runLoad({ url: worker.url, path: ROUTE, connections, durationS: DURATION_S, pool, signer, spillPrefix: `${prefix}spill_` });
  observedRate.set(target, Math.max(observedRate.get(target)!, result.okPerSecond));
  let drainS: number | undefined;
  if (target === "bridge") drainS = await waitForDrain(emulator, baseline + result.ok);
  // CPU per accepted request; for the bridge it includes delivering the backlog (its alarms).
  const cpuAfter = worker.cpuSeconds();
  const perOk = (seconds: number) => (result.ok > 0 ? (seconds * 1000) / result.ok : undefined);
  const cpuMsPerOk = perOk(cpuAfter.workerd - cpuBefore.workerd);
  const allCpuMsPerOk = perOk(cpuAfter.all - cpuBefore.all);
  step(
    `  ${target} c=${connections}: ${result.okPerSecond.toFixed(0)} 2xx/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, failed ${result.failed}, ` +
      `CPU per 2xx ${cpuMsPerOk?.toFixed(2) ?? "n/a"} ms workerd, ${allCpuMsPerOk?.toFixed(2) ?? "n/a"} ms all${drainS === undefined ? "" : `, backlog delivered ${drainS.toFixed(1)} s after the run`}`,
  );
  return { result, drainS, cpuMsPerOk, allCpuMsPerOk };
}

/**
 * Waits until the emulator holds `expected` identities (or, without `expected`, until its request
 * count stops moving), so that the bridge's background deliveries of one run do not slow the next
 * measurement. Returns the seconds waited (Infinity when it gave up).
 */
async function waitForDrain(emulator: EmulatorHandle, expected?: number): Promise<number> {
  const started = Date.now();
  const deadline = started + DRAIN_WAIT_S * 1000;
  let last = -1;
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    const stats = await emulator.stats();
    if (expected !== undefined && stats.identities >= expected) return (Date.now() - started) / 1000;
    if (stats.requests !== last) {
      last = stats.requests;
      stableSince = Date.now();
    } else if (expected === undefined && Date.now() - stableSince > 1_000) {
      return (Date.now() - started) / 1000;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Number.POSITIVE_INFINITY;
}

// ---------------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const machine = describeMachine(BRIDGE_DIR);
  step(`${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, wrangler ${machine.wrangler}, load ${machine.loadAtStart.toFixed(2)}`);
  const notes: string[] = [];
  if (STATE_ROOT) notes.push(`Durable Object state (\`--persist-to\`) is kept under ${STATE_ROOT}: on this VM's disk every SQLite commit of \`wrangler dev\` waits for the disk, a local-dev artefact that swung the bridge's figures 3-5x between runs.`);
  if (BRIDGE_DIR !== PROJECT_DIR) notes.push(`The bridge measured is the copy in ${BRIDGE_DIR} (BENCH_BRIDGE_DIR).`);
  const signer = createClerkSigner(SECRET);

  const peerProblem = await ensurePeerInstalled();
  if (peerProblem) notes.push(`The peer could not be installed, so it is not measured: ${peerProblem}`);

  // Hot path in Node first, while nothing else of ours runs.
  step("hot path in Node (tsx)");
  const hotPathNode: HotPathResult = await measureHotPath(signer, SECRET);

  step("bundles (wrangler deploy --dry-run) and starting the orq.ai emulator and four `wrangler dev`s");
  const emulator = await startEmulator();
  const orqVars = { ORQ_API_KEY: DEV_SECRETS.ORQ_API_KEY, ORQ_API_URL: emulator.url };
  const bundleTargets = [specs.bridge, specs.noop, ...(peerProblem ? [] : [specs.peer])];
  const [bundles, workers] = await Promise.all([
    Promise.allSettled(bundleTargets.map((spec) => measureBundle(spec))),
    Promise.allSettled([
      startWorker({ ...specs.noop }),
      startWorker({ ...specs.bridge, vars: { ...DEV_SECRETS, ...orqVars } }),
      peerProblem ? Promise.reject(new Error(peerProblem)) : startWorker({ ...specs.peer, vars: { CLERK_WEBHOOK_SIGNING_SECRET: SECRET, ...orqVars } }),
      startWorker({ ...specs.hotPath, vars: { CLERK_WEBHOOK_SIGNING_SECRET: SECRET } }),
    ]),
  ]);
  const bundleSizes: Partial<Record<TargetName, BundleSize>> = {};
  bundles.forEach((outcome, index) => {
    const label = bundleTargets[index]!.label as TargetName;
    if (outcome.status === "fulfilled") bundleSizes[label] = outcome.value;
    else notes.push(`Bundle of ${label} failed: ${String(outcome.reason).split("\n")[0]}`);
  });
  const [noop, bridge, peer, hotPathWorker] = workers.map((outcome, index) => {
    if (outcome.status === "fulfilled") return outcome.value;
    const label = ["noop", "bridge", "peer", "hot-path"][index];
    if (!(label === "peer" && peerProblem)) notes.push(`wrangler dev for ${label} did not start: ${String(outcome.reason).split("\n")[0]}`);
    return undefined;
  });
  if (!bridge || !noop) throw new Error(`cannot measure without the bridge and the no-op Worker:\n${notes.join("\n")}`);

  let hotPathWorkerd: WorkerdHotPathResult | undefined;
  if (hotPathWorker) {
    step("hot path in workerd");
    try {
      hotPathWorkerd = await measureHotPathInWorkerd(hotPathWorker.url, signer);
    } catch (error) {
      notes.push(`Hot path in workerd failed: ${(error as Error).message.split("\n")[0]}`);
    }
    await hotPathWorker.close();
  }

  const targets = { noop, peer, bridge } satisfies Record<TargetName, RunningWorker | undefined>;
  const ingest: Report["ingest"] = [];
  for (const connections of CONCURRENCIES) {
    step(`ingest at concurrency ${connections} (${WARMUP_S} s warm-up + ${DURATION_S} s each)`);
    // Interleaved by concurrency, so slow drift of the shared machine affects the compared figures alike.
    for (const target of ["noop", "peer", "bridge"] as const) {
      const worker = targets[target];
      if (!worker) continue;
      ingest.push({ target, connections, orqLatencyMs: 0, ...(await measureIngest(target, worker, connections, signer, emulator)) });
    }
  }

  if (ORQ_LATENCY_MS > 0 && peer) {
    await emulator.setLatency(ORQ_LATENCY_MS);
    for (const connections of CONCURRENCIES) {
      step(`ingest at concurrency ${connections} with ${ORQ_LATENCY_MS} ms added in front of the orq.ai emulator`);
      for (const [target, worker] of [["peer", peer], ["bridge", bridge]] as const) {
        ingest.push({ target, connections, orqLatencyMs: ORQ_LATENCY_MS, ...(await measureIngest(target, worker, connections, signer, emulator)) });
      }
    }
    await emulator.setLatency(0);
    await waitForDrain(emulator);
  }

  step(`time to land: a burst of ${BURST} distinct signups at concurrency 16`);
  const timeToLand: TimeToLandResult = await measureTimeToLand({ bridgeUrl: bridge.url, emulator, signer, signups: BURST, connections: 16, waitS: 90 });

  for (const worker of [noop, peer, bridge]) await worker?.close();
  await emulator.close();

  const report: Report = {
    machine,
    command: theCommand(),
    elapsedS: (Date.now() - startedAt) / 1000,
    durationS: DURATION_S,
    warmupS: WARMUP_S,
    bundles: bundleSizes,
    ingest,
    timeToLand,
    hotPathNode,
    hotPathWorkerd,
    notes,
  };
  const markdown = renderReport(report);
  console.log(`\n${markdown}`);
  writeReport(OUTPUT, markdown);
  step(`written to ${OUTPUT}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
