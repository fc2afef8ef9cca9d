import * as z from "zod/mini";
import { ExternalId } from "./orq-schemas";

/**
 * orq.ai's Budgets API as the bridge uses it (../shared/reference/ORQ-BUDGETS.md): request bodies
 * of identity-scoped budgets, sent in snake_case as the spec defines them, and the reading of a
 * budget from an answer, which since @orq-ai/node 4.13.1 comes in camelCase and before it in
 * snake_case: both spellings are read.
 */
export const BUDGET_PERIOD_NAMES = {
  daily: "BUDGET_PERIOD_DAILY",
  weekly: "BUDGET_PERIOD_WEEKLY",
  monthly: "BUDGET_PERIOD_MONTHLY",
  yearly: "BUDGET_PERIOD_YEARLY",
  one_time: "BUDGET_PERIOD_ONE_TIME",
} as const;
export type BudgetPeriodName = (typeof BUDGET_PERIOD_NAMES)[keyof typeof BUDGET_PERIOD_NAMES];

// The server has no default period, so it is always sent; `limits` is replaced as a whole on PATCH.
const BudgetLimits = z.strictObject({
  period: z.enum(["BUDGET_PERIOD_DAILY", "BUDGET_PERIOD_WEEKLY", "BUDGET_PERIOD_MONTHLY", "BUDGET_PERIOD_YEARLY", "BUDGET_PERIOD_ONE_TIME"]),
  amount: z.optional(z.number().check(z.gte(0))),
  token_limit: z.optional(z.int().check(z.gte(0))),
});

/** Only identity scopes: the bridge never creates a budget of another scope. */
export const CreateBudgetRequest = z
  .strictObject({
    scope: z.strictObject({ identity: z.strictObject({ identity_external_id: ExternalId }) }),
    limits: BudgetLimits,
    rate_limit: z.optional(z.strictObject({ requests_per_minute: z.int().check(z.gte(1)) })),
  })
  .check(
    z.refine(
      (body) => body.limits.amount !== undefined || body.limits.token_limit !== undefined || body.rate_limit !== undefined,
      "needs at least one of limits.amount, limits.token_limit, rate_limit.requests_per_minute",
    ),
  );
export type CreateBudgetRequest = z.infer<typeof CreateBudgetRequest>;

/** PATCH is partial; an empty `rate_limit` clears the rate limit (orq's Terraform provider does so). */
export const UpdateBudgetRequest = z.strictObject({
  limits: z.optional(BudgetLimits),
  rate_limit: z.optional(z.strictObject({ requests_per_minute: z.optional(z.int().check(z.gte(1))) })),
  is_active: z.optional(z.boolean()),
});
export type UpdateBudgetRequest = z.infer<typeof UpdateBudgetRequest>;

export type BudgetScopeKind = "workspace" | "project" | "identity" | "api_key" | "provider" | "model";

/** A budget as orq.ai answered it, in either spelling, reduced to what the bridge looks at. */
export interface ObservedBudget {
  budgetId: string;
  /** Undefined for a budget made from a raw CEL expression (no scope) or a scope this reading does not know. */
  scopeKind: BudgetScopeKind | undefined;
  /** Set for identity scopes only. */
  identityExternalId?: string;
  /** The full enum name (`BUDGET_PERIOD_MONTHLY`), also when orq.ai sent a short one. */
  period?: string;
  amount?: number;
  tokenLimit?: number;
  requestsPerMinute?: number;
  /** Absent when orq.ai left it out (proto3 JSON omits false): then it is not known. */
  isActive?: boolean;
}

const SCOPE_KEYS: ReadonlyArray<[BudgetScopeKind, string]> = [
  ["workspace", "workspace"],
  ["project", "project"],
  ["identity", "identity"],
  ["api_key", "api_key"],
  ["api_key", "apiKey"],
  ["provider", "provider"],
  ["model", "model"],
];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The first of `keys` the object has (camelCase first: what current orq.ai sends). */
function pick(object: Record<string, unknown>, ...keys: string[]): unknown {
  for (const key of keys) if (Object.hasOwn(object, key)) return object[key];
  return undefined;
}

/** A number, or a numeric string (proto3 JSON writes 64-bit integers such as token_limit as strings). */
function numberOf(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string" && value.trim() !== "") {
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

function periodName(value: unknown): string | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  const upper = value.toUpperCase();
  return upper.startsWith("BUDGET_PERIOD_") ? upper : `BUDGET_PERIOD_${upper}`;
}

/** Reads one budget of a list, create, get or update answer; undefined when it has no id. */
export function readBudget(raw: unknown): ObservedBudget | undefined {
  if (!isRecord(raw)) return undefined;
  const budgetId = pick(raw, "budgetId", "budget_id");
  if (typeof budgetId !== "string" || budgetId === "") return undefined;
  const scope = pick(raw, "scope");
  // A scope is a oneof: exactly one key is set. Anything else is a shape this reading does not know.
  const kinds = isRecord(scope) ? SCOPE_KEYS.filter(([, key]) => isRecord(scope[key])) : [];
  const scopeKind = kinds.length === 1 ? kinds[0]![0] : undefined;
  const budget: ObservedBudget = { budgetId, scopeKind };
  if (scopeKind === "identity" && isRecord(scope) && isRecord(scope.identity)) {
    const externalId = pick(scope.identity, "identityExternalId", "identity_external_id");
    if (typeof externalId === "string") budget.identityExternalId = externalId;
  }
  const limits = pick(raw, "limits");
  if (isRecord(limits)) {
    const period = periodName(limits.period);
    if (period !== undefined) budget.period = period;
    const amount = numberOf(limits.amount);
    if (amount !== undefined) budget.amount = amount;
    const tokenLimit = numberOf(pick(limits, "tokenLimit", "token_limit"));
    if (tokenLimit !== undefined) budget.tokenLimit = tokenLimit;
  }
  const rateLimit = pick(raw, "rateLimit", "rate_limit");
  if (isRecord(rateLimit)) {
    const perMinute = numberOf(pick(rateLimit, "requestsPerMinute", "requests_per_minute"));
    if (perMinute !== undefined) budget.requestsPerMinute = perMinute;
  }
  const isActive = pick(raw, "isActive", "is_active");
  if (typeof isActive === "boolean") budget.isActive = isActive;
  return budget;
}
