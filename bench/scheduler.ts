/**
 * `npm run bench:scheduler`: how many calls per second one DeliveryScheduler object serves, under
 * `wrangler dev` on this machine (bench/scheduler-worker drives it from inside workerd, the way
 * identity objects call it). Prints each mode's calls/s and its ratio to the baseline measured in
 * the same run: `stats`, one plain RPC on the same object. Options: --n 3000 --rounds 3.
 */
import { parseArgs } from "node:util";
import { startPlainWranglerDev } from "../tools/lib/local-bridge";

const { values } = parseArgs({ options: { n: { type: "string", default: "3000" }, rounds: { type: "string", default: "3" } } });
const n = Number(values.n);
const rounds = Number(values.rounds);
const worker = await startPlainWranglerDev(new URL("./scheduler-worker/", import.meta.url), "/ready?n=0");
try {
  const run = async (mode: string, c: number, scheduler: string, calls = n) => {
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      const response = await fetch(`${worker.url}/run?mode=${mode}&n=${calls}&c=${c}&scheduler=${scheduler}`, { method: "POST" });
      const text = await response.text();
      // wrangler dev may restart the Worker once right after starting ("restarted mid-request").
      if (response.ok) return { perSecond: calls / ((performance.now() - started) / 1000), ...(JSON.parse(text) as { granted: number; queued: number }) };
      if (attempt >= 3) throw new Error(`bench worker answered ${response.status}: ${text.slice(0, 200)}`);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  };
  // Warm up: the code is compiled. Each measured object is warmed too (below): it exists and its
  // allowance (2 calls in flight at first, +1 per success) has grown past the concurrency measured.
  await run("acquire", 1, "warm", 200);
  const rows: string[] = [];
  for (const c of [1, 16, 64]) {
    const results: Record<string, number[]> = { stats: [], acquire: [], deliver: [] };
    for (let round = 0; round < rounds; round++) {
      const scheduler = `bench-${c}-${round}`;
      await run("acquire", 1, scheduler, 100);
      for (const mode of ["stats", "acquire", "deliver"]) {
        const result = await run(mode, c, scheduler);
        results[mode]!.push(result.perSecond);
        if (mode !== "stats" && result.granted !== n) rows.push(`  (c=${c} ${mode}: ${result.queued} of ${n} queued instead of granted)`);
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const base = median(results.stats!);
    for (const mode of ["stats", "acquire", "deliver"]) {
      const value = median(results[mode]!);
      rows.push(`${String(c).padStart(3)}  ${mode.padEnd(8)} ${String(Math.round(value)).padStart(6)} calls/s   ${(value / base).toFixed(2)}x of stats`);
    }
  }
  console.log(`DeliveryScheduler under wrangler dev, one object, ${n} calls per round, median of ${rounds} rounds`);
  console.log("  c  mode      calls/s   vs. the same-run baseline");
  for (const row of rows) console.log(row);
  console.log(`command: npm run bench:scheduler -- --n ${n} --rounds ${rounds}`);
} finally {
  await worker.close();
}
