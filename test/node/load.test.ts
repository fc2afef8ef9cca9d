import { spawn } from "node:child_process";
import { expect, it } from "vitest";

/**
 * The fast version of `npm run load` (issue 6): the same command, short. It starts its own
 * `wrangler dev` and orq.ai emulator, sustains fresh signed Clerk and Auth0 webhooks, and exits 0
 * only if every answer was 2xx and every identity landed with its newest data. Memory is checked
 * only where it is deterministic: the Worker's JS heap after a full GC must not grow (RSS and
 * throughput are measured by the long runs in docs/RELIABILITY.md, not asserted here).
 */
function runLoad(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("node_modules/.bin/tsx", ["tools/load.ts", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.once("exit", (code) => resolve({ code, output }));
  });
}

it("sustained ingest under wrangler dev: every answer 2xx, every identity lands, the JS heap does not grow", async () => {
  const { code, output } = await runLoad(["--seconds", "10", "--connections", "4", "--settle", "1", "--land-timeout", "60"]);
  console.log(output.slice(output.indexOf("── load result")));
  expect(code, output).toBe(0);
  expect(output).toMatch(/→ 0 non-2xx/);
  expect(output).toMatch(/all landed with their newest data/);
  const requests = Number(/: (\d+) requests,/.exec(output)?.[1]);
  expect(requests).toBeGreaterThan(100);
  const heap = /JS heap after GC\s+start ([\d.]+) MiB → end ([\d.]+) MiB/.exec(output);
  expect(heap, "the DevTools session measured the heap").not.toBeNull();
  const [start, end] = [Number(heap![1]), Number(heap![2])];
  // A leak of even 1 KiB per request would be hundreds of KiB here; the heap itself is 2–7 MiB.
  expect(end).toBeLessThan(Math.max(start, 3) + 2);
}, 240_000);
