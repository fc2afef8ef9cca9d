/**
 * Plan-driven budgets, the groundwork (issue 21): `ORQ_BUDGETS` and the plan → budget mapping
 * (src/identity/budget-plan.ts), and `syncBudget` over the Budgets API client
 * (src/deliver/sync-budget.ts, orq-budgets.ts) inside workerd against the project's orq.ai emulator.
 * These call the client directly, not through the scheduler: the faults below are scoped to this
 * file's ids and to budget calls only, so no other file's deliveries see them.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { readBudget, type ObservedBudget } from "../../src/deliver/orq-budget-schemas";
import { createOrqBudgetsClient } from "../../src/deliver/orq-budgets";
import type { OrqClientOptions } from "../../src/deliver/orq-client";
import { syncBudget } from "../../src/deliver/sync-budget";
import {
  budgetFor,
  budgetRequestBody,
  budgetUpdateBody,
  parseBudgetSettings,
  sameBudget,
  type BudgetSettings,
  type DesiredBudget,
} from "../../src/identity/budget-plan";
import { uniqueId, type Json } from "./harness";

const EXAMPLE = {
  by: "plan",
  plans: { free: { amount: 1, period: "monthly" }, pro: { amount: 20, period: "monthly", requests_per_minute: 60 } },
  otherwise: "free",
};

function settingsOf(raw: unknown): BudgetSettings {
  const parsed = parseBudgetSettings(raw);
  if (!parsed.ok || !parsed.settings) throw new Error(`expected settings, got ${JSON.stringify(parsed)}`);
  return parsed.settings;
}

const SETTINGS = settingsOf(EXAMPLE);
const FREE = budgetFor(SETTINGS, { plan: "free" }) as DesiredBudget;
const PRO = budgetFor(SETTINGS, { plan: "pro" }) as DesiredBudget;

describe("ORQ_BUDGETS", () => {
  it("is off when unset, null or blank", () => {
    for (const raw of [undefined, null, "", "   "]) expect(parseBudgetSettings(raw)).toEqual({ ok: true, settings: undefined });
  });

  it("reads the same settings from a JSON string (--var, secrets) and from a [vars] table (an object)", () => {
    const fromString = parseBudgetSettings(JSON.stringify(EXAMPLE));
    const fromTable = parseBudgetSettings(structuredClone(EXAMPLE));
    expect(fromString).toEqual({ ok: true, settings: EXAMPLE });
    expect(fromTable).toEqual(fromString);
  });

  it("accepts every period and each limit alone", () => {
    for (const period of ["daily", "weekly", "monthly", "yearly", "one_time"]) {
      for (const limit of [{ amount: 0 }, { amount: 2.5 }, { token_limit: 0 }, { token_limit: 100_000 }, { requests_per_minute: 1 }]) {
        expect(parseBudgetSettings({ by: "tier", plans: { only: { period, ...limit } } }).ok, `${period} ${JSON.stringify(limit)}`).toBe(true);
      }
    }
  });

  const invalid: Array<[string, unknown, RegExp]> = [
    ["text that is not JSON", '{"by": "plan", "plans": {"free": {"amount": "my-secret-value"', /^is not valid JSON$/],
    ["a JSON array", "[]", /must be a JSON object/],
    ["a JSON number", "42", /must be a JSON object/],
    ["no `by`", { plans: EXAMPLE.plans }, /^by: /],
    ["a blank `by`", { ...EXAMPLE, by: " " }, /^by: must name a metadata key/],
    ["a `by` that is not a string", { ...EXAMPLE, by: 7 }, /^by: /],
    ["no plans", { by: "plan" }, /^plans: /],
    ["an empty plans object", { by: "plan", plans: {} }, /^plans: must name at least one plan/],
    ["a plan without period", { by: "plan", plans: { free: { amount: 1 } } }, /^plans\.free\.period: /],
    ["an unknown period", { by: "plan", plans: { free: { amount: 1, period: "hourly" } } }, /^plans\.free\.period: /],
    ["a plan without any limit", { by: "plan", plans: { free: { period: "monthly" } } }, /^plans\.free: needs at least one of amount, token_limit, requests_per_minute/],
    ["a negative amount", { by: "plan", plans: { free: { amount: -1, period: "monthly" } } }, /^plans\.free\.amount: /],
    ["an amount given as a string", { by: "plan", plans: { free: { amount: "1", period: "monthly" } } }, /^plans\.free\.amount: /],
    ["a fractional token_limit", { by: "plan", plans: { free: { token_limit: 1.5, period: "monthly" } } }, /^plans\.free\.token_limit: /],
    ["requests_per_minute 0", { by: "plan", plans: { free: { requests_per_minute: 0, period: "monthly" } } }, /^plans\.free\.requests_per_minute: /],
    ["a misspelt limit", { by: "plan", plans: { free: { amount: 1, period: "monthly", request_per_minute: 5 } } }, /^plans\.free: .*request_per_minute/],
    ["an unknown top-level key", { ...EXAMPLE, default: "free" }, /default/],
    ["`otherwise` naming no plan", { ...EXAMPLE, otherwise: "fre" }, /^otherwise: names no plan listed in plans/],
    ["a plan named __proto__", '{"by": "plan", "plans": {"__proto__": {"amount": 1, "period": "monthly"}}}', /__proto__/],
  ];
  it.each(invalid)("names what is wrong with %s, without repeating values", (_, raw, problem) => {
    const parsed = parseBudgetSettings(raw);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problem).toMatch(problem);
    expect(parsed.problem).not.toMatch(/my-secret-value|hourly|fre"|-1|1\.5/);
  });
});

describe("budgetFor: the plan in the user's metadata", () => {
  it("gives the plan's limits for the plan the metadata names", () => {
    expect(budgetFor(SETTINGS, { plan: "pro", other: 1 })).toEqual({ plan: "pro", period: "monthly", amount: 20, requests_per_minute: 60 });
  });

  it("uses `otherwise` when the key is absent, null, or there is no metadata at all", () => {
    for (const metadata of [{}, { plan: null }, { unrelated: "pro" }, undefined]) {
      expect(budgetFor(SETTINGS, metadata)).toEqual({ plan: "free", period: "monthly", amount: 1 });
    }
  });

  it("gives no budget (null) for a plan not listed, and for an absent key without `otherwise`", () => {
    expect(budgetFor(SETTINGS, { plan: "enterprise" })).toBeNull();
    expect(budgetFor(SETTINGS, { plan: "Pro" })).toBeNull(); // exact, case-sensitive
    expect(budgetFor(SETTINGS, { plan: { name: "pro" } })).toBeNull();
    const noDefault = settingsOf({ by: "plan", plans: EXAMPLE.plans });
    expect(budgetFor(noDefault, {})).toBeNull();
    expect(budgetFor(noDefault, undefined)).toBeNull();
  });

  it("reads a number or boolean plan value as its JSON text", () => {
    const tiers = settingsOf({ by: "tier", plans: { "2": { amount: 5, period: "daily" }, true: { token_limit: 10, period: "weekly" } } });
    expect(budgetFor(tiers, { tier: 2 })).toEqual({ plan: "2", period: "daily", amount: 5 });
    expect(budgetFor(tiers, { tier: true })).toEqual({ plan: "true", period: "weekly", token_limit: 10 });
    expect(budgetFor(tiers, { tier: false })).toBeNull();
  });

  it("is unknown for a partial event that does not carry the key, and read when it does", () => {
    expect(budgetFor(SETTINGS, undefined, { partial: true })).toBe("unknown");
    expect(budgetFor(SETTINGS, { other: 1 }, { partial: true })).toBe("unknown");
    expect(budgetFor(SETTINGS, { plan: "pro" }, { partial: true })).toEqual(PRO);
  });
});

describe("Budgets API bodies and comparison", () => {
  it("creates an identity-scoped budget keyed by external_id, in snake_case with the full period name", () => {
    expect(budgetRequestBody("user_1", PRO)).toEqual({
      scope: { identity: { identity_external_id: "user_1" } },
      limits: { period: "BUDGET_PERIOD_MONTHLY", amount: 20 },
      rate_limit: { requests_per_minute: 60 },
    });
    expect(budgetRequestBody("user_1", { plan: "t", period: "one_time", token_limit: 5 })).toEqual({
      scope: { identity: { identity_external_id: "user_1" } },
      limits: { period: "BUDGET_PERIOD_ONE_TIME", token_limit: 5 },
    });
  });

  it("updates to exactly the new plan: limits sent whole, an empty rate_limit clears the rate limit", () => {
    expect(budgetUpdateBody(FREE)).toEqual({ limits: { period: "BUDGET_PERIOD_MONTHLY", amount: 1 }, rate_limit: {}, is_active: true });
    expect(budgetUpdateBody(PRO)).toEqual({ limits: { period: "BUDGET_PERIOD_MONTHLY", amount: 20 }, rate_limit: { requests_per_minute: 60 }, is_active: true });
  });

  const camel = {
    budgetId: "01B",
    scope: { identity: { identityExternalId: "user_1" } },
    limits: { period: "BUDGET_PERIOD_MONTHLY", amount: 20 },
    rateLimit: { requestsPerMinute: 60 },
    isActive: true,
  };
  const snake = {
    budget_id: "01B",
    scope: { identity: { identity_external_id: "user_1" } },
    limits: { period: "BUDGET_PERIOD_MONTHLY", amount: 20 },
    rate_limit: { requests_per_minute: 60 },
    is_active: true,
  };

  it("reads a budget answered in camelCase (current orq.ai) and in snake_case (older) alike", () => {
    const expected: ObservedBudget = { budgetId: "01B", scopeKind: "identity", identityExternalId: "user_1", period: "BUDGET_PERIOD_MONTHLY", amount: 20, requestsPerMinute: 60, isActive: true };
    expect(readBudget(camel)).toEqual(expected);
    expect(readBudget(snake)).toEqual(expected);
    expect(readBudget({ budgetId: "01C", scope: { apiKey: { apiKeyId: "user_1" } }, limits: { period: "BUDGET_PERIOD_DAILY", tokenLimit: "500" } })).toEqual({
      budgetId: "01C",
      scopeKind: "api_key",
      period: "BUDGET_PERIOD_DAILY",
      tokenLimit: 500,
    });
    expect(readBudget({ scope: {} })).toBeUndefined();
  });

  it("sameBudget: equal limits in either spelling; a differing limit, an extra rate limit or a switched-off budget differ", () => {
    expect(sameBudget(PRO, readBudget(camel)!)).toBe(true);
    expect(sameBudget(PRO, readBudget(snake)!)).toBe(true);
    expect(sameBudget(FREE, readBudget(camel)!)).toBe(false);
    expect(sameBudget(FREE, readBudget({ ...camel, limits: { period: "BUDGET_PERIOD_MONTHLY", amount: 1 } })!)).toBe(false); // rate limit left over
    expect(sameBudget(PRO, readBudget({ ...camel, isActive: false })!)).toBe(false);
    expect(sameBudget(PRO, readBudget({ ...camel, limits: { period: "BUDGET_PERIOD_DAILY", amount: 20 } })!)).toBe(false);
    // proto3 JSON leaves zeros out: a $0 cap reads back without `amount`.
    expect(sameBudget({ plan: "blocked", period: "monthly", amount: 0 }, readBudget({ budgetId: "01D", limits: { period: "BUDGET_PERIOD_MONTHLY" } })!)).toBe(true);
  });
});

// ---- syncBudget against the emulator ----

const options = (overrides: Partial<OrqClientOptions> = {}): OrqClientOptions => ({ baseUrl: env.ORQ_API_URL ?? "", apiKey: env.ORQ_API_KEY, timeoutMs: 2_000, ...overrides });
const client = createOrqBudgetsClient(options());

async function orq(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${env.ORQ_API_URL}${path}`, {
    method,
    headers: { authorization: `Bearer ${env.ORQ_API_KEY}`, "content-type": "application/json" },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

/** A user whose identity exists in orq.ai (the emulator refuses a budget for an unknown identity). */
async function identity(prefix = "budget"): Promise<string> {
  const externalId = uniqueId(prefix);
  expect((await orq("POST", "/v2/identities", { external_id: externalId })).status).toBe(201);
  return externalId;
}

/** The identity's budget as the emulator stores it (snake_case), or null. */
async function storedBudget(externalId: string): Promise<Json | null> {
  const answer = await orq("GET", `/__emulator/budgets?external_id=${encodeURIComponent(externalId)}`);
  return answer.status === 404 ? null : answer.body;
}

async function budgetCalls(externalId: string): Promise<Json[]> {
  const { body } = await orq("GET", `/__emulator/requests?external_id=${encodeURIComponent(externalId)}`);
  return body.requests.filter((request: Json) => request.resource === "budgets");
}

const faultedPrefixes = new Set<string>();
async function failBudgetCalls(externalIdPrefix: string, rule: Json): Promise<void> {
  faultedPrefixes.add(externalIdPrefix);
  expect((await orq("POST", "/__emulator/faults", { rules: [{ externalIdPrefix, resource: "budgets", ...rule }] })).status).toBe(200);
}
afterEach(async () => {
  for (const prefix of faultedPrefixes) await orq("DELETE", `/__emulator/faults?externalIdPrefix=${encodeURIComponent(prefix)}`);
  faultedPrefixes.clear();
});

describe("syncBudget: orq.ai holds exactly the plan's budget", () => {
  it("creates the budget of a new identity in one call", async () => {
    const user = await identity();
    const result = await syncBudget(client, user, PRO, { exists: false });
    expect(result).toMatchObject({ ok: true, action: "created", calls: 1, status: 200 });
    const stored = await storedBudget(user);
    expect(stored).toMatchObject({
      scope: { identity: { identity_external_id: user } },
      limits: { period: "BUDGET_PERIOD_MONTHLY", amount: 20 },
      rate_limit: { requests_per_minute: 60 },
      is_active: true,
    });
    expect(result.ok && result.budgetId).toBe(stored.budget_id);
  });

  it("without hints, looks the budget up first: creates it when there is none, leaves it alone when it already holds the plan", async () => {
    const user = await identity();
    expect(await syncBudget(client, user, FREE)).toMatchObject({ ok: true, action: "created", calls: 2 });
    const again = await syncBudget(client, user, FREE);
    expect(again).toMatchObject({ ok: true, action: "unchanged", calls: 1, budgetId: (await storedBudget(user)).budget_id });
    expect((await budgetCalls(user)).map((call) => call.method)).toEqual(["GET", "POST", "GET"]);
  });

  it("updates in place on a plan change: the same budget id, and a limit the new plan lacks (the rate limit) is cleared", async () => {
    const user = await identity();
    const created = await syncBudget(client, user, PRO, { exists: false });
    const budgetId = created.ok ? created.budgetId : undefined;
    expect(budgetId).toBeDefined();

    const downgraded = await syncBudget(client, user, FREE);
    expect(downgraded).toMatchObject({ ok: true, action: "updated", calls: 2, budgetId });
    const stored = await storedBudget(user);
    expect(stored.budget_id).toBe(budgetId);
    expect(stored.limits).toEqual({ period: "BUDGET_PERIOD_MONTHLY", amount: 1 });
    expect(stored).not.toHaveProperty("rate_limit");

    // With the id known: one PATCH, still the same budget.
    expect(await syncBudget(client, user, PRO, { budgetId })).toMatchObject({ ok: true, action: "updated", calls: 1, budgetId });
    expect(await storedBudget(user)).toMatchObject({ budget_id: budgetId, rate_limit: { requests_per_minute: 60 } });
    const { body } = await orq("GET", `/v2/budgets?scope_kind=BUDGET_SCOPE_KIND_IDENTITY&scope_target_id=${encodeURIComponent(user)}`);
    expect(body.data).toHaveLength(1);
  });

  it("puts back a budget changed by hand (limits edited, switched off)", async () => {
    const user = await identity();
    const created = await syncBudget(client, user, PRO, { exists: false });
    const budgetId = created.ok ? created.budgetId! : "";
    expect((await orq("PATCH", `/v2/budgets/${budgetId}`, { limits: { period: "BUDGET_PERIOD_DAILY", token_limit: 7 }, is_active: false })).status).toBe(200);
    expect(await syncBudget(client, user, PRO)).toMatchObject({ ok: true, action: "updated", budgetId });
    expect(await storedBudget(user)).toMatchObject({ limits: { period: "BUDGET_PERIOD_MONTHLY", amount: 20 }, rate_limit: { requests_per_minute: 60 }, is_active: true });
    expect((await storedBudget(user)).limits).not.toHaveProperty("token_limit");
  });

  it("recreates a budget deleted by hand when its known id answers 404", async () => {
    const user = await identity();
    const created = await syncBudget(client, user, FREE, { exists: false });
    const budgetId = created.ok ? created.budgetId! : "";
    expect((await orq("DELETE", `/v2/budgets/${budgetId}`)).status).toBe(200);
    const result = await syncBudget(client, user, FREE, { budgetId });
    expect(result).toMatchObject({ ok: true, action: "created", calls: 2 });
    expect(result.ok && result.budgetId).not.toBe(budgetId);
    expect(await storedBudget(user)).toMatchObject({ limits: { amount: 1 } });
  });

  it("a create that finds the budget already there (409) looks it up and PATCHes it: never a second budget", async () => {
    const user = await identity();
    const first = await syncBudget(client, user, FREE, { exists: false });
    const result = await syncBudget(client, user, PRO, { exists: false });
    expect(result).toMatchObject({ ok: true, action: "updated", calls: 3, budgetId: first.ok ? first.budgetId : "" });
    expect((await budgetCalls(user)).map((call) => [call.method, call.status])).toEqual([["POST", 200], ["POST", 409], ["GET", 200], ["PATCH", 200]]);
    expect(await storedBudget(user)).toMatchObject({ rate_limit: { requests_per_minute: 60 } });
  });

  it("deletes the budget when the plan maps to none", async () => {
    const user = await identity();
    expect(await syncBudget(client, user, PRO, { exists: false })).toMatchObject({ ok: true, action: "created" });
    expect(await syncBudget(client, user, null)).toMatchObject({ ok: true, action: "deleted", calls: 2 });
    expect(await storedBudget(user)).toBeNull();

    // With the id known: one DELETE.
    const again = await syncBudget(client, user, PRO, { exists: false });
    expect(await syncBudget(client, user, null, { budgetId: again.ok ? again.budgetId : "" })).toMatchObject({ ok: true, action: "deleted", calls: 1 });
    expect(await storedBudget(user)).toBeNull();
  });

  it("a budget already gone is not a failure: none listed, or a known id answering 404, or the identity deleted with it", async () => {
    const user = await identity();
    expect(await syncBudget(client, user, null)).toMatchObject({ ok: true, action: "absent", calls: 1 });
    expect(await syncBudget(client, user, null, { exists: false })).toMatchObject({ ok: true, action: "absent", calls: 0 });

    const created = await syncBudget(client, user, FREE, { exists: false });
    const budgetId = created.ok ? created.budgetId! : "";
    // orq.ai removes an identity's budget with the identity.
    expect((await orq("DELETE", `/v2/identities/${encodeURIComponent(user)}`)).status).toBe(200);
    expect(await storedBudget(user)).toBeNull();
    expect(await syncBudget(client, user, null, { budgetId })).toMatchObject({ ok: true, action: "absent", calls: 1, status: 404 });
  });

  it("never touches a budget of another scope, even one whose target id is the same string", async () => {
    const user = await identity();
    const apiKeyBudget = await orq("POST", "/v2/budgets", { scope: { api_key: { api_key_id: user } }, limits: { period: "BUDGET_PERIOD_DAILY", amount: 3 } });
    const projectBudget = await orq("POST", "/v2/budgets", { scope: { project: { project_id: user } }, limits: { period: "BUDGET_PERIOD_DAILY", token_limit: 9 } });
    expect([apiKeyBudget.status, projectBudget.status]).toEqual([200, 200]);
    const others = [apiKeyBudget.body.budget, projectBudget.body.budget];

    // An orq.ai that ignored the scope_kind filter would list them under this target id.
    const unfiltered: typeof fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      url.searchParams.delete("scope_kind");
      return fetch(url, init);
    };
    const careless = createOrqBudgetsClient(options({ fetch: unfiltered }));
    expect(await careless.findIdentityBudget(user)).toMatchObject({ ok: true, budget: undefined });
    expect(await syncBudget(careless, user, null)).toMatchObject({ ok: true, action: "absent" });
    expect(await syncBudget(careless, user, FREE)).toMatchObject({ ok: true, action: "created" });
    expect(await syncBudget(careless, user, PRO)).toMatchObject({ ok: true, action: "updated" });
    expect(await syncBudget(careless, user, null)).toMatchObject({ ok: true, action: "deleted" });

    for (const other of others) {
      expect((await orq("GET", `/v2/budgets/${other.budgetId}`)).body.budget).toMatchObject({ limits: other.limits, updatedAt: other.updatedAt });
    }
    for (const other of others) await orq("DELETE", `/v2/budgets/${other.budgetId}`);
  });

  it("pages past other scopes' budgets when orq.ai ignores the filters, and reads a snake_case answer", async () => {
    const pages: Json[] = [
      { object: "list", data: [{ budgetId: "01A", scope: { apiKey: { apiKeyId: "user_1" } }, limits: { period: "BUDGET_PERIOD_DAILY", amount: 1 } }], hasMore: true },
      { object: "list", data: [{ budget_id: "01B", scope: { identity: { identity_external_id: "user_1" } }, limits: { period: "BUDGET_PERIOD_MONTHLY", amount: 20 }, rate_limit: { requests_per_minute: 60 }, is_active: true }], has_more: false },
    ];
    const asked: URL[] = [];
    const paged: typeof fetch = async (input) => {
      asked.push(new URL(String(input)));
      return Response.json(pages[asked.length - 1]);
    };
    const found = await createOrqBudgetsClient(options({ fetch: paged })).findIdentityBudget("user_1");
    expect(found).toMatchObject({ ok: true, calls: 2, budget: { budgetId: "01B", scopeKind: "identity", amount: 20, requestsPerMinute: 60 } });
    expect(asked.map((url) => url.searchParams.get("starting_after"))).toEqual([null, "01A"]);
    expect(asked[0]!.searchParams.get("scope_kind")).toBe("BUDGET_SCOPE_KIND_IDENTITY");
    expect(asked[0]!.searchParams.get("scope_target_id")).toBe("user_1");
    asked.length = 0;
    expect(await syncBudget(createOrqBudgetsClient(options({ fetch: paged })), "user_1", PRO)).toMatchObject({ ok: true, action: "unchanged", budgetId: "01B", calls: 2 });
  });
});

describe("syncBudget: failures are classified like identity calls", () => {
  const retryable: Array<[string, Json, Json]> = [
    ["503", { faults: [{ status: 503 }] }, { status: 503 }],
    ["500", { faults: [{ status: 500 }] }, { status: 500 }],
    ["502 (an HTML page)", { faults: [{ status: 502 }] }, { status: 502 }],
    ["429 with Retry-After", { faults: [{ status: 429, retryAfter: 7 }] }, { status: 429, retryAfterMs: 7_000 }],
    ["a dropped connection", { faults: [{ drop: true }] }, { reason: "network error" }],
  ];
  it.each(retryable)("%s is retryable", async (_, rule, expected) => {
    const user = await identity();
    await failBudgetCalls(user, rule);
    const result = await syncBudget(client, user, PRO, { exists: false });
    expect(result).toMatchObject({ ok: false, kind: "failed", retryable: true, authProblem: false, calls: 1, ...expected });
    expect(await storedBudget(user)).toBeNull();
  });

  it("a hung call times out and is retryable", async () => {
    const user = await identity();
    await failBudgetCalls(user, { faults: [{ hang: true }] });
    const impatient = createOrqBudgetsClient(options({ timeoutMs: 300 }));
    expect(await syncBudget(impatient, user, null)).toMatchObject({ ok: false, retryable: true, reason: "timed out after 300 ms", calls: 1 });
  });

  it("401/403 is an auth problem", async () => {
    const user = await identity();
    await failBudgetCalls(user, { faults: [{ status: 403 }] });
    expect(await syncBudget(client, user, FREE)).toMatchObject({ ok: false, retryable: true, authProblem: true, status: 403 });
    expect(await syncBudget(createOrqBudgetsClient(options({ apiKey: undefined })), user, FREE)).toMatchObject({ ok: false, authProblem: true, calls: 0 });
  });

  it("422 on create is permanent, with orq.ai's reason", async () => {
    const user = await identity();
    await failBudgetCalls(user, { method: "POST", faults: [{ status: 422, message: "limits.amount: out of range" }] });
    expect(await syncBudget(client, user, PRO, { exists: false })).toMatchObject({
      ok: false,
      retryable: false,
      authProblem: false,
      status: 422,
      reason: "orq.ai answered 422: limits.amount: out of range",
      calls: 1,
    });
  });

  it("400 on create is permanent once a lookup shows no budget it could mean", async () => {
    const user = await identity();
    await failBudgetCalls(user, { method: "POST", faults: [{ status: 400 }] });
    expect(await syncBudget(client, user, PRO, { exists: false })).toMatchObject({ ok: false, retryable: false, status: 400, calls: 2 });
  });

  it("400 on update is permanent and keeps the budget id for the next attempt", async () => {
    const user = await identity();
    const created = await syncBudget(client, user, FREE, { exists: false });
    const budgetId = created.ok ? created.budgetId : undefined;
    await failBudgetCalls(user, { method: "PATCH", faults: [{ status: 400 }] });
    expect(await syncBudget(client, user, PRO)).toMatchObject({ ok: false, retryable: false, status: 400, calls: 2, budgetId });
  });

  it("a 5xx after the lookup keeps the budget id learned", async () => {
    const user = await identity();
    const created = await syncBudget(client, user, FREE, { exists: false });
    await failBudgetCalls(user, { method: "PATCH", faults: [{ status: 503 }] });
    const result = await syncBudget(client, user, PRO);
    expect(result).toMatchObject({ ok: false, retryable: true, status: 503, calls: 2, budgetId: created.ok ? created.budgetId : "" });
  });

  it("an invalid body is refused before any call", async () => {
    const bad = { plan: "bad", period: "monthly", amount: -5 } as DesiredBudget;
    expect(await syncBudget(client, uniqueId("budget"), bad, { exists: false })).toMatchObject({ ok: false, retryable: false, calls: 0 });
  });
});
