/**
 * Runs the local orq.ai identities emulator: point the bridge's ORQ base URL at the printed address.
 *
 *   npx tsx tools/emulator.ts [--port 8788] [--host 127.0.0.1] [--fault-rate 0.3] [--api-key KEY]... [--quiet]
 *                               [--rate-limit 100/min] [--rate-limit-mode rolling|bucket] [--rate-limit-headers always|on429|never]
 *                               [--outage-after 30s] [--outage-for 45s] [--outage-mode 503|drop|hang]
 *
 * --fault-rate R installs one rule for every request: with probability R, answer 500, 502, 503, 429 (Retry-After: 1),
 * hang, or drop the socket (in that order, cycling), so the bridge's retries can be watched under chaos.
 * --rate-limit sets the workspace rate limit (see WorkspaceSettings in emulator/orq-emulator.ts); --outage-after
 * starts an outage that long after the start (default: at once when --outage-for is given), --outage-for ends it
 * after that long (default: it lasts until switched off via PUT /__emulator/workspace {"outage": null}).
 */
import { startOrqEmulator, type FaultRule, type OutageMode, type RateLimitHeaders, type RateLimitMode } from "../emulator/orq-emulator";
import { parseCommandLine, usageError } from "../cli/lib/args";
import { parseDurationMs, parseRatePerMinute } from "./lib/scenario-units";

const USAGE =
  "Usage: npx tsx tools/emulator.ts [--port 8788] [--host 127.0.0.1] [--fault-rate 0..1] [--api-key KEY]... [--quiet] " +
  "[--rate-limit N/min] [--rate-limit-mode rolling|bucket] [--rate-limit-headers always|on429|never] [--outage-after 30s] [--outage-for 45s] [--outage-mode 503|drop|hang]";

interface CliOptions {
  port: number;
  host: string;
  faultRate?: number;
  apiKeys?: string[];
  quiet: boolean;
  rateLimit?: { perMinute: number; mode: RateLimitMode; headers: RateLimitHeaders };
  outage?: { afterMs: number; forMs?: number; mode: OutageMode };
}

const fail = (message: string): never => usageError(USAGE, message);

function parseNumber(raw: string, name: string, min: number, max: number): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < min || value > max) fail(`--${name} must be in ${min}..${max}`);
  return value;
}

function parseCli(argv: string[]): CliOptions {
  const { values } = parseCommandLine(USAGE, {
    args: argv,
    strict: true,
    options: {
      port: { type: "string", default: "8788" },
      host: { type: "string", default: "127.0.0.1" },
      "fault-rate": { type: "string" },
      "api-key": { type: "string", multiple: true },
      quiet: { type: "boolean", default: false },
      "rate-limit": { type: "string" },
      "rate-limit-mode": { type: "string", default: "rolling" },
      "rate-limit-headers": { type: "string", default: "always" },
      "outage-after": { type: "string" },
      "outage-for": { type: "string" },
      "outage-mode": { type: "string", default: "503" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const port = parseNumber(values.port, "port", 0, 65535);
  if (!Number.isInteger(port)) fail("--port must be an integer");
  const options: CliOptions = { port, host: values.host, quiet: values.quiet };
  if (values["fault-rate"] !== undefined) options.faultRate = parseNumber(values["fault-rate"], "fault-rate", 0, 1);
  if (values["api-key"]?.length) options.apiKeys = values["api-key"];
  if (values["rate-limit"] !== undefined) {
    const perMinute = parseRatePerMinute(values["rate-limit"]) ?? fail("--rate-limit must be like 100/min or 5/s");
    if (!["rolling", "bucket"].includes(values["rate-limit-mode"])) fail("--rate-limit-mode must be rolling or bucket");
    if (!["always", "on429", "never"].includes(values["rate-limit-headers"])) fail("--rate-limit-headers must be always, on429 or never");
    options.rateLimit = { perMinute, mode: values["rate-limit-mode"] as RateLimitMode, headers: values["rate-limit-headers"] as RateLimitHeaders };
  }
  if (values["outage-after"] !== undefined || values["outage-for"] !== undefined) {
    const duration = (raw: string | undefined, name: string) =>
      raw === undefined ? undefined : (parseDurationMs(raw) ?? fail(`--${name} must be a duration like 45s`));
    if (!["503", "drop", "hang"].includes(values["outage-mode"])) fail("--outage-mode must be 503, drop or hang");
    const forMs = duration(values["outage-for"], "outage-for");
    options.outage = { afterMs: duration(values["outage-after"], "outage-after") ?? 0, ...(forMs !== undefined && { forMs }), mode: values["outage-mode"] as OutageMode };
  }
  return options;
}

function chaosRule(rate: number): FaultRule {
  return {
    rate,
    faults: [{ status: 500 }, { status: 502 }, { status: 503 }, { status: 429, retryAfter: 1 }, { hang: true }, { drop: true }],
  };
}

async function main(): Promise<void> {
  const options = parseCli(process.argv.slice(2));
  const emulator = await startOrqEmulator({
    port: options.port,
    host: options.host,
    quiet: options.quiet,
    ...(options.apiKeys ? { apiKeys: options.apiKeys } : {}),
  });
  if (options.faultRate !== undefined) emulator.setFaults([chaosRule(options.faultRate)]);
  const { rateLimit, outage } = options;
  if (rateLimit) emulator.setWorkspace({ rateLimitPerMinute: rateLimit.perMinute, rateLimitMode: rateLimit.mode, rateLimitHeaders: rateLimit.headers });
  if (outage) {
    // unref: a pending switch never keeps the process alive after Ctrl-C closed the emulator.
    setTimeout(() => {
      emulator.setWorkspace({ outage: outage.mode });
      console.log(`outage: every /v2 call now fails (${outage.mode})${outage.forMs === undefined ? "" : ` for ${outage.forMs / 1000} s`}`);
      if (outage.forMs === undefined) return;
      setTimeout(() => {
        const calls = emulator.workspace().lastOutage?.calls ?? 0;
        emulator.setWorkspace({ outage: null });
        console.log(`outage over: ${calls} calls arrived during it`);
      }, outage.forMs).unref();
    }, outage.afterMs).unref();
  }

  console.log(`orq.ai emulator listening on ${emulator.url}`);
  console.log(`  API:     ${emulator.url}/v2/identities (Authorization: Bearer ${options.apiKeys ? "<--api-key>" : "<any>"})`);
  console.log(`  control: ${emulator.url}/__emulator/{identities,requests,faults,stats,workspace,reset}`);
  if (options.faultRate !== undefined) console.log(`  chaos:   fault rate ${options.faultRate}`);
  if (rateLimit) console.log(`  limit:   ${rateLimit.perMinute} calls/min (${rateLimit.mode}, X-RateLimit-* ${rateLimit.headers})`);
  if (outage) console.log(`  outage:  ${outage.mode} from ${outage.afterMs / 1000} s after the start${outage.forMs === undefined ? "" : ` for ${outage.forMs / 1000} s`}`);

  // `once`: a second Ctrl-C falls back to the default handler and kills the process if closing ever stalls.
  const shutdown = (signal: NodeJS.Signals) => {
    console.log(`\n${signal}: closing the emulator`);
    emulator.close().then(
      () => (process.exitCode = 0),
      (error: unknown) => {
        console.error(error);
        process.exitCode = 1;
      },
    );
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
