/**
 * The user sources (src/reconcile/sources/), one conformance suite for every source in the
 * registry, against local fakes of the providers' management APIs that page, cap and rate-limit
 * as documented (test/support/fake-*-api.ts). What the reconcile engine and the backfill rely on:
 * one page per call until `next` is null, every user exactly once, an exact count of the requests
 * spent, failures classified, resumable cursors, and deletions confirmed only by the provider.
 *
 * Sources are plain `fetch` code; test/worker/reconcile-sources.test.ts runs them inside workerd.
 */
import { afterEach, describe, expect, it } from "vitest";
import { userSources } from "../../src/reconcile/sources/registry";
import type { Cursor, SourceFailure, UserPage, UserSource, UserSourceClient, UserSourceContext } from "../../src/reconcile/user-source";
import { auth0User, startFakeAuth0Api, type FakeAuth0Api } from "../support/fake-auth0-api";
import { clerkUser, startFakeClerkApi, type FakeClerkApi } from "../support/fake-clerk-api";
import type { FakeRequest, FakeServer } from "../support/fake-http";

const ctx: UserSourceContext = { fetch, timeoutMs: 5_000 };

/** How the suite drives one provider's fake. */
interface Harness {
  /** A fake holding users created one after the other (ids in creation order), and the env that points the source at it. */
  start(count: number, prefix: string): Promise<{ fake: FakeServer; env: Record<string, string>; ids: string[] }>;
  /** The listing endpoint's path. */
  listPath: string;
  /** The next listing request answers 429 asking to wait `seconds`, in the provider's own header. */
  rateLimitNextPage(fake: FakeServer, seconds: number): void;
  remove(fake: FakeServer, id: string): void;
  /** The same fake with a credential it rejects. */
  wrongCredentials(env: Record<string, string>): Record<string, string>;
  /** The variable `configure({})` must name, and env whose URL is unusable. */
  firstMissing: string;
  badUrl: Record<string, string>;
  idOf(user: unknown): string;
}

const harnesses: Record<string, Harness> = {
  clerk: {
    async start(count, prefix) {
      const ids = Array.from({ length: count }, (_, index) => `${prefix}_${String(index).padStart(5, "0")}`);
      const fake = track(await startFakeClerkApi({ users: ids.map((id) => clerkUser(id)) }));
      return { fake, env: { CLERK_SECRET_KEY: fake.secretKey, CLERK_API_URL: fake.url }, ids };
    },
    listPath: "/v1/users",
    rateLimitNextPage: (fake, seconds) => (fake as FakeClerkApi).rateLimitOnce((request) => request.path === "/v1/users", seconds),
    remove: (fake, id) => {
      const clerk = fake as FakeClerkApi;
      clerk.users = clerk.users.filter((user) => user.id !== id);
    },
    wrongCredentials: (env) => ({ ...env, CLERK_SECRET_KEY: "sk_test_not_the_key" }),
    firstMissing: "CLERK_SECRET_KEY",
    badUrl: { CLERK_SECRET_KEY: "sk_test_x", CLERK_API_URL: "ftp://api.clerk.com" },
    idOf: (user) => (user as { id: string }).id,
  },
  auth0: {
    async start(count, prefix) {
      const ids = Array.from({ length: count }, (_, index) => `auth0|${prefix}_${String(index).padStart(5, "0")}`);
      const fake = track(await startFakeAuth0Api({ users: ids.map((id) => auth0User(id)) }));
      return { fake, env: { AUTH0_DOMAIN: fake.domain, AUTH0_BASE_URL: fake.url, AUTH0_CLIENT_ID: fake.clientId, AUTH0_CLIENT_SECRET: fake.clientSecret }, ids };
    },
    listPath: "/api/v2/users",
    rateLimitNextPage: (fake, seconds) => (fake as FakeAuth0Api).rateLimitOnce((request) => request.path === "/api/v2/users", seconds),
    remove: (fake, id) => {
      const auth0 = fake as FakeAuth0Api;
      auth0.users = auth0.users.filter((user) => user.user_id !== id);
    },
    wrongCredentials: (env) => ({ ...env, AUTH0_CLIENT_SECRET: "not-the-secret" }),
    firstMissing: "AUTH0_DOMAIN",
    badUrl: { AUTH0_DOMAIN: "acme.eu.auth0.com", AUTH0_MANAGEMENT_TOKEN: "token", AUTH0_BASE_URL: "not a url" },
    idOf: (user) => (user as { user_id: string }).user_id,
  },
};

/** Users per provider for the complete listing: over Auth0's 1,000-user query limit, several Clerk pages. */
const LISTING_SIZE: Record<string, number> = { clerk: 1_234, auth0: 2_500 };

const fakes: FakeServer[] = [];
function track<T extends FakeServer>(fake: T): T {
  fakes.push(fake);
  return fake;
}
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});

let sequence = 0;
const prefix = (name: string) => `rs${Date.now().toString(36)}${++sequence}_${name}`;

function configured(source: UserSource, env: Record<string, string>, pageSize?: number): UserSourceClient {
  const result = source.configure(env, pageSize === undefined ? {} : { pageSize });
  if (!result.ok) throw new Error(`not configured: ${result.problem}`);
  return result.client;
}

interface Listing {
  pages: UserPage[];
  ids: string[];
  requests: number;
}

/** Pages from `from` until `next` is null (or `maxPages`); a failure fails the test. */
async function listFrom(client: UserSourceClient, harness: Harness, from: Cursor | undefined, maxPages = 1_000): Promise<Listing> {
  const listing: Listing = { pages: [], ids: [], requests: 0 };
  let cursor = from;
  for (let index = 0; index < maxPages; index++) {
    const page = await client.listPage(cursor, ctx);
    if (!page.ok) throw new Error(`listing failed: ${page.reason}`);
    listing.pages.push(page);
    listing.ids.push(...page.users.map(harness.idOf));
    listing.requests += page.requests;
    if (page.next === null) return listing;
    // Cursors travel through JSON (a checkpoint file, Durable Object storage).
    cursor = JSON.parse(JSON.stringify(page.next)) as Cursor;
  }
  return listing;
}

function failureOf(answer: UserPage | SourceFailure | { ok: true }): SourceFailure {
  expect(answer.ok, "a failure").toBe(false);
  return answer as SourceFailure;
}

const listingRequests = (fake: FakeServer, harness: Harness) => fake.requests().filter((request) => request.path === harness.listPath);

it("every source in the registry has a harness here, named like its webhook plug-in", () => {
  expect(userSources.map((source) => source.name).sort()).toEqual(Object.keys(harnesses).sort());
  for (const source of userSources) expect(source.webhook.name).toBe(source.name);
});

describe.each(userSources.map((source) => [source.name, source] as const))("%s user source", (name, source) => {
  const harness = harnesses[name]!;

  it(`lists every user exactly once, oldest first, page after page until next is null (${LISTING_SIZE[name]} users), counting every request`, async () => {
    const { fake, env, ids } = await harness.start(LISTING_SIZE[name] ?? 1_000, prefix(name));
    const client = configured(source, env);

    const listing = await listFrom(client, harness, undefined);

    expect(listing.pages.at(-1)?.next).toBeNull();
    expect(new Set(listing.ids).size).toBe(listing.ids.length);
    expect(listing.ids).toEqual(ids);
    expect(listing.requests).toBe(fake.requests().length);
    expect(fake.requests().filter((request) => request.status !== 200)).toEqual([]);
    expect(listing.pages.every((page) => page.users.length <= client.pageSize)).toBe(true);
    console.log(`[${name}] ${ids.length} users listed in ${listing.pages.length} pages, ${listing.requests} requests`);
  }, 60_000);

  it("resuming from a cursor (through JSON) with a new client continues where the listing was, without repeats", async () => {
    const { fake, env, ids } = await harness.start(260, prefix(name));
    const first = await listFrom(configured(source, env, 50), harness, undefined, 2);
    const resumeAt = first.pages.at(-1)?.next;
    expect(resumeAt).toBeTruthy();

    const rest = await listFrom(configured(source, env, 50), harness, resumeAt ?? undefined);

    expect([...first.ids, ...rest.ids]).toEqual(ids);
    expect(first.requests + rest.requests).toBe(fake.requests().length);
    // Listing again from a page's own cursor gives that page again.
    const again = await configured(source, env, 50).listPage(rest.pages[0]?.cursor, ctx);
    expect(again.ok && again.users.map(harness.idOf)).toEqual(rest.pages[0]?.users.map(harness.idOf));
  });

  it("a 429 comes back retryable, with the wait the API asked for, and the request counted", async () => {
    const { fake, env } = await harness.start(30, prefix(name));
    const client = configured(source, env);
    await client.listPage(undefined, ctx); // any token is fetched: only the listing request is rate limited
    const before = fake.requests().length;
    harness.rateLimitNextPage(fake, 7);

    const failure = failureOf(await client.listPage(undefined, ctx));

    expect(failure).toMatchObject({ status: 429, retryable: true, requests: 1 });
    expect(failure.authProblem).toBeFalsy();
    expect(failure.retryAfterMs).toBeGreaterThanOrEqual(5_900);
    // Auth0's X-RateLimit-Reset is a whole epoch second: up to one second more.
    expect(failure.retryAfterMs).toBeLessThanOrEqual(8_000);
    expect(failure.reason).toMatch(/rate limited \(429\)/);
    expect(fake.requests().length - before).toBe(1);
    // Nothing waited inside the call: the next call goes straight through.
    expect((await client.listPage(undefined, ctx)).ok).toBe(true);
  });

  it.each([500, 502, 503])("a %i comes back retryable", async (status) => {
    const { fake, env } = await harness.start(5, prefix(name));
    const client = configured(source, env);
    await client.listPage(undefined, ctx);
    fake.addFault({ matches: (request: FakeRequest) => request.path === harness.listPath, times: 1, reply: { status, body: { error: "down" } } });

    const failure = failureOf(await client.listPage(undefined, ctx));

    expect(failure).toMatchObject({ status, retryable: true, requests: 1 });
    expect(failure.authProblem).toBeFalsy();
  });

  it("a network failure comes back retryable, without a status", async () => {
    const { fake, env } = await harness.start(5, prefix(name));
    const client = configured(source, env);
    await client.listPage(undefined, ctx);
    fakes.splice(fakes.indexOf(fake), 1);
    await fake.close();

    const failure = failureOf(await client.listPage(undefined, ctx));

    expect(failure).toMatchObject({ retryable: true, requests: 1 });
    expect(failure.status).toBeUndefined();
  });

  it("rejected credentials (401) are an auth problem, not retryable, naming what to fix", async () => {
    const { fake, env } = await harness.start(5, prefix(name));

    const failure = failureOf(await configured(source, harness.wrongCredentials(env)).listPage(undefined, ctx));

    expect(failure).toMatchObject({ status: 401, retryable: false, authProblem: true });
    expect(failure.requests).toBe(fake.requests().length);
    expect(failure.reason).toMatch(/rejected|token/i);
  });

  it("a 403 (a key without the scope to read users) is an auth problem, not retryable", async () => {
    const { fake, env } = await harness.start(5, prefix(name));
    fake.addFault({ matches: (request: FakeRequest) => request.path === harness.listPath, reply: { status: 403, body: { error: "Forbidden", message: "Insufficient scope, expected any of: read:users" } } });

    const failure = failureOf(await configured(source, env).listPage(undefined, ctx));

    expect(failure).toMatchObject({ status: 403, retryable: false, authProblem: true });
    expect(failure.requests).toBe(fake.requests().length);
  });

  it("confirmGone: true when the provider answers its 404 for the user, false while the user exists, one request each", async () => {
    const { fake, env, ids } = await harness.start(3, prefix(name));
    const client = configured(source, env);
    const [kept = "", removed = ""] = ids;
    harness.remove(fake, removed);
    await client.listPage(undefined, ctx); // any token is fetched

    expect(await client.confirmGone(kept, ctx)).toEqual({ ok: true, gone: false, requests: 1 });
    expect(await client.confirmGone(removed, ctx)).toEqual({ ok: true, gone: true, requests: 1 });
    const reads = fake.requests().filter((request) => request.path.startsWith(`${harness.listPath}/`));
    expect(reads.map((request) => decodeURIComponent(request.path.slice(harness.listPath.length + 1)))).toEqual([kept, removed]);
  });

  it("confirmGone: a 404 that is not the provider's own answer (a wrong URL) is a failure, never a deletion", async () => {
    const { fake, env, ids } = await harness.start(1, prefix(name));
    const client = configured(source, env);
    await client.listPage(undefined, ctx);
    fake.addFault({ matches: (request: FakeRequest) => request.path.startsWith(`${harness.listPath}/`), reply: { status: 404, body: { message: "Not Found" } } });

    const failure = failureOf(await client.confirmGone(ids[0] ?? "", ctx));

    expect(failure).toMatchObject({ status: 404, retryable: false });
  });

  it("confirmGone classifies failures like the listing (429 retryable, 401 auth problem)", async () => {
    const { fake, env, ids } = await harness.start(1, prefix(name));
    const client = configured(source, env);
    await client.listPage(undefined, ctx);
    fake.addFault({ matches: (request: FakeRequest) => request.path.startsWith(`${harness.listPath}/`), times: 1, reply: { status: 429, headers: { "retry-after": "3" }, body: {} } });

    expect(failureOf(await client.confirmGone(ids[0] ?? "", ctx))).toMatchObject({ status: 429, retryable: true, retryAfterMs: 3_000 });
    expect(failureOf(await configured(source, harness.wrongCredentials(env)).confirmGone(ids[0] ?? "", ctx))).toMatchObject({ status: 401, authProblem: true, retryable: false });
  });

  it("configure() names the missing variable, and calls an unusable URL a problem", () => {
    const missing = source.configure({});
    expect(missing).toMatchObject({ ok: false, missing: harness.firstMissing });
    expect(source.envVariables).toContain(harness.firstMissing);
    expect(missing.ok === false && missing.problem).toContain(harness.firstMissing);

    const badUrl = source.configure(harness.badUrl);
    expect(badUrl.ok).toBe(false);
    expect(badUrl).not.toHaveProperty("missing");
  });

  it("the account names the API and never carries the secret", async () => {
    const { env } = await harness.start(1, prefix(name));
    const account = await configured(source, env).account();
    expect(account).toContain(env[source.envVariables.find((variable) => variable.endsWith("_URL")) ?? ""] ?? "");
    for (const [variable, value] of Object.entries(env)) if (/SECRET|TOKEN/.test(variable)) expect(account).not.toContain(value);
    expect(await configured(source, env).account()).toBe(account);
  });

  it("a listed user becomes a webhook body the provider's plug-in maps to an event for that user", async () => {
    const { env, ids } = await harness.start(2, prefix(name));
    const page = await configured(source, env).listPage(undefined, ctx);
    expect(page.ok).toBe(true);
    const user = page.ok ? page.users[0] : undefined;

    const webhook = source.toWebhook(user, Date.now());
    const normalised = source.webhook.normalise(webhook.body, { deliveryId: webhook.deliveryId, receivedAt: Date.now() });

    expect(webhook.userId).toBe(ids[0]);
    expect(normalised).toMatchObject({ kind: "events", events: [{ provider: name, userId: ids[0] }] });
    expect(source.updatedAt(user)).toEqual(expect.any(Number));
  });
});

describe("auth0 user source, beyond what every source does", () => {
  const source = userSources.find((candidate) => candidate.name === "auth0")!;
  const harness = harnesses.auth0!;

  it("splits created_at ranges until each holds fewer than 1,000 users; no query pages past Auth0's limit", async () => {
    const { fake, env, ids } = await harness.start(2_100, prefix("auth0split"));

    const listing = await listFrom(configured(source, env), harness, undefined);

    expect(listing.ids).toEqual(ids);
    const queries = listingRequests(fake, harness);
    expect(queries.every((request) => (Number(request.query.page) + 1) * Number(request.query.per_page) <= 1_000)).toBe(true);
    expect(queries.filter((request) => request.query.q).every((request) => request.query.search_engine === "v3" && /^created_at:\[\S+ TO \S+[}\]]$/.test(request.query.q ?? ""))).toBe(true);
    // Only the token request and the first (whole-tenant) query go without a range.
    expect(fake.requests().filter((request) => request.path === "/oauth/token")).toHaveLength(1);
  }, 60_000);

  it("a tenant under the limit is paged without a range query, and the first page says how many users there are", async () => {
    const { fake, env } = await harness.start(250, prefix("auth0small"));

    const listing = await listFrom(configured(source, env), harness, undefined);

    expect(listing.pages[0]?.total).toBe(250);
    expect(listingRequests(fake, harness).map((request) => [request.query.page, request.query.q])).toEqual([
      ["0", undefined],
      ["1", undefined],
      ["2", undefined],
    ]);
  });

  it("keeps the client-credentials token until it nears expiry, and after a 401 fetches a new one once", async () => {
    const { fake, env } = await harness.start(10, prefix("auth0token"));
    const client = configured(source, env);

    expect(await client.listPage(undefined, ctx)).toMatchObject({ ok: true, requests: 2 });
    expect(await client.listPage(undefined, ctx)).toMatchObject({ ok: true, requests: 1 });
    // Another client of the same app (the next alarm) uses the same token.
    expect(await configured(source, env).listPage(undefined, ctx)).toMatchObject({ ok: true, requests: 1 });
    (fake as FakeAuth0Api).expireTokens();
    expect(await client.listPage(undefined, ctx)).toMatchObject({ ok: true, requests: 3 });
    expect(fake.requests().filter((request) => request.path === "/oauth/token").map((request) => request.status)).toEqual([200, 200]);
  });

  it("a fixed AUTH0_MANAGEMENT_TOKEN that Auth0 rejects is an auth problem at once (no token to renew)", async () => {
    const { fake, env } = await harness.start(1, prefix("auth0fixed"));

    const failure = failureOf(await configured(source, { AUTH0_DOMAIN: env.AUTH0_DOMAIN!, AUTH0_BASE_URL: env.AUTH0_BASE_URL!, AUTH0_MANAGEMENT_TOKEN: "expired" }).listPage(undefined, ctx));

    expect(failure).toMatchObject({ status: 401, authProblem: true, retryable: false, requests: 1 });
    expect(failure.reason).toMatch(/Auth0 rejected the Management API token \(401; it needs read:users\)/);
    expect(fake.requests()).toHaveLength(1);
  });

  it("a cursor from another source or version is refused without a request", async () => {
    const { fake, env } = await harness.start(1, prefix("auth0cursor"));
    const failure = failureOf(await configured(source, env).listPage({ offset: 3 }, ctx));
    expect(failure).toMatchObject({ retryable: false, requests: 0 });
    expect(fake.requests()).toEqual([]);
  });
});
