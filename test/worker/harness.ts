import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { app } from "../../src/app";
import { Webhook } from "svix";
import type { IdentitySync, IdentityStatus } from "../../src/record/identity-sync";
import { DEV_SECRETS } from "../support/secrets";
import auth0Created from "../fixtures/auth0/user.created.json";
import auth0Deleted from "../fixtures/auth0/user.deleted.json";
import auth0Updated from "../fixtures/auth0/user.updated.json";
import clerkCreated from "../fixtures/clerk/user.created.json";
import clerkDeleted from "../fixtures/clerk/user.deleted.json";
import clerkUpdated from "../fixtures/clerk/user.updated.json";

/** Documented example payloads (test/fixtures, copied from ../shared/reference), fresh copies. */
export const fixtures = {
  clerk: { "user.created": clerkCreated, "user.updated": clerkUpdated, "user.deleted": clerkDeleted },
  auth0: { "user.created": auth0Created, "user.updated": auth0Updated, "user.deleted": auth0Deleted },
};
export type ClerkEventType = keyof typeof fixtures.clerk;

// biome-ignore lint: test payloads are free-form JSON
export type Json = any;

/** A fresh copy of a documented example whose user sits at `data.id` (Clerk, Stack Auth, WorkOS, Standard), for `userId`. */
export function exampleForUser(example: unknown, userId: string, patch: (payload: Json) => void = () => {}): Json {
  const payload = structuredClone(example) as Json;
  payload.data.id = userId;
  patch(payload);
  return payload;
}

export function clerkEvent(type: ClerkEventType, userId: string, patch: (payload: Json) => void = () => {}): Json {
  return exampleForUser(fixtures.clerk[type], userId, patch);
}

/** A Clerk event whose user data changed at `updatedAt` (ms), with `firstName` to tell versions apart. */
export function clerkAt(type: "user.created" | "user.updated", userId: string, updatedAt: number, firstName: string): Json {
  return clerkEvent(type, userId, (p) => {
    p.timestamp = Math.floor(updatedAt / 1000);
    p.data.updated_at = updatedAt;
    p.data.first_name = firstName;
  });
}

export function auth0Event(type: keyof typeof fixtures.auth0, userId: string, patch: (payload: Json) => void = () => {}): Json {
  const payload = structuredClone(fixtures.auth0[type]) as Json;
  payload.id = `evt_${crypto.randomUUID()}`;
  payload.data.object.user_id = userId;
  patch(payload);
  return payload;
}

/** A unique user id per test, so tests never share an identity in the shared emulator. */
export function uniqueId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
}

export interface SignOptions {
  id?: string;
  /** Seconds since epoch; defaults to now. */
  timestamp?: number;
  secret?: string;
}

/** Headers exactly as Svix sends them, signed with the svix library (not the bridge's code). */
export function svixHeaders(body: string, options: SignOptions = {}): Record<string, string> {
  const id = options.id ?? `msg_${crypto.randomUUID()}`;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const signature = new Webhook(options.secret ?? DEV_SECRETS.CLERK_WEBHOOK_SIGNING_SECRET).sign(id, new Date(timestamp * 1000), body);
  return {
    "content-type": "application/json",
    "svix-id": id,
    "svix-timestamp": String(timestamp),
    "svix-signature": signature,
  };
}

export function postClerk(payload: Json, options: SignOptions = {}): Promise<Response> {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  return callBridge("/webhooks/clerk", { method: "POST", headers: svixHeaders(body, options), body });
}

export function postAuth0(payload: Json, token: string = DEV_SECRETS.AUTH0_WEBHOOK_TOKEN): Promise<Response> {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  return callBridge("/webhooks/auth0", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body,
  });
}

export function callBridge(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(`https://bridge.test${path}`, init));
}

/**
 * Calls the bridge's Hono app with some bindings changed (another secret, another mapping, a
 * namespace wrapped to see only one test's objects), the rest as configured. Durable Objects are the real ones.
 */
export async function callBridgeWith(overrides: Record<string, unknown>, path: string, init?: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await app.fetch(new Request(`https://bridge.test${path}`, init), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

const HARNESS_ADMIN_TOKEN = "admin-token-for-the-harness-5d0e";

/** Pages through GET /admin/failures (newest first, two rows a page) and returns every row. */
export async function allFailures(query = ""): Promise<Json[]> {
  const rows: Json[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams(query);
    params.set("limit", "2");
    if (cursor) params.set("cursor", cursor);
    const response = await callBridgeWith({ ADMIN_TOKEN: HARNESS_ADMIN_TOKEN }, `/admin/failures?${params}`, {
      headers: { authorization: `Bearer ${HARNESS_ADMIN_TOKEN}` },
    });
    expect(response.status).toBe(200);
    const page = await response.json<{ failures: Json[]; next_cursor: string | null }>();
    expect(page.failures.length).toBeLessThanOrEqual(2);
    rows.push(...page.failures);
    cursor = page.next_cursor;
  } while (cursor);
  return rows;
}

// ---- the orq.ai emulator ----

export async function emulator<T = Json>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(`${env.ORQ_API_URL}${path}`, init);
  if (!response.ok && response.status !== 404) throw new Error(`emulator ${path}: ${response.status}`);
  return (response.status === 404 ? null : await response.json()) as T;
}

export function orqIdentity(externalId: string): Promise<Json | null> {
  return emulator(`/__emulator/identities/${encodeURIComponent(externalId)}`);
}

/** Writes (POST/PATCH/DELETE) the emulator received for one external id. */
export async function orqWrites(externalId: string): Promise<Json[]> {
  const { requests } = await emulator<{ requests: Json[] }>(`/__emulator/requests?external_id=${encodeURIComponent(externalId)}`);
  return requests.filter((request: Json) => request.method !== "GET");
}

export interface FaultRule {
  externalIdPrefix?: string;
  method?: "POST" | "PATCH" | "DELETE" | "GET";
  times?: number;
  rate?: number;
  faults: Array<{ status: number; retryAfter?: number; message?: string; delayMs?: number } | { hang: true } | { drop: true }>;
}

/**
 * A fault the workspace's scheduler counts towards an outage (5xx, 429, a dropped or hung call):
 * only the `workspace/<file>` projects may use them. The `worker` project's files run in parallel against
 * one scheduler, so such a fault in one file could pause another file's deliveries.
 */
function countsTowardsAnOutage(fault: FaultRule["faults"][number]): boolean {
  return "hang" in fault || "drop" in fault || fault.status === 429 || fault.status >= 500;
}

/** Adds fault rules to the emulator. Always scope them with externalIdPrefix: files run in parallel. */
export async function addFaults(...rules: FaultRule[]): Promise<void> {
  const file = expect.getState().testPath ?? "";
  if (file.includes("/test/worker/") && rules.some((rule) => rule.faults.some(countsTowardsAnOutage))) {
    throw new Error(`${file}: retryable orq.ai faults pause the scheduler the worker project's files share; put this test in test/workspace/`);
  }
  await emulator("/__emulator/faults", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ rules }),
  });
}

/** Removes the fault rules of one prefix (orq.ai "recovers" for those users). */
export async function clearFaults(externalIdPrefix: string): Promise<void> {
  await emulator(`/__emulator/faults?externalIdPrefix=${encodeURIComponent(externalIdPrefix)}`, { method: "DELETE" });
}

// ---- the identity's Durable Object ----

function identityStub(provider: string, userId: string) {
  return env.IDENTITY_SYNC.getByName(`${provider}:${userId}`);
}

export function inspectIdentity(provider: string, userId: string): Promise<IdentityStatus | null> {
  return identityStub(provider, userId).inspect();
}

/**
 * Drives delivery to a conclusion: runs the identity's alarm handler now instead of waiting for
 * its backoff, until nothing is pending, delivery failed for good, or `maxRuns` runs were made.
 */
export async function deliverNow(provider: string, userId: string, maxRuns = 10, budgetMs = 15_000): Promise<IdentityStatus | null> {
  const stub = identityStub(provider, userId);
  const deadline = Date.now() + budgetMs;
  for (let runs = 0; runs < maxRuns && Date.now() < deadline; ) {
    const status = await stub.inspect();
    if (!status || !status.pending || status.delivery === "failed") return status;
    // alarm() joins a delivery already in flight, so this never races the alarm that fired by itself.
    await runInDurableObject(stub, (instance: IdentitySync) => instance.alarm());
    const after = await stub.inspect();
    // Every orq.ai slot was taken (other test files share the gate): nothing was attempted, so
    // this run does not count; give the slots a moment.
    if (after?.pending && after.attempts === status.attempts && after.lastStatus === status.lastStatus && after.delivery === status.delivery) {
      await scheduler.wait(100);
      continue;
    }
    runs++;
  }
  return stub.inspect();
}

/** Polls the identity's state until `predicate` holds (the alarm runs by itself meanwhile). */
export async function waitForState(
  provider: string,
  userId: string,
  predicate: (status: IdentityStatus) => boolean,
  budgetMs = 10_000,
): Promise<IdentityStatus> {
  const stub = identityStub(provider, userId);
  const deadline = Date.now() + budgetMs;
  for (;;) {
    const status = await stub.inspect();
    if (status && predicate(status)) return status;
    if (Date.now() > deadline) throw new Error(`identity ${provider}:${userId} never reached the expected state: ${JSON.stringify(status)}`);
    await scheduler.wait(20);
  }
}

/** Moves the identity's first failure back in time, as if it had been failing for `ms`. */
export function ageFailure(provider: string, userId: string, ms: number): Promise<void> {
  return runInDurableObject(identityStub(provider, userId), (_instance, state) => {
    state.storage.sql.exec("UPDATE state SET first_failure_at = first_failure_at - ?", ms);
  });
}
