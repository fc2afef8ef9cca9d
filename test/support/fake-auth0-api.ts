/**
 * A local stand-in for the parts of Auth0's Authentication and Management APIs the backfill uses,
 * as Auth0 documents them:
 *
 * - `POST /oauth/token` (client credentials, audience `https://<domain>/api/v2/`) →
 *   `{access_token, token_type: "Bearer", expires_in, scope}`.
 * - `GET /api/v2/users?page&per_page&include_totals&sort&fields&include_fields`: at most 100 per
 *   page (default 50); page/per_page reach only the first 1000 users of a query ("view search results
 *   by page", Limitation; beyond them a 400 "You can only page through the first 1000 records"). With
 *   `include_totals=true` the answer is `{start, limit, length, users, total}`, and `total` is capped
 *   at 1000 like the query it describes (Auth0: "total number of results in the query (max 1,000)").
 *   `search_engine=v3&q=created_at:[A TO B}` narrows the query to a creation-time range (Lucene:
 *   `[`/`]` inclusive, `{`/`}` exclusive, `*` open; "user search query syntax", Ranges); its total
 *   and its 1000-user limit are the range's. Other `q` searches are refused (400).
 * - `GET /api/v2/users/{id}`: the user, or 404 `inexistent_user`.
 * - `POST /api/v2/jobs/users-exports` `{format: "json", fields}` → a `users_export` job, `pending`;
 *   `GET /api/v2/jobs/{id}` turns `completed` after `exportPendingPolls` polls, with a pre-signed
 *   `location`; the file is gzipped NDJSON, one user (only the requested fields) per line. Like the
 *   storage behind real locations, the download refuses a request that also carries Authorization.
 * - Rate limits answer 429 with `X-RateLimit-Limit/Remaining/Reset` (reset: epoch seconds).
 */
import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { loadFixture } from "../../signing/sample-webhooks";
import { bearerToken, jsonBody, startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from "./fake-http";

// biome-ignore lint: Auth0 users are free-form JSON
export type Auth0User = Record<string, any>;

export interface FakeAuth0Options {
  domain?: string;
  users?: Auth0User[];
  clientId?: string;
  clientSecret?: string;
  /** Polls of `GET /api/v2/jobs/{id}` answered `pending` before `completed`; default 2. */
  exportPendingPolls?: number;
}

export interface FakeAuth0Api extends FakeServer {
  readonly domain: string;
  readonly clientId: string;
  readonly clientSecret: string;
  users: Auth0User[];
  /** Issues a token without the OAuth round trip (as if from AUTH0_MANAGEMENT_TOKEN). */
  issueToken(): string;
  /** Every token issued so far stops working (401), as when one expires. */
  expireTokens(): void;
  /** The next `times` requests matching `matches` answer 429 with `X-RateLimit-Reset` `resetInSeconds` from then. */
  rateLimitOnce(matches: (request: FakeRequest) => boolean, resetInSeconds: number, times?: number): void;
}

const MAX_PER_PAGE = 100;
const PAGING_LIMIT = 1000;

function managementError(status: number, error: string, message: string, errorCode?: string): FakeReply {
  return { status, body: { statusCode: status, error, message, ...(errorCode && { errorCode }) } };
}

interface ExportJob {
  id: string;
  polls: number;
  fields: string[];
  /** Taken when the job was created, as a real export reads the tenant then. */
  lines: string[];
}

export async function startFakeAuth0Api(options: FakeAuth0Options = {}): Promise<FakeAuth0Api> {
  const domain = options.domain ?? "fake-tenant.eu.auth0.com";
  const clientId = options.clientId ?? randomBytes(16).toString("hex");
  const clientSecret = options.clientSecret ?? randomBytes(32).toString("hex");
  const pendingPolls = options.exportPendingPolls ?? 2;
  const state = { users: options.users ?? [] };
  let tokens = new Set<string>();
  const jobs = new Map<string, ExportJob>();

  const issueToken = () => {
    const token = `fake-mgmt-${randomBytes(12).toString("hex")}`;
    tokens.add(token);
    return token;
  };

  const server = await startFakeServer((request, baseUrl) => {
    if (request.method === "POST" && request.path === "/oauth/token") return tokenGrant(request);
    const download = /^\/__exports\/([^/]+)\/[^/]+\.json\.gz$/.exec(request.path);
    if (request.method === "GET" && download) return exportFile(request, download[1] ?? "");
    if (!request.path.startsWith("/api/v2/")) return managementError(404, "Not Found", "Not Found");
    if (!tokens.has(bearerToken(request) ?? "")) return { status: 401, body: { statusCode: 401, error: "Unauthorized", message: "Invalid token", attributes: { error: "Invalid token" } } };

    if (request.method === "GET" && request.path === "/api/v2/users") return listUsers(state.users, request.query);
    const single = /^\/api\/v2\/users\/([^/]+)$/.exec(request.path);
    if (request.method === "GET" && single) return getUser(state.users, decodeURIComponent(single[1] ?? ""), request.query);
    if (request.method === "POST" && request.path === "/api/v2/jobs/users-exports") return createExport(request);
    const job = /^\/api\/v2\/jobs\/([^/]+)$/.exec(request.path);
    if (request.method === "GET" && job) return jobStatus(job[1] ?? "", baseUrl);
    return managementError(404, "Not Found", "Not Found");
  });

  function tokenGrant(request: FakeRequest): FakeReply {
    const body = (jsonBody(request) ?? Object.fromEntries(new URLSearchParams(request.body))) as Record<string, unknown>;
    if (body.grant_type !== "client_credentials") return { status: 400, body: { error: "unsupported_grant_type", error_description: "Unsupported grant type" } };
    if (body.client_id !== clientId || body.client_secret !== clientSecret) return { status: 401, body: { error: "access_denied", error_description: "Unauthorized" } };
    if (body.audience !== `https://${domain}/api/v2/`) return { status: 403, body: { error: "access_denied", error_description: `Service not enabled within domain: ${String(body.audience)}` } };
    return { status: 200, body: { access_token: issueToken(), token_type: "Bearer", expires_in: 86_400, scope: "read:users" } };
  }

  function createExport(request: FakeRequest): FakeReply {
    const body = jsonBody(request) as { format?: unknown; fields?: Array<{ name?: unknown }> } | undefined;
    if (body?.format !== "json") return managementError(400, "Bad Request", "this fake exports format json only", "invalid_body");
    const fields = Array.isArray(body.fields) ? body.fields.map((field) => String(field.name)) : [];
    const id = `job_${randomBytes(8).toString("hex")}`;
    const lines = sortedByCreation(state.users, 1).map((user) => JSON.stringify(pick(user, fields)));
    jobs.set(id, { id, polls: 0, fields, lines });
    return { status: 201, body: { type: "users_export", status: "pending", id, created_at: new Date().toISOString(), format: "json", fields: fields.map((name) => ({ name })) } };
  }

  function jobStatus(id: string, baseUrl: string): FakeReply {
    const job = jobs.get(id);
    if (!job) return managementError(404, "Not Found", "The job does not exist", "inexistent_job");
    job.polls++;
    const base = { type: "users_export", id, created_at: new Date().toISOString(), format: "json", fields: job.fields.map((name) => ({ name })) };
    if (job.polls <= pendingPolls) return { status: 200, body: { ...base, status: job.polls === 1 ? "pending" : "processing", percentage_done: Math.round((job.polls / (pendingPolls + 1)) * 100) } };
    const tenant = domain.split(".")[0];
    return { status: 200, body: { ...base, status: "completed", location: `${baseUrl}/__exports/${id}/${tenant}.json.gz?X-Amz-Signature=${randomBytes(8).toString("hex")}` } };
  }

  function exportFile(request: FakeRequest, id: string): FakeReply {
    // S3: "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified".
    if (request.headers.authorization) return { status: 400, headers: { "content-type": "application/xml" }, body: Buffer.from("<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>") };
    const job = jobs.get(id);
    if (!job || job.polls <= pendingPolls) return { status: 403, headers: { "content-type": "application/xml" }, body: Buffer.from("<Error><Code>AccessDenied</Code></Error>") };
    return { status: 200, headers: { "content-type": "application/gzip" }, body: gzipSync(job.lines.map((line) => `${line}\n`).join("")) };
  }

  // A property with accessors (Object.assign would copy a getter's value, not the getter).
  Object.defineProperty(server, "users", { get: () => state.users, set: (value: Auth0User[]) => (state.users = value), enumerable: true });
  return Object.assign(server as FakeServer & { users: Auth0User[] }, {
    domain,
    clientId,
    clientSecret,
    issueToken,
    expireTokens() {
      tokens = new Set();
    },
    rateLimitOnce(matches: (request: FakeRequest) => boolean, resetInSeconds: number, times = 1) {
      server.addFault({
        matches,
        times,
        reply: () => ({
          ...managementError(429, "Too Many Requests", "Global limit has been reached", "too_many_requests"),
          headers: { "x-ratelimit-limit": "50", "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.ceil(Date.now() / 1000) + resetInSeconds) },
        }),
      });
    },
  });
}

function sortedByCreation(users: Auth0User[], direction: 1 | -1): Auth0User[] {
  return [...users].sort((a, b) => direction * (Date.parse(a.created_at) - Date.parse(b.created_at) || String(a.user_id).localeCompare(String(b.user_id))));
}

function pick(user: Auth0User, fields: readonly string[]): Auth0User {
  if (fields.length === 0) return user;
  return Object.fromEntries(fields.filter((field) => Object.hasOwn(user, field)).map((field) => [field, user[field]]));
}

function listUsers(users: Auth0User[], query: URLSearchParams): FakeReply {
  const perPage = Number(query.get("per_page") ?? 50);
  const page = Number(query.get("page") ?? 0);
  if (!Number.isInteger(perPage) || perPage < 1 || perPage > MAX_PER_PAGE) {
    return managementError(400, "Bad Request", `Query validation error: 'Too big: must be at most ${MAX_PER_PAGE}' on property per_page`, "invalid_query_string");
  }
  if (!Number.isInteger(page) || page < 0) return managementError(400, "Bad Request", "Query validation error on property page", "invalid_query_string");
  const start = page * perPage;
  if (start + perPage > PAGING_LIMIT) {
    return managementError(400, "Bad Request", `You can only page through the first ${PAGING_LIMIT} records. See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation`, "invalid_paging");
  }
  const q = query.get("q");
  let matching = users;
  if (q !== null) {
    if (query.get("search_engine") !== "v3") return managementError(400, "Bad Request", "q needs search_engine=v3", "invalid_query_string");
    const range = parseCreatedAtRange(q);
    if (!range) return managementError(400, "Bad Request", `this fake searches created_at ranges only, not ${q}`, "invalid_query_string");
    matching = users.filter((user) => range(Date.parse(user.created_at)));
  }
  const sort = query.get("sort");
  const sortMatch = sort === null ? undefined : /^created_at:(1|-1)$/.exec(sort);
  if (sort !== null && !sortMatch) return managementError(400, "Bad Request", `this fake sorts by created_at only, not ${sort}`, "invalid_query_string");
  const ordered = sortedByCreation(matching, sortMatch?.[1] === "-1" ? -1 : 1);
  const fields = query.get("fields")?.split(",").filter(Boolean) ?? [];
  const include = query.get("include_fields") !== "false";
  const project = (user: Auth0User) => (fields.length === 0 ? user : include ? pick(user, fields) : Object.fromEntries(Object.entries(user).filter(([key]) => !fields.includes(key))));
  const pageUsers = ordered.slice(start, start + perPage).map(project);
  if (query.get("include_totals") !== "true") return { status: 200, body: pageUsers };
  return { status: 200, body: { start, limit: perPage, length: pageUsers.length, users: pageUsers, total: Math.min(matching.length, PAGING_LIMIT) } };
}

/** `created_at:[A TO B}` and the other bracket pairs, `*` for an open bound: a test of a creation time (ms). */
function parseCreatedAtRange(q: string): ((time: number) => boolean) | undefined {
  const match = /^created_at:([[{])(\S+) TO (\S+)([\]}])$/.exec(q.trim());
  if (!match) return undefined;
  const [, open, lowerText = "", upperText = "", close] = match;
  const lower = lowerText === "*" ? Number.NEGATIVE_INFINITY : Date.parse(lowerText);
  const upper = upperText === "*" ? Number.POSITIVE_INFINITY : Date.parse(upperText);
  if (Number.isNaN(lower) || Number.isNaN(upper)) return undefined;
  return (time) => (open === "[" ? time >= lower : time > lower) && (close === "]" ? time <= upper : time < upper);
}

function getUser(users: Auth0User[], userId: string, query: URLSearchParams): FakeReply {
  const user = users.find((candidate) => candidate.user_id === userId);
  if (!user) return managementError(404, "Not Found", "The user does not exist.", "inexistent_user");
  const fields = query.get("fields")?.split(",").filter(Boolean) ?? [];
  return { status: 200, body: fields.length > 0 && query.get("include_fields") !== "false" ? pick(user, fields) : user };
}

let sequence = 0;

/**
 * A Management API user: Auth0's documented example (test/fixtures/auth0/user.created.json
 * `data.object`) with a fresh id, email and creation time, then `overrides`. A key set to
 * `undefined` in `overrides` is removed (Auth0 omits absent attributes).
 */
export function auth0User(userId: string, overrides: Auth0User = {}): Auth0User {
  const template = loadFixture("auth0", "user.created").data.object as Auth0User;
  const createdAt = new Date(Date.UTC(2025, 1, 1) + ++sequence * 1000).toISOString();
  const user: Auth0User = { ...template, user_id: userId, email: `${userId.replace(/\W/g, "").toLowerCase()}@example.com`, created_at: createdAt, updated_at: createdAt, ...overrides };
  for (const [key, value] of Object.entries(user)) if (value === undefined) delete user[key];
  return user;
}
