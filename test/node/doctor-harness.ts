/**
 * Runs `npm run doctor` / `npm run connect` as an operator would (a child process, its own
 * environment, stdout and exit code), for test/node/doctor.test.ts and test/node/connect*.test.ts.
 * The commands' entry files are bundled once per run (test/support/cli-bundles.global.ts) so that
 * each start costs a third of a start under tsx.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inject } from "vitest";
import { parseDevVars } from "../../signing/sample-webhooks";

const PROJECT_DIR = fileURLToPath(new URL("../../", import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `env` replaces the inherited provider/orq variables entirely, so a developer's shell cannot leak in. */
export function runScript(script: "doctor" | "connect", args: string[], env: Record<string, string>): Promise<CliRun> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(ORQ_|CLERK_|AUTH0_|WORKOS_|LOGTO_|ZITADEL_|OKTA_|KINDE_|SUPABASE_|STACK_|STANDARD_)/.test(key)));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(inject("cliBundleDir"), `${script}.mjs`), ...args], { cwd: PROJECT_DIR, env: { ...inherited, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
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
