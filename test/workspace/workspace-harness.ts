/**
 * What the workspace files have in common: the scheduler, waiting on it, and the bridge's /health.
 * Each file is a Vitest project of its own (vitest.config.ts): its own runtime, scheduler and
 * emulator, so files run side by side; within a file, tests run in order, each from quietWorkspace().
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { DeliveryScheduler, SCHEDULER_NAME } from "../../src/deliver/delivery-scheduler";
import { callBridge, type Json } from "../worker/harness";

export const scheduler = () => env.ORQ_SCHEDULER.getByName(SCHEDULER_NAME);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitUntil(what: string, predicate: () => Promise<boolean>, budgetMs: number): Promise<void> {
  const deadline = Date.now() + budgetMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

export async function health(): Promise<Json> {
  return (await callBridge("/health")).json();
}

/**
 * Each test starts from a quiet workspace: nothing waiting or in flight, then the scheduler as a
 * newly deployed bridge has it: its storage emptied (no learned pace, no pause) and its memory that
 * of a freshly started object (no window of earlier calls, no failure streak), which is what the
 * runtime gives an evicted object. Without it, an earlier test's calls, failures or 429 would shape
 * this test's pace and outage detection: tests would depend on their order.
 */
export async function quietWorkspace(): Promise<void> {
  // An earlier test's identity may still be between retries (its alarm not yet fired on a busy
  // machine) and take a permit right after the reset: then wait for quiet again and reset again.
  let stats: Awaited<ReturnType<ReturnType<typeof scheduler>["stats"]>> | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    await waitUntil("the workspace is quiet", async () => {
      const now = await scheduler().stats();
      return now.backlog === 0 && now.inFlight === 0;
    }, 30_000);
    await runInDurableObject(scheduler(), async (instance: DeliveryScheduler, state) => {
      await state.storage.deleteAlarm();
      await state.storage.deleteAll();
      Object.assign(instance, new DeliveryScheduler(state, env));
    });
    await sleep(250);
    stats = await scheduler().stats();
    if (stats.state === "flowing" && stats.pace === null && stats.callsLastMinute === 0) return;
  }
  throw new Error(`the scheduler did not start afresh: ${JSON.stringify(stats)}`);
}
