/**
 * Clerk's users through the Backend API (PROVIDER-USERS.md, Clerk):
 * `GET /v1/users?limit&offset&order_by=+created_at` answers a plain JSON array of User objects (the
 * shape a webhook's `data` has), at most 500 per request; `GET /v1/users/count` answers
 * `{object: "total_count", total_count}`; `GET /v1/users/{id}` answers 404 `resource_not_found`
 * for a deleted user. `Authorization: Bearer <CLERK_SECRET_KEY>`; 429s carry `Retry-After`.
 */
import { clerk } from "../../providers/clerk";
import { readBinding } from "../../providers/provider";
import { apiBaseUrl, describeUserId, fingerprint, pageSizeWithin, unknownCursor, type Cursor, type SourceFailure, type UserSource, type UserSourceContext } from "../user-source";
import { requestProviderJson } from "./provider-request";

export const CLERK_API_URL = "https://api.clerk.com";
/** Clerk: "Must be an integer greater than zero and less than 501". */
export const CLERK_MAX_PAGE = 500;

export const clerkSource: UserSource = {
  name: "clerk",
  webhook: clerk,
  envVariables: ["CLERK_SECRET_KEY", "CLERK_API_URL"],
  envHelp: ["CLERK_SECRET_KEY   Backend API secret key (sk_live_… / sk_test_…)", `CLERK_API_URL      default ${CLERK_API_URL}`],

  configure(env, options = {}) {
    const secretKey = readBinding(env, "CLERK_SECRET_KEY");
    if (!secretKey) return { ok: false, missing: "CLERK_SECRET_KEY", problem: "CLERK_SECRET_KEY is not set (Clerk Dashboard → API keys → Secret keys)" };
    const baseUrl = apiBaseUrl(readBinding(env, "CLERK_API_URL"), CLERK_API_URL);
    if (!baseUrl) return { ok: false, problem: "CLERK_API_URL must be an http(s) URL" };
    const headers = { authorization: `Bearer ${secretKey}` };
    const limit = pageSizeWithin(options.pageSize, CLERK_MAX_PAGE);
    // Clerk answers 401 for a wrong key and 403 for one of another instance type; both need the operator.
    const explain = (failure: SourceFailure): SourceFailure =>
      failure.authProblem ? { ...failure, reason: `Clerk rejected CLERK_SECRET_KEY (${failure.status}): ${failure.reason.replace(/^.*?answered \d+: /, "")}` } : failure;

    return {
      ok: true,
      client: {
        pageSize: limit,
        account: async () => `clerk ${baseUrl} key sha256:${await fingerprint(secretKey)}`,

        async listPage(cursor, ctx) {
          const offset = cursor === undefined ? 0 : cursor.offset;
          if (typeof offset !== "number" || !Number.isInteger(offset) || offset < 0) return unknownCursor(cursor);
          // Oldest first: users created while the listing runs land after the cursor and never shift it.
          const query = new URLSearchParams({ limit: String(limit), offset: String(offset), order_by: "+created_at" });
          const answer = await requestProviderJson({ url: `${baseUrl}/v1/users?${query}`, headers, label: "Clerk GET /v1/users" }, ctx);
          if (!answer.ok) return explain(answer);
          if (!Array.isArray(answer.body)) return { ok: false, reason: "Clerk GET /v1/users did not answer a JSON array", retryable: false, requests: 1 };
          const users: unknown[] = answer.body;
          const next: Cursor | null = users.length < limit ? null : { offset: offset + users.length };
          return { ok: true, users, cursor: { offset }, next, requests: 1 };
        },

        async confirmGone(userId, ctx) {
          const label = "Clerk GET /v1/users/{id}";
          const answer = await requestProviderJson<{ id?: unknown; errors?: Array<{ code?: unknown }> }>(
            { url: `${baseUrl}/v1/users/${encodeURIComponent(userId)}`, headers, label, expect: [404] },
            ctx,
          );
          if (!answer.ok) return explain(answer);
          if (answer.status !== 404) return { ok: true, gone: false, requests: 1 };
          // Only Clerk's own answer counts: a 404 page from a wrong CLERK_API_URL is not a deleted user.
          const gone = Array.isArray(answer.body?.errors) && answer.body.errors.some((error) => error?.code === "resource_not_found");
          return gone ? { ok: true, gone: true, requests: 1 } : { ok: false, status: 404, reason: `${label}: answered 404 without Clerk's resource_not_found`, retryable: false, requests: 1 };
        },

        async total(ctx: UserSourceContext) {
          const answer = await requestProviderJson<{ total_count?: unknown }>({ url: `${baseUrl}/v1/users/count`, headers, label: "Clerk GET /v1/users/count" }, ctx);
          if (!answer.ok) return explain(answer);
          const total = answer.body?.total_count;
          return { ok: true, total: typeof total === "number" ? total : undefined, requests: 1 };
        },
      },
    };
  },

  toWebhook(user, now) {
    const userId = describeUserId(user, "id");
    // The envelope Clerk's Svix delivery carries; `user.updated` because it states the user's current data.
    return { body: { object: "event", type: "user.updated", timestamp: now, data: user }, deliveryId: `backfill_${userId}`, userId };
  },

  updatedAt(user) {
    const updatedAt = (user as { updated_at?: unknown } | null)?.updated_at;
    return typeof updatedAt === "number" && Number.isFinite(updatedAt) ? updatedAt : undefined;
  },
};
