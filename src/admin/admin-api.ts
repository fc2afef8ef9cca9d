import { zValidator } from "@hono/zod-validator";
import { alerterOf } from "../alert/alerter";
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import * as z from "zod/mini";
import { describeIssue } from "../describe-issue";
import { providers } from "../providers/registry";
import { BRIDGE_STATUS_NAME, formatFailureCursor, parseFailureCursor, type FailureEntry } from "../record/bridge-status";
import { identityObjectName } from "../record/identity-change";
import type { IdentityStatus } from "../record/identity-sync";
import type { AdminEnv } from "./admin-auth";
import { MAX_USER_ID_LENGTH, replayFailuresSince, replayIdentity } from "./replay";
import { getConfig } from "../config";
import { reconcileJson } from "../reconcile/reconcile-report";
import { reconcilerOf, reconcileStatuses } from "../reconcile/reconcile-trigger";
import { userSources } from "../reconcile/sources/registry";

const MAX_PAGE = 200;
const DEFAULT_PAGE = 50;

const providerNames = providers.map((provider) => provider.name) as [string, ...string[]];
const ProviderName = z.enum(providerNames);
const UserId = z.string().check(z.minLength(1), z.maxLength(MAX_USER_ID_LENGTH));

const FailuresQuery = z.object({
  limit: z.optional(z.pipe(z.coerce.number(), z.int().check(z.gte(1), z.lte(MAX_PAGE)))),
  cursor: z.optional(
    z.string().check(z.refine((cursor) => parseFailureCursor(cursor) !== null, "must be the next_cursor of a previous page")),
  ),
  state: z.optional(z.enum(["retrying", "failed"])),
});

/** Either one identity (`provider` + `user_id`) or every identity that failed since a time. */
const ReplayRequest = z
  .strictObject({
    provider: z.optional(ProviderName),
    user_id: z.optional(UserId),
    since: z.optional(z.iso.datetime({ offset: true })),
  })
  .check(
    z.refine((body) => body.since === undefined || (body.provider === undefined && body.user_id === undefined), {
      path: ["since"],
      message: "give either since, or provider and user_id, not both",
    }),
    z.refine((body) => body.since !== undefined || body.provider !== undefined, {
      path: ["provider"],
      message: "is required (or give since)",
    }),
    z.refine((body) => body.since !== undefined || body.user_id !== undefined, {
      path: ["user_id"],
      message: "is required with provider",
    }),
  );

const listableNames = userSources.map((source) => source.name) as [string, ...string[]];

/** Starts a reconcile cycle for one provider (self-healing, src/reconcile/). */
const ReconcileRequest = z.strictObject({
  provider: z.enum(listableNames),
  dry_run: z.optional(z.boolean()),
  confirm_deletes: z.optional(z.boolean()),
});

function invalidRequest(result: { success: true } | { success: false; error: z.core.$ZodError }, c: Context) {
  if (!result.success) return c.json({ error: "invalid_request", message: describeIssue(result.error) }, 400);
}

/**
 * The admin JSON API, mounted under /admin behind `requireAdminToken`: inspect one identity,
 * list failing ones, replay. Times are ISO 8601 strings.
 */
export const adminApi = new Hono<AdminEnv>();

adminApi.get("/identities/:provider/:userId", async (c) => {
  const provider = c.req.param("provider");
  const userId = c.req.param("userId");
  if (!providerNames.includes(provider)) return c.json({ error: "not_found", message: `no provider named ${provider}` }, 404);
  if (userId.length > MAX_USER_ID_LENGTH) {
    return c.json({ error: "invalid_request", message: `user_id: must be at most ${MAX_USER_ID_LENGTH} characters` }, 400);
  }
  const status = await c.env.IDENTITY_SYNC.getByName(identityObjectName(provider, userId)).inspect();
  if (!status) return c.json({ error: "not_found", message: "the bridge never received an event for this identity" }, 404);
  return c.json(identityJson(status));
});

adminApi.get("/failures", zValidator("query", FailuresQuery, invalidRequest), async (c) => {
  const query = c.req.valid("query");
  const limit = query.limit ?? DEFAULT_PAGE;
  const rows = await c.env.BRIDGE_STATUS.getByName(BRIDGE_STATUS_NAME).listFailures({
    limit: limit + 1,
    state: query.state,
    after: query.cursor === undefined ? undefined : parseFailureCursor(query.cursor)!,
  });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return c.json({
    failures: page.map(failureJson),
    next_cursor: rows.length > limit && last ? formatFailureCursor(last) : null,
  });
});

adminApi.post("/replay", zValidator("json", ReplayRequest, invalidRequest), async (c) => {
  const body = c.req.valid("json");
  if (body.since !== undefined) {
    const result = await replayFailuresSince(c.env, Date.parse(body.since));
    return c.json(
      {
        queued: result.queued.map(targetJson),
        ...(result.unavailable.length > 0 && { unavailable: result.unavailable.map(targetJson) }),
        next_since: result.nextSince === null ? null : new Date(result.nextSince).toISOString(),
      },
      202,
    );
  }
  const target = { provider: body.provider!, userId: body.user_id! };
  if (!(await replayIdentity(c.env, target))) {
    return c.json({ error: "not_found", message: "the bridge never received an event for this identity", queued: [] }, 404);
  }
  return c.json({ queued: [targetJson(target)] }, 202);
});

adminApi.post("/reconcile", zValidator("json", ReconcileRequest, invalidRequest), async (c) => {
  const body = c.req.valid("json");
  const { intervalMinutes } = getConfig(c.env).reconcile;
  const answer = await reconcilerOf(c.env, body.provider).start(body.provider, { trigger: "admin", dryRun: body.dry_run, confirmDeletes: body.confirm_deletes });
  const status = reconcileJson(answer.status, intervalMinutes, Date.now());
  if (answer.started) return c.json({ started: true, ...status }, 202);
  if (answer.reason === "running") return c.json({ error: "already_running", message: "a cycle is under way; see progress", ...status }, 409);
  return c.json({ error: "not_configured", message: answer.status.problem ?? `${body.provider} has no management API credentials`, ...status }, 409);
});

adminApi.get("/reconcile", async (c) => {
  const { intervalMinutes } = getConfig(c.env).reconcile;
  const now = Date.now();
  return c.json({ interval_minutes: intervalMinutes, providers: (await reconcileStatuses(c.env)).map((status) => reconcileJson(status, intervalMinutes, now)) });
});

/** Sends a test message to ALERT_WEBHOOK_URL now (not queued, not retried): the answer says whether it arrived. */
adminApi.post("/alerts/test", async (c) => {
  const { alerts } = getConfig(c.env);
  if (!alerts.url) {
    const invalid = getConfig(c.env).problems.some((problem) => problem.variable === "ALERT_WEBHOOK_URL");
    return c.json({ error: "not_configured", message: `ALERT_WEBHOOK_URL is ${invalid ? "invalid (see /health)" : "not set"}` }, 409);
  }
  const result = await alerterOf(c.env).sendTest(new URL(c.req.url).origin);
  if (result.ok) return c.json({ sent: true, format: alerts.format, status: result.status });
  return c.json({ error: "alert_not_sent", message: result.problem, format: alerts.format, ...(result.status !== undefined && { status: result.status }) }, 502);
});

adminApi.onError((error, c) => {
  // The JSON validator throws on a body that is not JSON; answer in the API's own shape.
  if (error instanceof HTTPException && error.status === 400) {
    return c.json({ error: "invalid_json", message: "body is not valid JSON" }, 400);
  }
  throw error;
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const targetJson = (target: { provider: string; userId: string }) => ({ provider: target.provider, user_id: target.userId });

export function identityJson(status: IdentityStatus) {
  return {
    provider: status.provider,
    user_id: status.userId,
    external_id: status.externalId,
    last_event: { id: status.lastEvent.id, type: status.lastEvent.type, occurred_at: iso(status.lastEvent.occurredAt) },
    delivery: status.delivery,
    pending: status.pending,
    attempts: status.attempts,
    next_attempt_at: iso(status.nextAttemptAt),
    last_orq_status: status.lastStatus,
    last_error: status.lastError,
    tombstone: status.tombstone,
    exists_in_orq: status.existsInOrq,
    // Plan-driven budgets (ORQ_BUDGETS): its plan, and whether orq.ai holds the budget it gives.
    budget: status.budget && {
      plan: status.budget.plan,
      state: status.budget.state,
      error: status.budget.error,
      next_attempt_at: iso(status.budget.nextAttemptAt),
    },
  };
}

function failureJson(failure: FailureEntry) {
  return {
    provider: failure.provider,
    user_id: failure.userId,
    external_id: failure.externalId,
    state: failure.state,
    reason: failure.reason,
    attempts: failure.attempts,
    last_orq_status: failure.status,
    first_failure_at: iso(failure.firstFailureAt),
    updated_at: iso(failure.updatedAt),
  };
}
