/**
 * Runs the local orq.ai identities emulator: point the bridge's ORQ base URL at the printed address.
 *
 *   npx tsx scripts/emulator.ts [--port 8788] [--host 127.0.0.1] [--fault-rate 0.3] [--api-key KEY]... [--quiet]
 *
 * --fault-rate R installs one rule for every request: with probability R, answer 500, 502, 503, 429 (Retry-After: 1),
 * hang, or drop the socket (in that order, cycling), so the bridge's retries can be watched under chaos.
 */
import { startOrqEmulator, type FaultRule } from "../emulator/orq-emulator";
import { parseCommandLine, usageError } from "./lib/cli";

const USAGE =
  "Usage: npx tsx scripts/emulator.ts [--port 8788] [--host 127.0.0.1] [--fault-rate 0..1] [--api-key KEY]... [--quiet]";

interface CliOptions {
  port: number;
  host: string;
  faultRate?: number;
  apiKeys?: string[];
  quiet: boolean;
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
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const port = parseNumber(values.port, "port", 0, 65535);
  if (!Number.isInteger(port)) fail("--port must be an integer");
  const options: CliOptions = { port, host: values.host, quiet: values.quiet };
  if (values["fault-rate"] !== undefined) options.faultRate = parseNumber(values["fault-rate"], "fault-rate", 0, 1);
  if (values["api-key"]?.length) options.apiKeys = values["api-key"];
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

  console.log(`orq.ai emulator listening on ${emulator.url}`);
  console.log(`  API:     ${emulator.url}/v2/identities (Authorization: Bearer ${options.apiKeys ? "<--api-key>" : "<any>"})`);
  console.log(`  control: ${emulator.url}/__emulator/{identities,requests,faults,stats,reset}`);
  if (options.faultRate !== undefined) console.log(`  chaos:   fault rate ${options.faultRate}`);

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
