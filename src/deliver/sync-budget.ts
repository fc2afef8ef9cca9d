import { budgetRequestBody, budgetUpdateBody, sameBudget, type DesiredBudget } from "../identity/budget-plan";
import type { ObservedBudget } from "./orq-budget-schemas";
import type { BudgetCallFailure, OrqBudgetsClient } from "./orq-budgets";
import type { OrqFailure } from "./orq-client";

/**
 * What the bridge knows about the identity's budget in orq.ai before the call, to save calls:
 * `budgetId` from an earlier sync (the budget is then PATCHed or deleted by id, one call);
 * `exists: false` when there can be none (the identity was just created: a create is one call).
 * Without either the budget is looked up first.
 */
export interface BudgetHints {
  budgetId?: string;
  exists?: boolean;
}

/** `absent`: no budget was wanted and none was there. */
export type BudgetAction = "created" | "updated" | "unchanged" | "deleted" | "absent";

export type BudgetSyncResult =
  /** `budgetId`: the identity's budget now, undefined when it has none (or orq.ai's answer named no id). */
  | { ok: true; action: BudgetAction; budgetId?: string; calls: number; status: number }
  /** `budgetId`: learned on the way, for the next attempt. */
  | (OrqFailure & { ok: false; calls: number; budgetId?: string });

/**
 * Makes orq.ai hold exactly `desired` as the identity's budget (null: no budget), using only
 * identity-scoped budgets of this external_id: a budget of another scope is never read as this
 * one, changed or deleted. Create → POST, "already exists" (409, or a 400) → look up and PATCH in
 * place; change → PATCH (the same budget id; limits the plan lacks are cleared); none → DELETE,
 * where a budget already gone is not a failure.
 */
export async function syncBudget(
  client: OrqBudgetsClient,
  externalId: string,
  desired: DesiredBudget | null,
  known: BudgetHints = {},
): Promise<BudgetSyncResult> {
  let calls = 0;
  let learnedId = known.budgetId;
  const done = (action: BudgetAction, status: number, budgetId?: string): BudgetSyncResult => ({
    ok: true,
    action,
    ...(budgetId !== undefined && { budgetId }),
    calls,
    status,
  });
  const failed = (failure: BudgetCallFailure): BudgetSyncResult => {
    const { alreadyExists: _, notFound: __, ...rest } = failure;
    return { ...rest, calls, ...(learnedId !== undefined && { budgetId: learnedId }) };
  };
  const count = async <T extends { calls: number }>(result: Promise<T>): Promise<T> => {
    const settled = await result;
    calls += settled.calls;
    return settled;
  };
  const find = () => count(client.findIdentityBudget(externalId));

  if (desired === null) {
    const remove = async (budgetId: string): Promise<BudgetSyncResult> => {
      const deleted = await count(client.deleteBudget(budgetId));
      if (!deleted.ok) return failed(deleted);
      learnedId = undefined;
      return done(deleted.existed ? "deleted" : "absent", deleted.status);
    };
    if (known.budgetId !== undefined) return remove(known.budgetId);
    if (known.exists === false) return done("absent", 0);
    const found = await find();
    if (!found.ok) return failed(found);
    return found.budget ? remove(found.budget.budgetId) : done("absent", found.status);
  }

  const update = async (budgetId: string, onGone: () => Promise<BudgetSyncResult>): Promise<BudgetSyncResult> => {
    learnedId = budgetId;
    const updated = await count(client.updateBudget(budgetId, budgetUpdateBody(desired)));
    if (updated.ok) return done("updated", updated.status, updated.budget?.budgetId ?? budgetId);
    if (updated.notFound) {
      learnedId = undefined;
      return onGone();
    }
    return failed(updated);
  };
  // A budget found by lookup is left alone when it already holds the plan: no write at all.
  const bringInLine = (observed: ObservedBudget, status: number, onGone: () => Promise<BudgetSyncResult>) => {
    learnedId = observed.budgetId;
    return sameBudget(desired, observed) ? Promise.resolve(done("unchanged", status, observed.budgetId)) : update(observed.budgetId, onGone);
  };
  const goneMeanwhile = (): Promise<BudgetSyncResult> =>
    Promise.resolve(failed({ kind: "failed", ok: false, calls: 0, retryable: true, authProblem: false, reason: "the budget vanished while it was being updated" }));

  const create = async (): Promise<BudgetSyncResult> => {
    const created = await count(client.createBudget(budgetRequestBody(externalId, desired)));
    if (created.ok) return done("created", created.status, created.budget?.budgetId);
    // The duplicate status is undocumented: any 400 may mean "exists". Look it up and PATCH it.
    if (!created.alreadyExists && created.status !== 400) return failed(created);
    const found = await find();
    if (!found.ok) return failed(found);
    if (found.budget) return bringInLine(found.budget, found.status, goneMeanwhile);
    if (!created.alreadyExists) return failed(created);
    return failed({ ...created, retryable: true, reason: "orq.ai answered that the budget exists, but lists none for this identity" });
  };

  if (known.budgetId !== undefined) return update(known.budgetId, create);
  if (known.exists === false) return create();
  const found = await find();
  if (!found.ok) return failed(found);
  return found.budget ? bringInLine(found.budget, found.status, create) : create();
}
