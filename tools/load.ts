/**
 * `npm run load -- --seconds 60`: sustained ingest against the bridge under a real `wrangler dev`,
 * at the highest rate this machine holds, delivering to an orq.ai emulator in this process.
 *
 * 1. Calibrate (unless --connections is given): 5 s at 2, 4, 8, 16, 32 concurrent connections;
 *    keep the level with the most 2xx per second and no non-2xx (stop when doubling gains < 5 %).
 * 2. Sustain that level for --seconds: a stream of fresh webhooks, alternating Clerk and Auth0,
 *    60 % creations of new users and 40 % updates of users created earlier, each signed at send time.
 * 3. Wait until every identity has landed in orq.ai with its newest data.
 * 4. Stay idle for --settle seconds and read the memory again (does it come back down?).
 * Reports throughput, latency, answers, time to land, and the RSS of the workerd process running
 * the bridge (found through this process's tree) at the start, every 10 s, at the end and after
 * settling. Exit code 0 only with zero non-2xx answers and every identity landed.
 *
 * --users N caps the number of distinct users: once N exist, every event updates one of them
 * (without the cap every creation adds a Durable Object).
 * Memory: `wrangler dev` runs the Worker in one workerd process and its own proxy in another; both
 * are reported, apart. A DevTools session (tools/lib/inspector.ts) is attached for the whole run:
 * it measures the Worker's JS heap after a full GC at the start and the end, and drains wrangler's
 * buffer of console/network events, which otherwise grows with every request until a DevTools
 * client attaches (--without-devtools shows that).
 * --ramp S sustains the chosen level for S seconds before measuring: every new user is a new
 * Durable Object, kept in memory until idle, so RSS first climbs to the steady number of live
 * objects for that rate (about two minutes here) and the measurement then starts from there.
 * --max-concurrency N sets the bridge's ORQ_MAX_CONCURRENCY (default 50).
 * --control drives the no-op Hono Worker of `npm run bench` (bench/noop-worker: reads the body,
 * answers 200) the same way, Clerk events only: what workerd's memory does under `wrangler dev`
 * with no bridge at all, to compare the bridge's RSS with.
 *
 *   npm run load -- [--seconds 60] [--connections N] [--users N] [--land-timeout 300] [--settle 30] [--control] [--without-devtools] [--max-concurrency N] [--ramp SECONDS]
 */
import { buildPayload, expectedIdentity, matchesExpected, profileFor, seededRandom, type ChaosProvider, type ExpectedIdentity } from "./lib/chaos-plan";
import { parseCommandLine, usageError } from "../cli/lib/args";
import { NOOP_WORKER_DIR, createPoster, loadChaosFixtures, percentile, signNow, sleep, startLocalBridge, startPlainWranglerDev, workerdMemory } from "./lib/local-bridge";
import { attachInspector } from "./lib/inspector";

const USAGE = "Usage: npm run load -- [--seconds 60] [--connections N] [--users N] [--land-timeout 300] [--settle 30] [--control] [--without-devtools] [--max-concurrency N] [--ramp SECONDS]";
const TAGS = ["load"];
const CALIBRATION_LEVELS = [2, 4, 8, 16, 32];
const CALIBRATION_SECONDS = 5;
const WARMUP_SECONDS = 5;

const fail = (message: string): never => usageError(USAGE, message);

function parseCli() {
  const { values } = parseCommandLine(USAGE, {
    args: process.argv.slice(2),
    strict: true,
    options: {
      seconds: { type: "string", default: "60" },
      connections: { type: "string" },
      users: { type: "string" },
      "land-timeout": { type: "string", default: "300" },
      settle: { type: "string", default: "30" },
      control: { type: "boolean", default: false },
      "without-devtools": { type: "boolean", default: false },
      "max-concurrency": { type: "string" },
      ramp: { type: "string", default: "0" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const positive = (raw: string, name: string) => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) fail(`--${name} must be a positive integer`);
    return value;
  };
  return {
    seconds: positive(values.seconds, "seconds"),
    connections: values.connections === undefined ? undefined : positive(values.connections, "connections"),
    users: values.users === undefined ? undefined : positive(values.users, "users"),
    landTimeoutS: positive(values["land-timeout"], "land-timeout"),
    settleS: positive(values.settle, "settle"),
    control: values.control,
    withoutDevtools: values["without-devtools"],
    rampS: values.ramp === "0" ? 0 : positive(values.ramp, "ramp"),
    maxConcurrency: values["max-concurrency"] === undefined ? undefined : positive(values["max-concurrency"], "max-concurrency"),
  };
}

interface UserState {
  provider: ChaosProvider;
  userId: string;
  index: number;
  createdAt: number;
  /** Time of the newest event sent for this user, and what orq.ai must hold after it. */
  newestAt: number;
  expected?: ExpectedIdentity;
}

/** A stream of fresh, distinct webhooks and the state each user must end in. */
function createEventSource(runId: string, maxUsers = Number.POSITIVE_INFINITY, only?: ChaosProvider) {
  const fixtures = loadChaosFixtures();
  const random = seededRandom(Date.now() >>> 0);
  const users: UserState[] = [];
  const byProvider: Record<ChaosProvider, UserState[]> = { clerk: [], auth0: [] };
  // Event times: distinct milliseconds, increasing in the order the events are made.
  let clock = Date.now();
  let sequence = 0;

  return {
    users,
    next(): { provider: ChaosProvider; path: string; eventId: string; body: string } {
      const at = ++clock;
      const step = sequence++;
      const provider: ChaosProvider = only ?? (step % 2 === 0 ? "clerk" : "auth0");
      const existing = byProvider[provider];
      const update = existing.length > 0 && (random() < 0.4 || users.length >= maxUsers);
      let user: UserState;
      if (update) {
        user = existing[Math.floor(random() * existing.length)]!;
      } else {
        const userId = provider === "clerk" ? `user_${runId}_${step}` : `auth0|${runId}_${step}`;
        user = { provider, userId, index: users.length, createdAt: at, newestAt: 0 };
        users.push(user);
        existing.push(user);
      }
      const profile = profileFor(user.index, step, random);
      const eventId = `${provider === "clerk" ? "msg" : "evt"}_${runId}_${step}`;
      const event = update ? "user.updated" : "user.created";
      const body = JSON.stringify(buildPayload(fixtures, provider, event, { userId: user.userId, eventId, at, createdAt: user.createdAt, profile }));
      if (at > user.newestAt) {
        user.newestAt = at;
        user.expected = expectedIdentity(provider, user.userId, user.createdAt, profile, TAGS);
      }
      return { provider, path: `/webhooks/${provider}`, eventId, body };
    },
  };
}

interface RunResult {
  connections: number;
  seconds: number;
  ok: number;
  failed: number;
  statuses: Record<string, number>;
  latencies: number[];
}

/** Closed loop: `connections` senders, each posting the next event as soon as the previous answer arrived. */
async function drive(bridgeUrl: string, source: ReturnType<typeof createEventSource>, connections: number, seconds: number, onTick?: () => void): Promise<RunResult> {
  const poster = createPoster(bridgeUrl, connections);
  const result: RunResult = { connections, seconds, ok: 0, failed: 0, statuses: {}, latencies: [] };
  const end = Date.now() + seconds * 1000;
  const ticker = onTick ? setInterval(onTick, 10_000) : undefined;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < end) {
        const event = source.next();
        const answer = await poster.post(event.path, signNow(event.provider, event.body, event.eventId), event.body);
        result.statuses[answer.status] = (result.statuses[answer.status] ?? 0) + 1;
        result.latencies.push(answer.ms);
        if (answer.status >= 200 && answer.status < 300) result.ok++;
        else result.failed++;
      }
    }),
  );
  if (ticker) clearInterval(ticker);
  poster.close();
  result.latencies.sort((a, b) => a - b);
  return result;
}

const rate = (run: RunResult) => run.ok / run.seconds;
const describeRun = (run: RunResult) =>
  `${run.connections} connections: ${rate(run).toFixed(0)} 2xx/s, ${run.failed} non-2xx, ` +
  `latency p50 ${percentile(run.latencies, 50).toFixed(0)} ms, p99 ${percentile(run.latencies, 99).toFixed(0)} ms, max ${(run.latencies.at(-1) ?? 0).toFixed(0)} ms`;

async function main(): Promise<void> {
  const options = parseCli();
  const runId = `load${Date.now().toString(36)}`;
  console.log(options.control ? "starting the no-op control Worker (bench/noop-worker) under wrangler dev …" : "starting the orq.ai emulator and wrangler dev …");
  // Why a request got a 5xx: the bridge logs each one with its reason.
  const serverErrors = new Map<string, number>();
  const collectServerErrors = (chunk: string) => {
    for (const match of chunk.matchAll(/\{"msg":"webhook"[^\n]*"status":5\d\d[^\n]*\}/g)) {
      try {
        const entry = JSON.parse(match[0]) as { outcome?: string; error?: string; detail?: string };
        const key = [entry.outcome, entry.error, entry.detail].filter(Boolean).join(": ");
        serverErrors.set(key, (serverErrors.get(key) ?? 0) + 1);
      } catch {
        // a line split across chunks: not counted
      }
    }
  };
  const target = options.control
    ? await startPlainWranglerDev(NOOP_WORKER_DIR, "/health")
    : await startLocalBridge({ ORQ_TAGS: TAGS.join(","), ...(options.maxConcurrency !== undefined && { ORQ_MAX_CONCURRENCY: String(options.maxConcurrency) }) }, collectServerErrors);
  const targetUrl = "bridgeUrl" in target ? target.bridgeUrl : target.url;
  let passed = false;
  try {
    const source = createEventSource(runId, options.users, options.control ? "clerk" : undefined);
    const memory = () => workerdMemory();
    const before = memory();
    if (before.worker.pids.length === 0) console.log("warning: the Worker's workerd process was not found below this one; RSS cannot be reported");
    console.log(
      `${options.control ? "control" : "bridge"} ${targetUrl} (Worker's workerd pid ${before.worker.pids.join(", ") || "?"}, ` +
        `RSS ${before.worker.mib.toFixed(0)} MiB before any request; wrangler's own workerd ${before.wrangler.mib.toFixed(0)} MiB)`,
    );
    const inspector = options.withoutDevtools ? undefined : await attachInspector(target.inspectorPort).catch((error: Error) => {
      console.log(`warning: no DevTools session (${error.message}); the JS heap is not reported and wrangler's event buffer grows`);
      return undefined;
    });

    await drive(targetUrl, source, 4, WARMUP_SECONDS);
    let connections = options.connections;
    if (connections === undefined) {
      let best: RunResult | undefined;
      for (const level of CALIBRATION_LEVELS) {
        const run = await drive(targetUrl, source, level, CALIBRATION_SECONDS);
        console.log(`  calibration, ${describeRun(run)}`);
        if (run.failed > 0) break;
        if (best && rate(run) < rate(best) * 1.05) break;
        best = run;
      }
      connections = best?.connections ?? CALIBRATION_LEVELS[0]!;
    }

    if (options.rampS > 0) {
      console.log(`ramp: ${connections} connections for ${options.rampS} s before measuring …`);
      console.log(`  ramp, ${describeRun(await drive(targetUrl, source, connections, options.rampS))}; Worker's RSS now ${memory().worker.mib.toFixed(0)} MiB`);
    }
    const heapAtStart = await inspector?.heapAfterGcMiB();
    const start = memory();
    const sample = (label: string, rss: ReturnType<typeof memory>) => `${label}: ${rss.worker.mib.toFixed(0)} MiB (wrangler ${rss.wrangler.mib.toFixed(0)})`;
    const samples = [sample("0 s", start)];
    const loadStarted = Date.now();
    console.log(`sustaining ${connections} connections for ${options.seconds} s (Worker's RSS at start ${start.worker.mib.toFixed(0)} MiB) …`);
    let middle: ReturnType<typeof memory> | undefined;
    const run = await drive(targetUrl, source, connections, options.seconds, () => {
      const now = memory();
      if (middle === undefined && Date.now() - loadStarted >= (options.seconds * 1000) / 2 - 1_000) middle = now;
      samples.push(sample(`${Math.round((Date.now() - loadStarted) / 1000)} s`, now));
      console.log(`  ${samples.at(-1)}`);
    });
    const end = memory();
    samples.push(sample("end", end));
    console.log(`  ${describeRun(run)}`);

    // Every identity lands with its newest data (the control Worker delivers nothing).
    const landStarted = Date.now();
    let missing = 0;
    let orqCalls = 0;
    if ("emulator" in target) {
      missing = source.users.length;
      while (Date.now() - landStarted < options.landTimeoutS * 1000) {
        const identities = new Map(target.emulator.identities().map((identity) => [identity.external_id, identity as unknown]));
        missing = source.users.filter((user) => !matchesExpected(identities.get(user.userId) ?? null, user.expected ?? null)).length;
        if (missing === 0) break;
        await sleep(500);
      }
      orqCalls = target.emulator.requests().filter((entry) => entry.externalId?.includes(runId)).length;
    }
    const landMs = Date.now() - landStarted;
    const afterLanding = memory();
    await sleep(options.settleS * 1000);
    const settled = memory();
    const heapAtEnd = await inspector?.heapAfterGcMiB();
    const droppedEvents = inspector?.events() ?? 0;
    inspector?.close();
    const requests = run.ok + run.failed;

    console.log(`\n── load result${options.control ? " (control: no-op Worker)" : ""} ──────────────────────────────────────────────`);
    console.log(`sustained            ${options.seconds} s at ${connections} connections: ${requests} requests, ${rate(run).toFixed(1)} 2xx/s`);
    console.log(`answers              ${JSON.stringify(run.statuses)} → ${run.failed} non-2xx`);
    console.log(`latency              p50 ${percentile(run.latencies, 50).toFixed(0)} ms, p90 ${percentile(run.latencies, 90).toFixed(0)} ms, p99 ${percentile(run.latencies, 99).toFixed(0)} ms, max ${(run.latencies.at(-1) ?? 0).toFixed(0)} ms`);
    if ("emulator" in target) {
      console.log(`identities           ${source.users.length} users (whole run, warm-up and calibration included); ${missing === 0 ? "all landed with their newest data" : `${missing} NOT landed`} ${seconds(landMs)} after the load stopped; ${orqCalls} orq calls, at most ${target.emulator.stats().maxInFlight} in flight at once (ORQ_MAX_CONCURRENCY ${options.maxConcurrency ?? 50})`);
    }
    const perRequest = (from: number, to: number) => `${(((to - from) * 1024) / Math.max(1, requests)).toFixed(1)} KiB/request`;
    const mib = (value: number | undefined) => (value === undefined ? "?" : value.toFixed(1));
    const worker = (m: typeof start) => m.worker;
    const wrangler = (m: typeof start) => m.wrangler;
    console.log(`Worker's workerd RSS start ${worker(start).mib.toFixed(0)} MiB → end ${worker(end).mib.toFixed(0)} MiB (${perRequest(worker(start).mib, worker(end).mib)}); after landing ${worker(afterLanding).mib.toFixed(0)} MiB, ${options.settleS} s idle later ${worker(settled).mib.toFixed(0)} MiB; ${worker(before).mib.toFixed(0)} MiB before any request`);
    if (middle) console.log(`  second half of the run: ${worker(middle).mib.toFixed(0)} → ${worker(end).mib.toFixed(0)} MiB (${(worker(end).mib - worker(middle).mib).toFixed(0)} MiB)`);
    console.log(`  of which anonymous start ${worker(start).anonMib.toFixed(0)} → end ${worker(end).anonMib.toFixed(0)} MiB; mapped files/shared start ${worker(start).fileMib.toFixed(0)} → end ${worker(end).fileMib.toFixed(0)} MiB`);
    console.log(`JS heap after GC     ${inspector ? `start ${mib(heapAtStart)} MiB → end ${mib(heapAtEnd)} MiB (after settling)` : "not measured (--without-devtools)"}`);
    console.log(
      `wrangler's workerd   start ${wrangler(start).mib.toFixed(0)} MiB → end ${wrangler(end).mib.toFixed(0)} MiB (${perRequest(wrangler(start).mib, wrangler(end).mib)}), ${wrangler(settled).mib.toFixed(0)} MiB settled; ` +
        `wrangler dev's proxy, no Worker code${inspector ? `; ${droppedEvents} DevTools events drained` : "; without a DevTools session it buffers every console and network event"}`,
    );
    console.log(`RSS samples          ${samples.join(", ")}`);
    if (serverErrors.size > 0) console.log(`5xx reasons (logged) ${JSON.stringify(Object.fromEntries(serverErrors))}`);
    console.log(`command              npm run load -- --seconds ${options.seconds} --connections ${connections}${options.users === undefined ? "" : ` --users ${options.users}`}${options.control ? " --control" : ""}${options.withoutDevtools ? " --without-devtools" : ""}${options.maxConcurrency === undefined ? "" : ` --max-concurrency ${options.maxConcurrency}`}${options.rampS > 0 ? ` --ramp ${options.rampS}` : ""}`);
    passed = run.failed === 0 && missing === 0;
  } finally {
    await target.close();
  }
  process.exit(passed ? 0 : 1);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
