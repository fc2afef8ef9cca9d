import * as z from "zod/mini";
import { describeIssue } from "../describe-issue";
import {
  BUDGET_PERIOD_NAMES,
  type CreateBudgetRequest,
  type ObservedBudget,
  type UpdateBudgetRequest,
} from "../deliver/orq-budget-schemas";

/**
 * Plan-driven budgets (`ORQ_BUDGETS`): which orq.ai budget a user should have, read from the plan
 * their auth provider keeps in its server-side metadata. Pure: no I/O, no clock.
 *
 *   {"by": "plan", "plans": {"free": {"amount": 1, "period": "monthly"},
 *    "pro": {"amount": 20, "period": "monthly", "requests_per_minute": 60}}, "otherwise": "free"}
 */
export const BUDGET_PERIODS = ["daily", "weekly", "monthly", "yearly", "one_time"] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];

const PlanLimits = z
  .strictObject({
    period: z.enum(BUDGET_PERIODS),
    /** USD per period. */
    amount: z.optional(z.number().check(z.gte(0))),
    token_limit: z.optional(z.int().check(z.gte(0))),
    requests_per_minute: z.optional(z.int().check(z.gte(1))),
  })
  .check(
    z.refine(
      (plan) => plan.amount !== undefined || plan.token_limit !== undefined || plan.requests_per_minute !== undefined,
      "needs at least one of amount, token_limit, requests_per_minute",
    ),
  );
export type PlanLimits = z.infer<typeof PlanLimits>;

const PlanName = z.string().check(z.minLength(1, "a plan name must not be empty"));

const BudgetSettingsSchema = z
  .strictObject({
    /** The metadata key holding the plan (the same source as ORQ_METADATA_KEYS). */
    by: z.string().check(z.refine((key) => key.trim() !== "", "must name a metadata key")),
    plans: z.record(PlanName, PlanLimits).check(z.refine((plans) => Object.keys(plans).length > 0, "must name at least one plan")),
    /** The plan of users without the key. */
    otherwise: z.optional(z.string()),
  })
  .check(
    // A misspelt `otherwise` would silently give every user without the key no budget at all.
    z.refine((settings) => settings.otherwise === undefined || Object.hasOwn(settings.plans, settings.otherwise), {
      message: "names no plan listed in plans",
      path: ["otherwise"],
    }),
  );
export type BudgetSettings = z.infer<typeof BudgetSettingsSchema>;

export type BudgetSettingsResult = { ok: true; settings: BudgetSettings | undefined } | { ok: false; problem: string };

/**
 * Reads `ORQ_BUDGETS`: a JSON string (`--var`, secrets, .dev.vars) or an object (a `[vars]` table in
 * wrangler.toml). Absent, null or blank means budgets are off (`settings: undefined`). The problem
 * names the offending path (plan names included) and never repeats a value.
 */
export function parseBudgetSettings(raw: unknown): BudgetSettingsResult {
  if (raw === undefined || raw === null) return { ok: true, settings: undefined };
  let value = raw;
  if (typeof raw === "string") {
    if (raw.trim() === "") return { ok: true, settings: undefined };
    try {
      value = JSON.parse(raw);
    } catch {
      // V8's message quotes the text around the error: it stays out.
      return { ok: false, problem: "is not valid JSON" };
    }
  }
  if (!isRecord(value)) return { ok: false, problem: "must be a JSON object" };
  // zod drops a `__proto__` key silently (JSON.parse makes it an own key): the plan would vanish without a word.
  if (isRecord(value.plans) && Object.hasOwn(value.plans, "__proto__")) return { ok: false, problem: "plans: a plan must not be named __proto__" };
  const parsed = BudgetSettingsSchema.safeParse(value);
  return parsed.success ? { ok: true, settings: parsed.data } : { ok: false, problem: describeIssue(parsed.error) };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The budget one user should have in orq.ai: the plan's name and its limits. */
export interface DesiredBudget {
  plan: string;
  period: BudgetPeriod;
  amount?: number;
  token_limit?: number;
  requests_per_minute?: number;
}

/**
 * The budget for a user with this metadata (Clerk `public_metadata`, Auth0 `app_metadata`), given
 * budgets are on (with `ORQ_BUDGETS` unset the bridge leaves budgets alone: do not call this).
 *
 * - The plan is `publicMetadata[settings.by]`: a string as is (exact, case-sensitive), a number or
 *   a boolean as its JSON text (`2` → plan `"2"`, `true` → plan `"true"`: JSON object keys are
 *   strings, so that is the only way to list them in `plans`). Any other value (an object, an
 *   array) names no plan.
 * - An absent key, or `null` (how providers clear a metadata key), means `otherwise`.
 * - A plan not listed in `plans` (or no `otherwise`) means no budget: `null`, and an existing one
 *   is removed.
 * - `"unknown"` when the event does not say: a partial event (`options.partial`, see IdentityEvent)
 *   lists only changed fields, so an absent key there is unknown, not unset; keep the budget as is.
 *   A full event without any metadata is a user without the key (`otherwise`).
 */
export function budgetFor(
  settings: BudgetSettings,
  publicMetadata: Record<string, unknown> | undefined,
  options: { partial?: boolean } = {},
): DesiredBudget | null | "unknown" {
  const value = publicMetadata && Object.hasOwn(publicMetadata, settings.by) ? publicMetadata[settings.by] : undefined;
  let plan: string | undefined;
  if (value === undefined || value === null) {
    if (options.partial) return "unknown";
    plan = settings.otherwise;
  } else if (typeof value === "string") {
    plan = value;
  } else if ((typeof value === "number" && Number.isFinite(value)) || typeof value === "boolean") {
    plan = String(value);
  }
  if (plan === undefined || !Object.hasOwn(settings.plans, plan)) return null;
  const limits = settings.plans[plan]!;
  const budget: DesiredBudget = { plan, period: limits.period };
  if (limits.amount !== undefined) budget.amount = limits.amount;
  if (limits.token_limit !== undefined) budget.token_limit = limits.token_limit;
  if (limits.requests_per_minute !== undefined) budget.requests_per_minute = limits.requests_per_minute;
  return budget;
}

function limitsOf(budget: DesiredBudget): CreateBudgetRequest["limits"] {
  const limits: CreateBudgetRequest["limits"] = { period: BUDGET_PERIOD_NAMES[budget.period] };
  if (budget.amount !== undefined) limits.amount = budget.amount;
  if (budget.token_limit !== undefined) limits.token_limit = budget.token_limit;
  return limits;
}

/** `POST /v2/budgets`: the identity's budget, scoped by its external_id. */
export function budgetRequestBody(externalId: string, budget: DesiredBudget): CreateBudgetRequest {
  const body: CreateBudgetRequest = { scope: { identity: { identity_external_id: externalId } }, limits: limitsOf(budget) };
  if (budget.requests_per_minute !== undefined) body.rate_limit = { requests_per_minute: budget.requests_per_minute };
  return body;
}

/**
 * `PATCH /v2/budgets/{id}` that leaves exactly this plan's limits: `limits` is sent whole (with its
 * period; what it leaves out is cleared), an empty `rate_limit` clears a rate limit the plan lacks,
 * and `is_active: true` undoes a deactivation by hand.
 */
export function budgetUpdateBody(budget: DesiredBudget): UpdateBudgetRequest {
  return {
    limits: limitsOf(budget),
    rate_limit: budget.requests_per_minute === undefined ? {} : { requests_per_minute: budget.requests_per_minute },
    is_active: true,
  };
}

/**
 * True when orq.ai's budget (read by `readBudget`, which takes camelCase and snake_case answers)
 * already holds exactly the desired limits and is not switched off. A limit of 0 and an absent
 * one compare equal: proto3 JSON leaves zero values out, so the wire cannot tell them apart.
 */
export function sameBudget(desired: DesiredBudget, observed: ObservedBudget): boolean {
  const same = (want: number | undefined, have: number | undefined) => (want ?? 0) === (have ?? 0);
  return (
    observed.period === BUDGET_PERIOD_NAMES[desired.period] &&
    same(desired.amount, observed.amount) &&
    same(desired.token_limit, observed.tokenLimit) &&
    same(desired.requests_per_minute, observed.requestsPerMinute) &&
    observed.isActive !== false
  );
}
