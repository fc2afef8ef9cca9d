/**
 * Auth0's users through the Management API (PROVIDER-USERS.md, Auth0).
 *
 * `GET /api/v2/users?search_engine=v3&sort=created_at:1&per_page&page&include_totals=true` answers
 * `{start, limit, length, users, total}`, at most 100 users a page, and one query reaches only its
 * first 1,000 users ("view search results by page", Limitation). So a tenant is listed in
 * `created_at` ranges, `q=created_at:[A TO B}`: a range whose first page reports 1,000 users or
 * more is split in halves (binary split) until every range fits, and the ranges are read oldest
 * first. The cursor holds the current range, its page, and the upper bounds of the ranges after it.
 *
 * The token is `AUTH0_MANAGEMENT_TOKEN`, or one fetched with the client-credentials grant
 * (`AUTH0_CLIENT_ID` / `AUTH0_CLIENT_SECRET`, audience `https://<AUTH0_DOMAIN>/api/v2/`), kept in
 * memory until shortly before it expires: Auth0 counts machine-to-machine tokens against a monthly
 * quota, and each one costs a request of the alarm's budget. 429s carry `X-RateLimit-Reset`.
 */
import { auth0 } from "../../providers/auth0";
import { readBinding } from "../../providers/provider";
import {
  apiBaseUrl,
  describeUserId,
  pageSizeWithin,
  unknownCursor,
  type Configured,
  type Cursor,
  type SourceFailure,
  type UserPage,
  type UserSource,
  type UserSourceClient,
  type UserSourceContext,
} from "../user-source";
import { requestProviderJson, type ProviderRequest } from "./provider-request";

/** Auth0: "per_page … max 100". */
export const AUTH0_MAX_PER_PAGE = 100;
/** Auth0: page/per_page reach "a total number of 1000 users" of one query. */
export const AUTH0_QUERY_LIMIT = 1000;
/** Only what the bridge's mapping reads; `user_metadata` is user-editable and never leaves Auth0. */
export const AUTH0_USER_FIELDS = ["user_id", "email", "username", "name", "given_name", "family_name", "nickname", "picture", "app_metadata", "created_at", "updated_at"] as const;

export type ManagementAnswer<T> = { ok: true; status: number; body: T; headers: Headers; requests: number } | SourceFailure;

export interface Auth0Client extends UserSourceClient {
  readonly baseUrl: string;
  readonly domain: string;
  /** A Management API call with the bearer token; after a 401 a client-credentials token is fetched again, once. */
  management<T>(request: ProviderRequest, ctx: UserSourceContext): Promise<ManagementAnswer<T>>;
}

export const auth0Source: UserSource = {
  name: "auth0",
  webhook: auth0,
  envVariables: ["AUTH0_DOMAIN", "AUTH0_MANAGEMENT_TOKEN", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET", "AUTH0_BASE_URL"],
  envHelp: [
    "AUTH0_DOMAIN              tenant domain, e.g. acme.eu.auth0.com",
    "AUTH0_MANAGEMENT_TOKEN    a Management API token with read:users, or:",
    "AUTH0_CLIENT_ID / AUTH0_CLIENT_SECRET   a machine-to-machine app authorised for the Management API (read:users)",
    "AUTH0_BASE_URL            default https://<AUTH0_DOMAIN>",
  ],
  configure: (env, options) => configureAuth0(env, options),

  toWebhook(user, now) {
    const userId = describeUserId(user, "user_id");
    const time = new Date(now).toISOString();
    // The CloudEvent Auth0 Event Streams deliver; `user.updated` because it states the user's current data.
    const body = { specversion: "1.0", type: "user.updated", source: "urn:auth0:backfill", id: `backfill_${userId}`, time, data: { object: user } };
    return { body, deliveryId: body.id, userId };
  },

  updatedAt(user) {
    return timeOf(user, "updated_at");
  },
};

export function configureAuth0(env: Readonly<Record<string, unknown>>, options: { pageSize?: number } = {}): { ok: true; client: Auth0Client } | Extract<Configured, { ok: false }> {
  const domain = readBinding(env, "AUTH0_DOMAIN")
    ?.replace(/^https?:\/\//, "")
    .replace(/\/+$/, "");
  if (!domain) return { ok: false, missing: "AUTH0_DOMAIN", problem: "AUTH0_DOMAIN is not set (your tenant's domain, e.g. acme.eu.auth0.com)" };
  const baseUrl = apiBaseUrl(readBinding(env, "AUTH0_BASE_URL"), `https://${domain}`);
  if (!baseUrl) return { ok: false, problem: "AUTH0_BASE_URL must be an http(s) URL" };
  const tokens = tokenSource(env, domain, baseUrl);
  if (!tokens.ok) return tokens;
  const pageSize = pageSizeWithin(options.pageSize, AUTH0_MAX_PER_PAGE);

  const client: Auth0Client = {
    baseUrl,
    domain,
    pageSize,
    account: async () => `auth0 ${baseUrl} (${domain})`,
    management: (request, ctx) => callManagementApi(tokens.source, request, ctx),

    async listPage(cursor, ctx) {
      const range = cursor === undefined ? wholeTenant(pageSize) : rangeOf(cursor);
      if (!range) return unknownCursor(cursor);
      return listRangePage(client, range, ctx);
    },

    async confirmGone(userId, ctx) {
      const label = "Auth0 GET /api/v2/users/{id}";
      const query = new URLSearchParams({ fields: "user_id", include_fields: "true" });
      const answer = await client.management<{ errorCode?: unknown; message?: unknown }>(
        { url: `${baseUrl}/api/v2/users/${encodeURIComponent(userId)}?${query}`, label, expect: [404] },
        ctx,
      );
      if (!answer.ok) return answer;
      if (answer.status !== 404) return { ok: true, gone: false, requests: answer.requests };
      // Only Auth0's own answer counts: a 404 page from a wrong AUTH0_BASE_URL is not a deleted user.
      const body = answer.body ?? {};
      const gone = body.errorCode === "inexistent_user" || (typeof body.message === "string" && /user does not exist/i.test(body.message));
      if (gone) return { ok: true, gone: true, requests: answer.requests };
      return { ok: false, status: 404, reason: `${label}: answered 404 without Auth0's inexistent_user`, retryable: false, requests: answer.requests };
    },
  };
  return { ok: true, client };
}

// ---------------------------------------------------------------------------------------------------------------
// Listing in created_at ranges
// ---------------------------------------------------------------------------------------------------------------

/**
 * `[from, to)` in epoch ms (null: unbounded), the page within it, and `rest`: the upper bounds
 * (`*` for none) of the ranges still to read after this one, each starting where the one before
 * ends. `skip`: ids (a JSON array) already listed at `from`, when a range had to be continued
 * from its last user's creation time.
 */
interface Range {
  from: number | null;
  to: number | null;
  page: number;
  perPage: number;
  rest: string;
  skip: string;
}

const RANGE_KIND = "created_at";

function wholeTenant(perPage: number): Range {
  return { from: null, to: null, page: 0, perPage, rest: "", skip: "" };
}

function cursorOf(range: Range): Cursor {
  return { kind: RANGE_KIND, ...range };
}

function rangeOf(cursor: Cursor): Range | undefined {
  const { kind, from = null, to = null, page, perPage, rest = "", skip = "" } = cursor;
  const bound = (value: unknown) => value === null || (typeof value === "number" && Number.isFinite(value));
  const count = (value: unknown, min: number) => typeof value === "number" && Number.isInteger(value) && value >= min;
  if (!count(page, 0) || !count(perPage, 1) || (perPage as number) > AUTH0_MAX_PER_PAGE) return undefined;
  // `pages`: a checkpoint of the backfill before ranges, which paged the whole tenant the same way.
  if (kind === "pages") return { ...wholeTenant(perPage as number), page: page as number };
  if (kind !== RANGE_KIND || !bound(from) || !bound(to) || typeof rest !== "string" || typeof skip !== "string") return undefined;
  return { from: from as number | null, to: to as number | null, page: page as number, perPage: perPage as number, rest, skip };
}

/** Lucene range, lower bound inclusive, upper exclusive (Auth0 allows mixing `[` and `}`); `*` when open. */
function rangeQuery(range: Range): string {
  const lower = range.from === null ? "*" : new Date(range.from).toISOString();
  const upper = range.to === null ? "*]" : `${new Date(range.to).toISOString()}}`;
  return `created_at:[${lower} TO ${upper}`;
}

async function listRangePage(client: Auth0Client, range: Range, ctx: UserSourceContext): Promise<UserPage | SourceFailure> {
  const query = new URLSearchParams({
    search_engine: "v3",
    page: String(range.page),
    per_page: String(range.perPage),
    include_totals: "true",
    sort: "created_at:1",
    fields: AUTH0_USER_FIELDS.join(","),
    include_fields: "true",
  });
  const whole = range.from === null && range.to === null;
  if (!whole) query.set("q", rangeQuery(range));
  const label = "Auth0 GET /api/v2/users";
  const answer = await client.management<unknown>({ url: `${client.baseUrl}/api/v2/users?${query}`, label }, ctx);
  if (!answer.ok) return answer;
  const { requests } = answer;
  const parsed = usersOf(answer.body);
  if (!parsed) return { ok: false, reason: `${label} answered without a users list`, retryable: false, requests };
  const { total } = parsed;
  const here = cursorOf(range);

  // Whole pages within the first 1,000 only: Auth0 refuses a page that reaches past them.
  const reachable = Math.floor(AUTH0_QUERY_LIMIT / range.perPage) * range.perPage;
  const overLimit = total !== undefined && (total >= AUTH0_QUERY_LIMIT || total > reachable);
  const first = parsed.users[0];
  if (range.page === 0 && overLimit && first !== undefined) {
    const halves = splitRange(range, first, ctx.now?.() ?? Date.now());
    if (halves) return { ok: true, users: [], cursor: here, next: cursorOf(halves), requests };
  }

  const skip = range.skip ? new Set(parseIds(range.skip)) : undefined;
  const users = skip ? parsed.users.filter((user) => !skip.has(describeUserId(user, "user_id"))) : parsed.users;
  const page: UserPage = { ok: true, users, cursor: here, next: null, requests, ...(whole && range.page === 0 && total !== undefined && !overLimit && { total }) };

  const listedSoFar = (range.page + 1) * range.perPage;
  const rangeDone = parsed.users.length < range.perPage || (total !== undefined && !overLimit && listedSoFar >= total);
  if (rangeDone) return { ...page, next: nextRange(range) };
  if (listedSoFar + range.perPage <= AUTH0_QUERY_LIMIT) return { ...page, next: cursorOf({ ...range, page: range.page + 1 }) };

  // The range holds more than Auth0 pages through (it grew since its first page, it could not be
  // split, or Auth0 sent no total): go on from the last listed user's creation time.
  const last = parsed.users.at(-1);
  const lastAt = last === undefined ? undefined : timeOf(last, "created_at");
  if (lastAt === undefined || (range.from !== null && lastAt <= range.from)) {
    const at = lastAt === undefined ? "an unknown time" : new Date(lastAt).toISOString();
    const warning = `Auth0 lists at most ${AUTH0_QUERY_LIMIT} users of one query, and more than that were created at ${at}: the others are not listed`;
    const after = lastAt === undefined ? nextRange(range) : cursorOf({ ...range, from: lastAt + 1, page: 0, skip: "" });
    return { ...page, next: after, warning };
  }
  const sameInstant = parsed.users.filter((user) => timeOf(user, "created_at") === lastAt).map((user) => describeUserId(user, "user_id"));
  return { ...page, next: cursorOf({ ...range, from: lastAt, page: 0, skip: JSON.stringify(sameInstant) }) };
}

/**
 * The lower half of `range`, the upper half pushed onto `rest`. The lower bound moves up to the
 * oldest user's creation time first (nobody is older), so empty years are not halved one by one;
 * an open range is halved up to now. Undefined when the range is a single millisecond.
 */
function splitRange(range: Range, oldest: unknown, now: number): Range | undefined {
  const oldestAt = timeOf(oldest, "created_at");
  const from = oldestAt !== undefined && (range.from === null || oldestAt > range.from) ? oldestAt : range.from;
  if (from === null) return undefined;
  const end = range.to ?? Math.max(now, from) + 1;
  if (end - from < 2) return undefined;
  const middle = from + Math.floor((end - from) / 2);
  const rest = [range.to === null ? "*" : String(range.to), ...splitRest(range.rest)].join(",");
  return { from, to: middle, page: 0, perPage: range.perPage, rest, skip: from === range.from ? range.skip : "" };
}

/** The range after `range`, or null when `range` was the last (the open-ended one). */
function nextRange(range: Range): Cursor | null {
  if (range.to === null) return null;
  const [upper, ...rest] = splitRest(range.rest);
  const to = upper === undefined || upper === "*" ? null : Number(upper);
  return cursorOf({ from: range.to, to, page: 0, perPage: range.perPage, rest: rest.join(","), skip: "" });
}

function splitRest(rest: string): string[] {
  return rest.split(",").filter(Boolean);
}

function parseIds(skip: string): string[] {
  try {
    const ids: unknown = JSON.parse(skip);
    return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === "string") : [];
  } catch {
    return [];
  }
}

/** include_totals=true wraps the list; without it (or from an older tenant) it is the bare array. */
function usersOf(body: unknown): { users: unknown[]; total: number | undefined } | undefined {
  if (Array.isArray(body)) return { users: body, total: undefined };
  const wrapped = body as { users?: unknown; total?: unknown } | null;
  if (!wrapped || !Array.isArray(wrapped.users)) return undefined;
  return { users: wrapped.users, total: typeof wrapped.total === "number" ? wrapped.total : undefined };
}

function timeOf(user: unknown, field: "created_at" | "updated_at"): number | undefined {
  const value = typeof user === "object" && user !== null ? (user as Record<string, unknown>)[field] : undefined;
  const time = typeof value === "string" ? Date.parse(value) : Number.NaN;
  return Number.isFinite(time) ? time : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------------------------

type TokenAnswer = { ok: true; token: string; requests: number } | SourceFailure;

interface TokenSource {
  token(ctx: UserSourceContext): Promise<TokenAnswer>;
  /** After a 401: forget the token so the next call fetches another; false for a fixed AUTH0_MANAGEMENT_TOKEN. */
  renew(): boolean;
}

/** Client-credentials tokens by tenant and app, for this isolate's (or CLI process's) lifetime. */
const cachedTokens = new Map<string, { token: string; renewAt: number }>();

function tokenSource(env: Readonly<Record<string, unknown>>, domain: string, baseUrl: string): { ok: true; source: TokenSource } | { ok: false; missing: string; problem: string } {
  const fixed = readBinding(env, "AUTH0_MANAGEMENT_TOKEN");
  if (fixed) return { ok: true, source: { token: async () => ({ ok: true, token: fixed, requests: 0 }), renew: () => false } };
  const clientId = readBinding(env, "AUTH0_CLIENT_ID");
  const clientSecret = readBinding(env, "AUTH0_CLIENT_SECRET");
  if (!clientId || !clientSecret) {
    return {
      ok: false,
      missing: clientId ? "AUTH0_CLIENT_SECRET" : clientSecret ? "AUTH0_CLIENT_ID" : "AUTH0_MANAGEMENT_TOKEN",
      problem: "set AUTH0_MANAGEMENT_TOKEN, or AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET of an app authorised for the Management API (read:users)",
    };
  }
  const key = `${baseUrl}\n${clientId}\n${clientSecret}`;
  return {
    ok: true,
    source: {
      async token(ctx) {
        const now = ctx.now?.() ?? Date.now();
        const cached = cachedTokens.get(key);
        if (cached && now < cached.renewAt) return { ok: true, token: cached.token, requests: 0 };
        const answer = await requestProviderJson<{ access_token?: unknown; expires_in?: unknown }>(
          {
            url: `${baseUrl}/oauth/token`,
            method: "POST",
            // The audience names the tenant's own domain even when requests go to AUTH0_BASE_URL.
            json: { grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret, audience: `https://${domain}/api/v2/` },
            label: "Auth0 POST /oauth/token",
          },
          ctx,
        );
        if (!answer.ok) return { ...answer, reason: `could not get a Management API token: ${answer.reason}` };
        const token = answer.body?.access_token;
        if (typeof token !== "string" || !token) return { ok: false, reason: "Auth0 POST /oauth/token answered without access_token", retryable: false, requests: 1 };
        const lifetimeMs = typeof answer.body.expires_in === "number" && answer.body.expires_in > 0 ? answer.body.expires_in * 1000 : 86_400_000;
        // Renewed a little early: a token that expires between two calls of one page costs a 401 and a retry.
        cachedTokens.set(key, { token, renewAt: now + lifetimeMs - Math.min(5 * 60_000, lifetimeMs / 2) });
        return { ok: true, token, requests: 1 };
      },
      renew() {
        cachedTokens.delete(key);
        return true;
      },
    },
  };
}

async function callManagementApi<T>(tokens: TokenSource, request: ProviderRequest, ctx: UserSourceContext): Promise<ManagementAnswer<T>> {
  let requests = 0;
  for (let renewed = false; ; renewed = true) {
    const token = await tokens.token(ctx);
    requests += token.requests;
    if (!token.ok) return { ...token, requests };
    const answer = await requestProviderJson<T>({ ...request, headers: { ...request.headers, authorization: `Bearer ${token.token}` } }, ctx);
    requests += 1;
    if (answer.ok) return { ...answer, requests };
    // An expired token: a fresh one, once.
    if (answer.status === 401 && !renewed && tokens.renew()) continue;
    if (answer.authProblem) {
      const summary = answer.reason.replace(/^.*?answered \d+: /, "");
      return { ...answer, reason: `Auth0 rejected the Management API token (${answer.status}; it needs read:users): ${summary}`, requests };
    }
    return { ...answer, requests };
  }
}
