import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  startOrqEmulator,
  type EmulatedBudget,
  type EmulatedIdentity,
  type EmulatorStats,
  type FaultStatus,
  type LoggedRequest,
  type OrqEmulator,
} from "../../emulator/orq-emulator";

const KEY = "test-key";
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let emulator: OrqEmulator;

beforeAll(async () => {
  emulator = await startOrqEmulator({ apiKeys: [KEY], quiet: true });
});

afterAll(async () => {
  await emulator.close();
});

interface CallOptions {
  body?: unknown;
  /** Sent verbatim, for malformed JSON. */
  rawBody?: string;
  /** null: no Authorization header. */
  key?: string | null;
  signal?: AbortSignal;
  on?: OrqEmulator;
}

interface CallResult<T> {
  status: number;
  headers: Headers;
  /** Parsed JSON, or the text when the response is not JSON. */
  body: T;
}

/** The type argument only names what the test expects back; the assertions check it. */
async function call<T = unknown>(method: string, path: string, options: CallOptions = {}): Promise<CallResult<T>> {
  const headers = new Headers();
  const key = options.key === undefined ? KEY : options.key;
  if (key !== null) headers.set("authorization", `Bearer ${key}`);
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (body !== undefined) headers.set("content-type", "application/json");
  const response = await fetch(`${(options.on ?? emulator).url}${path}`, {
    method,
    headers,
    ...(body !== undefined && { body }),
    ...(options.signal && { signal: options.signal }),
  });
  const text = await response.text();
  const isJson = response.headers.get("content-type")?.startsWith("application/json") ?? false;
  return { status: response.status, headers: response.headers, body: (isJson ? JSON.parse(text) : text) as T };
}

async function createIdentity(externalId: string, fields: Record<string, unknown> = {}): Promise<EmulatedIdentity> {
  const response = await call<{ identity: EmulatedIdentity }>("POST", "/v2/identities", {
    body: { external_id: externalId, ...fields },
  });
  expect(response.status).toBe(201);
  return response.body.identity;
}

const itemPath = (id: string) => `/v2/identities/${encodeURIComponent(id)}`;
const stored = (externalId: string) => emulator.identities().find((identity) => identity.external_id === externalId);
const lastLogged = (externalId: string) => emulator.requests().filter((entry) => entry.externalId === externalId).at(-1);

describe("auth", () => {
  it("answers 401 {error: Unauthorized} without a bearer token or with a key it does not know", async () => {
    for (const key of [null, "", "wrong-key"]) {
      const response = await call("GET", "/v2/identities", { key });
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ error: "Unauthorized" });
    }
    expect((await call("GET", "/v2/identities")).status).toBe(200);
  });

  it("accepts any non-empty bearer token when no apiKeys are configured", async () => {
    const open = await startOrqEmulator({ quiet: true });
    try {
      expect((await call("GET", "/v2/identities", { on: open, key: "anything" })).status).toBe(200);
      expect((await call("GET", "/v2/identities", { on: open, key: "" })).status).toBe(401);
    } finally {
      await open.close();
    }
  });
});

describe("POST /v2/identities", () => {
  it("creates an identity: 201, a Location header and the OpenAPI identity shape", async () => {
    const response = await call<{ identity: EmulatedIdentity }>("POST", "/v2/identities", {
      body: {
        external_id: "user_create_1",
        display_name: "Ada Lovelace",
        email: "ada@example.com",
        avatar_url: "https://example.com/ada.png",
        tags: ["enterprise", "beta"],
        metadata: { plan: "enterprise", region: "eu" },
      },
    });
    expect(response.status).toBe(201);
    const { identity } = response.body;
    expect(identity).toEqual({
      _id: expect.stringMatching(ULID),
      external_id: "user_create_1",
      workspace_id: expect.any(String),
      display_name: "Ada Lovelace",
      email: "ada@example.com",
      avatar_url: "https://example.com/ada.png",
      tags: ["enterprise", "beta"],
      metadata: { plan: "enterprise", region: "eu" },
      created: expect.stringMatching(ISO),
      updated: expect.stringMatching(ISO),
    });
    expect(response.headers.get("location")).toBe(`/v2/identities/${identity._id}`);
    expect(stored("user_create_1")).toEqual(identity);
  });

  it("omits optional fields that were not sent", async () => {
    const identity = await createIdentity("user_minimal");
    expect(Object.keys(identity).sort()).toEqual(["_id", "created", "external_id", "updated", "workspace_id"]);
  });

  it("answers 409 when the external_id already exists, and keeps the first identity", async () => {
    const first = await createIdentity("auth0|dup", { display_name: "First" });
    const response = await call<{ error: unknown }>("POST", "/v2/identities", {
      body: { external_id: "auth0|dup", display_name: "Second" },
    });
    expect(response.status).toBe(409);
    expect(typeof response.body.error).toBe("string");
    expect(stored("auth0|dup")).toEqual(first);
  });

  it("accepts an external_id of exactly 120 characters", async () => {
    await createIdentity("e".repeat(120));
  });

  it.each([
    ["null display_name", { external_id: "v_null", display_name: null }, "display_name: must be a string (omit the field instead of sending null)"],
    ["null email", { external_id: "v_null_email", email: null }, "email: must be a string (omit the field instead of sending null)"],
    ["over-long external_id", { external_id: "x".repeat(121) }, "external_id: must be 1-120 characters"],
    ["empty external_id", { external_id: "" }, "external_id: must be 1-120 characters"],
    ["missing external_id", { display_name: "Nobody" }, "external_id: required"],
    ["numeric external_id", { external_id: 42 }, "external_id: must be a string"],
    ["unknown field", { external_id: "v_unknown", provider: "clerk" }, "provider: unknown field"],
    ["tags not strings", { external_id: "v_tags", tags: ["ok", 1] }, "tags: must contain only strings of 1-256 characters"],
    ["metadata as an array", { external_id: "v_meta", metadata: ["a"] }, "metadata: must be a JSON object"],
    ["over-long display_name", { external_id: "v_long", display_name: "n".repeat(1025) }, "display_name: must be at most 1024 characters"],
    ["a body that is not an object", ["v_array"], "body: must be a JSON object"],
  ])("rejects %s with 422 validation_error and stores nothing", async (_case, body, message) => {
    const before = emulator.identities().length;
    const response = await call("POST", "/v2/identities", { body });
    expect(response.status).toBe(422);
    expect(response.body).toEqual({ error: { code: "validation_error", message } });
    expect(emulator.identities()).toHaveLength(before);
  });

  it("answers 400 on malformed JSON", async () => {
    const response = await call("POST", "/v2/identities", { rawBody: '{"external_id": "v_bad"' });
    expect(response.status).toBe(400);
    expect(stored("v_bad")).toBeUndefined();
  });
});

describe("GET /v2/identities/{id}", () => {
  it("finds an identity by percent-encoded external_id (auth0|…) and by _id", async () => {
    const identity = await createIdentity("auth0|retrieve", { email: "r@example.com" });
    expect(itemPath("auth0|retrieve")).toBe("/v2/identities/auth0%7Cretrieve");
    for (const path of [itemPath("auth0|retrieve"), `/v2/identities/${identity._id}`]) {
      const response = await call("GET", path);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ identity });
    }
  });

  it("answers 404 for an unknown identity", async () => {
    const response = await call("GET", itemPath("auth0|nobody"));
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ error: expect.any(String) });
  });
});

describe("PATCH /v2/identities/{id}", () => {
  it("replaces tags and metadata wholesale and keeps the fields it was not sent", async () => {
    const created = await createIdentity("auth0|patch", {
      display_name: "Before",
      email: "keep@example.com",
      tags: ["a", "b"],
      metadata: { plan: "free", region: "eu" },
    });
    const response = await call<{ identity: EmulatedIdentity }>("PATCH", itemPath("auth0|patch"), {
      body: { display_name: "After", tags: ["c"], metadata: { plan: "pro" } },
    });
    expect(response.status).toBe(200);
    expect(response.body.identity).toEqual({
      ...created,
      display_name: "After",
      tags: ["c"],
      metadata: { plan: "pro" },
      updated: expect.stringMatching(ISO),
    });
    expect(stored("auth0|patch")).toEqual(response.body.identity);

    const cleared = await call<{ identity: EmulatedIdentity }>("PATCH", `/v2/identities/${created._id}`, { body: { tags: [] } });
    expect(cleared.body.identity.tags).toEqual([]);
    expect(cleared.body.identity.email).toBe("keep@example.com");
  });

  it.each([
    ["external_id", { external_id: "auth0|other" }, "external_id: cannot be updated"],
    ["null", { email: null }, "email: must be a string (omit the field instead of sending null)"],
    ["an unknown field", { last_seen: "yesterday" }, "last_seen: unknown field"],
  ])("rejects %s with 422 and changes nothing", async (_case, body, message) => {
    const identity = await createIdentity(`auth0|patch-reject-${_case}`, { email: "same@example.com" });
    const response = await call("PATCH", itemPath(identity.external_id), { body });
    expect(response.status).toBe(422);
    expect(response.body).toEqual({ error: { code: "validation_error", message } });
    expect(stored(identity.external_id)).toEqual(identity);
  });

  it("answers 404 for an unknown identity", async () => {
    const response = await call("PATCH", itemPath("auth0|patch-nobody"), { body: { display_name: "x" } });
    expect(response.status).toBe(404);
  });
});

describe("DELETE /v2/identities/{id}", () => {
  it("answers 200 {} and the identity is gone: GET and a second DELETE answer 404", async () => {
    await createIdentity("auth0|delete");
    const response = await call("DELETE", itemPath("auth0|delete"));
    expect(response.status).toBe(200);
    expect(response.body).toEqual({});
    expect(stored("auth0|delete")).toBeUndefined();
    expect((await call("GET", itemPath("auth0|delete"))).status).toBe(404);
    expect((await call("DELETE", itemPath("auth0|delete"))).status).toBe(404);
  });

  it("frees the external_id for a new identity", async () => {
    const first = await createIdentity("auth0|recreate");
    await call("DELETE", `/v2/identities/${first._id}`);
    const second = await createIdentity("auth0|recreate");
    expect(second._id).not.toBe(first._id);
  });
});

describe("GET /v2/identities", () => {
  type Page = { object: string; data: EmulatedIdentity[]; has_more: boolean };

  it("pages in creation order with limit and starting_after / ending_before", async () => {
    const created: EmulatedIdentity[] = [];
    for (let i = 0; i < 5; i++) created.push(await createIdentity(`list-page-${i}`));
    const ids = created.map((identity) => identity.external_id);

    const first = await call<Page>("GET", "/v2/identities?search=list-page-&limit=2");
    expect(first.status).toBe(200);
    expect(first.body.object).toBe("list");
    expect(first.body.data.map((identity) => identity.external_id)).toEqual(ids.slice(0, 2));
    expect(first.body.has_more).toBe(true);

    const second = await call<Page>("GET", `/v2/identities?search=list-page-&limit=2&starting_after=${first.body.data[1]?._id}`);
    expect(second.body.data.map((identity) => identity.external_id)).toEqual(ids.slice(2, 4));
    expect(second.body.has_more).toBe(true);

    const last = await call<Page>("GET", `/v2/identities?search=list-page-&limit=2&starting_after=${second.body.data[1]?._id}`);
    expect(last.body.data.map((identity) => identity.external_id)).toEqual(ids.slice(4));
    expect(last.body.has_more).toBe(false);

    const back = await call<Page>("GET", `/v2/identities?search=list-page-&limit=2&ending_before=${created[4]?._id}`);
    expect(back.body.data.map((identity) => identity.external_id)).toEqual(ids.slice(2, 4));
    expect(back.body.has_more).toBe(true);
  });

  it("searches external_id, display_name and email case-insensitively", async () => {
    await createIdentity("list-search-1", { display_name: "Grace HOPPER" });
    await createIdentity("list-search-2", { email: "hopper@navy.example" });
    await createIdentity("LIST-SEARCH-HOPPER-3");
    await createIdentity("list-search-4", { display_name: "Someone else" });
    const response = await call<Page>("GET", "/v2/identities?search=hopper");
    expect(response.body.data.map((identity) => identity.external_id)).toEqual([
      "list-search-1",
      "list-search-2",
      "LIST-SEARCH-HOPPER-3",
    ]);
  });

  it("rejects a limit outside 1..200 with 422", async () => {
    expect((await call("GET", "/v2/identities?limit=0")).status).toBe(422);
    expect((await call("GET", "/v2/identities?limit=abc")).status).toBe(422);
  });
});

describe("unknown routes", () => {
  it("answers 404 JSON", async () => {
    for (const [method, path] of [["GET", "/v2/contacts"], ["PUT", itemPath("auth0|x")], ["GET", "/"]] as const) {
      const response = await call(method, path);
      expect(response.status).toBe(404);
      expect(response.body).toEqual({ error: expect.any(String) });
    }
  });
});

describe("request log", () => {
  it("logs every /v2 request, with the external_id resolved from an _id path", async () => {
    const identity = await createIdentity("auth0|logged", { display_name: "Logged" });
    await call("GET", `/v2/identities/${identity._id}`);
    await call("PATCH", itemPath("auth0|logged"), { body: { email: "l@example.com" } });
    await call("DELETE", itemPath("auth0|logged"));

    const response = await call<{ requests: LoggedRequest[] }>("GET", `/__emulator/requests?external_id=${encodeURIComponent("auth0|logged")}`, {
      key: null,
    });
    expect(response.body.requests).toEqual([
      { at: expect.any(Number), method: "POST", path: "/v2/identities", externalId: "auth0|logged", resource: "identities", status: 201, body: { external_id: "auth0|logged", display_name: "Logged" } },
      { at: expect.any(Number), method: "GET", path: `/v2/identities/${identity._id}`, externalId: "auth0|logged", resource: "identities", status: 200 },
      { at: expect.any(Number), method: "PATCH", path: "/v2/identities/auth0%7Clogged", externalId: "auth0|logged", resource: "identities", status: 200, body: { email: "l@example.com" } },
      { at: expect.any(Number), method: "DELETE", path: "/v2/identities/auth0%7Clogged", externalId: "auth0|logged", resource: "identities", status: 200 },
    ]);
    expect(emulator.requests().filter((entry) => entry.externalId === "auth0|logged")).toEqual(response.body.requests);
    const byPrefix = await call<{ requests: LoggedRequest[] }>("GET", `/__emulator/requests?external_id_prefix=${encodeURIComponent("auth0|log")}`, { key: null });
    expect(byPrefix.body.requests).toEqual(response.body.requests);
  });

  it("logs rejected requests too", async () => {
    await call("POST", "/v2/identities", { key: "wrong", body: { external_id: "auth0|unauthorized" } });
    expect(lastLogged("auth0|unauthorized")).toMatchObject({ method: "POST", status: 401 });
  });
});

describe("control API", () => {
  it("shows the current identities, one by percent-encoded external_id, without auth", async () => {
    const identity = await createIdentity("auth0|control");
    const all = await call<{ identities: EmulatedIdentity[] }>("GET", "/__emulator/identities", { key: null });
    expect(all.body.identities).toContainEqual(identity);
    const one = await call("GET", `/__emulator/identities/${encodeURIComponent("auth0|control")}`, { key: null });
    expect(one.status).toBe(200);
    expect(one.body).toEqual(identity);
    expect((await call("GET", "/__emulator/identities/auth0%7Cmissing", { key: null })).status).toBe(404);
  });

  it("PUT /__emulator/faults installs rules, GET shows them, malformed rules get 422", async () => {
    const rules = [{ externalIdPrefix: "ctl|", method: "POST", times: 2, faults: [{ status: 503 }] }];
    const put = await call("PUT", "/__emulator/faults", { key: null, body: { rules } });
    expect(put.status).toBe(200);
    expect((await call("GET", "/__emulator/faults", { key: null })).body).toEqual({ rules: [{ ...rules[0], fired: 0 }] });

    const bad = await call("PUT", "/__emulator/faults", { key: null, body: { rules: [{ faults: [{ status: 418 }] }] } });
    expect(bad.status).toBe(422);
    expect(() => emulator.setFaults([{ rate: 2, faults: [{ drop: true }] }])).toThrow(TypeError);
    await call("PUT", "/__emulator/faults", { key: null, body: { rules: [] } });
  });

  it("POST /__emulator/faults appends rules and keeps the existing rules' fired counts", async () => {
    emulator.setFaults([{ externalIdPrefix: "append-a|", times: 1, faults: [{ status: 500 }] }]);
    expect((await call("GET", itemPath("append-a|user"))).status).toBe(500);
    const post = await call("POST", "/__emulator/faults", {
      key: null,
      body: { rules: [{ externalIdPrefix: "append-b|", faults: [{ status: 503 }] }] },
    });
    expect(post.status).toBe(200);
    expect(post.body).toEqual({
      rules: [
        { externalIdPrefix: "append-a|", times: 1, faults: [{ status: 500 }], fired: 1 },
        { externalIdPrefix: "append-b|", faults: [{ status: 503 }], fired: 0 },
      ],
    });
    expect((await call("GET", itemPath("append-a|user"))).status).toBe(404); // still spent
    expect((await call("GET", itemPath("append-b|user"))).status).toBe(503);
    emulator.setFaults([]);
  });
});

describe("faults", () => {
  afterEach(() => emulator.setFaults([]));

  const statuses: FaultStatus[] = [500, 502, 503, 401, 403, 429, 400, 422];
  it.each(statuses)("a %i fault answers instead of the API, leaves state unchanged, and is logged", async (status) => {
    const externalId = `fault-${status}|user`;
    emulator.setFaults([{ externalIdPrefix: `fault-${status}|`, method: "POST", times: 1, faults: [{ status }] }]);

    const faulted = await call("POST", "/v2/identities", { body: { external_id: externalId } });
    expect(faulted.status).toBe(status);
    expect(stored(externalId)).toBeUndefined();
    expect(lastLogged(externalId)).toMatchObject({ method: "POST", status, fault: true });

    await createIdentity(externalId); // the rule is spent after one firing
  });

  it("sends Retry-After with a 429 that has retryAfter, and an HTML page with a 502", async () => {
    emulator.setFaults([
      { externalIdPrefix: "fault-429-retry|", faults: [{ status: 429, retryAfter: 7 }] },
      { externalIdPrefix: "fault-502-html|", faults: [{ status: 502 }] },
    ]);
    const limited = await call("GET", itemPath("fault-429-retry|user"));
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    const gateway = await call("GET", itemPath("fault-502-html|user"));
    expect(gateway.headers.get("content-type")).toMatch(/^text\/html/);
    expect(gateway.body).toContain("502 Bad Gateway");
  });

  it("a hang fault never answers: the client times out and nothing is created", async () => {
    emulator.setFaults([{ externalIdPrefix: "fault-hang|", faults: [{ hang: true }] }]);
    const request = call("POST", "/v2/identities", {
      body: { external_id: "fault-hang|user" },
      signal: AbortSignal.timeout(300),
    });
    await expect(request).rejects.toMatchObject({ name: "TimeoutError" });
    expect(stored("fault-hang|user")).toBeUndefined();
    expect(lastLogged("fault-hang|user")).toMatchObject({ status: "hang", fault: true });
  });

  it("a drop fault destroys the socket without a response", async () => {
    emulator.setFaults([{ externalIdPrefix: "fault-drop|", faults: [{ drop: true }] }]);
    await expect(call("POST", "/v2/identities", { body: { external_id: "fault-drop|user" } })).rejects.toThrow(TypeError);
    expect(stored("fault-drop|user")).toBeUndefined();
    expect(lastLogged("fault-drop|user")).toMatchObject({ status: "drop", fault: true });
  });

  it("fires only for requests matching its externalIdPrefix and method", async () => {
    const target = await createIdentity("scope-a|user");
    emulator.setFaults([{ externalIdPrefix: "scope-a|", method: "GET", faults: [{ status: 500 }] }]);

    expect((await call("GET", itemPath("scope-a|user"))).status).toBe(500);
    // A path by _id matches through the resolved external_id.
    expect((await call("GET", `/v2/identities/${target._id}`)).status).toBe(500);
    expect((await call("PATCH", itemPath("scope-a|user"), { body: { display_name: "x" } })).status).toBe(200);
    await createIdentity("scope-b|user");
    expect((await call("GET", itemPath("scope-b|user"))).status).toBe(200);
    // Without an external id (the list endpoint) a prefixed rule cannot match.
    expect((await call("GET", "/v2/identities?limit=1")).status).toBe(200);
  });

  it("fires `times` times, then is spent, as GET /__emulator/faults shows", async () => {
    emulator.setFaults([{ externalIdPrefix: "times|", times: 2, faults: [{ status: 503 }] }]);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await call("POST", "/v2/identities", { body: { external_id: "times|user" } })).status);
    expect(statuses).toEqual([503, 503, 201]);
    const rules = await call<{ rules: { fired: number }[] }>("GET", "/__emulator/faults", { key: null });
    expect(rules.body.rules[0]?.fired).toBe(2);
  });

  it("cycles through a rule's faults in order", async () => {
    emulator.setFaults([{ externalIdPrefix: "cycle|", faults: [{ status: 500 }, { status: 429 }, { status: 403 }] }]);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call("GET", itemPath("cycle|user"))).status);
    expect(statuses).toEqual([500, 429, 403, 500]);
  });

  it("fires with probability `rate`: never at 0, always at 1", async () => {
    emulator.setFaults([
      { externalIdPrefix: "rate|", rate: 0, faults: [{ status: 500 }] },
      { externalIdPrefix: "rate|", method: "PATCH", rate: 1, faults: [{ status: 502 }] },
    ]);
    await createIdentity("rate|user");
    for (let i = 0; i < 20; i++) expect((await call("GET", itemPath("rate|user"))).status).toBe(200);
    expect((await call("PATCH", itemPath("rate|user"), { body: {} })).status).toBe(502);
  });

  it("counts injected faults by kind in GET /__emulator/stats", async () => {
    const stats = async () => (await call<EmulatorStats>("GET", "/__emulator/stats", { key: null })).body;
    const before = await stats();
    emulator.setFaults([{ externalIdPrefix: "stats|", times: 3, faults: [{ status: 503 }, { status: 503 }, { drop: true }] }]);
    await call("GET", itemPath("stats|user"));
    await call("GET", itemPath("stats|user"));
    await expect(call("GET", itemPath("stats|user"))).rejects.toThrow(TypeError);
    const after = await stats();
    expect(after.faults["503"] - before.faults["503"]).toBe(2);
    expect(after.faults.drop - before.faults.drop).toBe(1);
    expect(after.requests - before.requests).toBe(3);
    expect(after.identities).toBe(emulator.identities().length);
  });
});

describe("lifecycle", () => {
  it("close() ends hung requests instead of waiting for them", async () => {
    const local = await startOrqEmulator({ quiet: true });
    local.setFaults([{ faults: [{ hang: true }] }]);
    const hung = call("GET", "/v2/identities", { on: local, key: "k" });
    hung.catch(() => {}); // asserted below; avoid an unhandled rejection in between
    await expect.poll(() => local.requests().length).toBe(1);

    const started = Date.now();
    await local.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(hung).rejects.toThrow(TypeError);
  });

  it("counts the API requests in flight at once, hung ones included, in stats", async () => {
    const local = await startOrqEmulator({ quiet: true });
    try {
      local.setFaults([{ externalIdPrefix: "slow|", faults: [{ hang: true }] }]);
      const hung = [1, 2, 3].map((i) => call("GET", itemPath(`slow|${i}`), { on: local, key: "k" }).catch(() => "cut off"));
      await expect.poll(() => local.stats().inFlight).toBe(3);
      await call("GET", itemPath("fast|1"), { on: local, key: "k" });
      expect(local.stats()).toMatchObject({ inFlight: 3, maxInFlight: 4 });
      await local.close();
      expect(await Promise.all(hung)).toEqual(["cut off", "cut off", "cut off"]);
      await expect.poll(() => local.stats().inFlight).toBe(0);
      expect(local.stats().maxInFlight).toBe(4);
    } finally {
      await local.close();
    }
  });

  it("POST /__emulator/reset clears identities, the request log and fault rules", async () => {
    const local = await startOrqEmulator({ quiet: true });
    try {
      await call("POST", "/v2/identities", { on: local, key: "k", body: { external_id: "reset|user" } });
      local.setFaults([{ faults: [{ status: 500 }] }]);
      expect((await call("POST", "/__emulator/reset", { on: local, key: null })).status).toBe(200);
      expect(local.identities()).toEqual([]);
      expect(local.requests()).toEqual([]);
      expect((await call("GET", "/v2/identities", { on: local, key: "k" })).status).toBe(200);
    } finally {
      await local.close();
    }
  });
});

describe("workspace: rate limit, outage, lost answers", () => {
  /** A local emulator with a clock the test moves (the rate limit's window is 60 s). */
  async function withLocal(run: (local: OrqEmulator, clock: { now: number }) => Promise<void>): Promise<void> {
    const clock = { now: 1_000_000 };
    const local = await startOrqEmulator({ quiet: true, now: () => clock.now });
    try {
      await run(local, clock);
    } finally {
      await local.close();
    }
  }
  const create = (local: OrqEmulator, externalId: string) => call("POST", "/v2/identities", { on: local, key: "k", body: { external_id: externalId } });
  const rateHeaders = (response: CallResult<unknown>) =>
    Object.fromEntries(["retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"].map((name) => [name, response.headers.get(name)]));

  it("defaults to no limit and no outage, and sends no rate-limit headers then", async () => {
    await withLocal(async (local) => {
      expect(local.workspace()).toEqual({
        rateLimitPerMinute: null,
        rateLimitMode: "rolling",
        rateLimitHeaders: "always",
        outage: null,
        budgetCasing: "camel",
        accepted: 0,
        inWindow: 0,
        remaining: null,
        rateLimited: 0,
        outageCalls: 0,
        lastOutage: null,
      });
      const answer = await create(local, "ws-default|1");
      expect(answer.status).toBe(201);
      expect(answer.headers.get("x-ratelimit-limit")).toBeNull();
      expect(local.workspace()).toMatchObject({ accepted: 1, inWindow: 1, remaining: null });
    });
  });

  it("allows N calls per rolling 60 s, then answers 429 with Retry-After and X-RateLimit-* until a slot frees; refused calls do not count", async () => {
    await withLocal(async (local, clock) => {
      local.setWorkspace({ rateLimitPerMinute: 3 });
      const accepted = [];
      for (let i = 0; i < 3; i++) {
        accepted.push(rateHeaders(await create(local, `ws-limit|${i}`)));
        clock.now += 10_000; // calls at t = 0, 10, 20 s
      }
      expect(accepted).toEqual([0, 1, 2].map((i) => ({ "retry-after": null, "x-ratelimit-limit": "3", "x-ratelimit-remaining": String(2 - i), "x-ratelimit-reset": String(60 - 10 * i) })));

      // t = 30 s: the window is full; the first slot frees at t = 60 s.
      const refused = await create(local, "ws-limit|3");
      expect(refused.status).toBe(429);
      expect(rateHeaders(refused)).toEqual({ "retry-after": "30", "x-ratelimit-limit": "3", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "30" });
      expect(local.requests().at(-1)).toMatchObject({ status: 429, refusedBy: "rate-limit" });
      expect(local.requests().at(-1)?.fault).toBeUndefined();
      expect(local.identities().map((identity) => identity.external_id)).not.toContain("ws-limit|3");

      // Hammering while refused does not push the free slot back.
      clock.now += 29_500; // t = 59.5 s
      for (let i = 0; i < 5; i++) expect((await create(local, "ws-limit|3")).headers.get("retry-after")).toBe("1");
      clock.now += 500; // t = 60 s: the call of t = 0 leaves the window
      expect((await create(local, "ws-limit|3")).status).toBe(201);
      expect((await create(local, "ws-limit|4")).status).toBe(429);
      expect(local.workspace()).toMatchObject({ rateLimitPerMinute: 3, accepted: 4, inWindow: 3, remaining: 0, rateLimited: 7 });

      // Unlimited again: everything passes (the window still counts).
      local.setWorkspace({ rateLimitPerMinute: null });
      expect((await create(local, "ws-limit|4")).status).toBe(201);
    });
  });

  it("mode bucket: what is left goes at once, then one slot every 60 s ÷ N (the calls of the last minute count when it starts)", async () => {
    await withLocal(async (local, clock) => {
      expect((await create(local, "ws-bucket|0")).status).toBe(201); // before the limit: counts
      local.setWorkspace({ rateLimitPerMinute: 4, rateLimitMode: "bucket" });
      expect(local.workspace()).toMatchObject({ rateLimitMode: "bucket", remaining: 3, inWindow: 1 });
      const accepted = [];
      for (let i = 1; i <= 3; i++) accepted.push(rateHeaders(await create(local, `ws-bucket|${i}`)));
      expect(accepted).toEqual([2, 1, 0].map((left) => ({ "retry-after": null, "x-ratelimit-limit": "4", "x-ratelimit-remaining": String(left), "x-ratelimit-reset": "15" })));
      const refused = await create(local, "ws-bucket|4");
      expect(rateHeaders(refused)).toEqual({ "retry-after": "15", "x-ratelimit-limit": "4", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "15" });
      clock.now += 5_000;
      expect((await create(local, "ws-bucket|4")).headers.get("retry-after")).toBe("10");
      clock.now += 10_000; // one slot refilled (not a whole window later, as with rolling)
      expect((await create(local, "ws-bucket|4")).status).toBe(201);
      expect((await create(local, "ws-bucket|5")).status).toBe(429);
      clock.now += 10 * 60_000; // refills up to the limit, not beyond
      expect(local.workspace().remaining).toBe(4);
    });
  });

  it("counts every call the limit let through, whatever the API answered, but not calls with a bad key", async () => {
    await withLocal(async (local) => {
      local.setWorkspace({ rateLimitPerMinute: 2 });
      expect((await call("GET", itemPath("ws-count|missing"), { on: local, key: "k" })).status).toBe(404);
      expect((await call("GET", "/v2/identities", { on: local, key: null })).status).toBe(401);
      expect((await create(local, "ws-count|1")).status).toBe(201);
      expect((await create(local, "ws-count|2")).status).toBe(429);
      expect(local.workspace()).toMatchObject({ accepted: 2, inWindow: 2, rateLimited: 1 });
    });
  });

  it("rateLimitHeaders on429 sends X-RateLimit-* only with the 429; never sends only Retry-After", async () => {
    await withLocal(async (local) => {
      local.setWorkspace({ rateLimitPerMinute: 1, rateLimitHeaders: "on429" });
      expect(rateHeaders(await create(local, "ws-h|1"))).toEqual({ "retry-after": null, "x-ratelimit-limit": null, "x-ratelimit-remaining": null, "x-ratelimit-reset": null });
      expect(rateHeaders(await create(local, "ws-h|2"))).toEqual({ "retry-after": "60", "x-ratelimit-limit": "1", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "60" });
      local.setWorkspace({ rateLimitHeaders: "never" });
      expect(rateHeaders(await create(local, "ws-h|2"))).toEqual({ "retry-after": "60", "x-ratelimit-limit": null, "x-ratelimit-remaining": null, "x-ratelimit-reset": null });
      expect(local.workspace().rateLimitPerMinute).toBe(1); // a partial change keeps the other settings
    });
  });

  it("an outage fails every call the chosen way (503 without Retry-After, drop, hang), counts them, and records when it started and ended", async () => {
    await withLocal(async (local, clock) => {
      await create(local, "ws-out|kept");
      local.setWorkspace({ outage: "503" });
      const down = await create(local, "ws-out|1");
      expect(down.status).toBe(503);
      expect(down.headers.get("retry-after")).toBeNull();
      expect((await call("GET", "/v2/identities", { on: local, key: null })).status).toBe(503); // before auth: down for everyone

      local.setWorkspace({ outage: "drop" });
      await expect(create(local, "ws-out|2")).rejects.toThrow(TypeError);
      local.setWorkspace({ outage: "hang" });
      await expect(call("GET", itemPath("ws-out|kept"), { on: local, key: "k", signal: AbortSignal.timeout(300) })).rejects.toMatchObject({ name: "TimeoutError" });
      expect(local.workspace().lastOutage).toEqual({ mode: "hang", startedAt: 1_000_000, endedAt: null, calls: 4 });

      clock.now += 45_000;
      local.setWorkspace({ outage: null });
      expect((await create(local, "ws-out|1")).status).toBe(201);
      expect(local.identities().map((identity) => identity.external_id).sort()).toEqual(["ws-out|1", "ws-out|kept"]);
      expect(local.workspace()).toMatchObject({ outage: null, outageCalls: 4, accepted: 2, lastOutage: { mode: "hang", startedAt: 1_000_000, endedAt: 1_045_000, calls: 4 } });
      expect(local.requests().filter((entry) => entry.refusedBy === "outage").map((entry) => entry.status)).toEqual([503, 503, "drop", "hang"]);

      local.setWorkspace({ outage: "503" }); // a new outage starts a new record
      expect(local.workspace().lastOutage).toEqual({ mode: "503", startedAt: 1_045_000, endedAt: null, calls: 0 });
    });
  });

  it("GET|PUT /__emulator/workspace shows and changes the switches; malformed ones get 422; reset restores the defaults", async () => {
    await withLocal(async (local) => {
      const put = await call<Record<string, unknown>>("PUT", "/__emulator/workspace", { on: local, key: null, body: { rateLimitPerMinute: 300, rateLimitHeaders: "never" } });
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({ rateLimitPerMinute: 300, rateLimitHeaders: "never", outage: null, remaining: 300 });
      expect((await call("PUT", "/__emulator/workspace", { on: local, key: null, body: { outage: "hang" } })).status).toBe(200);
      expect((await call("GET", "/__emulator/workspace", { on: local, key: null })).body).toMatchObject({ rateLimitPerMinute: 300, outage: "hang", lastOutage: { mode: "hang", endedAt: null } });

      for (const body of [{ rateLimitPerMinute: 0 }, { rateLimitPerMinute: 1.5 }, { rateLimitMode: "fixed" }, { rateLimitHeaders: "sometimes" }, { outage: 503 }, { outages: "503" }, { budgetCasing: "kebab" }, [1]]) {
        expect((await call("PUT", "/__emulator/workspace", { on: local, key: null, body })).status, JSON.stringify(body)).toBe(422);
      }
      expect(() => local.setWorkspace({ rateLimitPerMinute: -1 })).toThrow(TypeError);

      expect((await call("POST", "/__emulator/reset", { on: local, key: null })).status).toBe(200);
      expect(local.workspace()).toMatchObject({ rateLimitPerMinute: null, rateLimitMode: "rolling", rateLimitHeaders: "always", outage: null, accepted: 0, outageCalls: 0, lastOutage: null });
    });
  });

  it("a lose fault applies the write, then destroys the socket: the client sees a network error, a retry gets 409", async () => {
    await withLocal(async (local) => {
      local.setFaults([{ externalIdPrefix: "ws-lose|", method: "POST", times: 1, faults: [{ lose: true }] }]);
      await expect(create(local, "ws-lose|1")).rejects.toThrow(TypeError);
      expect(local.identities().map((identity) => identity.external_id)).toEqual(["ws-lose|1"]);
      expect(local.requests().at(-1)).toMatchObject({ method: "POST", status: 201, lost: true, fault: true });
      expect((await create(local, "ws-lose|1")).status).toBe(409); // the rule is spent
      expect(local.stats().faults.lose).toBe(1);

      // With rate 0 it never fires; other fields validate as for other faults.
      local.setFaults([{ externalIdPrefix: "ws-lose|", rate: 0, faults: [{ lose: true }] }]);
      expect((await create(local, "ws-lose|2")).status).toBe(201);
      expect(() => local.setFaults([{ faults: [{ lose: false } as never] }])).toThrow(TypeError);
    });
  });
});

describe("Budgets API (/v2/budgets)", () => {
  const MONTHLY = "BUDGET_PERIOD_MONTHLY";
  const identityScope = (externalId: string) => ({ identity: { identity_external_id: externalId } });
  const budgetPath = (id: string) => `/v2/budgets/${encodeURIComponent(id)}`;
  // biome-ignore lint: answers are free-form JSON checked by the assertions
  type Json = any;

  /** An identity and its budget; the budget as the create answer shows it (camelCase). */
  async function identityWithBudget(externalId: string, fields: Record<string, unknown> = {}, on?: OrqEmulator): Promise<Json> {
    const key = on ? "k" : KEY;
    expect((await call("POST", "/v2/identities", { on, key, body: { external_id: externalId } })).status).toBe(201);
    const created = await call<Json>("POST", "/v2/budgets", { on, key, body: { scope: identityScope(externalId), limits: { period: MONTHLY, amount: 20 }, ...fields } });
    expect(created.status).toBe(200);
    return created.body.budget;
  }

  it("creates an identity budget: 200 {budget} in camelCase, without usage; GET by id adds usage", async () => {
    const budget = await identityWithBudget("budget|create", { rate_limit: { requests_per_minute: 60 } });
    expect(budget).toEqual({
      budgetId: expect.stringMatching(ULID),
      scope: { identity: { identityExternalId: "budget|create" } },
      limits: { period: MONTHLY, amount: 20 },
      rateLimit: { requestsPerMinute: 60 },
      isActive: true,
      createdAt: expect.stringMatching(ISO),
      updatedAt: expect.stringMatching(ISO),
    });
    const read = await call<Json>("GET", budgetPath(budget.budgetId));
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ budget: { ...budget, usage: { amount: 0, tokens: 0, requests: 0 } } });
  });

  it("refuses a budget for an identity that does not exist (404), and a second budget for the same scope (409 {error})", async () => {
    const missing = await call<Json>("POST", "/v2/budgets", { body: { scope: identityScope("budget|nobody"), limits: { period: MONTHLY, amount: 1 } } });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: expect.any(String) });

    const first = await identityWithBudget("budget|twice");
    const second = await call<Json>("POST", "/v2/budgets", { body: { scope: identityScope("budget|twice"), limits: { period: MONTHLY, token_limit: 5 } } });
    expect(second.status).toBe(409);
    expect(second.body).toEqual({ error: expect.any(String) });
    expect(emulator.budgets().filter((budget) => budget.budget_id === first.budgetId)).toHaveLength(1);
    expect(emulator.budgets().filter((budget) => "identity" in budget.scope && budget.scope.identity.identity_external_id === "budget|twice")).toHaveLength(1);
  });

  it("keeps one budget per scope target: an API key's budget with the same target id is another budget", async () => {
    const own = await identityWithBudget("budget|shared-target");
    const apiKey = await call<Json>("POST", "/v2/budgets", { body: { scope: { api_key: { api_key_id: "budget|shared-target" } }, limits: { period: MONTHLY, amount: 5 } } });
    expect(apiKey.status).toBe(200);
    expect(apiKey.body.budget.scope).toEqual({ apiKey: { apiKeyId: "budget|shared-target" } });
    expect(apiKey.body.budget.budgetId).not.toBe(own.budgetId);
    expect((await call("POST", "/v2/budgets", { body: { scope: { api_key: { api_key_id: "budget|shared-target" } }, limits: { period: MONTHLY, amount: 6 } } })).status).toBe(409);
  });

  it("PATCH is partial: limits replaced whole, an empty rate_limit clears it, omitted fields are kept", async () => {
    const budget = await identityWithBudget("budget|patch", { rate_limit: { requests_per_minute: 60 } });
    const swapped = await call<Json>("PATCH", budgetPath(budget.budgetId), { body: { limits: { period: "BUDGET_PERIOD_DAILY", token_limit: 1000 } } });
    expect(swapped.status).toBe(200);
    expect(swapped.body.budget).toMatchObject({ budgetId: budget.budgetId, limits: { period: "BUDGET_PERIOD_DAILY", tokenLimit: 1000 }, rateLimit: { requestsPerMinute: 60 }, isActive: true });
    expect(swapped.body.budget.limits).not.toHaveProperty("amount");
    expect(swapped.body.budget).not.toHaveProperty("usage");

    const cleared = await call<Json>("PATCH", budgetPath(budget.budgetId), { body: { rate_limit: {}, is_active: false } });
    expect(cleared.body.budget).not.toHaveProperty("rateLimit");
    expect(cleared.body.budget).toMatchObject({ limits: { tokenLimit: 1000 }, isActive: false });

    expect((await call<Json>("PATCH", budgetPath(budget.budgetId), { body: { limits: { period: MONTHLY } } })).status).toBe(400); // no limit left
    expect((await call<Json>("PATCH", budgetPath(budget.budgetId), { body: { scope: identityScope("budget|other") } })).body).toEqual({ error: expect.stringMatching(/^scope: cannot be updated/) });
    expect((await call("PATCH", budgetPath("01NOTABUDGET"), { body: { is_active: true } })).status).toBe(404);
  });

  const badBodies: Array<[string, Record<string, unknown>, RegExp]> = [
    ["no scope", { limits: { period: MONTHLY, amount: 1 } }, /^scope: required/],
    ["two scope keys", { scope: { workspace: {}, identity: { identity_external_id: "x" } }, limits: { period: MONTHLY, amount: 1 } }, /^scope: must set exactly one/],
    ["an unknown scope", { scope: { team: { team_id: "x" } }, limits: { period: MONTHLY, amount: 1 } }, /^scope\.team: unknown scope/],
    ["an empty external id", { scope: identityScope(""), limits: { period: MONTHLY, amount: 1 } }, /^scope\.identity\.identity_external_id: /],
    ["no limits", { scope: identityScope("budget|bad") }, /^limits: required/],
    ["no period", { scope: identityScope("budget|bad"), limits: { amount: 1 } }, /^limits\.period: required/],
    ["a short period name", { scope: identityScope("budget|bad"), limits: { period: "MONTHLY", amount: 1 } }, /^limits\.period: must be one of/],
    ["no limit at all", { scope: identityScope("budget|bad"), limits: { period: MONTHLY } }, /at least one of/],
    ["a negative amount", { scope: identityScope("budget|bad"), limits: { period: MONTHLY, amount: -1 } }, /^limits\.amount: /],
    ["token_limit as a string", { scope: identityScope("budget|bad"), limits: { period: MONTHLY, token_limit: "5" } }, /^limits\.token_limit: /],
    ["requests_per_minute 0", { scope: identityScope("budget|bad"), limits: { period: MONTHLY }, rate_limit: { requests_per_minute: 0 } }, /^rate_limit\.requests_per_minute: /],
    ["an unknown field", { scope: identityScope("budget|bad"), limits: { period: MONTHLY, amount: 1 }, currency: "USD" }, /^currency: unknown field/],
    ["a CEL match (not emulated)", { match: { cel: "true" }, limits: { period: MONTHLY, amount: 1 } }, /^match: not emulated/],
    ["an expiry in the past", { scope: identityScope("budget|bad"), limits: { period: MONTHLY, amount: 1 }, expires_at: "2000-01-01T00:00:00Z" }, /^expires_at: /],
  ];
  it.each(badBodies)("answers 400 {error} naming the field for %s", async (_, body, message) => {
    await call("POST", "/v2/identities", { body: { external_id: "budget|bad" } });
    const answer = await call<Json>("POST", "/v2/budgets", { body });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: expect.stringMatching(message) });
  });

  it("answers 400 on malformed JSON", async () => {
    expect((await call("POST", "/v2/budgets", { rawBody: "{nope" })).status).toBe(400);
  });

  it("DELETE by id answers 200 {}, then 404; deleting an identity removes its budget", async () => {
    const budget = await identityWithBudget("budget|delete");
    const deleted = await call("DELETE", budgetPath(budget.budgetId));
    expect(deleted).toMatchObject({ status: 200, body: {} });
    expect((await call("DELETE", budgetPath(budget.budgetId))).status).toBe(404);
    expect((await call("GET", budgetPath(budget.budgetId))).status).toBe(404);

    const withIdentity = await identityWithBudget("budget|identity-deleted");
    expect((await call("DELETE", itemPath("budget|identity-deleted"))).status).toBe(200);
    expect((await call("GET", budgetPath(withIdentity.budgetId))).status).toBe(404);
    expect((await call("GET", `/__emulator/budgets?external_id=${encodeURIComponent("budget|identity-deleted")}`, { key: null })).status).toBe(404);
  });

  it("lists newest first with scope_kind, scope_target_id, is_active and period filters, paging with limit and starting_after", async () => {
    const local = await startOrqEmulator({ quiet: true });
    try {
      const ids: string[] = [];
      for (const n of [1, 2, 3]) ids.push((await identityWithBudget(`list|${n}`, {}, local)).budgetId);
      const keyBudget = await call<Json>("POST", "/v2/budgets", { on: local, key: "k", body: { scope: { api_key: { api_key_id: "list|1" } }, limits: { period: "BUDGET_PERIOD_DAILY", amount: 1 }, is_active: false } });
      const list = async (query: string) => (await call<Json>("GET", `/v2/budgets${query}`, { on: local, key: "k" })).body;

      expect((await list("")).data.map((budget: Json) => budget.budgetId)).toEqual([keyBudget.body.budget.budgetId, ...[...ids].reverse()]);
      const identities = await list("?scope_kind=BUDGET_SCOPE_KIND_IDENTITY");
      expect(identities).toMatchObject({ object: "list", hasMore: false });
      expect(identities.data.map((budget: Json) => budget.budgetId)).toEqual([...ids].reverse());
      expect(identities.data[0].usage).toEqual({ amount: 0, tokens: 0, requests: 0 });
      expect((await list("?scope_kind=BUDGET_SCOPE_KIND_IDENTITY&scope_target_id=list%7C1")).data.map((budget: Json) => budget.budgetId)).toEqual([ids[0]]);
      expect((await list("?scope_target_id=list%7C1")).data).toHaveLength(2);
      expect((await list("?scope_kind=BUDGET_SCOPE_KIND_API_KEY&scope_kind=BUDGET_SCOPE_KIND_IDENTITY&scope_target_id=list%7C1")).data).toHaveLength(2);
      expect((await list("?is_active=false")).data.map((budget: Json) => budget.budgetId)).toEqual([keyBudget.body.budget.budgetId]);
      expect((await list("?period=BUDGET_PERIOD_DAILY")).data).toHaveLength(1);

      const first = await list("?scope_kind=BUDGET_SCOPE_KIND_IDENTITY&limit=2");
      expect(first).toMatchObject({ hasMore: true });
      expect(first.data.map((budget: Json) => budget.budgetId)).toEqual([ids[2], ids[1]]);
      const second = await list(`?scope_kind=BUDGET_SCOPE_KIND_IDENTITY&limit=2&starting_after=${ids[1]}`);
      expect(second).toMatchObject({ hasMore: false });
      expect(second.data.map((budget: Json) => budget.budgetId)).toEqual([ids[0]]);

      for (const query of ["?limit=0", "?limit=201", "?scope_kind=IDENTITY", "?is_active=yes", "?period=MONTHLY"]) {
        expect((await call("GET", `/v2/budgets${query}`, { on: local, key: "k" })).status, query).toBe(400);
      }
    } finally {
      await local.close();
    }
  });

  it("an identity read with include_budget=true carries its budget in snake_case without usage; without it, no budget", async () => {
    const budget = await identityWithBudget("budget|include", { rate_limit: { requests_per_minute: 5 } });
    const read = await call<Json>("GET", `${itemPath("budget|include")}?include_budget=true`);
    expect(read.body.identity.budget).toEqual({
      budget_id: budget.budgetId,
      scope: identityScope("budget|include"),
      limits: { period: MONTHLY, amount: 20 },
      rate_limit: { requests_per_minute: 5 },
      is_active: true,
      created_at: budget.createdAt,
      updated_at: budget.updatedAt,
    });
    expect((await call<Json>("GET", itemPath("budget|include"))).body.identity).not.toHaveProperty("budget");
    const listed = await call<Json>("GET", `/v2/identities?search=budget%7Cinclude&include_budget=true`);
    expect(listed.body.data[0].budget.budget_id).toBe(budget.budgetId);
  });

  it("workspace switch budgetCasing: snake answers in the older snake_case spelling", async () => {
    const local = await startOrqEmulator({ quiet: true });
    try {
      local.setWorkspace({ budgetCasing: "snake" });
      const budget = await identityWithBudget("snake|1", { rate_limit: { requests_per_minute: 3 } }, local);
      expect(budget).toMatchObject({ budget_id: expect.stringMatching(ULID), scope: identityScope("snake|1"), rate_limit: { requests_per_minute: 3 }, is_active: true });
      const list = await call<Json>("GET", "/v2/budgets", { on: local, key: "k" });
      expect(list.body).toMatchObject({ object: "list", has_more: false, data: [{ budget_id: budget.budget_id }] });
      expect(local.workspace().budgetCasing).toBe("snake");
    } finally {
      await local.close();
    }
  });

  it("logs budget calls with resource budgets and the scoped identity's external_id; fault rules can target budget calls only", async () => {
    const budget = await identityWithBudget("budget|logged");
    await call("GET", `/v2/budgets?scope_kind=BUDGET_SCOPE_KIND_IDENTITY&scope_target_id=${encodeURIComponent("budget|logged")}`);
    await call("PATCH", budgetPath(budget.budgetId), { body: { is_active: true } });
    const logged = emulator.requests().filter((entry) => entry.externalId === "budget|logged");
    expect(logged.map((entry) => [entry.method, entry.resource, entry.status])).toEqual([
      ["POST", "identities", 201],
      ["POST", "budgets", 200],
      ["GET", "budgets", 200],
      ["PATCH", "budgets", 200],
    ]);

    emulator.setFaults([{ externalIdPrefix: "budget|faulted", resource: "budgets", faults: [{ status: 503 }] }]);
    try {
      expect((await call("POST", "/v2/identities", { body: { external_id: "budget|faulted" } })).status).toBe(201);
      const refused = await call("POST", "/v2/budgets", { body: { scope: identityScope("budget|faulted"), limits: { period: MONTHLY, amount: 1 } } });
      expect(refused.status).toBe(503);
      expect(lastLogged("budget|faulted")).toMatchObject({ resource: "budgets", status: 503, fault: true });
      expect((await call("GET", itemPath("budget|faulted"))).status).toBe(200);
      expect(() => emulator.setFaults([{ resource: "contacts" as never, faults: [{ status: 500 }] }])).toThrow(TypeError);
    } finally {
      emulator.setFaults([]);
    }
  });

  it("budget calls meet the workspace's outage and rate limit like identity calls", async () => {
    const local = await startOrqEmulator({ quiet: true });
    try {
      local.setWorkspace({ outage: "503" });
      expect((await call("GET", "/v2/budgets", { on: local, key: "k" })).status).toBe(503);
      local.setWorkspace({ outage: null, rateLimitPerMinute: 1 });
      expect((await call("GET", "/v2/budgets", { on: local, key: "k" })).status).toBe(200);
      const limited = await call("GET", "/v2/budgets", { on: local, key: "k" });
      expect(limited.status).toBe(429);
      expect(limited.headers.get("retry-after")).not.toBeNull();
      expect((await call("GET", "/v2/budgets", { on: local, key: null })).status).toBe(401);
    } finally {
      await local.close();
    }
  });

  it("control API: GET /__emulator/budgets[?external_id=] shows budgets as stored (snake_case, with usage); stats count them; reset clears them", async () => {
    const local = await startOrqEmulator({ quiet: true });
    try {
      const budget = await identityWithBudget("ctl|1", {}, local);
      const one = await call<EmulatedBudget>("GET", `/__emulator/budgets?external_id=${encodeURIComponent("ctl|1")}`, { on: local, key: null });
      expect(one.body).toEqual({
        budget_id: budget.budgetId,
        scope: identityScope("ctl|1"),
        limits: { period: MONTHLY, amount: 20 },
        is_active: true,
        created_at: budget.createdAt,
        updated_at: budget.updatedAt,
        usage: { amount: 0, tokens: 0, requests: 0 },
      });
      expect((await call("GET", "/__emulator/budgets?external_id=ctl%7Cnone", { on: local, key: null })).status).toBe(404);
      expect((await call<{ budgets: EmulatedBudget[] }>("GET", "/__emulator/budgets", { on: local, key: null })).body.budgets).toEqual([one.body]);
      expect(local.budgets()).toEqual([one.body]);
      expect(local.stats().budgets).toBe(1);
      local.reset();
      expect(local.budgets()).toEqual([]);
    } finally {
      await local.close();
    }
  });
});
