import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { IdentitySync } from "../../src/record/identity-sync";
import { planChaos, matchesExpected, writtenFields, shuffle, seededRandom, type PlannedDelivery } from "../../tools/lib/chaos-plan";
import { DEV_SECRETS } from "../support/secrets";
import {
  addFaults,
  callBridgeWith,
  clearFaults,
  clerkEvent,
  deliverNow,
  emulator,
  fixtures,
  inspectIdentity,
  orqIdentity,
  svixHeaders,
  uniqueId,
  type FaultRule,
  type Json,
} from "../worker/harness";
import { quietWorkspace } from "./workspace-harness";

/** What the emulator fails with in chaos mode (tools/emulator.ts --fault-rate uses the same cycle). */
const CHAOS_FAULTS: FaultRule["faults"] = [
  { status: 500 },
  { status: 502 },
  { status: 503 },
  { status: 429, retryAfter: 1 },
  { hang: true },
  { drop: true },
];

/** The workspace projects' ORQ_TIMEOUT_MS (vitest.config.ts). */
const ORQ_TIMEOUT_MS = 2_000;

/**
 * Signed as the provider signs, sent through the app with the test bindings. (Not the harness's
 * postClerk/postAuth0: their `exports.default.fetch` slows down with every call in a file.)
 */
function post(provider: "clerk" | "auth0", body: string, eventId?: string): Promise<Response> {
  const headers =
    provider === "clerk"
      ? svixHeaders(body, eventId === undefined ? {} : { id: eventId })
      : { "content-type": "application/json", authorization: `Bearer ${DEV_SECRETS.AUTH0_WEBHOOK_TOKEN}` };
  return callBridgeWith({}, `/webhooks/${provider}`, { method: "POST", headers, body });
}

function send(delivery: PlannedDelivery): Promise<Response> {
  return post(delivery.provider, delivery.body, delivery.eventId);
}

/** Runs `work` over `items`, `limit` at a time. */
async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  });
  await Promise.all(lanes);
  return results;
}

async function requestsFor(prefixes: readonly string[]): Promise<Json[]> {
  const { requests } = await emulator<{ requests: Json[] }>("/__emulator/requests");
  return requests.filter((request: Json) => prefixes.some((prefix) => String(request.externalId ?? "").startsWith(prefix)));
}

describe("chaos: duplicated, shuffled webhooks while orq.ai fails", () => {
  beforeEach(quietWorkspace);

  it("ends with exactly what the newest events say for every user: nobody missing, nobody resurrected, no stale field", { timeout: 60_000 }, async () => {
    const seed = Math.floor(Math.random() * 2 ** 32);
    const plan = planChaos({ users: 24, seed, runId: uniqueId("chaos"), fixtures, tags: ["test-suite"] });
    const prefixes = Object.values(plan.prefixes);
    const context = `seed ${seed}`;

    // Every fault kind at least once (the first six calls), then 30 % of calls at random.
    await addFaults(
      ...prefixes.flatMap((prefix): FaultRule[] => [
        { externalIdPrefix: prefix, times: CHAOS_FAULTS.length, faults: CHAOS_FAULTS },
        { externalIdPrefix: prefix, rate: 0.3, faults: CHAOS_FAULTS },
      ]),
    );
    try {
      const answers = await inParallel(plan.deliveries, 6, async (delivery) => {
        const response = await send(delivery);
        return { status: response.status, body: await response.json<{ status?: string }>() };
      });
      // Accepted every time: a 2xx means recorded (or already known), whatever orq.ai is doing.
      expect(answers.filter((answer) => answer.status !== 200), context).toEqual([]);
      const outcomes = new Set(answers.map((answer) => answer.body.status));
      expect([...outcomes].every((outcome) => ["recorded", "duplicate", "stale"].includes(outcome!)), context).toBe(true);
      expect(outcomes.has("duplicate"), context).toBe(true);

      // A few delivery rounds while orq.ai is still failing. Every user's first calls fail: from
      // the scheduler's view orq.ai is down for everyone, so after a few failures it stops calling
      // and probes; which fault kinds the calls meet depends on how many go out.
      await Promise.all(plan.users.map((user) => deliverNow(user.provider, user.userId, 3, 8_000)));
      const faults = (await requestsFor(prefixes)).filter((request) => request.fault);
      expect(faults.length, `${context}: faults injected`).toBeGreaterThan(0);
    } finally {
      for (const prefix of prefixes) await clearFaults(prefix);
    }

    // orq.ai recovers: drive every identity's pending retry now instead of waiting out its backoff.
    const statuses = await Promise.all(plan.users.map((user) => deliverNow(user.provider, user.userId, 10, 30_000)));
    expect(statuses.filter((status) => status?.pending), context).toEqual([]);

    const mismatches: Json[] = [];
    for (const user of plan.users) {
      const identity = await orqIdentity(user.userId);
      if (!matchesExpected(identity, user.expected)) {
        mismatches.push({ user: user.userId, expected: user.expected, actual: writtenFields(identity), events: user.events.map((e) => `${e.event}@${e.at}`) });
      }
    }
    expect(mismatches, context).toEqual([]);
    // The run did exercise both outcomes.
    expect(plan.users.some((user) => user.expected === null)).toBe(true);
    expect(plan.users.some((user) => user.expected !== null)).toBe(true);
  });

  it("makes one orq.ai call at a time per identity: alarms firing during a hung call join it, and it gives up at ORQ_TIMEOUT_MS", async () => {
    const userId = uniqueId("singleflight");
    await addFaults({ externalIdPrefix: userId, times: 1, faults: [{ hang: true }] });
    try {
      expect((await post("clerk", JSON.stringify(clerkEvent("user.created", userId)))).status).toBe(200);
      const stub = env.IDENTITY_SYNC.getByName(`clerk:${userId}`);
      const started = Date.now();
      // The alarm set by the webhook fires by itself; three more runs pile onto the same hung call.
      await Promise.all([1, 2, 3].map(() => runInDurableObject(stub, (instance: IdentitySync) => instance.alarm())));
      const elapsed = Date.now() - started;
      const afterHang = await requestsFor([userId]);
      expect(afterHang.map((request) => request.status)).toEqual(["hang"]);
      expect(elapsed).toBeLessThan(ORQ_TIMEOUT_MS + 5_000);
      expect(await inspectIdentity("clerk", userId)).toMatchObject({ delivery: "retrying", lastError: `timed out after ${ORQ_TIMEOUT_MS} ms` });

      expect(await deliverNow("clerk", userId)).toMatchObject({ delivery: "delivered" });
      expect((await requestsFor([userId])).map((request) => request.status)).toEqual(["hang", 201]);
    } finally {
      await clearFaults(userId);
    }
  });

  it("a user deleted and created again under the same id ends with its newest data, whatever order the four events arrive in", async () => {
    const t0 = Date.parse("2026-03-01T10:00:00Z");
    const events: Array<[string, "user.created" | "user.updated" | "user.deleted", number]> = [
      ["C1", "user.created", 0],
      ["D", "user.deleted", 1],
      ["C2", "user.created", 2],
      ["U2", "user.updated", 3],
    ];
    const outcomes = await Promise.all(
      permutations(events).map(async (order) => {
        const userId = uniqueId("recreated");
        for (const [name, type, minute] of order) {
          const at = t0 + minute * 60_000;
          const payload = clerkEvent(type, userId, (p) => {
            p.timestamp = at;
            if (type !== "user.deleted") Object.assign(p.data, { first_name: name, last_name: "Doe", updated_at: at, created_at: t0 });
          });
          expect((await post("clerk", JSON.stringify(payload))).status).toBe(200);
        }
        await deliverNow("clerk", userId);
        const name = (await orqIdentity(userId))?.display_name ?? "(no identity)";
        return name === "U2 Doe" ? null : `${order.map(([n]) => n).join(" → ")}: orq.ai holds ${name}`;
      }),
    );
    const failures = outcomes.filter(Boolean);
    // The newest event is U2 (an update after the re-creation): it must win in every order.
    expect(failures).toEqual([]);
  });
});

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [items.slice()];
  return items.flatMap((item, index) => permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]));
}

// Keeps the helpers' seeded shuffle honest: the same seed gives the same order.
it("a chaos plan is reproducible from its seed", () => {
  const a = planChaos({ users: 6, seed: 42, runId: "r", fixtures, tags: [] });
  const b = planChaos({ users: 6, seed: 42, runId: "r", fixtures, tags: [] });
  expect(a.deliveries.map((d) => d.eventId)).toEqual(b.deliveries.map((d) => d.eventId));
  expect(shuffle([1, 2, 3, 4, 5], seededRandom(1))).toEqual(shuffle([1, 2, 3, 4, 5], seededRandom(1)));
});
