/**
 * Plan-driven budgets (issue 21) end to end: a Clerk webhook whose `public_metadata.plan` names a plan in
 * `ORQ_BUDGETS` gives the identity exactly one identity-scoped budget in orq.ai (the emulator's Budgets API), kept in
 * step with the plan, and never in the identity's way. Its own project (test/workspace/): budget faults are retryable
 * ones, which would pause the scheduler other files share.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { identityObjectName } from "../../src/record/identity-change";
import { callBridgeWith, clerkEvent, emulator, orqIdentity, svixHeaders, uniqueId, waitForState, type Json } from "../worker/harness";
import { quietWorkspace, scheduler, sleep, waitUntil } from "./workspace-harness";

const BUDGETS = JSON.stringify({
  by: "plan",
  plans: { free: { amount: 1, period: "monthly" }, pro: { amount: 20, period: "monthly", requests_per_minute: 60 } },
  otherwise: "free",
});
const ADMIN_TOKEN = "admin-token-for-the-budget-tests-2b9c";

let clock = Date.parse("2026-11-01T10:00:00Z");

/** A Clerk event for this user at the next moment, with `plan` in its public metadata (undefined: no plan key). */
function clerkWithPlan(type: "user.created" | "user.updated" | "user.deleted", userId: string, plan: string | undefined): Json {
  clock += 60_000;
  return clerkEvent(type, userId, (p) => {
    p.timestamp = clock;
    if (type !== "user.deleted") {
      p.data.updated_at = clock;
      p.data.public_metadata = plan === undefined ? {} : { plan };
    }
  });
}

function post(payload: Json, bindings: Record<string, unknown> = { ORQ_BUDGETS: BUDGETS }): Promise<Response> {
  const body = JSON.stringify(payload);
  return callBridgeWith(bindings, "/webhooks/clerk", { method: "POST", headers: svixHeaders(body), body });
}

async function budgetOf(externalId: string): Promise<Json | null> {
  return emulator(`/__emulator/budgets?external_id=${encodeURIComponent(externalId)}`);
}

async function budgetCalls(externalId: string): Promise<Json[]> {
  const { requests } = await emulator<{ requests: Json[] }>(`/__emulator/requests?external_id=${encodeURIComponent(externalId)}`);
  return requests.filter((request: Json) => request.resource === "budgets");
}

async function budgetFaults(externalIdPrefix: string, faults: Json[], times?: number): Promise<void> {
  await emulator("/__emulator/faults", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ rules: [{ externalIdPrefix, resource: "budgets", faults, ...(times !== undefined && { times }) }] }),
  });
}

function inspect(userId: string): Promise<Json> {
  return callBridgeWith({ ADMIN_TOKEN }, `/admin/identities/clerk/${userId}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then((r) => r.json());
}

afterEach(() => vi.restoreAllMocks());

describe("each user's plan sets their orq.ai budget", () => {
  it("a pro signup gets exactly the pro plan's budget, at the cost of one more orq.ai call and one more Durable Object request", async () => {
    await quietWorkspace();
    const userId = uniqueId("pro");
    expect((await post(clerkWithPlan("user.created", userId, "pro"))).status).toBe(200);
    await waitUntil("the budget is in orq.ai", async () => (await budgetOf(userId)) !== null, 10_000);
    expect(await budgetOf(userId)).toMatchObject({
      scope: { identity: { identity_external_id: userId } },
      limits: { period: "BUDGET_PERIOD_MONTHLY", amount: 20 },
      rate_limit: { requests_per_minute: 60 },
      is_active: true,
    });
    expect(await orqIdentity(userId)).not.toBeNull();
    const identity = env.IDENTITY_SYNC.getByName(identityObjectName("clerk", userId));
    await sleep(300);
    const own = await identity.usage();
    const shared = await scheduler().usageOf(identityObjectName("clerk", userId));
    const { requests } = await emulator<{ requests: Json[] }>(`/__emulator/requests?external_id=${encodeURIComponent(userId)}`);
    console.info(`cost of a signup with a budget: ${own.requests + shared.requests} Durable Object requests, ${own.rowsWritten + shared.rowsWritten} rows, ${requests.length} orq.ai calls`);
    // Without a budget: 3 requests (record, alarm, acquire) and 1 call; with one: one more acquire, one more call.
    expect(own.requests + shared.requests).toBe(4);
    expect(requests.map((request: Json) => `${request.method} ${request.resource}`)).toEqual(["POST identities", "POST budgets"]);
  });

  it("a plan change updates the same budget in place to exactly the new plan's limits (the rate limit the new plan lacks is cleared); a plan with no budget deletes it", async () => {
    await quietWorkspace();
    const userId = uniqueId("change");
    expect((await post(clerkWithPlan("user.created", userId, "pro"))).status).toBe(200);
    await waitUntil("the pro budget", async () => (await budgetOf(userId))?.limits?.amount === 20, 10_000);
    const { budget_id } = await budgetOf(userId);
    expect((await post(clerkWithPlan("user.updated", userId, "free"))).status).toBe(200);
    await waitUntil("the free budget", async () => (await budgetOf(userId))?.limits?.amount === 1, 10_000);
    const free = await budgetOf(userId);
    expect(free.budget_id).toBe(budget_id);
    expect(free.rate_limit).toBeUndefined();
    expect((await budgetCalls(userId)).filter((call: Json) => call.method === "POST")).toHaveLength(1);

    expect((await post(clerkWithPlan("user.updated", userId, "enterprise"))).status).toBe(200);
    await waitUntil("no budget", async () => (await budgetOf(userId)) === null, 10_000);
    expect(await orqIdentity(userId)).not.toBeNull();
  });

  it("users without the key get the `otherwise` plan; deleting the user leaves nothing behind and costs no budget call", async () => {
    await quietWorkspace();
    const userId = uniqueId("otherwise");
    expect((await post(clerkWithPlan("user.created", userId, undefined))).status).toBe(200);
    await waitUntil("the free budget", async () => (await budgetOf(userId))?.limits?.amount === 1, 10_000);
    const before = (await budgetCalls(userId)).length;
    expect((await post(clerkWithPlan("user.deleted", userId, undefined))).status).toBe(200);
    await waitUntil("the identity is gone", async () => (await orqIdentity(userId)) === null, 10_000);
    await sleep(300);
    expect(await budgetOf(userId)).toBeNull();
    expect((await budgetCalls(userId)).length).toBe(before);
  });

  it("a failing Budgets API never delays the identity: it lands at once, the budget follows when the API answers again", async () => {
    await quietWorkspace();
    const userId = uniqueId("budget_down");
    await budgetFaults(userId, [{ status: 503 }], 2);
    const posted = Date.now();
    expect((await post(clerkWithPlan("user.created", userId, "pro"))).status).toBe(200);
    await waitUntil("the identity is in orq.ai", async () => (await orqIdentity(userId)) !== null, 5_000);
    const identityMs = Date.now() - posted;
    await waitUntil("the budget followed", async () => (await budgetOf(userId)) !== null, 30_000);
    console.info(`identity landed after ${identityMs} ms while the Budgets API failed; the budget ${Date.now() - posted} ms after the signup`);
    expect(identityMs).toBeLessThan(2_000);
    expect((await budgetCalls(userId)).filter((call: Json) => call.status === 503).length).toBe(2);
  });

  it("a permanent refusal marks only the budget as failed, with the reason, on GET /admin/identities", async () => {
    await quietWorkspace();
    const userId = uniqueId("budget_refused");
    await budgetFaults(userId, [{ status: 422, message: "limits.amount: not allowed for this plan" }]);
    expect((await post(clerkWithPlan("user.created", userId, "pro"))).status).toBe(200);
    await waitForState("clerk", userId, (status) => status.delivery === "delivered");
    await waitUntil("the budget failed", async () => (await inspect(userId)).budget?.state === "failed", 10_000);
    const shown = await inspect(userId);
    expect(shown).toMatchObject({ delivery: "delivered", budget: { plan: "pro", state: "failed" } });
    expect(shown.budget.error).toMatch(/422/);
    // The status page's lookup says the same.
    const login = await callBridgeWith({ ADMIN_TOKEN }, "/admin/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://bridge.test" },
      body: new URLSearchParams({ token: ADMIN_TOKEN }).toString(),
    });
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const page = await (await callBridgeWith({ ADMIN_TOKEN }, `/admin?provider=clerk&user_id=${userId}`, { headers: { cookie } })).text();
    expect(page).toMatch(/<dt>Budget<\/dt><dd><span class="badge bad">failed<\/span> plan pro: [^<]*422/);
    await emulator(`/__emulator/faults?externalIdPrefix=${encodeURIComponent(userId)}`, { method: "DELETE" });
  });

  it("an invalid ORQ_BUDGETS is named on /health and changes nothing in orq.ai; identities still sync", async () => {
    await quietWorkspace();
    const userId = uniqueId("bad_setting");
    const bad = JSON.stringify({ by: "plan", plans: { pro: { period: "fortnightly", amount: 5 } } });
    expect((await post(clerkWithPlan("user.created", userId, "pro"), { ORQ_BUDGETS: bad })).status).toBe(200);
    await waitUntil("the identity is in orq.ai", async () => (await orqIdentity(userId)) !== null, 10_000);
    await sleep(300);
    expect(await budgetCalls(userId)).toEqual([]);
    const health = await (await callBridgeWith({ ORQ_BUDGETS: bad }, "/health")).json<Json>();
    expect(health.problems).toEqual(expect.arrayContaining([expect.objectContaining({ variable: "ORQ_BUDGETS" })]));
  });
});
