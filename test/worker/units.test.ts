import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import pkg from "../../package.json";
import { parseConfig } from "../../src/config";
import { RETRY_BASE_MS, RETRY_CAP_MS, retryDelayMs } from "../../src/deliver/backoff";
import { createOrqClient, namedField, parseRetryAfter } from "../../src/deliver/orq-client";
import { ExternalId, ORQ_FIELD_LIMITS, withoutRefusableFields } from "../../src/deliver/orq-schemas";
import { syncIdentity } from "../../src/deliver/sync-identity";
import { IdentitySync } from "../../src/record/identity-sync";
import { identityWith, knownFrom, merge, type KnownProfile } from "../../src/record/profile-merge";
import { deliverNow, orqIdentity, orqWrites, uniqueId } from "./harness";
import { happenedAfter, joinName, toEpochMs } from "../../src/identity/identity-event";
import { DEFAULT_MAPPING, toDesiredIdentity, toOrqIdentity } from "../../src/identity/to-orq-identity";
import { BRIDGE_VERSION } from "../../src/version";
import { DEV_SECRETS } from "../support/secrets";

describe("ordering", () => {
  it("a later event wins; on the same instant deleted > updated > created", () => {
    expect(happenedAfter({ occurredAt: 2, type: "created" }, { occurredAt: 1, type: "deleted" })).toBe(true);
    expect(happenedAfter({ occurredAt: 1, type: "updated" }, { occurredAt: 2, type: "created" })).toBe(false);
    expect(happenedAfter({ occurredAt: 5, type: "deleted" }, { occurredAt: 5, type: "updated" })).toBe(true);
    expect(happenedAfter({ occurredAt: 5, type: "updated" }, { occurredAt: 5, type: "created" })).toBe(true);
    expect(happenedAfter({ occurredAt: 5, type: "updated" }, { occurredAt: 5, type: "updated" })).toBe(false);
  });

  it("reads provider timestamps in seconds or milliseconds", () => {
    expect(toEpochMs(1716883200)).toBe(1716883200000);
    expect(toEpochMs(1716883200000)).toBe(1716883200000);
  });

  it("joins names without stray spaces", () => {
    expect(joinName("Ada", " Lovelace ")).toBe("Ada Lovelace");
    expect(joinName(null, "Lovelace")).toBe("Lovelace");
    expect(joinName(" ", null)).toBeUndefined();
  });
});

describe("external ids", () => {
  it('refuses "." and ".." (URL parsers drop them as path segments, so orq.ai could never address them) but not ids that merely contain dots', () => {
    expect(ExternalId.safeParse(".").success).toBe(false);
    expect(ExternalId.safeParse("..").success).toBe(false);
    expect(new URL(`https://api.orq.ai/v2/identities/${encodeURIComponent("..")}`).pathname).toBe("/v2/");
    for (const id of ["...", "a.", ".a", "user.1"]) expect(ExternalId.safeParse(id).success, id).toBe(true);
  });
});

describe("retry schedule", () => {
  it("grows exponentially from 2 s with jitter in the upper half, capped at 10 minutes", () => {
    expect(retryDelayMs(1, 0, () => 0)).toBe(RETRY_BASE_MS / 2);
    expect(retryDelayMs(1, 0, () => 1)).toBe(RETRY_BASE_MS);
    expect(retryDelayMs(4, 0, () => 1)).toBe(RETRY_BASE_MS * 8);
    expect(retryDelayMs(50, 0, () => 1)).toBe(RETRY_CAP_MS);
    expect(retryDelayMs(50, 0, () => 0)).toBe(RETRY_CAP_MS / 2);
  });

  it("never retries sooner than Retry-After", () => {
    expect(retryDelayMs(1, 30_000, () => 0)).toBe(30_000);
    expect(parseRetryAfter("7")).toBe(7000);
    expect(parseRetryAfter(new Date(Date.now() + 60_000).toUTCString())).toBeGreaterThan(58_000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe("orq.ai call timeout", () => {
  /** A fetch that records the signal it was given and answers after `delayMs` (never, if undefined). */
  function fakeFetch(status: number, delayMs?: number) {
    const seen: { signal?: AbortSignal } = {};
    const fetch = ((_url: string, init?: RequestInit) => {
      seen.signal = init?.signal ?? undefined;
      return new Promise<Response>((resolve, reject) => {
        seen.signal?.addEventListener("abort", () => reject(seen.signal?.reason));
        if (delayMs !== undefined) setTimeout(() => resolve(new Response("{}", { status })), delayMs);
      });
    }) as typeof globalThis.fetch;
    return { fetch, seen };
  }

  it("leaves no timer behind once a call has answered (a pending timer keeps the Durable Object in memory)", async () => {
    const { fetch, seen } = fakeFetch(201, 0);
    const orq = createOrqClient({ baseUrl: "https://orq.test", apiKey: "key", timeoutMs: 100, fetch });
    expect(await orq.create({ external_id: "u1" })).toEqual({ kind: "ok", status: 201 });
    await scheduler.wait(250);
    expect(seen.signal?.aborted).toBe(false);
  });

  it("cuts off a call that does not answer in time, as a retryable timeout", async () => {
    const { fetch, seen } = fakeFetch(201);
    const orq = createOrqClient({ baseUrl: "https://orq.test", apiKey: "key", timeoutMs: 100, fetch });
    expect(await orq.remove("u1")).toMatchObject({ kind: "failed", retryable: true, reason: "timed out after 100 ms" });
    expect(seen.signal?.aborted).toBe(true);
  });
});

describe("configuration", () => {
  it("reports each invalid variable by name, never its value", () => {
    const config = parseConfig({
      ORQ_API_URL: "ftp://example.com",
      ORQ_TIMEOUT_MS: "forever",
      ORQ_METADATA_KEYS: "plan,provider",
      CLERK_WEBHOOK_SIGNING_SECRET: "whsec_%%%secret-value%%%",
      AUTH0_WEBHOOK_TOKEN: "short-token",
    });
    const byVariable = Object.fromEntries(config.problems.map((p) => [p.variable, p.problem]));
    expect(Object.keys(byVariable).sort()).toEqual([
      "AUTH0_WEBHOOK_TOKEN",
      "CLERK_WEBHOOK_SIGNING_SECRET",
      "ORQ_API_KEY",
      "ORQ_API_URL",
      "ORQ_METADATA_KEYS",
      "ORQ_TIMEOUT_MS",
    ]);
    expect(JSON.stringify(config.problems)).not.toMatch(/secret-value|short-token|ftp:/);
    // Bad values fall back to defaults; broken providers stay closed.
    expect(config.orq).toMatchObject({ baseUrl: "https://api.orq.ai", timeoutMs: 10_000 });
    expect(config.providers.get("clerk")?.status).toBe("invalid");
    expect(config.providers.get("auth0")?.status).toBe("invalid");
  });

  it("accepts several rotation secrets separated by spaces or commas, and trims URLs", () => {
    const config = parseConfig({
      ...DEV_SECRETS,
      CLERK_WEBHOOK_SIGNING_SECRET: `${DEV_SECRETS.CLERK_WEBHOOK_SIGNING_SECRET}, whsec_${btoa("another")}  whsec_${btoa("third")}`,
      ORQ_API_URL: "https://my.orq.ai/",
      ORQ_TAGS: " a, b ,,a",
    });
    expect(config.problems).toEqual([]);
    expect(config.providers.get("clerk")?.status).toBe("configured");
    expect(config.orq.baseUrl).toBe("https://my.orq.ai");
    expect(config.mapping.tags).toEqual(["a", "b"]);
  });

  it("treats an empty variable as not set", () => {
    const config = parseConfig({ ...DEV_SECRETS, AUTH0_WEBHOOK_TOKEN: "  " });
    expect(config.providers.get("auth0")?.status).toBe("not_configured");
  });
});

describe("mapping", () => {
  it("omits absent fields and always sends complete tags and metadata", () => {
    const identity = toOrqIdentity(
      { provider: "clerk", eventId: "e", type: "updated", userId: "user_1", occurredAt: 1, profile: { publicMetadata: { plan: null, tier: "gold" } } },
      { ...DEFAULT_MAPPING, tags: ["x"], metadataKeys: ["plan", "tier", "missing"] },
    );
    expect(identity).toEqual({ external_id: "user_1", tags: ["clerk", "x"], metadata: { tier: "gold", provider: "clerk" } });
  });

  it("does not copy inherited or prototype keys from metadata", () => {
    const publicMetadata = JSON.parse('{"__proto__": {"polluted": true}, "plan": "pro"}');
    const identity = toOrqIdentity(
      { provider: "clerk", eventId: "e", type: "created", userId: "u", occurredAt: 1, profile: { publicMetadata } },
      { ...DEFAULT_MAPPING, metadataKeys: ["plan", "toString", "polluted"] },
    );
    expect(identity.metadata).toEqual({ plan: "pro", provider: "clerk" });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("mapping options (ORQ_EXTERNAL_ID_SOURCE, ORQ_EXTERNAL_ID_PREFIX, ORQ_ON_DELETE)", () => {
  const created = { provider: "clerk", eventId: "e", type: "created" as const, userId: "user_1", occurredAt: 1, profile: { appExternalId: "app-42" } };

  it("uses the app's own external id when asked, falling back to the provider id", () => {
    const options = { ...DEFAULT_MAPPING, externalIdSource: "external_id" as const };
    expect(toOrqIdentity(created, options).external_id).toBe("app-42");
    expect(toOrqIdentity({ ...created, profile: {} }, options).external_id).toBe("user_1");
    expect(toOrqIdentity(created, DEFAULT_MAPPING).external_id).toBe("user_1");
  });

  it("prefixes every external id", () => {
    const options = { ...DEFAULT_MAPPING, externalIdPrefix: "clerk:" };
    expect(toOrqIdentity(created, options).external_id).toBe("clerk:user_1");
    expect(toDesiredIdentity({ ...created, type: "deleted", profile: undefined }, options)).toMatchObject({ externalId: "clerk:user_1" });
  });

  it("turns a deletion into DELETE, a deleted tag, or nothing", () => {
    const deleted = { ...created, type: "deleted" as const, profile: undefined };
    expect(toDesiredIdentity(deleted, DEFAULT_MAPPING)).toEqual({ kind: "deleted", externalId: "user_1", onDelete: "delete" });
    expect(toDesiredIdentity(deleted, { ...DEFAULT_MAPPING, tags: ["b2c"], onDelete: "tag" })).toEqual({
      kind: "deleted",
      externalId: "user_1",
      onDelete: "tag",
      tags: ["clerk", "b2c", "deleted"],
    });
    expect(toDesiredIdentity(deleted, { ...DEFAULT_MAPPING, onDelete: "ignore" })).toMatchObject({ onDelete: "ignore" });
  });

  it("rejects unknown option values by name", () => {
    const problems = parseConfig({ ORQ_EXTERNAL_ID_SOURCE: "email", ORQ_ON_DELETE: "archive" }).problems.map((p) => p.variable);
    expect(problems).toEqual(expect.arrayContaining(["ORQ_EXTERNAL_ID_SOURCE", "ORQ_ON_DELETE"]));
  });
});

it("reports the package version", () => {
  expect(BRIDGE_VERSION).toBe(pkg.version);
});

describe("fields orq.ai could refuse are left out, the rest is sent", () => {
  const base = { external_id: "user_1", display_name: "Ada", email: "ada@example.com", avatar_url: "https://example.com/a.png", tags: ["clerk"], metadata: { provider: "clerk" } };

  it("keeps an identity whose every field passes", () => {
    expect(withoutRefusableFields(base)).toEqual({ identity: base, refused: [] });
  });

  it("leaves out an email that is not an address, naming the field and reason, never the value", () => {
    for (const email of ["not-an-address", "two@@example.com", "ada@localhost", "ada @example.com", `${"a".repeat(250)}@example.com`]) {
      const { identity, refused } = withoutRefusableFields({ ...base, email });
      expect(identity).toEqual(Object.fromEntries(Object.entries(base).filter(([key]) => key !== "email")));
      expect(refused).toHaveLength(1);
      expect(refused[0]!.field).toBe("email");
      expect(refused[0]!.reason).not.toContain(email);
    }
  });

  it("leaves out an avatar_url that is not an absolute http(s) URL", () => {
    for (const avatar_url of ["javascript:alert(1)", "data:image/png;base64,iVBORw0KGgo=", "/avatars/a.png", "ftp://example.com/a.png", "https://", `https://example.com/${"a".repeat(ORQ_FIELD_LIMITS.avatar_url)}`]) {
      const { identity, refused } = withoutRefusableFields({ ...base, avatar_url });
      expect(identity).not.toHaveProperty("avatar_url");
      expect(refused.map((entry) => entry.field)).toEqual(["avatar_url"]);
    }
    expect(withoutRefusableFields({ ...base, avatar_url: "http://example.com/a.png" }).refused).toEqual([]);
  });

  it("leaves out a display name that is too long; odd code units (a lone surrogate) are text and stay", () => {
    expect(withoutRefusableFields({ ...base, display_name: "x".repeat(ORQ_FIELD_LIMITS.display_name + 1) }).refused.map((entry) => entry.field)).toEqual(["display_name"]);
    expect(withoutRefusableFields({ ...base, display_name: "x".repeat(ORQ_FIELD_LIMITS.display_name) }).refused).toEqual([]);
    expect(withoutRefusableFields({ ...base, display_name: "Ada \ud800" }).refused).toEqual([]);
    expect(withoutRefusableFields({ ...base, email: "ada\ud800@example.com" }).refused.map((entry) => entry.field)).toEqual(["email"]);
  });

  it("leaves out metadata values that are not JSON-representable or too large, keeping the other keys", () => {
    const metadata = { provider: "clerk", plan: "pro", score: Number.NaN, blob: "x".repeat(ORQ_FIELD_LIMITS.metadataValue), deep: { a: { b: Number.POSITIVE_INFINITY } } };
    const { identity, refused } = withoutRefusableFields({ ...base, metadata });
    expect(identity.metadata).toEqual({ provider: "clerk", plan: "pro" });
    expect(refused.map((entry) => entry.field).sort()).toEqual(["metadata.blob", "metadata.deep", "metadata.score"]);
  });

  it("bounds the whole metadata object", () => {
    const metadata: Record<string, unknown> = { provider: "clerk" };
    for (let i = 0; i < 10; i++) metadata[`k${i}`] = "x".repeat(3_000);
    const { identity, refused } = withoutRefusableFields({ ...base, metadata });
    expect(JSON.stringify(identity.metadata).length).toBeLessThanOrEqual(ORQ_FIELD_LIMITS.metadata);
    expect(identity.metadata).toHaveProperty("provider", "clerk");
    expect(refused.length).toBeGreaterThan(0);
  });

  it("reads which field an orq.ai 400 names, only when it names exactly one", () => {
    expect(namedField("email: must be a valid email address")).toBe("email");
    expect(namedField('invalid value for "avatar_url"')).toBe("avatar_url");
    expect(namedField("metadata.plan is too long")).toBe("metadata.plan");
    expect(namedField("bad request")).toBeUndefined();
    expect(namedField("email and avatar_url are invalid")).toBeUndefined();
  });
});

describe("orq.ai answering 400 naming a field", () => {
  /** An orq.ai that refuses `field` with 400 (a message in one of its error shapes) until it is left out. */
  function orqRefusing(field: string, body: (field: string) => unknown = (name) => ({ error: { code: "validation_error", message: `${name}: invalid format` } })) {
    const requests: Array<{ method: string; body: Record<string, unknown> }> = [];
    const fetch = (async (_url: string, init?: RequestInit) => {
      const sent = init?.body ? (JSON.parse(String(init.body)) as Record<string, unknown>) : {};
      requests.push({ method: init?.method ?? "GET", body: sent });
      const refused = field.startsWith("metadata.") ? Object.hasOwn((sent.metadata ?? {}) as object, field.slice(9)) : Object.hasOwn(sent, field);
      if (refused) return new Response(JSON.stringify(body(field)), { status: 400 });
      return new Response("{}", { status: init?.method === "POST" ? 201 : 200 });
    }) as typeof globalThis.fetch;
    return { orq: createOrqClient({ baseUrl: "https://orq.test", apiKey: "key", timeoutMs: 1_000, fetch }), requests };
  }
  const identity = { external_id: "user_1", display_name: "Ada", email: "ada@example.com", tags: ["clerk"], metadata: { provider: "clerk", plan: "pro" } };
  const subject = { provider: "clerk", userId: "user_1" };

  it("retries the creation once without that field, so the identity lands; the log names the field, not the value", async () => {
    const { orq, requests } = orqRefusing("email");
    const logs = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      const result = await syncIdentity(orq, { kind: "present", identity }, { existsInOrq: undefined, preferCreate: true, subject });
      expect(result).toMatchObject({ ok: true, calls: 2 });
      expect(requests.map((request) => request.method)).toEqual(["POST", "POST"]);
      expect(requests[1]!.body).toEqual({ external_id: "user_1", display_name: "Ada", tags: ["clerk"], metadata: { provider: "clerk", plan: "pro" } });
      const lines = logs.mock.calls.map((call) => JSON.parse(String(call[0])));
      expect(lines).toContainEqual({ msg: "orq_field_dropped", provider: "clerk", user_id: "user_1", field: "email", reason: "orq.ai answered 400" });
      expect(JSON.stringify(lines)).not.toContain("ada@example.com");
    } finally {
      logs.mockRestore();
    }
  });

  it("retries an update (PATCH) the same way, and a metadata key alone", async () => {
    const { orq, requests } = orqRefusing("metadata.plan", (name) => ({ message: `${name} is not allowed` }));
    const result = await syncIdentity(orq, { kind: "present", identity }, { existsInOrq: true, preferCreate: false, subject });
    expect(result).toMatchObject({ ok: true, calls: 2 });
    expect(requests.map((request) => request.method)).toEqual(["PATCH", "PATCH"]);
    expect(requests[1]!.body.metadata).toEqual({ provider: "clerk" });
    expect(requests[1]!.body.email).toBe("ada@example.com");
  });

  it("retries only once: a second refusal fails the identity with orq's reason", async () => {
    const requests: string[] = [];
    const fetch = (async (_url: string, init?: RequestInit) => {
      requests.push(init?.method ?? "GET");
      const sent = JSON.parse(String(init?.body ?? "{}")) as Record<string, unknown>;
      const field = "email" in sent ? "email" : "display_name";
      return new Response(JSON.stringify({ error: `${field}: refused` }), { status: 400 });
    }) as typeof globalThis.fetch;
    const orq = createOrqClient({ baseUrl: "https://orq.test", apiKey: "key", timeoutMs: 1_000, fetch });
    const result = await syncIdentity(orq, { kind: "present", identity }, { existsInOrq: true, preferCreate: false, subject });
    expect(result).toMatchObject({ ok: false, retryable: false, status: 400, reason: "orq.ai answered 400: display_name: refused" });
    expect(requests).toEqual(["PATCH", "PATCH"]);
  });

  it("does not retry a 400 that names no field, nor one that names external_id", async () => {
    for (const message of ["bad request", "external_id: already taken"]) {
      const requests: string[] = [];
      const fetch = (async (_url: string, init?: RequestInit) => {
        requests.push(init?.method ?? "GET");
        return new Response(JSON.stringify({ error: message }), { status: 400 });
      }) as typeof globalThis.fetch;
      const orq = createOrqClient({ baseUrl: "https://orq.test", apiKey: "key", timeoutMs: 1_000, fetch });
      expect(await syncIdentity(orq, { kind: "present", identity }, { existsInOrq: true, preferCreate: false })).toMatchObject({ ok: false });
      expect(requests).toEqual(["PATCH"]);
    }
  });

  it("leaves out a refusable field before the first call (no 400 needed)", async () => {
    const { orq, requests } = orqRefusing("never");
    const result = await syncIdentity(orq, { kind: "present", identity: { ...identity, avatar_url: "javascript:alert(1)" } }, { existsInOrq: false, preferCreate: true, subject });
    expect(result).toMatchObject({ ok: true, calls: 1 });
    expect(requests[0]!.body).not.toHaveProperty("avatar_url");
  });
});

describe("profile merging (each field keeps its newest known value)", () => {
  const identity = (fields: Record<string, unknown>) => ({ external_id: "u1", tags: ["zitadel"], ...fields });
  const full = (at: number, fields: Record<string, unknown>, type: "created" | "updated" = "updated") => ({ identity: identity(fields), occurredAt: at, type, partial: false });
  const partial = (at: number, fields: Record<string, unknown>) => ({ identity: identity(fields), occurredAt: at, type: "updated" as const, partial: true });
  /** Applies events in order; the identity orq.ai would get. */
  const after = (...changes: Array<ReturnType<typeof full>>) => {
    let known: KnownProfile = {};
    for (const change of changes) known = merge(known, change).profile;
    return identityWith(identity({}), known);
  };
  const added = full(1_000, { display_name: "Ada Lovelace", email: "ada@example.com", metadata: { provider: "zitadel", provider_created_at: "2025-01-01T00:00:00.000Z" } }, "created");
  const emailChanged = partial(2_000, { email: "ada@new.example", metadata: { provider: "zitadel" } });

  it("a partial event changes only its fields; the whole known profile is sent, in both arrival orders", () => {
    const expected = { external_id: "u1", tags: ["zitadel"], display_name: "Ada Lovelace", email: "ada@new.example", metadata: { provider: "zitadel", provider_created_at: "2025-01-01T00:00:00.000Z" } };
    expect(after(added, emailChanged)).toEqual(expected);
    expect(after(emailChanged, added)).toEqual(expected);
  });

  it("the newest value wins per field, whatever the arrival order", () => {
    const older = partial(1_000, { display_name: "Older" });
    const newer = partial(2_000, { display_name: "Newer" });
    expect(after(older, newer).display_name).toBe("Newer");
    expect(after(newer, older).display_name).toBe("Newer");
    expect(merge(merge({}, newer).profile, older).changed).toBe(false);
  });

  it("a full event unsets the fields it lacks when it is newer, not when it is older", () => {
    const withAvatar = full(1_000, { display_name: "Ada", avatar_url: "https://example.com/a.png" });
    const withoutAvatar = full(2_000, { display_name: "Ada" });
    expect(after(withAvatar, withoutAvatar)).not.toHaveProperty("avatar_url");
    expect(after(withoutAvatar, withAvatar)).not.toHaveProperty("avatar_url");
    // A partial event never unsets anything.
    expect(after(withAvatar, partial(3_000, { email: "ada@example.com" }))).toMatchObject({ avatar_url: "https://example.com/a.png" });
  });

  it("an older full event that brings nothing new changes nothing", () => {
    const known = merge({}, full(2_000, { display_name: "New", email: "a@example.com" })).profile;
    expect(merge(known, full(1_000, { display_name: "Old", email: "a@example.com" }))).toEqual({ profile: known, changed: false });
  });

  it("on the same instant, an update beats a creation (as events do)", () => {
    expect(after(full(1_000, { display_name: "Updated" }), full(1_000, { display_name: "Created" }, "created")).display_name).toBe("Updated");
    expect(after(full(1_000, { display_name: "Created" }, "created"), full(1_000, { display_name: "Updated" })).display_name).toBe("Updated");
  });

  it("reads an identity stored before merging existed as a full event", () => {
    const known = knownFrom(identity({ display_name: "Ada", metadata: { provider: "zitadel" } }), 1_000, "created");
    expect(identityWith(identity({}), merge(known, emailChanged).profile)).toEqual(identity({ display_name: "Ada", email: "ada@new.example", metadata: { provider: "zitadel" } }));
  });

  it("keeps a metadata key named __proto__ as data", () => {
    const metadata = JSON.parse('{"__proto__": {"polluted": true}, "provider": "zitadel"}');
    const merged = identityWith(identity({}), merge({}, full(1, { metadata })).profile);
    expect(Object.keys(merged.metadata!)).toEqual(["__proto__", "provider"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("identity objects created before profile merging", () => {
  /** The state table exactly as the previous version created it (no profile column). */
  const OLD_STATE_TABLE = `
    CREATE TABLE state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      provider TEXT NOT NULL, user_id TEXT NOT NULL, external_id TEXT NOT NULL,
      event_id TEXT NOT NULL, event_type TEXT NOT NULL, occurred_at INTEGER NOT NULL, desired TEXT NOT NULL,
      version INTEGER NOT NULL, delivered_version INTEGER NOT NULL DEFAULT 0, exists_in_orq INTEGER,
      delivery TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, first_failure_at INTEGER, next_attempt_at INTEGER,
      last_status INTEGER, last_error TEXT, reported TEXT NOT NULL DEFAULT 'ok', updated_at INTEGER NOT NULL);`;

  it("get the profile column, and their stored identity is merged with the next partial event", async () => {
    const userId = uniqueId("3");
    const stub = env.IDENTITY_SYNC.getByName(`zitadel:${userId}`);
    const stored = { external_id: userId, display_name: "Ada Lovelace", email: "ada@example.com", tags: ["zitadel", "test-suite"], metadata: { provider: "zitadel" } };
    const outcome = await runInDurableObject(stub, async (_instance, state) => {
      // The previous version's layout with one delivered row in it...
      state.storage.sql.exec("DROP TABLE state");
      state.storage.sql.exec(OLD_STATE_TABLE);
      state.storage.sql.exec(
        `INSERT INTO state (id, provider, user_id, external_id, event_id, event_type, occurred_at, desired, version, delivered_version, exists_in_orq, delivery, updated_at)
         VALUES (1, 'zitadel', ?, ?, 'e1', 'created', 1000, ?, 1, 1, 1, 'delivered', 1000)`,
        userId, userId, JSON.stringify({ kind: "present", identity: stored }),
      );
      const columns = () => state.storage.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('state')").toArray().map((row) => row.name);
      expect(columns()).not.toContain("profile");
      // ...then the new code starts on it (as after a deploy) and records a partial event.
      const upgraded = new IdentitySync(state, env);
      expect(columns()).toContain("profile");
      return upgraded.record({
        provider: "zitadel",
        userId,
        eventId: "e2",
        type: "updated",
        occurredAt: 2000,
        desired: { kind: "present", partial: true, identity: { external_id: userId, email: "ada@new.example", tags: ["zitadel", "test-suite"], metadata: { provider: "zitadel" } } },
      });
    });
    expect(outcome).toBe("recorded");
    expect(await deliverNow("zitadel", userId)).toMatchObject({ delivery: "delivered", pending: false });
    // The whole known profile is sent: the name from the old row, the email from the partial event.
    const [write] = await orqWrites(userId);
    expect(write).toMatchObject({ method: "PATCH" });
    expect(write.body).toMatchObject({ display_name: "Ada Lovelace", email: "ada@new.example" });
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "Ada Lovelace", email: "ada@new.example" });
  });
});

describe("identity objects created before reconciliation", () => {
  it("get the source_version and origin columns, and a listing of the same user puts back a hand edit", async () => {
    const userId = uniqueId("pre_reconcile");
    const stub = env.IDENTITY_SYNC.getByName(`clerk:${userId}`);
    const stored = { external_id: userId, display_name: "Ada Lovelace", tags: ["clerk", "test-suite"], metadata: { provider: "clerk" } };
    const outcome = await runInDurableObject(stub, async (_instance, state) => {
      const sql = state.storage.sql;
      // The state table as the previous version left it: profile and not_before, no source_version or origin.
      sql.exec("DROP TABLE state");
      sql.exec(`CREATE TABLE state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        provider TEXT NOT NULL, user_id TEXT NOT NULL, external_id TEXT NOT NULL,
        event_id TEXT NOT NULL, event_type TEXT NOT NULL, occurred_at INTEGER NOT NULL, desired TEXT NOT NULL,
        version INTEGER NOT NULL, delivered_version INTEGER NOT NULL DEFAULT 0, exists_in_orq INTEGER,
        delivery TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, first_failure_at INTEGER, next_attempt_at INTEGER,
        last_status INTEGER, last_error TEXT, reported TEXT NOT NULL DEFAULT 'ok', updated_at INTEGER NOT NULL, profile TEXT, not_before INTEGER)`);
      sql.exec(
        `INSERT INTO state (id, provider, user_id, external_id, event_id, event_type, occurred_at, desired, version, delivered_version, exists_in_orq, delivery, updated_at)
         VALUES (1, 'clerk', ?, ?, 'msg_1', 'created', 5000, ?, 1, 1, 1, 'delivered', 5000)`,
        userId, userId, JSON.stringify({ kind: "present", identity: stored }),
      );
      const upgraded = new IdentitySync(state, env);
      const columns = sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('state')").toArray().map((row) => row.name);
      expect(columns).toEqual(expect.arrayContaining(["source_version", "origin"]));
      // orq.ai was edited by hand; the listing shows the same user (its version at or before the event).
      return upgraded.reconcile(
        { provider: "clerk", userId, eventId: "reconcile:4000", type: "updated", occurredAt: 4000, version: 4000, desired: { kind: "present", identity: stored } },
        { ...stored, display_name: "Edited by hand" },
      );
    });
    expect(outcome).toBe("reasserted");
    expect(await deliverNow("clerk", userId)).toMatchObject({ delivery: "delivered", pending: false });
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "Ada Lovelace" });
  });
});
