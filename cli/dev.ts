/**
 * `npm run dev`: the bridge under `wrangler dev`, wired to a local orq.ai emulator.
 *
 *   npm run dev [-- --port 8787] [--orq-port 8788] [-- <extra wrangler dev args>]
 *
 * Starts the orq.ai emulator on 127.0.0.1:<orq-port>, then `wrangler dev` on 127.0.0.1:<port> with
 * ORQ_API_URL pointing at the emulator and the public dev secrets (signing/dev-secrets.ts) as
 * `--var`s. A developer's own `.dev.vars` (or `.env`, which wrangler reads when there is no
 * .dev.vars) wins: only variables it does not define are passed. Ctrl-C stops both; the exit
 * code is wrangler's.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";
import { startOrqEmulator, type OrqEmulator } from "../emulator/orq-emulator";
import { startJwksServer, type JwksServer } from "./lib/jwks-server";
import { KINDE_DEV_JWKS } from "../signing/kinde-dev-key";
import { DEV_SECRETS } from "../signing/dev-secrets";
import { readDevVarsFile } from "../signing/sample-webhooks";
import { parseCommandLine, usageError } from "./lib/args";

const USAGE = "Usage: npm run dev [-- --port 8787] [--orq-port 8788] [-- <extra wrangler dev args>]";
const HOST = "127.0.0.1";
const PROJECT_DIR = fileURLToPath(new URL("../", import.meta.url));
/** After a forwarded signal, wrangler gets this long to stop before it is killed. */
const STOP_GRACE_MS = 10_000;

const fail = (message: string): never => usageError(USAGE, message);

function parsePort(raw: string, name: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) fail(`--${name} must be a port number (1-65535)`);
  return port;
}

function parseCli(argv: string[]) {
  // Everything after the first `--` (npm already removed its own) goes to wrangler unchanged.
  const split = argv.indexOf("--");
  const ours = split === -1 ? argv : argv.slice(0, split);
  const wranglerArgs = split === -1 ? [] : argv.slice(split + 1);
  const { values } = parseCommandLine(USAGE, {
    args: ours,
    strict: true,
    options: {
      port: { type: "string", default: "8787" },
      "orq-port": { type: "string", default: "8788" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  return { port: parsePort(values.port, "port"), orqPort: parsePort(values["orq-port"], "orq-port"), wranglerArgs };
}

/** Variables for the bridge: ORQ_API_URL and the dev secrets, minus what the developer's own file defines. */
function planVars(emulatorUrl: string) {
  const file = readDevVarsFile();
  const wanted: Record<string, string> = { ORQ_API_URL: emulatorUrl, ...DEV_SECRETS };
  const passed: Record<string, string> = {};
  const fromFile: string[] = [];
  for (const [key, value] of Object.entries(wanted)) {
    if (file && Object.hasOwn(file.vars, key)) fromFile.push(key);
    else passed[key] = value;
  }
  return { file, passed, fromFile, orqUrl: file?.vars.ORQ_API_URL ?? emulatorUrl };
}

function wranglerCommand(): { command: string; prefix: string[] } {
  const local = fileURLToPath(new URL("../node_modules/.bin/wrangler", import.meta.url));
  if (process.platform !== "win32" && existsSync(local)) return { command: local, prefix: [] };
  return { command: process.platform === "win32" ? "npx.cmd" : "npx", prefix: ["wrangler"] };
}

function banner(lines: Array<[string, string]>): string {
  const width = Math.max(...lines.map(([label]) => label.length));
  const rule = "─".repeat(64);
  return [rule, ...lines.map(([label, text]) => `  ${label.padEnd(width)}  ${text}`), rule].join("\n");
}

async function waitForHealth(url: string, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}

async function main(): Promise<void> {
  const { port, orqPort, wranglerArgs } = parseCli(process.argv.slice(2));

  let emulator: OrqEmulator;
  try {
    emulator = await startOrqEmulator({ port: orqPort, host: HOST });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    console.error(`Could not start the orq.ai emulator on ${HOST}:${orqPort}: ${code ?? (error as Error).message}`);
    if (code === "EADDRINUSE") console.error("Another `npm run dev` or `npm run emulator` may be running; or pick another port with --orq-port.");
    process.exit(1);
  }

  const plan = planVars(emulator.url);
  // Kinde signs with a key from its issuer's JWKS: with the dev issuer, serve the dev key set.
  let jwks: JwksServer | undefined;
  if (plan.passed.KINDE_ISSUER_URL === DEV_SECRETS.KINDE_ISSUER_URL) {
    const { port: jwksPort } = new URL(DEV_SECRETS.KINDE_ISSUER_URL);
    jwks = await startJwksServer({ port: Number(jwksPort), host: HOST, issuers: { "": KINDE_DEV_JWKS } }).catch((error: Error) => {
      console.error(`Could not serve the Kinde dev JWKS on ${HOST}:${jwksPort} (${error.message}); /webhooks/kinde will answer 5xx.`);
      return undefined;
    });
  }
  const closeLocalServices = () => Promise.all([emulator.close(), jwks?.close()]);
  const args = [
    "dev",
    "--ip",
    HOST,
    "--port",
    String(port),
    ...Object.entries(plan.passed).flatMap(([key, value]) => ["--var", `${key}:${value}`]),
    ...wranglerArgs,
  ];
  const { command, prefix } = wranglerCommand();
  const bridgeUrl = `http://${HOST}:${port}`;
  console.log(`Starting wrangler dev on ${bridgeUrl} (orq.ai emulator on ${emulator.url}) …`);

  const child = spawn(command, [...prefix, ...args], {
    cwd: PROJECT_DIR,
    stdio: "inherit",
    env: { ...process.env, WRANGLER_SEND_METRICS: process.env.WRANGLER_SEND_METRICS ?? "false" },
  });

  let stopping = false;
  const forward = (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (stopping) {
      child.kill("SIGKILL");
      return;
    }
    stopping = true;
    child.kill(signal);
    setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS).unref();
  };
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);

  child.once("error", async (error) => {
    console.error(`Could not run wrangler (${command}): ${error.message}`);
    await closeLocalServices();
    process.exit(1);
  });

  child.once("exit", async (code, signal) => {
    await closeLocalServices().catch(() => {});
    process.exit(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1));
  });

  if (await waitForHealth(bridgeUrl, child, 120_000)) {
    const sendFlags = [port === 8787 ? "" : ` --url ${bridgeUrl}`, orqPort === 8788 ? "" : ` --orq ${emulator.url}`].join("");
    const secrets = plan.fromFile.length === 0
      ? "public dev defaults (signing/dev-secrets.ts)"
      : `${plan.file?.path}: ${plan.fromFile.join(", ")}; dev defaults: ${Object.keys(plan.passed).filter((key) => key !== "ORQ_API_URL").join(", ") || "none"}`;
    const orqLine = plan.orqUrl === emulator.url
      ? `${emulator.url}  (emulator: GET /__emulator/identities)`
      : `ORQ_API_URL from ${plan.file?.path} (the emulator on ${emulator.url} is unused)`;
    console.log(
      `\n${banner([
        ["bridge", `${bridgeUrl}  (GET /health, POST /webhooks/<provider>)`],
        ["orq.ai", orqLine],
        ["secrets", secrets],
        ["try", `npm run send -- clerk user.created${sendFlags}`],
      ])}\n`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
