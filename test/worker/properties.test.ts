/// <reference types="vite/client" />
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { RETRY_BASE_MS, RETRY_CAP_MS, retryDelayMs } from "../../src/deliver/backoff";
import { CreateIdentityRequest, UpdateIdentityRequest } from "../../src/deliver/orq-schemas";
import type { IdentityEvent } from "../../src/identity/identity-event";
import { toDesiredIdentity, type MappingOptions } from "../../src/identity/to-orq-identity";
import type { NormaliseResult, WebhookProvider } from "../../src/providers/provider";
import { providers } from "../../src/providers/registry";
import { createBearerTokenVerifier } from "../../src/verify/bearer-token";
import { createSvixVerifier } from "../../src/verify/svix";
import type { Verifier } from "../../src/verify/verifier";
import { SIGNERS, type HeaderList } from "../support/hostile-corpus";
import { DEV_SECRETS } from "../support/secrets";
import { uniqueId, type Json } from "./harness";

const encoder = new TextEncoder();
const SECRET = DEV_SECRETS.CLERK_WEBHOOK_SIGNING_SECRET;
/** Every documented example payload of every provider (test/fixtures/<provider>/*.json), by provider. */
const FIXTURE_FILES = import.meta.glob<Json>("../fixtures/*/*.json", { eager: true, import: "default" });
const fixturesOf = (provider: string): Json[] =>
  Object.entries(FIXTURE_FILES)
    .filter(([path]) => path.split("/").at(-2) === provider)
    .map(([, payload]) => payload);

/** `original` with the character at `position` replaced by another printable ASCII one (what a header can carry). */
function changeCharacter(original: string, position: number, delta: number): string {
  const index = position % original.length;
  const current = original.charCodeAt(index);
  let code = 0x20 + ((current - 0x20 + (delta % 94) + 1 + 95) % 95);
  if (code === current) code = code === 0x7e ? 0x21 : code + 1;
  return original.slice(0, index) + String.fromCharCode(code) + original.slice(index + 1);
}

function headersOf(list: HeaderList | Record<string, string>): Headers {
  const headers = new Headers();
  for (const [name, value] of Array.isArray(list) ? list : Object.entries(list)) headers.append(name, value);
  return headers;
}

/** Body, id and timestamp of one signed message, and which part of it a mutation changes. */
const signedMessage = fc.record({
  body: fc.oneof(fc.jsonValue().map((value) => JSON.stringify(value) ?? "null"), fc.string({ unit: "grapheme", minLength: 1 })),
  id: fc.stringMatching(/^msg_[A-Za-z0-9]{1,30}$/),
  skewSeconds: fc.integer({ min: -240, max: 240 }),
});

describe("verification: changing any byte of a signed request makes it fail", () => {
  const schemes: Array<[string, "svix" | "webhook", (id: string, at: Date, body: string) => string]> = [
    ["Svix (Clerk, Stack Auth)", "svix", (id, at, body) => new SvixWebhook(SECRET).sign(id, at, body)],
    ["Standard Webhooks", "webhook", (id, at, body) => new StandardWebhook(SECRET).sign(id, at, body)],
  ];

  for (const [scheme, prefix, sign] of schemes) {
    const verify = createSvixVerifier([SECRET], { headerPrefix: prefix });
    const request = (id: string, timestamp: string, body: Uint8Array, signature: string) => ({
      headers: headersOf({ [`${prefix}-id`]: id, [`${prefix}-timestamp`]: timestamp, [`${prefix}-signature`]: signature }),
      body,
    });

    it(`${scheme}: the body, the id or the timestamp, each at any position`, async () => {
      await fc.assert(
        fc.asyncProperty(
          signedMessage,
          fc.constantFrom("body", "id", "timestamp"),
          fc.nat(),
          fc.integer({ min: 1, max: 255 }),
          async ({ body, id, skewSeconds }, part, position, delta) => {
            const now = Date.now();
            const timestamp = String(Math.floor(now / 1000) + skewSeconds);
            const signature = sign(id, new Date(Number(timestamp) * 1000), body);
            const bytes = encoder.encode(body);
            // The unmodified message verifies: the property below can fail.
            expect(await verify(request(id, timestamp, bytes, signature), now)).toMatchObject({ ok: true });

            let changed: ReturnType<typeof request>;
            if (part === "body") {
              const mutated = bytes.slice();
              const index = position % mutated.length;
              mutated[index] = (mutated[index]! + delta) % 256;
              changed = request(id, timestamp, mutated, signature);
            } else {
              const mutated = changeCharacter(part === "id" ? id : timestamp, position, delta);
              changed = part === "id" ? request(mutated, timestamp, bytes, signature) : request(id, mutated, bytes, signature);
            }
            expect(await verify(changed, now)).toMatchObject({ ok: false });
          },
        ),
        { numRuns: 150 },
      );
    });
  }

  it("static tokens (Auth0, Supabase, Okta, Auth0 Log Streams): any changed byte of the Authorization header", async () => {
    const token = DEV_SECRETS.AUTH0_WEBHOOK_TOKEN;
    for (const [scheme, header] of [["Bearer", `Bearer ${token}`], ["raw", token]] as const) {
      const verify: Verifier = createBearerTokenVerifier(token, { scheme });
      expect(await verify({ headers: headersOf({ authorization: header }), body: new Uint8Array() }, Date.now())).toMatchObject({ ok: true });
      await fc.assert(
        fc.asyncProperty(fc.nat(), fc.integer({ min: 0x20, max: 0x7e }), async (position, code) => {
          const index = position % header.length;
          fc.pre(header.charCodeAt(index) !== code);
          const mutated = header.slice(0, index) + String.fromCharCode(code) + header.slice(index + 1);
          expect(await verify({ headers: headersOf({ authorization: mutated }), body: new Uint8Array() }, Date.now())).toMatchObject({ ok: false });
        }),
        { numRuns: 200 },
      );
    }
  });

  for (const provider of providers.filter((candidate) => Object.hasOwn(SIGNERS, candidate.name))) {
    const signer = SIGNERS[provider.name]!;
    it(`${provider.name}, through its configured verifier: any changed byte of ${[signer.signsBody ? "the body" : "", ...signer.checkedHeaders].filter(Boolean).join(", ")}`, async () => {
      const setup = provider.configure(env as unknown as Record<string, unknown>);
      if (setup.status !== "configured") throw new Error(`${provider.name} is not configured in the worker test project`);
      await fc.assert(
        fc.asyncProperty(fc.jsonValue(), fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }), async (value, which, position, delta) => {
          const body = encoder.encode(JSON.stringify(value) ?? "null");
          const headers = await signer.sign(body);
          const now = Date.now();
          expect(await setup.verify({ headers: headersOf(headers), body }, now)).toMatchObject({ ok: true });

          const targets = [...(signer.signsBody ? ["body"] : []), ...signer.checkedHeaders];
          const target = targets[which % targets.length]!;
          if (target === "body") {
            const mutated = body.slice();
            mutated[position % mutated.length] = (mutated[position % mutated.length]! + delta) % 256;
            expect(await setup.verify({ headers: headersOf(headers), body: mutated }, now)).toMatchObject({ ok: false });
            return;
          }
          const mutatedHeaders = headers.map(([name, original]): [string, string] =>
            name.toLowerCase() === target ? [name, changeCharacter(original, position, delta)] : [name, original],
          );
          expect(await setup.verify({ headers: headersOf(mutatedHeaders), body }, now)).toMatchObject({ ok: false });
        }),
        { numRuns: 150 },
      );
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Normalisers and the mapper
// ---------------------------------------------------------------------------------------------------------------

const EVENT_TYPES = new Set(["created", "updated", "deleted"]);

/** Undefined when `result` is a well-formed NormaliseResult for `provider`; otherwise what is wrong. */
function typedResultProblem(provider: WebhookProvider, result: NormaliseResult): string | undefined {
  switch (result.kind) {
    case "ignored":
      return typeof result.eventType === "string" ? undefined : "ignored without an eventType string";
    case "invalid":
    case "expired":
      return typeof result.problem === "string" && result.problem.length > 0 ? undefined : `${result.kind} without a problem`;
    case "events": {
      if (!Array.isArray(result.events) || result.events.length === 0) return "events: empty";
      for (const event of result.events) {
        if (event.provider !== provider.name) return `provider ${event.provider}`;
        if (typeof event.eventId !== "string" || event.eventId === "") return "eventId not a non-empty string";
        if (!EVENT_TYPES.has(event.type)) return `type ${String(event.type)}`;
        if (typeof event.userId !== "string" || event.userId.trim() === "") return "userId not a non-blank string";
        if (!Number.isFinite(event.occurredAt)) return `occurredAt ${event.occurredAt}`;
        const profile = event.profile;
        if (profile === undefined) continue;
        for (const field of ["email", "displayName", "avatarUrl", "appExternalId"] as const) {
          if (profile[field] !== undefined && typeof profile[field] !== "string") return `profile.${field} not a string`;
        }
        if (profile.createdAt !== undefined && !Number.isFinite(profile.createdAt)) return `profile.createdAt ${profile.createdAt}`;
        const metadata = profile.publicMetadata;
        if (metadata !== undefined && (typeof metadata !== "object" || metadata === null || Array.isArray(metadata))) return "publicMetadata not an object";
      }
      return undefined;
    }
    default:
      return `unknown kind ${(result as { kind: unknown }).kind}`;
  }
}

const MAPPINGS: MappingOptions[] = [
  parseConfig({ ORQ_TAGS: "b2c, eu", ORQ_METADATA_KEYS: "plan,company,tier" }).mapping,
  parseConfig({ ORQ_EXTERNAL_ID_SOURCE: "external_id", ORQ_EXTERNAL_ID_PREFIX: "acme:", ORQ_ON_DELETE: "tag" }).mapping,
  parseConfig({}).mapping,
];

/**
 * Everything the webhook route does with a normalised event before recording it: map it and
 * check it against orq's request schema. Undefined when that works (or fails only because of an
 * external_id the route refuses with 400); otherwise what went wrong, thrown errors included.
 */
function mappingProblem(event: IdentityEvent): string | undefined {
  for (const mapping of MAPPINGS) {
    let desired: ReturnType<typeof toDesiredIdentity>;
    try {
      desired = toDesiredIdentity(event, mapping);
    } catch (error) {
      return `the mapper threw ${(error as Error).name}: ${(error as Error).message}`;
    }
    if (desired.kind === "deleted") {
      if (desired.tags && !UpdateIdentityRequest.safeParse({ tags: desired.tags }).success) return "deletion tags rejected by the orq schema";
      continue;
    }
    const parsed = CreateIdentityRequest.safeParse(desired.identity);
    if (!parsed.success && parsed.error.issues.some((issue) => issue.path[0] !== "external_id")) {
      return `orq schema rejects ${JSON.stringify(parsed.error.issues.map((issue) => issue.path.join(".")))}`;
    }
  }
  return undefined;
}

function normaliseAndMap(provider: WebhookProvider, body: unknown, deliveryId: string | undefined): string | undefined {
  let result: NormaliseResult;
  try {
    result = provider.normalise(body, { deliveryId, receivedAt: Date.now() });
  } catch (error) {
    return `normalise threw ${(error as Error).name}: ${(error as Error).message}`;
  }
  const typed = typedResultProblem(provider, result);
  if (typed) return typed;
  if (result.kind !== "events") return undefined;
  for (const event of result.events) {
    const problem = mappingProblem(event);
    if (problem) return problem;
  }
  return undefined;
}

/** Values that are valid JSON and often valid for a schema, but extreme: where mappers trip. */
const EDGE_VALUES: unknown[] = [
  null, true, 0, -0, -1, 1.5, 1e20, -1e20, 8.64e15 + 1, Number.MAX_VALUE, Number.MIN_VALUE, Number.MAX_SAFE_INTEGER + 2,
  "", " ", "\u0000", "\ud800", "\u202e", "0", "1e999", "+275760-09-13T00:00:00.001Z", "-271821-04-20T00:00:00Z",
  "2025-02-30T25:61:61Z", "1970-01-01T00:00:00Z", "x".repeat(10_000), [], {}, [null], JSON.parse('{"__proto__":{"polluted":true}}'),
];

/** Paths to every value inside `value` (the root excluded). */
function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (value === null || typeof value !== "object") return [];
  const entries = Array.isArray(value) ? value.map((item, index) => [index, item] as const) : Object.entries(value);
  return entries.flatMap(([key, inner]) => [[...prefix, key], ...paths(inner, [...prefix, key])]);
}

function setAt(root: Json, path: Array<string | number>, value: unknown): Json {
  const copy = structuredClone(root);
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key];
  const last = path.at(-1)!;
  if (value === DELETE) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else {
    Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
  }
  return copy;
}
const DELETE = Symbol("delete");

describe("normalisers never throw and always return a typed result; the mapper's output fits orq's schema", () => {
  for (const provider of providers) {
    const fixtures = fixturesOf(provider.name);

    it(`${provider.name}: arbitrary JSON (fc.jsonValue), with and without a delivery id`, () => {
      fc.assert(
        fc.property(fc.jsonValue(), fc.boolean(), (value, withId) => {
          expect(normaliseAndMap(provider, value, withId ? "msg_property" : undefined)).toBeUndefined();
        }),
        { numRuns: 300 },
      );
    });

    it(`${provider.name}: its ${fixtures.length} documented fixtures, randomly mutated (values replaced, keys dropped, types changed)`, () => {
      expect(fixtures.length).toBeGreaterThan(0);
      const mutation = fc.tuple(fc.nat(), fc.oneof(fc.jsonValue(), fc.constantFrom(...EDGE_VALUES), fc.constant(DELETE)));
      fc.assert(
        fc.property(fc.constantFrom(...fixtures), fc.array(mutation, { minLength: 1, maxLength: 4 }), (fixture, mutations) => {
          let payload = fixture;
          for (const [pick, value] of mutations) {
            const all = paths(payload);
            if (all.length === 0) break;
            payload = setAt(payload, all[pick % all.length]!, value);
          }
          expect(normaliseAndMap(provider, payload, "msg_property")).toBeUndefined();
        }),
        { numRuns: 300 },
      );
    });

    it(`${provider.name}: every field of every fixture set to each extreme value in turn (exhaustive, not sampled)`, () => {
      const problems = new Set<string>();
      for (const fixture of fixtures) {
        for (const path of paths(fixture)) {
          for (const value of [...EDGE_VALUES, DELETE]) {
            const problem = normaliseAndMap(provider, setAt(fixture, path, value), "msg_property");
            if (problem) problems.add(`${path.join(".")} = ${value === DELETE ? "(deleted)" : JSON.stringify(value)?.slice(0, 40)}: ${problem}`);
          }
        }
      }
      expect([...problems].slice(0, 15)).toEqual([]);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Identity payloads against orq's schema and the emulator
// ---------------------------------------------------------------------------------------------------------------

/** Any UTF-16 code unit, lone surrogates included: what a JSON string can carry. */
const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));
const text = fc.oneof(fc.string({ unit: "grapheme" }), fc.string({ unit: anyUnit }));
const RUN = uniqueId("prop");
let counter = 0;

const identityEvent = fc.record({
  provider: fc.constantFrom(...providers.map((provider) => provider.name)),
  type: fc.constantFrom("created" as const, "updated" as const, "deleted" as const),
  // Well-formed ids the route lets through: within 120 code points, any script, emoji included.
  idSuffix: fc.string({ unit: "grapheme", maxLength: 60 }),
  occurredAt: fc.integer({ min: 0, max: 4_102_444_800_000 }),
  profile: fc.record(
    {
      email: text,
      displayName: text,
      avatarUrl: text,
      appExternalId: fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }),
      createdAt: fc.integer({ min: -8.64e15, max: 8.64e15 }),
      publicMetadata: fc.dictionary(fc.constantFrom("plan", "company", "tier", "other"), fc.jsonValue({ maxDepth: 3 })),
    },
    { requiredKeys: [] },
  ),
});

const mappingEnv = fc.record(
  {
    ORQ_TAGS: fc.array(fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }).filter((tag) => !tag.includes(",")), { maxLength: 4 }).map((tags) => tags.join(",")),
    ORQ_METADATA_KEYS: fc.subarray(["plan", "company", "tier"]).map((keys) => keys.join(",")),
    ORQ_EXTERNAL_ID_SOURCE: fc.constantFrom("provider_id", "external_id"),
    ORQ_EXTERNAL_ID_PREFIX: fc.string({ unit: "grapheme-ascii", maxLength: 12 }),
    ORQ_ON_DELETE: fc.constantFrom("delete", "tag", "ignore"),
  },
  { requiredKeys: [] },
);

async function emulatorCall(method: string, path: string, body: unknown): Promise<{ status: number; text: string }> {
  const response = await fetch(`${env.ORQ_API_URL}${path}`, {
    method,
    headers: { authorization: "Bearer property-test", "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

describe("identity payloads", () => {
  it("every payload the mapper produces for an id the route accepts passes orq's request schema, and the emulator takes it (create, then update)", { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(identityEvent, mappingEnv, async (generated, variables) => {
        const mapping = parseConfig(variables).mapping;
        const userId = `${RUN}_${counter++}_${generated.idSuffix}`;
        const event: IdentityEvent = { provider: generated.provider, eventId: "evt_property", type: generated.type, userId, occurredAt: generated.occurredAt, profile: generated.profile };
        const desired = toDesiredIdentity(event, mapping);
        if (desired.kind === "deleted") {
          if (desired.tags) expect(UpdateIdentityRequest.safeParse({ tags: desired.tags }).success).toBe(true);
          return;
        }
        const parsed = CreateIdentityRequest.safeParse(desired.identity);
        // The route answers 400 for these before recording (covered by the hostile corpus).
        fc.pre(parsed.success || parsed.error.issues.every((issue) => issue.path[0] !== "external_id"));
        expect(parsed.success, parsed.success ? "" : JSON.stringify(parsed.error.issues)).toBe(true);

        const created = await emulatorCall("POST", "/v2/identities", desired.identity);
        expect(created.status, `POST ${JSON.stringify(desired.identity)} → ${created.text}`).toBe(201);
        const { external_id: externalId, ...profile } = desired.identity;
        expect(UpdateIdentityRequest.safeParse(profile).success).toBe(true);
        const updated = await emulatorCall("PATCH", `/v2/identities/${encodeURIComponent(externalId)}`, profile);
        expect(updated.status, `PATCH ${JSON.stringify(profile)} → ${updated.text}`).toBe(200);
      }),
      {
        numRuns: 120,
        // Each run is two emulator calls: report the first failure instead of shrinking it at length.
        endOnFailure: true,
        // Pinned cases: an id of 30 ASCII characters and 50 emoji is 80 code points but 130 UTF-16 units.
        examples: [[{ provider: "clerk", type: "created", idSuffix: "\ud83d\ude00".repeat(50), occurredAt: 0, profile: {} }, {}]],
      },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Backoff
// ---------------------------------------------------------------------------------------------------------------

describe("retry backoff", () => {
  it("is jittered over the upper half of an exponential step capped at 10 minutes, never earlier than Retry-After", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.nat(2 * RETRY_CAP_MS), (attempt, r1, r2, retryAfter) => {
        const step = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** (attempt - 1));
        const [low, high] = [Math.min(r1, r2), Math.max(r1, r2)];
        const early = retryDelayMs(attempt, 0, () => low);
        const late = retryDelayMs(attempt, 0, () => high);
        // Spread: identities that failed together come back over half a step, in random order.
        expect(early).toBeGreaterThanOrEqual(Math.round(step / 2));
        expect(late).toBeLessThanOrEqual(step);
        expect(early).toBeLessThanOrEqual(late);
        expect(retryDelayMs(attempt, retryAfter, () => low)).toBeGreaterThanOrEqual(retryAfter);
      }),
      { numRuns: 500 },
    );
  });
});
