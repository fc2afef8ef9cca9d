import { describeIssue } from "../describe-issue";
import {
  CreateBudgetRequest,
  readBudget,
  UpdateBudgetRequest,
  type ObservedBudget,
} from "./orq-budget-schemas";
import { classifyOrqResponse, requestOrq, type OrqClientOptions, type OrqFailure, type OrqOutcome } from "./orq-client";

/**
 * A small typed client for orq.ai's Budgets API (../shared/reference/ORQ-BUDGETS.md), the same
 * way orq-client.ts talks to the identities API: plain fetch, bodies checked before sending,
 * every answer classified by its status (401/403 an auth problem; 429, 5xx, timeouts and network
 * errors retryable; other 4xx permanent). Bodies are read only to find budgets and their ids.
 */
export type BudgetCallFailure = OrqFailure & {
  ok: false;
  calls: number;
  /** A create refused because the scope already has a budget: 409, or a 400 saying so. */
  alreadyExists?: true;
  /** The budget id is unknown to orq.ai (404 on PATCH). */
  notFound?: true;
};

export type FindBudgetResult =
  /** `budget`: this identity's budget, or undefined when it has none. */
  | { ok: true; calls: number; status: number; budget: ObservedBudget | undefined }
  | BudgetCallFailure;

/** `budget`: what orq.ai answered, when the answer held a readable budget. */
export type WriteBudgetResult = { ok: true; calls: 1; status: number; budget: ObservedBudget | undefined } | BudgetCallFailure;

/** `existed: false`: orq.ai answered 404, the budget was already gone. */
export type DeleteBudgetResult = { ok: true; calls: 1; status: number; existed: boolean } | BudgetCallFailure;

export interface OrqBudgetsClient {
  /** The identity-scoped budget of this external_id, never a budget of another scope. */
  findIdentityBudget(externalId: string): Promise<FindBudgetResult>;
  createBudget(body: CreateBudgetRequest): Promise<WriteBudgetResult>;
  updateBudget(budgetId: string, body: UpdateBudgetRequest): Promise<WriteBudgetResult>;
  deleteBudget(budgetId: string): Promise<DeleteBudgetResult>;
}

/** One identity has at most one identity budget, so a filtered list is one short page. */
const PAGE_SIZE = 10;
/** Only reached when orq.ai ignores the list filters and answers with other scopes' budgets. */
const MAX_PAGES = 5;

type Answer = { kind: "ok"; status: number; body: unknown } | Exclude<OrqOutcome, { kind: "ok" }>;

export function createOrqBudgetsClient(options: OrqClientOptions): OrqBudgetsClient {
  const doFetch = options.fetch ?? fetch;
  const base = `${options.baseUrl}/v2/budgets`;
  const itemUrl = (budgetId: string) => `${base}/${encodeURIComponent(budgetId)}`;
  // No call is made without a key: it counts as none.
  const missingKey = (): BudgetCallFailure | undefined =>
    options.apiKey ? undefined : { kind: "failed", ok: false, calls: 0, retryable: true, authProblem: true, reason: "ORQ_API_KEY is not set" };

  function call(method: string, url: string, body?: unknown): Promise<Answer> {
    return requestOrq({ apiKey: options.apiKey ?? "", timeoutMs: options.timeoutMs, fetch: doFetch }, method, url, body, async (response): Promise<Answer> => {
      if (!response.ok) return (await classifyOrqResponse(response)) as Exclude<OrqOutcome, { kind: "ok" }>;
      return { kind: "ok", status: response.status, body: parseJson(await response.text()) };
    });
  }

  return {
    async findIdentityBudget(externalId) {
      const noKey = missingKey();
      if (noKey) return noKey;
      let calls = 0;
      let after: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const query = new URLSearchParams({ scope_kind: "BUDGET_SCOPE_KIND_IDENTITY", scope_target_id: externalId, limit: String(PAGE_SIZE) });
        if (after !== undefined) query.set("starting_after", after);
        const answer = await call("GET", `${base}?${query}`);
        calls++;
        if (answer.kind !== "ok") {
          // A 404 on the collection itself: this orq.ai has no Budgets API (or not for this key).
          if (answer.kind === "not_found") return permanent(calls, 404, "orq.ai answered 404 to GET /v2/budgets: no Budgets API at ORQ_API_URL");
          return failure(answer, calls);
        }
        const list = isRecord(answer.body) ? answer.body : {};
        const data = Array.isArray(list.data) ? list.data : [];
        const budgets = data.map(readBudget);
        // The filters should leave only this identity's budget; the scope is checked anyway, so a
        // budget of another scope with the same target id (an API key's, say) is never taken for it.
        const own = budgets.find((budget) => budget?.scopeKind === "identity" && budget.identityExternalId === externalId);
        if (own) return { ok: true, calls, status: answer.status, budget: own };
        const last = budgets.at(-1)?.budgetId;
        const hasMore = list.hasMore ?? list.has_more;
        if (hasMore !== true || last === undefined) return { ok: true, calls, status: answer.status, budget: undefined };
        after = last;
      }
      return permanent(calls, undefined, `orq.ai ignored the budget list filters: no budget of this identity in the first ${MAX_PAGES * PAGE_SIZE}`);
    },

    async createBudget(body) {
      const parsed = CreateBudgetRequest.safeParse(body);
      if (!parsed.success) return permanent(0, undefined, `invalid budget: ${describeIssue(parsed.error)}`);
      const noKey = missingKey();
      if (noKey) return noKey;
      const answer = await call("POST", base, parsed.data);
      if (answer.kind === "ok") return { ok: true, calls: 1, status: answer.status, budget: budgetIn(answer.body) };
      if (answer.kind === "conflict") return { ...permanent(1, 409, "orq.ai answered 409: the identity already has a budget"), alreadyExists: true };
      if (answer.kind === "not_found") return permanent(1, 404, "orq.ai answered 404 to POST /v2/budgets: no such identity, or no Budgets API at ORQ_API_URL");
      const failed = failure(answer, 1);
      // The duplicate status is undocumented; the legacy SDK declared 400 next to 409.
      return failed.status === 400 && /already exists|duplicate/i.test(failed.reason) ? { ...failed, alreadyExists: true } : failed;
    },

    async updateBudget(budgetId, body) {
      const parsed = UpdateBudgetRequest.safeParse(body);
      if (!parsed.success) return permanent(0, undefined, `invalid budget: ${describeIssue(parsed.error)}`);
      const noKey = missingKey();
      if (noKey) return noKey;
      const answer = await call("PATCH", itemUrl(budgetId), parsed.data);
      if (answer.kind === "ok") return { ok: true, calls: 1, status: answer.status, budget: budgetIn(answer.body) };
      if (answer.kind === "not_found") return { ...permanent(1, 404, "orq.ai answered 404: the budget is gone"), notFound: true };
      return failure(answer, 1);
    },

    async deleteBudget(budgetId) {
      const noKey = missingKey();
      if (noKey) return noKey;
      const answer = await call("DELETE", itemUrl(budgetId));
      if (answer.kind === "ok") return { ok: true, calls: 1, status: answer.status, existed: true };
      if (answer.kind === "not_found") return { ok: true, calls: 1, status: 404, existed: false };
      return failure(answer, 1);
    },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseJson(text: string): unknown {
  try {
    return text === "" ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Create, get and update answer `{budget}`; a bare budget is read too. */
function budgetIn(body: unknown): ObservedBudget | undefined {
  return isRecord(body) ? readBudget(isRecord(body.budget) ? body.budget : body) : undefined;
}

function permanent(calls: number, status: number | undefined, reason: string): BudgetCallFailure {
  return { kind: "failed", ok: false, calls, retryable: false, authProblem: false, ...(status !== undefined && { status }), reason };
}

/** A failed call as a failure; a 409 where none is expected is orq.ai changing under us: retry later. */
function failure(answer: Exclude<Answer, { kind: "ok" }>, calls: number): BudgetCallFailure {
  if (answer.kind !== "failed") {
    return { kind: "failed", ok: false, calls, retryable: true, authProblem: false, status: answer.status, reason: `unexpected ${answer.status} from orq.ai` };
  }
  // `field` names identity request fields (orq-client.ts): meaningless for a budget.
  const { field: _, ...failed } = answer;
  return { ...failed, ok: false, calls };
}
