/**
 * A local stand-in for the part of Clerk's Backend API the backfill uses, as Clerk documents it:
 *
 * - `GET /v1/users?limit&offset&order_by`: a plain JSON array of User objects (the same shape as a
 *   webhook's `data`); `limit` 1–500 (default 10), `offset` default 0, `order_by` `created_at` /
 *   `updated_at` with `+` (ascending) or `-` (descending, the default `-created_at`).
 * - `GET /v1/users/count`: `{object: "total_count", total_count}`.
 * - `GET /v1/users/{id}`: the User, or 404 `resource_not_found`.
 * - `Authorization: Bearer <secret key>`, else 401; errors as `{errors: [{message, long_message, code}]}`.
 * - Rate limits answer 429 with `Retry-After` (seconds): add them with `rateLimitOnce` or `addFault`.
 *
 * Users are kept in `users` (mutable between runs, to simulate changes at Clerk).
 */
import { randomBytes } from "node:crypto";
import { loadFixture } from "../signing/sample-webhooks";
import { bearerToken, startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from "./fake-http";

// biome-ignore lint: Clerk users are free-form JSON
export type ClerkUser = Record<string, any>;

export interface FakeClerkApi extends FakeServer {
  readonly secretKey: string;
  users: ClerkUser[];
  /** The next `times` requests matching `matches` answer 429 with `Retry-After: retryAfterSeconds`. */
  rateLimitOnce(matches: (request: FakeRequest) => boolean, retryAfterSeconds: number, times?: number): void;
}

const MAX_LIMIT = 500;

function clerkError(status: number, code: string, message: string): FakeReply {
  return { status, body: { errors: [{ code, message, long_message: message, meta: {} }], clerk_trace_id: randomBytes(8).toString("hex") } };
}

export async function startFakeClerkApi(options: { users?: ClerkUser[]; secretKey?: string } = {}): Promise<FakeClerkApi> {
  const secretKey = options.secretKey ?? `sk_test_${randomBytes(16).toString("hex")}`;
  const state = { users: options.users ?? [] };

  const server = await startFakeServer((request) => {
    if (bearerToken(request) !== secretKey) return clerkError(401, "authentication_invalid", "Invalid authentication");
    if (request.method === "GET" && request.path === "/v1/users/count") return { status: 200, body: { object: "total_count", total_count: state.users.length } };
    if (request.method === "GET" && request.path === "/v1/users") return listUsers(state.users, request.query);
    const single = /^\/v1\/users\/([^/]+)$/.exec(request.path);
    const user = single && state.users.find((candidate) => candidate.id === decodeURIComponent(single[1] ?? ""));
    if (request.method === "GET" && user) return { status: 200, body: user };
    return clerkError(404, "resource_not_found", "not found");
  });

  // A property with accessors (Object.assign would copy a getter's value, not the getter).
  Object.defineProperty(server, "users", { get: () => state.users, set: (value: ClerkUser[]) => (state.users = value), enumerable: true });
  return Object.assign(server as FakeServer & { users: ClerkUser[] }, {
    secretKey,
    rateLimitOnce(matches: (request: FakeRequest) => boolean, retryAfterSeconds: number, times = 1) {
      server.addFault({ matches, times, reply: { ...clerkError(429, "too_many_requests", "Too many requests"), headers: { "retry-after": String(retryAfterSeconds) } } });
    },
  });
}

function listUsers(users: ClerkUser[], query: URLSearchParams): FakeReply {
  const limit = Number(query.get("limit") ?? 10);
  const offset = Number(query.get("offset") ?? 0);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    return clerkError(422, "form_param_value_invalid", `limit must be an integer greater than zero and less than ${MAX_LIMIT + 1}`);
  }
  if (!Number.isInteger(offset) || offset < 0) return clerkError(422, "form_param_value_invalid", "offset must be a non-negative integer");
  const orderBy = query.get("order_by") ?? "-created_at";
  const match = /^([+-]?)(created_at|updated_at)$/.exec(orderBy);
  if (!match) return clerkError(422, "form_param_value_invalid", `order_by ${orderBy} is not supported`);
  const [, direction, field = "created_at"] = match;
  const sign = direction === "-" ? -1 : 1;
  const sorted = [...users].sort((a, b) => sign * ((a[field] as number) - (b[field] as number) || String(a.id).localeCompare(String(b.id))));
  return { status: 200, body: sorted.slice(offset, offset + limit) };
}

let sequence = 0;

/**
 * A Backend API User: Clerk's documented example (test/fixtures/clerk/user.created.json `data`)
 * with a fresh id, its own email address (primary) and a creation time, then `overrides`.
 */
export function clerkUser(id: string, overrides: ClerkUser = {}): ClerkUser {
  const user = loadFixture("clerk", "user.created").data as ClerkUser;
  const createdAt = 1_716_883_200_000 + ++sequence * 1000;
  const emailId = `idn_${id}`;
  return {
    ...user,
    id,
    primary_email_address_id: emailId,
    email_addresses: [{ id: emailId, object: "email_address", email_address: `${id.toLowerCase()}@example.com`, verification: { status: "verified", strategy: "email_code" }, linked_to: [] }],
    created_at: createdAt,
    updated_at: createdAt,
    ...overrides,
  };
}
