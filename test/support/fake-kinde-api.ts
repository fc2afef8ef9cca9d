/**
 * A local stand-in for Kinde's Management API webhooks (docs.kinde.com, Kinde Management API
 * OpenAPI), strict like the real one:
 *
 * - `POST /oauth2/token` (form: client credentials, `audience=https://<domain>/api`) → a token with
 *   the app's granted scopes; calls need `read:webhooks`, `create:webhooks`, `update:webhooks`,
 *   `delete:webhooks`, else 403.
 * - `GET /api/v1/webhooks` → `{code, message, webhooks}`; `POST /api/v1/webhooks {name, endpoint,
 *   event_types, description?}` → `{code, message, webhook: {id, endpoint}}`; `PATCH
 *   /api/v1/webhooks/{id} {name?, event_types?, description?}`; `DELETE` → `{code, message}`.
 *   Unknown fields are a 400. Kinde keeps no per-webhook secret.
 * - `GET /.well-known/jwks` (no auth) → the business's public key set; `deliver(event, userId)`
 *   posts the event Kinde sends (test/fixtures/kinde/<event>.json, documented payload, fresh ids and
 *   times) as an RS256 JWT signed with the business's key (`signingKey`, default a fresh one),
 *   `Content-Type: application/jwt` and a `webhook-id`, to every webhook subscribed to it. Signed
 *   here with jose, not with the bridge's or the CLIs' code.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from "jose";
import * as z from "zod";
import type { SampleEvent } from "../../signing/sample-webhooks";
import { startFakeServer, type FakeReply, type FakeServer } from "./fake-http";
import { ScopedTokens, endpointUrl, fakeId, json, parseBody, type SentWebhook } from "./fake-management-api";

export const KINDE_WEBHOOK_SCOPES = ["read:webhooks", "create:webhooks", "update:webhooks", "delete:webhooks"] as const;
const KINDE_EVENTS = ["user.created", "user.updated", "user.deleted", "user.authenticated", "organization.created", "role.created"] as const;

export interface KindeWebhook {
  id: string;
  name: string;
  endpoint: string;
  description?: string;
  event_types: string[];
  created_on: string;
}

export interface FakeKindeApi extends FakeServer {
  readonly domain: string;
  readonly clientId: string;
  readonly clientSecret: string;
  webhooks: KindeWebhook[];
  /** What `<issuer>/.well-known/jwks` publishes: the public half of the signing key. */
  readonly jwks: { keys: JWK[] };
  /** Sends `event` for `userId`, signed, to every webhook subscribed to it; the bridge's answers. */
  deliver(event: SampleEvent, userId: string): Promise<SentWebhook[]>;
}

export interface KindeSigningKey {
  kid: string;
  /** A private RSA JWK. */
  privateJwk: JWK;
}

async function freshSigningKey(): Promise<KindeSigningKey> {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  return { kid: `fake-kinde-${randomBytes(6).toString("hex")}`, privateJwk: await exportJWK(privateKey) };
}

function loadKindeFixture(event: SampleEvent): { data: { user: Record<string, unknown> } } & Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../fixtures/kinde/${event}.json`, import.meta.url), "utf8"));
}

export async function startFakeKindeApi(options: { allowHttpLoopback?: boolean; grantedScopes?: readonly string[]; signingKey?: KindeSigningKey } = {}): Promise<FakeKindeApi> {
  const domain = "fake-business.kinde.com";
  const clientId = fakeId("");
  const clientSecret = fakeId("") + fakeId("");
  const granted = options.grantedScopes ?? KINDE_WEBHOOK_SCOPES;
  const tokens = new ScopedTokens();
  const state = { webhooks: [] as KindeWebhook[] };
  const eventTypes = z.array(z.enum(KINDE_EVENTS)).min(1);
  const create = z.strictObject({ name: z.string().min(1), endpoint: endpointUrl(options.allowHttpLoopback ?? false), event_types: eventTypes, description: z.string().optional() });
  const update = z.strictObject({ name: z.string().min(1).optional(), event_types: eventTypes.optional(), description: z.string().optional() });
  const error = (status: number, code: string, message: string): FakeReply => json(status, { errors: [{ code, message }] });

  const signingKey = options.signingKey ?? (await freshSigningKey());
  const { n, e } = signingKey.privateJwk;
  const jwks = { keys: [{ kty: "RSA", kid: signingKey.kid, alg: "RS256", use: "sig", n, e }] };
  const privateKey = await importJWK({ ...signingKey.privateJwk, alg: "RS256" }, "RS256");

  const server = await startFakeServer((request) => {
    if (request.path === "/.well-known/jwks") {
      if (request.method !== "GET" || [...request.query.keys()].length > 0) return error(400, "INVALID_REQUEST", "GET /.well-known/jwks takes no parameters");
      return json(200, jwks);
    }
    if (request.method === "POST" && request.path === "/oauth2/token") {
      const form = new URLSearchParams(request.body);
      if (form.get("grant_type") !== "client_credentials" || form.get("client_id") !== clientId || form.get("client_secret") !== clientSecret) return json(401, { error: "invalid_client" });
      if (form.get("audience") !== `https://${domain}/api`) return json(400, { error: "invalid_request", error_description: "unknown audience" });
      return json(200, { access_token: tokens.issue(granted, "kinde"), token_type: "bearer", expires_in: 86_399, scope: granted.join(" ") });
    }
    const scopes = tokens.scopesOf(request);
    if (!scopes) return error(401, "UNAUTHORIZED", "Invalid credentials used to access API");
    const need = (scope: string) => (scopes.has(scope) ? undefined : error(403, "FORBIDDEN", `Missing required scope: ${scope}`));
    if (request.path === "/api/v1/webhooks" && request.method === "GET") return need("read:webhooks") ?? json(200, { code: "OK", message: "Success", webhooks: state.webhooks });
    if (request.path === "/api/v1/webhooks" && request.method === "POST") {
      const denied = need("create:webhooks");
      if (denied) return denied;
      const body = parseBody(create, request);
      if (!body.ok) return error(400, "INVALID_REQUEST", body.message);
      const webhook: KindeWebhook = { id: fakeId("whk_"), created_on: new Date().toISOString(), ...body.value };
      state.webhooks.push(webhook);
      return json(200, { code: "WEBHOOK_CREATED", message: "Webhook created", webhook: { id: webhook.id, endpoint: webhook.endpoint } });
    }
    const item = /^\/api\/v1\/webhooks\/([^/]+)$/.exec(request.path);
    const index = item ? state.webhooks.findIndex((webhook) => webhook.id === item[1]) : -1;
    if (item && request.method === "PATCH") {
      const denied = need("update:webhooks");
      if (denied) return denied;
      const body = parseBody(update, request);
      if (!body.ok) return error(400, "INVALID_REQUEST", body.message);
      if (index < 0) return error(404, "WEBHOOK_NOT_FOUND", "Webhook not found");
      state.webhooks[index] = { ...state.webhooks[index]!, ...body.value };
      return json(200, { code: "WEBHOOK_UPDATED", message: "Webhook updated", webhook: { id: item[1] } });
    }
    if (item && request.method === "DELETE") {
      const denied = need("delete:webhooks");
      if (denied) return denied;
      if (index < 0) return error(404, "WEBHOOK_NOT_FOUND", "Webhook not found");
      state.webhooks.splice(index, 1);
      return json(200, { code: "WEBHOOK_DELETED", message: "Webhook successfully deleted" });
    }
    return error(404, "ROUTE_NOT_FOUND", "The requested API route does not exist");
  });

  Object.defineProperty(server, "webhooks", { get: () => state.webhooks, set: (value: KindeWebhook[]) => (state.webhooks = value), enumerable: true });
  async function send(webhook: KindeWebhook, event: SampleEvent, userId: string): Promise<SentWebhook> {
    const payload = loadKindeFixture(event);
    const now = new Date().toISOString();
    payload.data.user.id = userId;
    Object.assign(payload, { event_id: fakeId("event_"), event_timestamp: now, timestamp: now });
    const jwt = await new SignJWT(payload).setProtectedHeader({ alg: "RS256", kid: signingKey.kid, typ: "JWT" }).sign(privateKey);
    try {
      const response = await fetch(webhook.endpoint, { method: "POST", headers: { "content-type": "application/jwt", "webhook-id": fakeId("msg_") }, body: jwt, signal: AbortSignal.timeout(15_000) });
      const text = await response.text();
      let answer: unknown = text;
      try {
        answer = JSON.parse(text);
      } catch {
        // not JSON: kept as text
      }
      return { url: webhook.endpoint, event, userId, status: response.status, answer };
    } catch (failure) {
      return { url: webhook.endpoint, event, userId, status: 0, answer: (failure as Error).message };
    }
  }

  return Object.assign(server as FakeServer & Pick<FakeKindeApi, "webhooks">, {
    domain,
    clientId,
    clientSecret,
    jwks,
    deliver: (event: SampleEvent, userId: string) => Promise.all(state.webhooks.filter((webhook) => webhook.event_types.includes(event)).map((webhook) => send(webhook, event, userId))),
  });
}
