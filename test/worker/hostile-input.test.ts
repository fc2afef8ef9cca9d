import { env } from "cloudflare:workers";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { getConfig } from "../../src/config";
import { providers } from "../../src/providers/registry";
import {
  HOSTILE_PATH_VALUES,
  WEBHOOK_SIGNERS,
  adminCredentialForgeries,
  raw,
  serialise,
  hostileAdminJsonBodies,
  webhookCorpus,
  type CorpusCategory,
  type HeaderList,
  type HostileCase,
  type HostileRequest,
} from "../support/hostile-corpus";
import { DEV_SECRETS } from "../support/secrets";
import { callBridgeWith, clerkEvent, deliverNow, emulator, inspectIdentity, orqIdentity, orqWrites, postClerk, uniqueId, type Json } from "./harness";

/**
 * Every webhook route the app serves (one per provider in the registry) and every admin route
 * gets the hostile corpus (test/support/hostile-corpus.ts). Each request must get its exact 4xx
 * (or 2xx for an ignored event type), never a 5xx, never a stack trace or a secret; and none of
 * the users the corpus names may be recorded by the bridge or reach orq.ai.
 */
const RUN = uniqueId("hx");
const ADMIN_TOKEN = "hostile-corpus-admin-token-0f9e8d7c";
const SECRETS = [...Object.values(DEV_SECRETS).filter((value) => !value.startsWith("http")), ADMIN_TOKEN];
const STACK_TRACE = /\n\s+at \S|\.ts:\d+:\d+|\.js:\d+:\d+/;

/** A short, well-formed excerpt for failure messages (lone surrogates escaped, so the test runner can carry it). */
const excerpt = (value: string, length = 160) => JSON.stringify(value.length > length ? `${value.slice(0, length)}…` : value);

interface Answer {
  status: number;
  text: string;
  contentType: string | null;
}

function toInit(request: HostileRequest, extraHeaders: HeaderList = []): RequestInit {
  const headers = new Headers();
  for (const [name, value] of [...request.headers, ...extraHeaders]) headers.append(name, value);
  return { method: request.method, headers, ...(request.body && { body: request.body }) };
}

/**
 * Through the app with the test bindings (plus `overrides`). Not the harness's callBridge: its
 * `exports.default.fetch` gets slower with every call in a file (150 calls: ~1 s, the 600th batch
 * of 150: ~18 s on this machine), and this file makes thousands.
 */
async function send(request: HostileRequest, overrides: Record<string, string | undefined> = {}, extraHeaders?: HeaderList): Promise<Answer> {
  const response = await callBridgeWith(overrides, request.path, toInit(request, extraHeaders));
  return { status: response.status, text: await response.text(), contentType: response.headers.get("content-type") };
}

/** Problems every answer must be free of, whatever its status. */
function leaks(answer: Answer): string | undefined {
  if (answer.status >= 500) return `a ${answer.status}`;
  if (STACK_TRACE.test(answer.text)) return "a stack trace in the answer";
  const secret = SECRETS.find((value) => answer.text.includes(value));
  return secret ? "a secret in the answer" : undefined;
}

/** Undefined when the answer is the one the case is owed; otherwise what is wrong. */
function judge(entry: HostileCase, answer: Answer): string | undefined {
  const leak = leaks(answer);
  if (leak) return leak;
  if (answer.status !== entry.status) return `expected ${entry.status}, got ${answer.status}: ${excerpt(answer.text)}`;
  if (entry.outcome === undefined) return undefined;
  let json: Json;
  try {
    json = JSON.parse(answer.text);
  } catch {
    return `expected a JSON answer, got ${answer.contentType}: ${excerpt(answer.text, 80)}`;
  }
  const outcome = answer.status >= 400 ? json.error : json.status;
  return outcome === entry.outcome ? undefined : `expected "${entry.outcome}", got ${excerpt(answer.text)}`;
}

const BEHAVIOURS: Record<CorpusCategory, string> = {
  credentials: "missing, forged, replayed and future credentials are refused with 401 (404 while the provider is not configured)",
  "invalid JSON": "a correctly signed body (for Kinde: a genuine JWT's payload) that is not UTF-8 JSON gets 400 invalid_json",
  "wrong shape": "a correctly signed body of the wrong shape (deeply nested, huge, __proto__ keys, broken fields) gets 400 invalid_payload",
  ids: "user ids that are numbers, blank, objects or over 120 characters get 400 invalid_payload",
  "unicode ids": "user ids orq.ai cannot be addressed by (lone surrogates, over 120 UTF-16 units) get 400 invalid_payload",
  "ignored types": "look-alike, unicode-trick and prototype-named event types are acknowledged with 200 and ignored",
  "odd headers": "odd, duplicated and oversized headers around an ignored event change nothing",
  methods: "methods other than POST get 405 (or the GET verification's 401)",
  paths: "paths next to the route get 404",
  oversized: "bodies over 1 MiB get 413",
};

/** Log lines are checked as they are written (keeping them all would crowd the isolate's memory). */
const logProblems: string[] = [];
let logLinesSeen = 0;
function checkLogLine(line: string): void {
  logLinesSeen++;
  try {
    JSON.parse(line);
  } catch {
    logProblems.push(`not JSON: ${excerpt(line, 100)}`);
  }
  if (STACK_TRACE.test(line)) logProblems.push(`stack trace: ${excerpt(line, 100)}`);
  for (const forbidden of [...SECRETS, "john.doe@gmail.com", "John Doe", "example@example.org"]) {
    if (line.includes(forbidden)) logProblems.push(`${excerpt(forbidden, 12)} in: ${excerpt(line, 100)}`);
  }
}
// Not vi.spyOn: a spy keeps every call's arguments, megabytes of them by the end of the corpus.
const originalLog = console.log;
beforeAll(() => {
  console.log = (...args: unknown[]) => checkLogLine(args.map(String).join(" "));
});
afterAll(() => {
  console.log = originalLog;
});
// Each test answers for the log lines written while it ran (no test relies on another having run).
afterEach(() => {
  expect(logProblems.splice(0).slice(0, 20)).toEqual([]);
});

/**
 * None of `userIds` was recorded by the bridge or reached orq.ai. A request that slipped through
 * verification creates the user's object at once, even if its delivery has not run yet.
 */
async function expectNoneRecordedOrForwarded(prefix: string, provider: string, userIds: readonly string[]): Promise<void> {
  const { requests } = await emulator<{ requests: Json[] }>(`/__emulator/requests?external_id_prefix=${encodeURIComponent(prefix)}`);
  const forwarded = requests
    .filter((request: Json) => String(request.externalId ?? "").startsWith(prefix))
    .map((request: Json) => `${request.method} ${excerpt(String(request.externalId), 60)}`);
  const recorded: string[] = [];
  const unique = [...new Set(userIds)];
  // Each look creates the user's (empty) Durable Object; in batches, not one by one.
  for (let start = 0; start < unique.length; start += 50) {
    const batch = unique.slice(start, start + 50);
    const found = await Promise.all(batch.map((userId) => inspectIdentity(provider, userId)));
    found.forEach((identity, index) => identity && recorded.push(excerpt(batch[index]!, 60)));
  }
  expect({ forwarded, recorded }).toEqual({ forwarded: [], recorded: [] });
}

const routesServed = new Set(app.routes.map((route) => `${route.method} ${route.path}`));

describe("the corpus covers what the app serves", () => {
  it("every provider in the registry has its POST /webhooks route, and nothing else is served under /webhooks", () => {
    const webhookPaths = new Set(app.routes.filter((route) => route.path.startsWith("/webhooks/")).map((route) => route.path));
    expect([...webhookPaths].sort()).toEqual(providers.map((provider) => `/webhooks/${provider.name}`).sort());
    for (const provider of providers) expect(routesServed.has(`POST /webhooks/${provider.name}`)).toBe(true);
  });

  it("every provider has a signer, so that its payload cases get past verification", () => {
    expect(providers.map((provider) => provider.name).filter((name) => !Object.hasOwn(WEBHOOK_SIGNERS, name))).toEqual([]);
  });
});

/**
 * Serves `jwks` as a fresh issuer on the test JWKS server (test/support/jwks.global.ts), next to the
 * one `binding` names in the test bindings, and returns the issuer's URL. Its own issuer keeps the
 * corpus apart from other files' key sets.
 */
async function serveKeySet(binding: string, jwks: { keys: readonly unknown[] }, name: string): Promise<string> {
  const origin = new URL(String((env as unknown as Record<string, unknown>)[binding])).origin;
  const issuerPath = `/${RUN}_${name}`;
  const response = await fetch(`${origin}/__jwks/keys?issuer=${encodeURIComponent(issuerPath)}`, { method: "PUT", body: JSON.stringify(jwks) });
  expect(response.status).toBe(204);
  return `${origin}${issuerPath}`;
}

for (const provider of providers) {
  const setup = getConfig(env).providers.get(provider.name)?.status ?? "not_configured";
  const signer = WEBHOOK_SIGNERS[provider.name];
  const signed = setup === "configured" && signer !== undefined;
  const runId = `${RUN}_${provider.name}`;

  describe(`POST /webhooks/${provider.name} (${signed ? "signed and unsigned cases" : `unsigned cases only: ${setup === "configured" ? "no signer entry" : setup}`})`, () => {
    let corpus: HostileCase[] = [];
    /** Bindings the signer needs trusted (Kinde: an issuer serving its key set); the rest as configured. */
    let bindings: Record<string, string> = {};
    beforeAll(async () => {
      if (signed && signer.trust) bindings = { [signer.trust.binding]: await serveKeySet(signer.trust.binding, signer.trust.jwks, provider.name) };
      corpus = await webhookCorpus({ provider: provider.name, setup, answersGet: provider.answerGet !== undefined }, runId);
    });
    // Megabytes of bodies per provider: let them go before the next provider's corpus is built.
    afterAll(() => {
      corpus = [];
    });

    it(`holds at least 200 hostile requests, with unique names${signed ? ", at least 150 of them correctly signed" : ""}`, () => {
      expect(corpus.length).toBeGreaterThanOrEqual(200);
      expect(new Set(corpus.map((entry) => entry.name)).size).toBe(corpus.length);
      if (signed) expect(corpus.filter((entry) => entry.signed).length).toBeGreaterThanOrEqual(150);
    });

    for (const [category, behaviour] of Object.entries(BEHAVIOURS) as Array<[CorpusCategory, string]>) {
      it(`${category}: ${behaviour}`, { timeout: 60_000 }, async () => {
        const cases = corpus.filter((entry) => entry.category === category);
        expect(cases.length).toBeGreaterThan(0);
        const problems: string[] = [];
        for (const entry of cases) {
          const problem = judge(entry, await send(entry.request, bindings));
          if (problem) problems.push(`${entry.name}: ${problem}`);
        }
        expect(problems).toEqual([]);
        // Nobody this category names was recorded or reached orq.ai. (Unsigned requests were all
        // answered 401/404 above; only signed bodies could have got past verification.)
        await expectNoneRecordedOrForwarded(runId, provider.name, signed ? cases.flatMap((entry) => entry.userIds) : []);
      });
    }

  });
}

describe("authentic but odd events: accepted, and they land exactly as sent", () => {
  const clerkSigner = WEBHOOK_SIGNERS.clerk!;
  async function postSigned(payload: Json | Uint8Array, overrides: Record<string, string> = {}) {
    const body = payload instanceof Uint8Array ? payload : serialise(payload);
    return send({ method: "POST", path: "/webhooks/clerk", headers: await clerkSigner.sign(body), body }, overrides);
  }

  it("names with NUL, right-to-left marks, emoji, combining marks and a lone surrogate reach orq.ai unchanged", async () => {
    for (const firstName of ["Nul\u0000l", "\u202eevil", "Zo\u00eb \ud83d\udc69\u200d\ud83d\udcbb", "Jose\u0301", "Half\ud800"]) {
      const userId = uniqueId("oddname");
      const answer = await postSigned(clerkEvent("user.created", userId, (p) => (p.data.first_name = firstName)));
      expect(answer.status).toBe(200);
      await deliverNow("clerk", userId);
      expect((await orqIdentity(userId))?.display_name).toBe(`${firstName} Doe`);
    }
  });

  it("ids with NUL, a right-to-left override or emoji live through create, update and delete", async () => {
    for (const suffix of ["\u0000x", "\u202eevil", "\ud83d\ude00", "|a b/c?d#e%f"]) {
      const userId = `${uniqueId("oddid")}${suffix}`;
      const at = Date.now();
      expect((await postSigned(clerkEvent("user.created", userId, (p) => (p.timestamp = at)))).status).toBe(200);
      expect((await postSigned(clerkEvent("user.updated", userId, (p) => ((p.timestamp = at + 1), (p.data.updated_at = at + 1), (p.data.first_name = "Later"))))).status).toBe(200);
      expect(await deliverNow("clerk", userId)).toMatchObject({ delivery: "delivered" });
      expect(await orqIdentity(userId)).toMatchObject({ external_id: userId, display_name: "Later Doe Updated" });
      expect((await postSigned(clerkEvent("user.deleted", userId, (p) => (p.timestamp = at + 2))))).toMatchObject({ status: 200 });
      expect(await deliverNow("clerk", userId)).toMatchObject({ delivery: "delivered", tombstone: true });
      expect(await orqIdentity(userId)).toBeNull();
    }
  });

  it("a __proto__ key in public_metadata copies nothing and pollutes nothing", async () => {
    const userId = uniqueId("proto");
    const body = new TextDecoder()
      .decode(serialise(clerkEvent("user.created", userId)))
      .replace('"public_metadata":{}', '"public_metadata":{"__proto__":{"plan":"pro","polluted":true},"constructor":{"prototype":{"polluted":true}}}');
    expect((await postSigned(new TextEncoder().encode(body), { ORQ_METADATA_KEYS: "plan,polluted" })).status).toBe(200);
    await deliverNow("clerk", userId);
    expect((await orqIdentity(userId))?.metadata).toEqual({ provider: "clerk", provider_created_at: "2024-05-28T08:00:00.000Z" });
    expect(({} as Json).polluted).toBeUndefined();
    expect(({} as Json).plan).toBeUndefined();
  });

  it("a body behind a UTF-8 byte-order mark is accepted", async () => {
    const userId = uniqueId("bom");
    const answer = await postSigned(new Uint8Array([0xef, 0xbb, 0xbf, ...serialise(clerkEvent("user.created", userId))]));
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({ status: "recorded" });
  });

  it("the exact same signed request replayed within the window is a duplicate: one orq.ai write", async () => {
    const userId = uniqueId("replayed");
    const body = serialise(clerkEvent("user.created", userId));
    const request: HostileRequest = { method: "POST", path: "/webhooks/clerk", headers: await clerkSigner.sign(body), body };
    expect(JSON.parse((await send(request)).text)).toMatchObject({ status: "recorded" });
    expect(JSON.parse((await send(request)).text)).toMatchObject({ status: "duplicate" });
    await deliverNow("clerk", userId);
    expect(await orqWrites(userId)).toHaveLength(1);
  });

  it("opted-in metadata nested 10 000 deep is refused with a 4xx, not a 5xx that the provider would retry for days", async () => {
    const userId = uniqueId("deepmeta");
    const payload = clerkEvent("user.created", userId);
    payload.data.public_metadata = { plan: raw('{"a":'.repeat(10_000) + "1" + "}".repeat(10_000)) };
    const answer = await postSigned(payload, { ORQ_METADATA_KEYS: "plan" });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text)).toMatchObject({ error: "invalid_payload" });
  });
});

describe("admin routes", () => {
  const adminRoutes = [
    ...new Map(
      app.routes
        .filter((route) => route.path.startsWith("/admin") && route.method !== "ALL" && !route.path.includes("*"))
        .map((route) => [`${route.method} ${route.path}`, { method: route.method, path: route.path }]),
    ).values(),
  ];
  const knownUser = `${RUN}_admin_known`;
  const unknownUser = `${RUN}_admin_unknown`;
  const withAdmin = { ADMIN_TOKEN };
  let sessionCookie = "";

  /** The route's path with its `:params` filled (`:provider` with clerk, the others with `userId`), or one param with a raw value. */
  const fill = (path: string, userId: string, override?: { param: string; value: string }) =>
    path.replace(/:(\w+)/g, (_match, name: string) =>
      override?.param === name ? override.value : name === "provider" ? "clerk" : encodeURIComponent(userId),
    );

  beforeAll(async () => {
    expect((await postClerk(clerkEvent("user.created", knownUser))).status).toBe(200);
    const login = await callBridgeWith(withAdmin, "/admin/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://bridge.test" },
      body: new URLSearchParams({ token: ADMIN_TOKEN }).toString(),
    });
    sessionCookie = login.headers.get("set-cookie")?.split(";")[0] ?? "";
  });

  it("are discovered from the app", () => {
    expect(adminRoutes.length).toBeGreaterThan(0);
  });

  it("without ADMIN_TOKEN, every admin route answers 404 whatever is sent", async () => {
    const problems: string[] = [];
    for (const route of adminRoutes) {
      for (const [name, headers] of [...adminCredentialForgeries(ADMIN_TOKEN), ["the token itself", [["authorization", `Bearer ${ADMIN_TOKEN}`]]] as [string, HeaderList]]) {
        const answer = await send({ method: route.method, path: fill(route.path, knownUser), headers }, { ADMIN_TOKEN: undefined });
        if (answer.status !== 404 || leaks(answer)) problems.push(`${route.method} ${route.path} with ${name}: ${answer.status}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("with ADMIN_TOKEN set, missing and wrong credentials are refused (401, or 403 for a cross-site form) and tell nothing about the data", async () => {
    const problems: string[] = [];
    for (const route of adminRoutes) {
      for (const [name, headers] of adminCredentialForgeries(ADMIN_TOKEN)) {
        const about = async (userId: string) => send({ method: route.method, path: fill(route.path, userId), headers, ...(route.method === "POST" && { body: new TextEncoder().encode(JSON.stringify({ provider: "clerk", user_id: userId })) }) }, withAdmin, route.method === "POST" ? [["content-type", "application/json"]] : []);
        const known = await about(knownUser);
        const unknown = await about(unknownUser);
        const where = `${route.method} ${route.path} with ${name}`;
        if (![401, 403].includes(known.status)) problems.push(`${where}: ${known.status} ${excerpt(known.text, 100)}`);
        const leak = leaks(known);
        if (leak) problems.push(`${where}: ${leak}`);
        // The same answer for a user the bridge knows and one it does not (ids aside).
        if (known.status !== unknown.status || known.text.replaceAll(knownUser, "ID") !== unknown.text.replaceAll(unknownUser, "ID")) {
          problems.push(`${where}: answers differ for a known and an unknown user`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("with the right credentials, hostile path values, queries and bodies get a 4xx or a harmless page: never a 5xx, a stack trace, unescaped markup or a queued replay", { timeout: 60_000 }, async () => {
    expect(sessionCookie).toMatch(/=/);
    const authenticated: HeaderList = [["authorization", `Bearer ${ADMIN_TOKEN}`], ["cookie", sessionCookie], ["origin", "https://bridge.test"]];
    const problems: string[] = [];
    const check = (where: string, answer: Answer, mustBe4xx: boolean) => {
      const leak = leaks(answer);
      if (leak) problems.push(`${where}: ${leak}`);
      if (mustBe4xx && (answer.status < 400 || answer.status >= 500)) problems.push(`${where}: expected a 4xx, got ${answer.status} ${excerpt(answer.text, 100)}`);
      // Markup from the request must be escaped in HTML; JSON answers say they are JSON, so a browser never renders them.
      const html = answer.contentType?.startsWith("text/html") ?? false;
      if (html && /<script>alert\(1\)/i.test(answer.text)) problems.push(`${where}: unescaped markup from the request in the page`);
      if (!html && answer.text.startsWith("{") && !answer.contentType?.startsWith("application/json")) problems.push(`${where}: JSON served as ${answer.contentType}`);
      if (/"queued":\[\{/.test(answer.text)) problems.push(`${where}: a hostile request queued a replay`);
    };

    for (const route of adminRoutes) {
      const params = [...route.path.matchAll(/:(\w+)/g)].map((match) => match[1]!);
      for (const param of params) {
        for (const [name, value] of HOSTILE_PATH_VALUES) {
          const path = fill(route.path, unknownUser, { param, value });
          check(`${route.method} ${route.path} (${param}: ${name})`, await send({ method: route.method, path, headers: authenticated }, withAdmin), route.method === "GET");
        }
      }
      for (const [name, value] of HOSTILE_PATH_VALUES) {
        const query = `?provider=${value}&user_id=${value}&cursor=${value}&limit=${value}&state=${value}&since=${value}&replayed=${value}`;
        const path = `${fill(route.path, unknownUser)}${query}`;
        check(`${route.method} ${route.path} with every query parameter ${name}`, await send({ method: route.method, path, headers: authenticated }, withAdmin), false);
      }
      if (route.method !== "POST") continue;
      for (const [name, body] of hostileAdminJsonBodies(unknownUser)) {
        const answer = await send({ method: "POST", path: route.path, headers: [...authenticated, ["content-type", "application/json"]], body: new TextEncoder().encode(body) }, withAdmin);
        check(`POST ${route.path} with ${name}`, answer, false);
      }
      for (const [name, form] of [
        ["an empty form", ""],
        ["a form naming an unknown provider", `provider=nope&user_id=${unknownUser}`],
        ["a form with a 5000-character user id", `provider=clerk&user_id=${"a".repeat(5000)}`],
        ["a form with a malformed percent-escape", "provider=clerk&user_id=%ZZ"],
        ["a form with repeated fields", `provider=clerk&provider=auth0&user_id=${unknownUser}&user_id=x`],
        ["a form with a __proto__ field", `__proto__=x&provider=clerk&user_id=${unknownUser}`],
        ["a form over 4 KB", `provider=clerk&user_id=${"b".repeat(8192)}`],
      ] as const) {
        const answer = await send({ method: "POST", path: route.path, headers: [...authenticated, ["content-type", "application/x-www-form-urlencoded"]], body: new TextEncoder().encode(form) }, withAdmin);
        check(`POST ${route.path} with ${name}`, answer, false);
      }
    }
    expect(problems).toEqual([]);
    await expectNoneRecordedOrForwarded(`${RUN}_admin_unknown`, "clerk", [unknownUser]);
  });

  it("each admin route refuses every request of the webhook corpus sent without admin credentials, and with them none breaks it", { timeout: 60_000 }, async () => {
    const corpus = await webhookCorpus({ provider: "clerk", setup: "configured", answersGet: false }, `${RUN}_admin_unknown_corpus`);
    const authenticated: HeaderList = [["authorization", `Bearer ${ADMIN_TOKEN}`], ["cookie", sessionCookie], ["origin", "https://bridge.test"]];
    const problems: string[] = [];
    let sent = 0;
    for (const route of adminRoutes) {
      const takesBody = route.method !== "GET" && route.method !== "HEAD";
      for (const entry of corpus) {
        const request: HostileRequest = {
          method: route.method,
          path: fill(route.path, unknownUser),
          headers: entry.request.headers,
          ...(takesBody && entry.request.body && { body: entry.request.body }),
        };
        const where = `${route.method} ${route.path} with ${entry.name}`;
        const refused = await send(request, withAdmin);
        sent++;
        // 401 (token or session), 403 (cross-site form), 413 (a form over its size limit): never 2xx, 3xx or 5xx.
        if (![401, 403, 413].includes(refused.status)) problems.push(`${where}, no admin credentials: ${refused.status} ${excerpt(refused.text, 80)}`);
        const leak = leaks(refused);
        if (leak) problems.push(`${where}, no admin credentials: ${leak}`);
        if (!takesBody) continue;
        const accepted = await send(request, withAdmin, authenticated);
        sent++;
        const acceptedLeak = leaks(accepted);
        if (acceptedLeak) problems.push(`${where}, with admin credentials: ${acceptedLeak}`);
        if (/"queued":\[\{/.test(accepted.text)) problems.push(`${where}, with admin credentials: a replay was queued`);
      }
    }
    expect(sent).toBeGreaterThanOrEqual(200 * adminRoutes.length);
    expect(problems.slice(0, 20)).toEqual([]);
    await expectNoneRecordedOrForwarded(`${RUN}_admin_unknown`, "clerk", [unknownUser, ...corpus.flatMap((entry) => entry.userIds)]);
  });

});

describe("logs", () => {
  it("the corpus's requests write JSON lines without secrets, stack traces or the fixtures' emails and names", async () => {
    // Its own requests: every other test's lines are checked after it (afterEach above).
    const corpus = await webhookCorpus({ provider: "clerk", setup: "configured", answersGet: false }, `${RUN}_logs`);
    const seen = logLinesSeen;
    for (const entry of corpus.slice(0, 150)) await send(entry.request, {});
    expect(logLinesSeen - seen).toBeGreaterThan(100);
    expect(logProblems.splice(0).slice(0, 20)).toEqual([]);
  });
});
