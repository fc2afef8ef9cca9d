/**
 * Where `npm run connect` puts the secret the bridge verifies with: `wrangler secret put <NAME>`
 * (the secret on stdin, never on the command line), or with `--local` a line in `.dev.vars`
 * (replaced when the variable is already there, appended otherwise).
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const PROJECT_DIR = fileURLToPath(new URL("../../../", import.meta.url));

/** Sets NAME=value in a dotenv file, keeping every other line as it was. */
export function writeDevVar(file: string, name: string, value: string): void {
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const lines = text === "" ? [] : text.replace(/\n$/, "").split("\n");
  const line = `${name}=${JSON.stringify(value)}`;
  const index = lines.findIndex((candidate) => new RegExp(`^\\s*(?:export\\s+)?${name}\\s*=`).test(candidate));
  if (index === -1) lines.push(line);
  else lines[index] = line;
  writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
}

/** `wrangler secret put NAME` in the project, with the value piped in. CONNECT_WRANGLER overrides the binary (tests). */
export function wranglerSecretPut(name: string, value: string, env: NodeJS.ProcessEnv = process.env): Promise<{ ok: true } | { ok: false; problem: string }> {
  const wrangler = env.CONNECT_WRANGLER?.trim() || `${PROJECT_DIR}node_modules/.bin/wrangler`;
  return new Promise((resolve) => {
    const child = spawn(wrangler, ["secret", "put", name], { cwd: PROJECT_DIR, stdio: ["pipe", "pipe", "pipe"], env });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.once("error", (error) => resolve({ ok: false, problem: error.message }));
    child.once("close", (code) => (code === 0 ? resolve({ ok: true }) : resolve({ ok: false, problem: `wrangler secret put exited ${code}: ${output.split(value).join("••••").trim().slice(-500)}` })));
    child.stdin.end(`${value}\n`);
  });
}
