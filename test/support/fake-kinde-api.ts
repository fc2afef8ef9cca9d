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
 */
import * as z from "zod";
import { startFakeServer, type FakeReply, type FakeServer } from "./fake-http";
import { ScopedTokens, endpointUrl, fakeId, json, parseBody } from "./fake-management-api";

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
}

export async function startFakeKindeApi(options: { allowHttpLoopback?: boolean; grantedScopes?: readonly string[] } = {}): Promise<FakeKindeApi> {
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

  const server = await startFakeServer((request) => {
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
  return Object.assign(server as FakeServer & Pick<FakeKindeApi, "webhooks">, { domain, clientId, clientSecret });
}
