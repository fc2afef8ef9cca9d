/**
 * `npm run scenario`: how the bridge copes with orq.ai's workspace rate limit, an outage and lost answers (issue 10),
 * under a real `wrangler dev` (real alarms, no test shortcuts), against its own orq.ai emulator, over HTTP only.
 *
 *   npm run scenario -- [--rate-limit 300/min] [--rate-limit-mode rolling|bucket] [--rate-limit-headers always|on429|never] [--outage 45s] [--outage-mode 503|drop|hang]
 *                       [--bursts 2] [--burst-gap window|0s] [--lost-answers 0.1] [--drift 100] [--signups N] [--timeout 10m] [--concurrency 16] [--var NAME=VALUE]... [--json] [--check]
 *
 * --drift N (issue 20, self-healing): N Clerk users drift from orq.ai without webhooks (never sent, missed updates,
 * hand edits and deletions in orq.ai, users deleted at Clerk, then a mapping change); one Cron-fired reconcile cycle
 * each; prints what each cycle healed and cost (tools/lib/drift-scenario.ts).
 * Each of --rate-limit, --outage, --lost-answers and --drift selects its scenario; with none of them all four run
 * (100/min, 45 s, 0.1). --rate-limit-mode: "rolling" (default; at most N calls in any 60 s, as orq.ai documents it)
 * or "bucket" (N slots refilled at N/min, the shape the issue's floor formula assumes); the table shows both floors
 * and divides the drain by the floor of the mode that ran. --bursts N (rate limit only; default 1) sends N bursts of
 * --signups new signups to the same bridge, each once the previous one has landed and (--burst-gap window, the
 * default) the emulator's window is empty again, or after a fixed --burst-gap (0s: at once): from the second burst
 * on the bridge knows the limit (issue 19). Each burst is reported on its own: refused share, drain ÷ its floor, and
 * when its refused calls arrived. --signups is the number of distinct Clerk `user.created` signups per scenario (default:
 * 150 for the rate limit, 60 for the outage, 100 for lost answers). Every scenario gets a fresh emulator and
 * `wrangler dev`, so nothing the bridge learned in one carries into the next. --var passes an env binding to the
 * bridge (e.g. --var ORQ_RATE_LIMIT_PER_MINUTE=100). --timeout: how long to wait for identities to land.
 *
 * Prints a table (or JSON with --json) and the command line. Exit 0 after a measuring run, whatever it measured;
 * with --check, exit 1 when a target of issue 10 or 19 is missed: ≤ 5 % of calls refused with 429 (≤ 2 % in a burst
 * after the first), drain ≤ 1.15 × floor,
 * during an outage at most 15 calls per 45 s (rounded up, at least 5), all landed ≤ 15 s after recovery, lost
 * answers converge exactly.
 */
import type { OutageMode, RateLimitHeaders, RateLimitMode } from "../emulator/orq-emulator";
import { parseCommandLine, usageError } from "../cli/lib/args";
import { formatDriftTable, runDriftScenario } from "./lib/drift-scenario";
import { formatTable, misses, runScenarios, type ScenarioSpec } from "./lib/scenario";
import { formatDuration, parseDurationMs, parseRatePerMinute } from "./lib/scenario-units";

const USAGE =
  "Usage: npm run scenario -- [--rate-limit 300/min] [--rate-limit-mode rolling|bucket] [--rate-limit-headers always|on429|never] [--bursts 2] [--burst-gap window|0s] " +
  "[--outage 45s] [--outage-mode 503|drop|hang] " +
  "[--lost-answers 0.1] [--drift 100] [--signups N] [--timeout 10m] [--concurrency 16] [--var NAME=VALUE]... [--json] [--check]";
const HEADER_MODES: readonly string[] = ["always", "on429", "never"];
const OUTAGE_MODES: readonly string[] = ["503", "drop", "hang"];

const fail = (message: string): never => usageError(USAGE, message);

function parseCli(argv: string[]) {
  const { values } = parseCommandLine(USAGE, {
    args: argv,
    strict: true,
    options: {
      "rate-limit": { type: "string" },
      "rate-limit-mode": { type: "string", default: "rolling" },
      "rate-limit-headers": { type: "string", default: "always" },
      bursts: { type: "string", default: "1" },
      "burst-gap": { type: "string", default: "window" },
      outage: { type: "string" },
      "outage-mode": { type: "string", default: "503" },
      "lost-answers": { type: "string" },
      drift: { type: "string" },
      signups: { type: "string" },
      timeout: { type: "string", default: "10m" },
      concurrency: { type: "string", default: "16" },
      var: { type: "string", multiple: true },
      json: { type: "boolean", default: false },
      check: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const all = values["rate-limit"] === undefined && values.outage === undefined && values["lost-answers"] === undefined && values.drift === undefined;
  const signups = values.signups === undefined ? undefined : Number(values.signups);
  if (signups !== undefined && !(Number.isInteger(signups) && signups >= 1 && signups <= 100_000)) fail("--signups must be an integer in 1..100000");
  const timeoutMs = parseDurationMs(values.timeout) ?? fail("--timeout must be a duration (e.g. 10m, 90s)");
  const concurrency = Number(values.concurrency);
  if (!(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 256)) fail("--concurrency must be an integer in 1..256");
  if (!["rolling", "bucket"].includes(values["rate-limit-mode"])) fail("--rate-limit-mode must be rolling or bucket");
  if (!HEADER_MODES.includes(values["rate-limit-headers"])) fail(`--rate-limit-headers must be one of ${HEADER_MODES.join(", ")}`);
  if (!OUTAGE_MODES.includes(values["outage-mode"])) fail(`--outage-mode must be one of ${OUTAGE_MODES.join(", ")}`);
  const bursts = Number(values.bursts);
  if (!(Number.isInteger(bursts) && bursts >= 1 && bursts <= 20)) fail("--bursts must be an integer in 1..20");
  const burstGap = values["burst-gap"] === "window" ? "window" : (parseDurationMs(values["burst-gap"]) ?? fail("--burst-gap must be window or a duration (e.g. 0s, 30s)"));
  const vars: Record<string, string> = {};
  for (const pair of values.var ?? []) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/s.exec(pair) ?? fail(`--var ${pair}: must be NAME=VALUE`);
    vars[match[1]!] = match[2]!;
  }

  const specs: ScenarioSpec[] = [];
  if (all || values["rate-limit"] !== undefined) {
    const ratePerMinute = parseRatePerMinute(values["rate-limit"] ?? "100/min") ?? fail("--rate-limit must be like 300/min or 5/s");
    const mode = values["rate-limit-mode"] as RateLimitMode;
    specs.push({ kind: "rate-limit", ratePerMinute, mode, signups: signups ?? 150, headers: values["rate-limit-headers"] as RateLimitHeaders, timeoutMs, bursts, burstGap });
  }
  if (all || values.outage !== undefined) {
    const outageMs = parseDurationMs(values.outage ?? "45s") ?? fail("--outage must be a duration like 45s");
    if (outageMs < 1_000) fail("--outage must be at least 1s");
    specs.push({ kind: "outage", outageMs, mode: values["outage-mode"] as OutageMode, signups: signups ?? 60, timeoutMs });
  }
  if (all || values["lost-answers"] !== undefined) {
    const share = Number(values["lost-answers"] ?? "0.1");
    if (!(Number.isFinite(share) && share >= 0 && share < 1)) fail("--lost-answers must be a share in 0..1 (below 1)");
    specs.push({ kind: "lost-answers", share, signups: signups ?? 100, timeoutMs });
  }
  const driftUsers = all ? 100 : values.drift === undefined ? undefined : Number(values.drift);
  if (driftUsers !== undefined && !(Number.isInteger(driftUsers) && driftUsers >= 10 && driftUsers <= 10_000)) fail("--drift must be a number of users in 10..10000");
  return { driftUsers, specs, vars, concurrency, json: values.json, check: values.check, timeoutMs };
}

/** The command that repeats this run, every choice spelled out. */
function commandLine(options: ReturnType<typeof parseCli>): string {
  const parts = ["npm run scenario --"];
  if (options.driftUsers !== undefined) parts.push(`--drift ${options.driftUsers}`);
  for (const spec of options.specs) {
    if (spec.kind === "rate-limit") {
      parts.push(`--rate-limit ${spec.ratePerMinute}/min`, `--rate-limit-mode ${spec.mode}`, `--rate-limit-headers ${spec.headers}`);
      if ((spec.bursts ?? 1) > 1) parts.push(`--bursts ${spec.bursts}`, `--burst-gap ${spec.burstGap === "window" || spec.burstGap === undefined ? "window" : `${spec.burstGap / 1000}s`}`);
    }
    if (spec.kind === "outage") parts.push(`--outage ${spec.outageMs / 1000}s`, `--outage-mode ${spec.mode}`);
    if (spec.kind === "lost-answers") parts.push(`--lost-answers ${spec.share}`);
  }
  const counts = new Set(options.specs.map((spec) => spec.signups));
  if (counts.size === 1) parts.push(`--signups ${[...counts][0]}`);
  parts.push(`--timeout ${options.timeoutMs / 1000}s`, `--concurrency ${options.concurrency}`);
  for (const [name, value] of Object.entries(options.vars)) parts.push(`--var ${name}=${value}`);
  if (options.json) parts.push("--json");
  if (options.check) parts.push("--check");
  return parts.join(" ");
}

async function main(): Promise<void> {
  const options = parseCli(process.argv.slice(2));
  const log = options.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  const started = Date.now();
  log(`scenarios: ${options.specs.map((spec) => spec.kind).join(", ")}; each starts its own orq.ai emulator and wrangler dev …`);
  const results = options.specs.length > 0 ? await runScenarios(options.specs, { freshBridge: true, vars: options.vars, concurrency: options.concurrency, log }) : [];
  // Self-healing (issue 20): drift without webhooks, one Cron-fired cycle each, what it healed and cost.
  const drift = options.driftUsers === undefined ? undefined : await runDriftScenario({ kind: "drift", users: options.driftUsers, timeoutMs: options.timeoutMs }, log);
  const missed = misses(results);
  const command = commandLine(options);
  if (options.json) {
    console.log(JSON.stringify({ results, drift, missed, command }, null, 2));
  } else {
    console.log(`\n── scenario results (${formatDuration(Date.now() - started)}) ${"─".repeat(50)}`);
    if (results.length > 0) console.log(formatTable(results));
    if (drift) console.log(`\n${formatDriftTable(drift)}`);
    console.log(`\n${missed.length === 0 ? "all targets met" : `${missed.length} target(s) missed`}${options.check ? "" : " (measuring run: exit 0; --check exits 1 on a miss)"}`);
    console.log(`command: ${command}`);
  }
  const driftWrong = drift?.cycles.some((cycle) => cycle.mismatched > 0 || cycle.healedMs === null) ?? false;
  if (driftWrong) console.log("drift: orq.ai did not equal Clerk after a cycle (see the table)");
  process.exit(options.check && (missed.length > 0 || driftWrong) ? 1 : 0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(2); // not a measurement: the run itself broke
});
