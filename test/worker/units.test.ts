import { describe, expect, it } from "vitest";
import pkg from "../../package.json";
import { parseConfig } from "../../src/config";
import { RETRY_BASE_MS, RETRY_CAP_MS, retryDelayMs } from "../../src/deliver/backoff";
import { createOrqClient, parseRetryAfter } from "../../src/deliver/orq-client";
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
