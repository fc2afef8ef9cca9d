/**
 * Clerk's users through the Backend API: `GET /v1/users?limit&offset&order_by=+created_at`
 * answers a plain JSON array of User objects (the same shape as a webhook's `data`), at most 500
 * per request; `GET /v1/users/count` answers `{object: "total_count", total_count}`. Requests carry
 * `Authorization: Bearer <CLERK_SECRET_KEY>`; 429s come with `Retry-After` (Clerk's rate-limit docs).
 */
import { createHash } from "node:crypto";
import { clerk } from "../../../src/providers/clerk";
import { callProviderJson, type ApiFailure } from "./provider-api";
import { describeUserId, type BackfillProvider, type UserPage } from "./user-source";

export const CLERK_API_URL = "https://api.clerk.com";
/** Clerk: "Must be an integer greater than zero and less than 501". */
export const CLERK_MAX_PAGE = 500;

export const clerkBackfill: BackfillProvider = {
  name: "clerk",
  webhook: clerk,
  envHelp: ["CLERK_SECRET_KEY   Backend API secret key (sk_live_… / sk_test_…)", `CLERK_API_URL      default ${CLERK_API_URL}`],

  async open({ env, api, pageSize }) {
    const secretKey = env.CLERK_SECRET_KEY?.trim();
    if (!secretKey) return { ok: false, problem: "CLERK_SECRET_KEY is not set (Clerk Dashboard → API keys → Secret keys)" };
    const baseUrl = apiBaseUrl(env.CLERK_API_URL, CLERK_API_URL);
    if (!baseUrl) return { ok: false, problem: "CLERK_API_URL must be an http(s) URL" };
    const headers = { authorization: `Bearer ${secretKey}` };
    const limit = Math.min(Math.max(1, pageSize ?? CLERK_MAX_PAGE), CLERK_MAX_PAGE);

    const count = await callProviderJson<{ total_count?: unknown }>({ url: `${baseUrl}/v1/users/count`, headers, label: "Clerk GET /v1/users/count" }, api);
    if (!count.ok) return { ok: false, problem: explainClerkFailure(count), interrupted: count.interrupted };
    const total = typeof count.body.total_count === "number" ? count.body.total_count : undefined;

    return {
      ok: true,
      source: {
        total,
        identity: `clerk ${baseUrl} key sha256:${createHash("sha256").update(secretKey).digest("hex").slice(0, 12)}`,
        async *pages(from): AsyncGenerator<UserPage | ApiFailure> {
          let offset = typeof from?.offset === "number" ? from.offset : 0;
          for (;;) {
            // Oldest first: users created while the backfill runs land after the cursor, never shift it.
            const query = new URLSearchParams({ limit: String(limit), offset: String(offset), order_by: "+created_at" });
            const answer = await callProviderJson<unknown>({ url: `${baseUrl}/v1/users?${query}`, headers, label: "Clerk GET /v1/users" }, api);
            if (!answer.ok) {
              yield { ...answer, reason: explainClerkFailure(answer) };
              return;
            }
            if (!Array.isArray(answer.body)) {
              yield { ok: false, reason: "Clerk GET /v1/users did not answer a JSON array", interrupted: false };
              return;
            }
            const users: unknown[] = answer.body;
            yield { ok: true, cursor: { offset }, nextCursor: { offset: offset + users.length }, users };
            if (users.length < limit) return;
            offset += users.length;
          }
        },
      },
    };
  },

  toWebhook(user, now) {
    const userId = describeUserId(user, "id");
    // The envelope Clerk's Svix delivery carries; `user.updated` because it states the user's current data.
    return { body: { object: "event", type: "user.updated", timestamp: now, data: user }, deliveryId: `backfill_${userId}`, userId };
  },
};

function explainClerkFailure(failure: ApiFailure): string {
  if (failure.status === 401 || failure.status === 403) return `Clerk rejected CLERK_SECRET_KEY (${failure.status}): ${failure.reason}`;
  return failure.reason;
}

/** A base URL without trailing slash, or undefined when it is not http(s). */
export function apiBaseUrl(value: string | undefined, fallback: string): string | undefined {
  const raw = value?.trim() || fallback;
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? raw.replace(/\/+$/, "") : undefined;
  } catch {
    return undefined;
  }
}
