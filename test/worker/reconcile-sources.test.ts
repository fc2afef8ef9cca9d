/**
 * The reconcile listings inside workerd, where the Durable Object will run them: the orq.ai side
 * (`listOwnedIdentities`) against the project's orq.ai emulator, and every user source loaded and
 * driven through a stubbed `fetch` (its full conformance suite, against the provider fakes, is
 * test/node/reconcile-sources.test.ts). Proves the modules need nothing but Web APIs here
 * (crypto.subtle for the account hash, AbortSignal.any, fetch).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { listOwnedIdentities, type OrqIdentity, type OrqListOptions } from "../../src/reconcile/orq-listing";
import { userSources } from "../../src/reconcile/sources/registry";
import type { UserSourceContext } from "../../src/reconcile/user-source";
import { uniqueId } from "./harness";

const orq = (overrides: Partial<OrqListOptions> = {}): OrqListOptions => ({ baseUrl: env.ORQ_API_URL ?? "", apiKey: env.ORQ_API_KEY ?? "", timeoutMs: 2_000, fetch, ...overrides });

async function createIdentity(externalId: string, tags: string[]): Promise<void> {
  const response = await fetch(`${env.ORQ_API_URL}/v2/identities`, {
    method: "POST",
    headers: { authorization: `Bearer ${env.ORQ_API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ external_id: externalId, display_name: "Listed", email: `${externalId.toLowerCase()}@example.com`, tags, metadata: { plan: "pro" } }),
  });
  expect(response.status).toBe(201);
}

/** A `fetch` that answers every request with `reply`, recording what was asked. */
function stubFetch(reply: (url: URL, init: RequestInit | undefined) => Response | Promise<Response>): typeof fetch & { calls: URL[] } {
  const calls: URL[] = [];
  const stub = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    calls.push(url);
    return reply(url, init);
  }) as typeof fetch & { calls: URL[] };
  stub.calls = calls;
  return stub;
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

describe("listOwnedIdentities (orq.ai, from workerd)", () => {
  it("lists only the identities carrying the provider's tag, every page, oldest first, one request a page", async () => {
    const tag = uniqueId("rtag");
    const owned = Array.from({ length: 450 }, (_, index) => `${tag}_user_${String(index).padStart(3, "0")}`);
    for (let start = 0; start < owned.length; start += 25) await Promise.all(owned.slice(start, start + 25).map((id) => createIdentity(id, ["node-x", tag])));
    for (let index = 0; index < 30; index++) await createIdentity(`${tag}_other_${index}`, [`${tag}-not`]);

    const listed: OrqIdentity[] = [];
    const pages: number[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const answer = await listOwnedIdentities(orq(), tag, cursor);
      if (!answer.ok) throw new Error(answer.reason);
      expect(answer.requests).toBe(1);
      listed.push(...answer.identities);
      pages.push(answer.identities.length);
      if (answer.next === null) break;
      cursor = answer.next;
    }

    expect(pages).toEqual([200, 200, 50]);
    expect(listed.map((identity) => identity.external_id).sort()).toEqual(owned);
    const ids = listed.map((identity) => identity._id);
    expect(ids).toEqual([...ids].sort());
    expect(listed[0]).toMatchObject({ display_name: "Listed", email: expect.stringContaining("@example.com"), tags: ["node-x", tag], metadata: { plan: "pro" } });
  });

  it("honours a smaller limit and continues after the given _id", async () => {
    const tag = uniqueId("rtagsmall");
    for (let index = 0; index < 5; index++) await createIdentity(`${tag}_${index}`, [tag]);

    const first = await listOwnedIdentities(orq(), tag, undefined, 2);
    expect(first.ok && first.identities.map((identity) => identity.external_id)).toEqual([`${tag}_0`, `${tag}_1`]);
    const second = await listOwnedIdentities(orq(), tag, (first.ok && first.next) || undefined, 2);
    expect(second.ok && second.identities.map((identity) => identity.external_id)).toEqual([`${tag}_2`, `${tag}_3`]);
    const last = await listOwnedIdentities(orq(), tag, (second.ok && second.next) || undefined, 2);
    expect(last).toMatchObject({ ok: true, next: null, identities: [{ external_id: `${tag}_4` }] });
  });

  it("reads wrapped ({identity}) and flat list items alike", async () => {
    const stub = stubFetch(() =>
      json({ object: "list", data: [{ identity: { _id: "01A", external_id: "wrapped", tags: ["clerk"] } }, { _id: "01B", external_id: "flat", email: "f@example.com" }], has_more: true }),
    );
    const answer = await listOwnedIdentities(orq({ fetch: stub }), "clerk", undefined);
    expect(answer).toEqual({ ok: true, identities: [{ _id: "01A", external_id: "wrapped", tags: ["clerk"] }, { _id: "01B", external_id: "flat", email: "f@example.com" }], next: "01B", requests: 1 });
    expect(stub.calls[0]?.searchParams.getAll("filter_by.tags")).toEqual(["clerk"]);
    expect(stub.calls[0]?.searchParams.get("limit")).toBe("200");
  });

  it("classifies failures as the orq client does: 401/403 the key, 429 with Retry-After, 5xx and the network retryable", async () => {
    const answer = (reply: () => Response | Promise<Response>) => listOwnedIdentities(orq({ fetch: stubFetch(reply) }), "clerk", undefined);

    expect(await answer(() => json({ error: "Unauthorized" }, 401))).toMatchObject({ ok: false, authProblem: true, status: 401, requests: 1 });
    expect(await answer(() => json({ error: "Forbidden" }, 403))).toMatchObject({ ok: false, authProblem: true, status: 403 });
    expect(await answer(() => json({}, 429, { "retry-after": "2" }))).toMatchObject({ ok: false, retryable: true, status: 429, retryAfterMs: 2_000 });
    expect(await answer(() => json({}, 502))).toMatchObject({ ok: false, retryable: true, status: 502, authProblem: false });
    expect(await answer(() => json({ error: "bad limit" }, 400))).toMatchObject({ ok: false, retryable: false, status: 400 });
    expect(await answer(() => Promise.reject(new TypeError("connection refused")))).toMatchObject({ ok: false, retryable: true, reason: "network error" });
    expect(await answer(() => json({ object: "list", data: [{ external_id: "no-id" }], has_more: true }))).toMatchObject({ ok: false, retryable: false });
  });
});

describe("user sources in workerd", () => {
  const ctx = (fetch: typeof globalThis.fetch): UserSourceContext => ({ fetch, timeoutMs: 2_000 });
  /** Enough of each provider's API for one page and one read, with a token endpoint for Auth0. */
  const stubs: Record<string, { env: Record<string, string>; fetch: () => ReturnType<typeof stubFetch> }> = {
    clerk: {
      env: { CLERK_SECRET_KEY: "sk_test_workerd", CLERK_API_URL: "https://clerk.test" },
      fetch: () => stubFetch((url) => (url.pathname === "/v1/users" ? json([{ id: "user_1", created_at: 1, updated_at: 2 }]) : json({ errors: [{ code: "resource_not_found" }] }, 404))),
    },
    auth0: {
      env: { AUTH0_DOMAIN: "tenant.auth0.test", AUTH0_CLIENT_ID: "workerd-client", AUTH0_CLIENT_SECRET: "workerd-secret" },
      fetch: () =>
        stubFetch((url) => {
          if (url.pathname === "/oauth/token") return json({ access_token: "token", expires_in: 86_400 });
          if (url.pathname === "/api/v2/users") return json({ start: 0, limit: 100, length: 1, users: [{ user_id: "auth0|1", created_at: "2025-01-01T00:00:00.000Z" }], total: 1 });
          return json({ statusCode: 404, error: "Not Found", message: "The user does not exist.", errorCode: "inexistent_user" }, 404);
        }),
    },
  };

  it.each(userSources.map((source) => [source.name, source] as const))("%s: configures, names its account, lists a page and confirms a deletion", async (name, source) => {
    const stub = stubs[name];
    expect(stub, `a stub for ${name}`).toBeDefined();
    const configured = source.configure(stub!.env);
    if (!configured.ok) throw new Error(configured.problem);
    const { client } = configured;
    const account = await client.account();
    for (const [variable, value] of Object.entries(stub!.env)) if (/SECRET|TOKEN/.test(variable)) expect(account).not.toContain(value);

    const fetch = stub!.fetch();
    const page = await client.listPage(undefined, ctx(fetch));
    expect(page).toMatchObject({ ok: true, users: [expect.anything()], next: null });
    expect(page.ok && page.requests).toBe(fetch.calls.length);

    const gone = await client.confirmGone("someone", ctx(fetch));
    expect(gone).toMatchObject({ ok: true, gone: true, requests: 1 });
  });
});
