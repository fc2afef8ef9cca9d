/**
 * Runs `npm run doctor` / `npm run connect` for test/node/doctor.test.ts and test/node/connect*.test.ts:
 * the command itself (cli/lib/doctor/command.ts, cli/lib/connect/command.ts), called in this process
 * with an environment of its own, its stdout and stderr captured and its exit code returned, as
 * cli/doctor.ts and cli/connect.ts run it in a process of its own. In-process because the tests run
 * it about seventy times and each start of a process under tsx cost about a second of CPU; that the
 * entry files run as processes is checked in connect-contract.test.ts.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCommand } from "../../cli/lib/args";
import { connectCommand } from "../../cli/lib/connect/command";
import { doctorCommand } from "../../cli/lib/doctor/command";
import { parseDevVars } from "../../signing/sample-webhooks";

const PROJECT_DIR = fileURLToPath(new URL("../../", import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const COMMANDS = { doctor: doctorCommand, connect: connectCommand };
/** Provider and orq.ai variables of the shell running the tests are left out, so a developer's shell cannot leak in. */
const inheritedEnv = () => Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(ORQ_|CLERK_|AUTH0_|WORKOS_|LOGTO_|ZITADEL_|OKTA_|KINDE_|SUPABASE_|STACK_|STANDARD_)/.test(key)));

/** `env` replaces the inherited provider/orq variables entirely. */
export async function runScript(script: keyof typeof COMMANDS, args: string[], env: Record<string, string>): Promise<CliRun> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCommand(script, COMMANDS[script], args, { ...inheritedEnv(), ...env }, { out: (line) => stdout.push(`${line}\n`), err: (line) => stderr.push(`${line}\n`) });
  return { code, stdout: stdout.join(""), stderr: stderr.join("") };
}

/** An entry file as `npm run` starts it: a child process under tsx, in the project folder, with exactly `env`. */
export function runEntryFile(entry: string, args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", entry, ...args], { cwd: PROJECT_DIR, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The same command through its entry file (cli/doctor.ts, cli/connect.ts), as `npm run <script>` starts it. */
export function runScriptProcess(script: keyof typeof COMMANDS, args: string[], env: Record<string, string>): Promise<CliRun> {
  return runEntryFile(`cli/${script}.ts`, args, { ...inheritedEnv(), ...env });
}

/** A `.dev.vars` path in a fresh temp folder, for `connect --local --dev-vars`. */
export function tempDevVars(): string {
  return join(mkdtempSync(join(tmpdir(), "connect-")), ".dev.vars");
}

/** The variables `connect --local` wrote. */
export function storedVars(file: string): Record<string, string> {
  return parseDevVars(readFileSync(file, "utf8"));
}

/** A stand-in `wrangler` (CONNECT_WRANGLER) that records its arguments and stdin, then exits with `exitCode`. */
export function fakeWrangler(exitCode: number): { bin: string; record: string } {
  const dir = mkdtempSync(join(tmpdir(), "fake-wrangler-"));
  const record = join(dir, "calls.json");
  const bin = join(dir, "wrangler");
  writeFileSync(bin, `#!/usr/bin/env node
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
require("node:fs").writeFileSync(${JSON.stringify(record)}, JSON.stringify({ args: process.argv.slice(2), input }));
if (${exitCode} !== 0) console.error("Authentication error: not logged in");
process.exit(${exitCode});
});
`);
  chmodSync(bin, 0o755);
  return { bin, record };
}
