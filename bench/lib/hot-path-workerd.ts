/**
 * The hot path inside workerd (bench/hot-path-worker): the caller times `POST /run?variant=…`
 * around a loop over the same pre-signed events and subtracts the `none` loop. Rounds are
 * interleaved so drift on a shared machine hits every variant alike; medians are reported.
 */
import type { ClerkSigner } from "./signed-clerk";

export const WORKERD_VARIANTS = ["bridge", "standardwebhooks", "verify", "parse", "normalise", "map"] as const;
export type WorkerdVariant = (typeof WORKERD_VARIANTS)[number];

export interface WorkerdHotPathResult {
  events: number;
  rounds: number;
  /** Median µs per event, loop overhead subtracted. */
  us: Record<WorkerdVariant, number>;
  /** standardwebhooks ÷ bridge. */
  ratio: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function measureHotPathInWorkerd(url: string, signer: ClerkSigner, { events = 2_000, rounds = 7 } = {}): Promise<WorkerdHotPathResult> {
  const items = JSON.stringify(signer.many(`user_hotpath_workerd_${Date.now()}_`, events).map(({ headers, body }) => ({ headers, body })));
  const prepare = async () => {
    const response = await fetch(`${url}/prepare`, { method: "POST", body: items });
    if (!response.ok) throw new Error(`hot-path worker /prepare: ${response.status} ${await response.text()}`);
    await response.body?.cancel();
  };
  await prepare();

  let restarts = 0;
  const timeRun = async (variant: string): Promise<number> => {
    for (;;) {
      const started = performance.now();
      const response = await fetch(`${url}/run?variant=${variant}`, { method: "POST" });
      const text = await response.text();
      const elapsed = performance.now() - started;
      // workerd may start a fresh isolate (module state lost) on a loaded machine: prepare again, re-time.
      if (response.status === 409 && restarts++ < 5) {
        await prepare();
        continue;
      }
      if (!response.ok) throw new Error(`hot-path worker /run ${variant}: ${response.status} ${text}`);
      return elapsed;
    }
  };

  const variants = ["none", ...WORKERD_VARIANTS];
  for (const variant of variants) await timeRun(variant); // warm-up: JIT, key import
  const samples = Object.fromEntries(variants.map((variant) => [variant, [] as number[]]));
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) samples[variant]!.push(await timeRun(variant));
  }
  const baseline = median(samples.none!);
  const us = Object.fromEntries(
    WORKERD_VARIANTS.map((variant) => [variant, Math.max(0, ((median(samples[variant]!) - baseline) * 1000) / events)]),
  ) as Record<WorkerdVariant, number>;
  return { events, rounds, us, ratio: us.standardwebhooks / us.bridge };
}
