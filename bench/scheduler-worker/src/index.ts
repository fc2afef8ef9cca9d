import type { DeliveryScheduler, PermitStub } from "../../../src/deliver/delivery-scheduler";

export { DeliveryScheduler } from "../../../src/deliver/delivery-scheduler";
export { BridgeStatus } from "../../../src/record/bridge-status";
export { IdentitySync } from "../../../src/record/identity-sync";

/**
 * POST /run?mode=stats|acquire|deliver&n=N&c=C&scheduler=NAME — N calls on one scheduler object, C at a
 * time, as identity objects make them:
 * - `stats`: one RPC that reads memory and one SQL row (the baseline: what any call on one object costs);
 * - `acquire`: `acquire` + the permit's `finish` (one billed request; nothing written);
 * - `deliver`: the same with a delivery for the recent-deliveries ring (one row written): the happy path.
 * Answers how many were granted; the caller times the request (workerd's clock stands still in it).
 */
type Env = { ORQ_SCHEDULER: DurableObjectNamespace<DeliveryScheduler> };

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get("n") ?? 1000);
    const c = Number(url.searchParams.get("c") ?? 1);
    const mode = url.searchParams.get("mode") ?? "acquire";
    const scheduler = env.ORQ_SCHEDULER.getByName(url.searchParams.get("scheduler") ?? "bench");
    let next = 0;
    let granted = 0;
    let queued = 0;
    const one = async (i: number) => {
      if (mode === "stats") {
        await scheduler.stats();
        return;
      }
      // A pace configured far above any plan (ORQ_RATE_LIMIT_PER_MINUTE's maximum): the handful-in-flight cap
      // of an unknown pace would queue most calls, and this measures the object, not orq.ai's limit.
      const answer = await scheduler.acquire({ name: `clerk:bench_${i}`, since: i, maxConcurrency: 1000, ceilingPerMinute: 1_000_000, permitMs: 60_000 });
      if (!("permit" in answer)) {
        queued++;
        return;
      }
      granted++;
      const permit = answer.permit as unknown as PermitStub;
      await permit.finish({
        calls: 1,
        outcome: "ok",
        status: 201,
        ...(mode === "deliver" && { delivered: { provider: "clerk", userId: `bench_${i}`, externalId: `bench_${i}`, eventType: "created", status: 201, at: i } }),
      });
    };
    await Promise.all(
      Array.from({ length: Math.min(c, n) }, async () => {
        while (next < n) await one(next++);
      }),
    );
    return Response.json({ n, c, mode, granted, queued });
  },
};
