/**
 * What the reconcile tests share: the provider APIs' users (changed through the fake providers'
 * control server, as if edited at Clerk or Auth0), orq.ai edited by hand, and running a cycle
 * through the real Worker (`POST /admin/reconcile`, then the Reconciler's own alarms).
 */
import { env } from "cloudflare:workers";
import { inject } from "vitest";
import { runDurableObjectAlarm } from "cloudflare:test";
import { DEV_SECRETS } from "../support/secrets";
import { callBridgeWith, emulator, fixtures, type Json } from "../worker/harness";

export const ADMIN_TOKEN = "admin-token-for-the-reconcile-tests-7f3a";

export function admin(path: string, init: RequestInit = {}): Promise<Response> {
  return callBridgeWith({ ADMIN_TOKEN }, path, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json", ...init.headers } });
}

async function control(path: string, init?: RequestInit): Promise<Json> {
  const response = await fetch(`${inject("fakeProvidersControl")}${path}`, init);
  if (!response.ok) throw new Error(`fake providers ${path}: ${response.status}`);
  return response.json();
}

export const setClerkUsers = (users: Json[]) => control("/clerk/users", { method: "PUT", body: JSON.stringify(users) });
export const setAuth0Users = (users: Json[]) => control("/auth0/users", { method: "PUT", body: JSON.stringify(users) });
export const providerFault = (provider: "clerk" | "auth0", fault: { path?: string; query?: Record<string, string>; status: number; times?: number; retryAfter?: number }) =>
  control(`/${provider}/fault`, { method: "POST", body: JSON.stringify(fault) });
export const clearProviderFaults = (provider: "clerk" | "auth0") => control(`/${provider}/faults`, { method: "DELETE" });
export const providerRequests = (provider: "clerk" | "auth0"): Promise<Json[]> => control(`/${provider}/requests`);

/** A Clerk Backend API user: Clerk's documented example with this id, name and version (`updated_at`). */
export function clerkUser(id: string, firstName: string, updatedAt: number, patch: (user: Json) => void = () => {}): Json {
  const user = structuredClone(fixtures.clerk["user.created"].data) as Json;
  user.id = id;
  user.first_name = firstName;
  user.updated_at = updatedAt;
  patch(user);
  return user;
}

/** An Auth0 Management API user: Auth0's documented example with this id, name and version. */
export function auth0User(id: string, name: string, updatedAt: number, createdAt = updatedAt): Json {
  const user = structuredClone(fixtures.auth0["user.created"].data.object) as Json;
  user.user_id = id;
  user.given_name = name;
  user.updated_at = new Date(updatedAt).toISOString();
  user.created_at = new Date(createdAt).toISOString();
  return user;
}

/** orq.ai changed by hand (the dashboard or the API), not by the bridge. */
export async function orqByHand(method: "POST" | "PATCH" | "DELETE", externalId: string | null, body?: Json): Promise<number> {
  const path = externalId === null ? "/v2/identities" : `/v2/identities/${encodeURIComponent(externalId)}`;
  const response = await fetch(`${env.ORQ_API_URL}${path}`, {
    method,
    headers: { authorization: `Bearer ${DEV_SECRETS.ORQ_API_KEY}`, "content-type": "application/json" },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  await response.body?.cancel();
  return response.status;
}

export const reconciler = (provider: string) => env.RECONCILER.getByName(provider);

/** Starts a cycle through the admin API and runs its alarms until it ends; returns GET /admin/reconcile's entry. */
export async function runCycle(provider: "clerk" | "auth0", body: Json = {}): Promise<Json> {
  const started = await admin("/admin/reconcile", { method: "POST", body: JSON.stringify({ provider, ...body }) });
  if (started.status !== 202) throw new Error(`POST /admin/reconcile answered ${started.status}: ${await started.text()}`);
  return finishCycle(provider);
}

/** Runs the reconciler's alarms now (instead of waiting out a backoff) until no cycle is under way. */
export async function finishCycle(provider: "clerk" | "auth0"): Promise<Json> {
  for (let runs = 0; runs < 200; runs++) {
    const status = await reconcileStatus(provider);
    if (status.state === "idle") return status;
    if (!(await runDurableObjectAlarm(reconciler(provider)))) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`the ${provider} cycle did not end`);
}

export async function reconcileStatus(provider: string): Promise<Json> {
  const response = await admin("/admin/reconcile");
  const body = await response.json<Json>();
  return body.providers.find((entry: Json) => entry.provider === provider);
}

/** Waits until orq.ai holds what `check` wants for every id (identity objects deliver by their own alarms). */
export async function waitForOrq(ids: readonly string[], check: (id: string, identity: Json | null) => boolean, budgetMs = 20_000): Promise<void> {
  const deadline = Date.now() + budgetMs;
  let wrong: string[] = [...ids];
  while (wrong.length > 0) {
    const identities = await Promise.all(wrong.map((id) => emulator(`/__emulator/identities/${encodeURIComponent(id)}`)));
    wrong = wrong.filter((id, index) => !check(id, identities[index]));
    if (wrong.length === 0) return;
    if (Date.now() > deadline) throw new Error(`orq.ai never held what was expected for ${wrong.join(", ")}: ${JSON.stringify(await Promise.all(wrong.slice(0, 3).map((id) => emulator(`/__emulator/identities/${encodeURIComponent(id)}`))))}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
