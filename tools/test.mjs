#!/usr/bin/env node
/**
 * `npm test`: type-checks while Vitest runs, instead of before it. Both tsc programs (the Worker's,
 * tsconfig.json; the Node side's, tsconfig.node.json) start with Vitest and are done within its first
 * minute, at normal priority: at a low one (`nice`) they were starved until the end of the run and
 * slowed the rate-limit burst that Vitest runs last, alone (it missed its 1.15x once so). Vitest's
 * own output goes straight to the terminal; tsc's is printed after it, only when it found errors.
 * Exits non-zero when either failed. Arguments go to `vitest run` (`npm test -- --project worker`).
 */
import { spawn } from "node:child_process";

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

const typechecks = [
  ["tsconfig.json", ["--noEmit"]],
  ["tsconfig.node.json", ["--noEmit", "-p", "tsconfig.node.json"]],
].map(([name, args]) => run(bin("tsc"), args, { capture: true }).then((result) => ({ name, ...result })));

const tests = await run(bin("vitest"), ["run", ...process.argv.slice(2)], { capture: false });
let failed = tests.code !== 0;
for (const check of await Promise.all(typechecks)) {
  if (check.code === 0) continue;
  failed = true;
  process.stdout.write(`\ntypecheck (${check.name}) failed:\n${check.output}`);
}
console.log(failed ? "npm test: failed" : "npm test: type-check passed (tsconfig.json, tsconfig.node.json)");
process.exit(failed ? 1 : 0);
