#!/usr/bin/env node
/**
 * `npm test`: type-checks while Vitest runs, instead of before it. Both tsc programs (the Worker's,
 * tsconfig.json; the Node side's, tsconfig.node.json) run at a lower CPU priority (`nice`), so they
 * take the moments the test projects leave a core idle rather than delaying them. Vitest's own output
 * goes straight to the terminal; tsc's is printed after it, only when it found errors. Exits non-zero
 * when either failed. Arguments go to `vitest run` (`npm test -- --project worker`).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

const bin = (name) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;

function run(command, args, { capture }) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: capture ? ["ignore", "pipe", "pipe"] : "inherit" });
    let output = "";
    if (capture) for (const stream of [child.stdout, child.stderr]) stream.on("data", (chunk) => (output += chunk));
    child.once("error", (error) => resolve({ code: 1, output: `${output}${error.message}\n` }));
    child.once("close", (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }));
  });
}

// `nice` is on Linux and macOS; without it the checks run at normal priority.
const niced = (command, args) => (existsSync("/usr/bin/nice") || existsSync("/bin/nice") ? ["nice", ["-n", "10", command, ...args]] : [command, args]);
const typechecks = [
  ["tsconfig.json", ["--noEmit"]],
  ["tsconfig.node.json", ["--noEmit", "-p", "tsconfig.node.json"]],
].map(([name, args]) => run(...niced(bin("tsc"), args), { capture: true }).then((result) => ({ name, ...result })));

const tests = await run(bin("vitest"), ["run", ...process.argv.slice(2)], { capture: false });
let failed = tests.code !== 0;
for (const check of await Promise.all(typechecks)) {
  if (check.code === 0) continue;
  failed = true;
  process.stdout.write(`\ntypecheck (${check.name}) failed:\n${check.output}`);
}
console.log(failed ? "npm test: failed" : "npm test: type-check passed (tsconfig.json, tsconfig.node.json)");
process.exit(failed ? 1 : 0);
