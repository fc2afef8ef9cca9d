/** What the workspace project's files share: the scheduler, waiting on it, and the bridge's /health. */
import { env } from "cloudflare:workers";
import { SCHEDULER_NAME } from "../../src/deliver/delivery-scheduler";
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

/** Waits until the scheduler is flowing with an empty backlog, so each test starts from a quiet workspace. */
export async function quietWorkspace(): Promise<void> {
  await waitUntil("the workspace is quiet", async () => {
    const stats = await scheduler().stats();
    return stats.state === "flowing" && stats.backlog === 0 && stats.inFlight === 0;
  }, 30_000);
}
