/**
 * A local stand-in for WorkOS's Webhook Endpoints API (workos.com/docs/reference/webhooks),
 * strict like the real one:
 *
 * - `Authorization: Bearer <API key>` (sk_…), else 401.
 * - `GET /webhook_endpoints?limit&after&before` (limit 1–100, default 10) →
 *   `{object: "list", data, list_metadata: {before, after}}`, `after` the cursor of the next page.
 * - `POST /webhook_endpoints {endpoint_url, events}` (201) and `PATCH /webhook_endpoints/{id}
 *   {endpoint_url?, status?, events?}` with strict bodies; the endpoint object carries the
 *   `secret` WorkOS generated; `DELETE` → 202.
 * - `deliver(event, userId)`: the webhook sender — WorkOS's sample event for that user, signed
 *   (`WorkOS-Signature: t=…, v1=…`) with each subscribed endpoint's secret, posted to it.
 */
import * as z from "zod";
import { bearerToken, startFakeServer, type FakeReply, type FakeServer } from "./fake-http";
import { endpointUrl, fakeId, json, parseBody, sendProviderWebhook, type SentWebhook } from "./fake-management-api";
import type { SampleEvent } from "../../signing/sample-webhooks";

const WORKOS_EVENTS = ["user.created", "user.updated", "user.deleted", "dsync.user.created", "dsync.user.updated", "dsync.user.deleted", "session.created", "organization.created"] as const;

export interface WorkosEndpoint {
  object: "webhook_endpoint";
  id: string;
  endpoint_url: string;
  secret: string;
  status: "enabled" | "disabled";
  events: string[];
  created_at: string;
  updated_at: string;
}

export interface FakeWorkosApi extends FakeServer {
  readonly apiKey: string;
  endpoints: WorkosEndpoint[];
  /** The secrets the next endpoints get, in order (then random whsec_… ones). */
  nextSecrets: string[];
  deliver(event: SampleEvent, userId: string): Promise<SentWebhook[]>;
}

export async function startFakeWorkosApi(options: { allowHttpLoopback?: boolean } = {}): Promise<FakeWorkosApi> {
  const apiKey = `sk_test_${fakeId("")}`;
  const state = { endpoints: [] as WorkosEndpoint[], nextSecrets: [] as string[] };
  const url = endpointUrl(options.allowHttpLoopback ?? false);
  const events = z.array(z.enum(WORKOS_EVENTS)).min(1);
  const create = z.strictObject({ endpoint_url: url, events });
  const update = z.strictObject({ endpoint_url: url.optional(), status: z.enum(["enabled", "disabled"]).optional(), events: events.optional() });
  const error = (status: number, code: string, message: string): FakeReply => json(status, { code, message });

  const server = await startFakeServer((request) => {
    if (bearerToken(request) !== apiKey) return error(401, "unauthorized", "Unauthorized");
    if (request.path === "/webhook_endpoints" && request.method === "GET") {
      const limit = Number(request.query.get("limit") ?? 10);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) return error(422, "invalid_request_parameters", "limit must be between 1 and 100");
      const after = request.query.get("after");
      const start = after ? state.endpoints.findIndex((endpoint) => endpoint.id === after) + 1 : 0;
      if (after && start === 0) return error(422, "invalid_request_parameters", "after is not a valid cursor");
      const data = state.endpoints.slice(start, start + limit);
      const more = start + limit < state.endpoints.length;
      return json(200, { object: "list", data, list_metadata: { before: start > 0 ? (data[0]?.id ?? null) : null, after: more ? (data.at(-1)?.id ?? null) : null } });
    }
    if (request.path === "/webhook_endpoints" && request.method === "POST") {
      const body = parseBody(create, request);
      if (!body.ok) return error(422, "invalid_request_parameters", body.message);
      const now = new Date().toISOString();
      const endpoint: WorkosEndpoint = { object: "webhook_endpoint", id: fakeId("we_"), status: "enabled", created_at: now, updated_at: now, ...body.value, secret: state.nextSecrets.shift() ?? `whsec_${fakeId("")}` };
      state.endpoints.push(endpoint);
      return json(201, endpoint);
    }
    const item = /^\/webhook_endpoints\/([^/]+)$/.exec(request.path);
    const index = item ? state.endpoints.findIndex((endpoint) => endpoint.id === item[1]) : -1;
    if (item && request.method === "PATCH") {
      const body = parseBody(update, request);
      if (!body.ok) return error(422, "invalid_request_parameters", body.message);
      if (index < 0) return error(404, "entity_not_found", "Webhook endpoint not found");
      state.endpoints[index] = { ...state.endpoints[index]!, ...body.value, updated_at: new Date().toISOString() };
      return json(200, state.endpoints[index]);
    }
    if (item && request.method === "DELETE") {
      if (index < 0) return error(404, "entity_not_found", "Webhook endpoint not found");
      state.endpoints.splice(index, 1);
      return { status: 202 };
    }
    return error(404, "not_found", "Not found");
  });

  for (const key of ["endpoints", "nextSecrets"] as const) {
    Object.defineProperty(server, key, { get: () => state[key], set: (value) => (state[key] = value), enumerable: true });
  }
  return Object.assign(server as FakeServer & Pick<FakeWorkosApi, "endpoints" | "nextSecrets">, {
    apiKey,
    deliver: (event: SampleEvent, userId: string) =>
      Promise.all(state.endpoints.filter((endpoint) => endpoint.status === "enabled" && endpoint.events.includes(event)).map((endpoint) => sendProviderWebhook("workos", event, endpoint.endpoint_url, userId, { WORKOS_WEBHOOK_SECRET: endpoint.secret }))),
  });
}
