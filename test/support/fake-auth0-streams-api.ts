/**
 * A local stand-in for Auth0's Event Streams and Log Streams Management API, as documented
 * (../shared/reference/PROVIDER-APIS.md §1; auth0.com/docs/api/management/v2/event-streams):
 *
 * - `POST /oauth/token` (client credentials, audience `https://<domain>/api/v2/`) → a token with
 *   the app's granted scopes; every call needs its own scope (`read|create|update|delete:event_streams`,
 *   `…:log_streams`), else `403 insufficient_scope`.
 * - `GET /api/v2/event-streams?take&from` → `{eventStreams, next}` (take 1–100, default 50; `next`
 *   is the cursor of the following page, absent on the last one).
 * - `POST /api/v2/event-streams` / `PATCH /api/v2/event-streams/{id}` with strict bodies (an
 *   unknown field is a 400); the destination token is write-only (never in an answer).
 * - `DELETE /api/v2/event-streams/{id}` → 204; `POST /api/v2/event-streams/{id}/test
 *   {event_type}` sends the documented sample CloudEvent with the stream's bearer token to its
 *   endpoint (in the background, as Auth0 queues it) and answers `status: "pending"`.
 * - Log Streams: `GET|POST /api/v2/log-streams`, `PATCH|DELETE /api/v2/log-streams/{id}` (type `http`).
 */
import * as z from "zod";
import { startFakeServer, jsonBody, type FakeReply, type FakeRequest, type FakeServer } from "./fake-http";
import { ScopedTokens, endpointUrl, fakeId, json, parseBody, sendProviderWebhook, type SentWebhook } from "./fake-management-api";

export const AUTH0_STREAM_SCOPES = [
  "read:event_streams",
  "create:event_streams",
  "update:event_streams",
  "delete:event_streams",
  "read:log_streams",
  "create:log_streams",
  "update:log_streams",
  "delete:log_streams",
] as const;

const EVENT_TYPES = ["user.created", "user.updated", "user.deleted", "organization.created", "organization.updated", "organization.deleted", "organization.member.added", "organization.member.deleted"] as const;

export interface EventStream {
  id: string;
  name: string;
  subscriptions: Array<{ event_type: string }>;
  destination: { type: "webhook"; configuration: { webhook_endpoint: string; webhook_authorization: { method: string; token?: string; username?: string; password?: string } } };
  status: "enabled" | "disabled";
  created_at: string;
  updated_at: string;
}

export interface LogStream {
  id: string;
  name: string;
  type: "http";
  status: "active" | "paused" | "suspended";
  sink: { httpEndpoint: string; httpContentType?: string; httpContentFormat?: string; httpAuthorization?: string; httpCustomHeaders?: unknown[] };
  filters?: Array<{ type: "category"; name: string }>;
}

export interface FakeAuth0StreamsApi extends FakeServer {
  readonly domain: string;
  readonly clientId: string;
  readonly clientSecret: string;
  eventStreams: EventStream[];
  logStreams: LogStream[];
  /** Every delivery the fake sent (test events) once finished, with the bridge's answers. */
  deliveries(): Promise<SentWebhook[]>;
  /** A token with these scopes, as if from AUTH0_MANAGEMENT_TOKEN. */
  issueToken(scopes?: readonly string[]): string;
}

export async function startFakeAuth0StreamsApi(options: { grantedScopes?: readonly string[]; allowHttpLoopback?: boolean } = {}): Promise<FakeAuth0StreamsApi> {
  const domain = "fake-tenant.eu.auth0.com";
  const clientId = fakeId("client_");
  const clientSecret = fakeId("secret_") + fakeId("");
  const granted = options.grantedScopes ?? AUTH0_STREAM_SCOPES;
  const tokens = new ScopedTokens();
  const state = { eventStreams: [] as EventStream[], logStreams: [] as LogStream[], pending: [] as Array<Promise<SentWebhook>> };
  const url = endpointUrl(options.allowHttpLoopback ?? false);

  const authorization = z.discriminatedUnion("method", [
    z.strictObject({ method: z.literal("bearer"), token: z.string().min(1) }),
    z.strictObject({ method: z.literal("basic"), username: z.string().min(1), password: z.string().min(1) }),
  ]);
  const destination = z.strictObject({ type: z.literal("webhook"), configuration: z.strictObject({ webhook_endpoint: url, webhook_authorization: authorization }) });
  const subscriptions = z.array(z.strictObject({ event_type: z.enum(EVENT_TYPES) })).min(1);
  const createStream = z.strictObject({ name: z.string().min(1).max(128), subscriptions, destination, status: z.enum(["enabled", "disabled"]).optional() });
  const updateStream = z.strictObject({ name: z.string().min(1).max(128).optional(), subscriptions: subscriptions.optional(), destination: destination.optional(), status: z.enum(["enabled", "disabled"]).optional() });
  const sink = z.strictObject({
    httpEndpoint: url,
    httpContentType: z.string().optional(),
    httpContentFormat: z.enum(["JSONLINES", "JSONARRAY", "JSONOBJECT"]).optional(),
    httpAuthorization: z.string().optional(),
    httpCustomHeaders: z.array(z.strictObject({ header: z.string(), value: z.string() })).optional(),
  });
  const filters = z.array(z.strictObject({ type: z.literal("category"), name: z.string().min(1) }));
  const createLog = z.strictObject({ name: z.string().min(1), type: z.literal("http"), sink, filters: filters.optional() });
  const updateLog = z.strictObject({ name: z.string().min(1).optional(), status: z.enum(["active", "paused"]).optional(), sink: sink.optional(), filters: filters.optional() });

  const error = (status: number, message: string, errorCode?: string): FakeReply => json(status, { statusCode: status, error: status === 403 ? "Forbidden" : status === 404 ? "Not Found" : "Bad Request", message, ...(errorCode && { errorCode }) });
  const publicStream = (stream: EventStream) => {
    const { token: _token, password: _password, ...auth } = stream.destination.configuration.webhook_authorization;
    return { ...stream, destination: { ...stream.destination, configuration: { ...stream.destination.configuration, webhook_authorization: auth } } };
  };

  const server = await startFakeServer((request) => {
    if (request.method === "POST" && request.path === "/oauth/token") {
      const body = (jsonBody(request) ?? {}) as Record<string, unknown>;
      if (body.grant_type !== "client_credentials" || body.client_id !== clientId || body.client_secret !== clientSecret) return json(401, { error: "access_denied", error_description: "Unauthorized" });
      if (body.audience !== `https://${domain}/api/v2/`) return json(403, { error: "access_denied", error_description: `Service not enabled within domain: ${String(body.audience)}` });
      return json(200, { access_token: tokens.issue(granted, "auth0"), token_type: "Bearer", expires_in: 86_400, scope: granted.join(" ") });
    }
    const scopes = tokens.scopesOf(request);
    if (!scopes) return json(401, { statusCode: 401, error: "Unauthorized", message: "Invalid token" });
    const need = (scope: string) => (scopes.has(scope) ? undefined : error(403, `Insufficient scope, expected any of: ${scope}`, "insufficient_scope"));
    return eventStreams(request, need) ?? logStreamsOrTest(request, need) ?? error(404, "Not Found");
  });

  function eventStreams(request: FakeRequest, need: (scope: string) => FakeReply | undefined): FakeReply | undefined {
    if (request.path === "/api/v2/event-streams" && request.method === "GET") {
      const denied = need("read:event_streams");
      if (denied) return denied;
      const take = Number(request.query.get("take") ?? 50);
      if (!Number.isInteger(take) || take < 1 || take > 100) return error(400, "Query validation error: 'take' must be between 1 and 100", "invalid_query_string");
      const from = request.query.get("from");
      const start = from ? state.eventStreams.findIndex((stream) => stream.id === from) : 0;
      if (start < 0) return error(400, "Invalid 'from' cursor", "invalid_query_string");
      const page = state.eventStreams.slice(start, start + take);
      const next = state.eventStreams[start + take]?.id;
      return json(200, { eventStreams: page.map(publicStream), ...(next && { next }) });
    }
    if (request.path === "/api/v2/event-streams" && request.method === "POST") {
      const denied = need("create:event_streams");
      if (denied) return denied;
      const body = parseBody(createStream, request);
      if (!body.ok) return error(400, `Payload validation error: ${body.message}`, "invalid_body");
      const now = new Date().toISOString();
      const stream: EventStream = { id: fakeId("est_"), status: "enabled", created_at: now, updated_at: now, ...body.value } as EventStream;
      state.eventStreams.push(stream);
      return json(201, publicStream(stream));
    }
    const match = /^\/api\/v2\/event-streams\/([^/]+)$/.exec(request.path);
    if (!match) return undefined;
    const index = state.eventStreams.findIndex((stream) => stream.id === decodeURIComponent(match[1] ?? ""));
    if (request.method === "PATCH") {
      const denied = need("update:event_streams");
      if (denied) return denied;
      const body = parseBody(updateStream, request);
      if (!body.ok) return error(400, `Payload validation error: ${body.message}`, "invalid_body");
      if (index < 0) return error(404, "The event stream does not exist");
      const updated = { ...state.eventStreams[index]!, ...body.value, updated_at: new Date().toISOString() } as EventStream;
      state.eventStreams[index] = updated;
      return json(200, publicStream(updated));
    }
    if (request.method === "DELETE") {
      const denied = need("delete:event_streams");
      if (denied) return denied;
      if (index < 0) return error(404, "The event stream does not exist");
      state.eventStreams.splice(index, 1);
      return { status: 204 };
    }
    return undefined;
  }

  function logStreamsOrTest(request: FakeRequest, need: (scope: string) => FakeReply | undefined): FakeReply | undefined {
    const test = /^\/api\/v2\/event-streams\/([^/]+)\/test$/.exec(request.path);
    if (test && request.method === "POST") {
      const denied = need("update:event_streams");
      if (denied) return denied;
      const body = parseBody(z.strictObject({ event_type: z.enum(EVENT_TYPES), data: z.record(z.string(), z.unknown()).optional() }), request);
      if (!body.ok) return error(400, `Payload validation error: ${body.message}`, "invalid_body");
      const stream = state.eventStreams.find((candidate) => candidate.id === decodeURIComponent(test[1] ?? ""));
      if (!stream) return error(404, "The event stream does not exist");
      const { webhook_endpoint: endpoint, webhook_authorization: auth } = stream.destination.configuration;
      const event = body.value.event_type as "user.created";
      // Delivered in the background, as Auth0 queues it; `deliveries()` waits for it.
      state.pending.push(sendProviderWebhook("auth0", event, endpoint, `auth0|test-event-${fakeId("")}`, { AUTH0_WEBHOOK_TOKEN: auth.token ?? "" }));
      return json(200, { id: fakeId("evt_"), event_stream_id: stream.id, event_type: event, status: "pending" });
    }
    if (request.path === "/api/v2/log-streams") {
      if (request.method === "GET") return need("read:log_streams") ?? json(200, state.logStreams.map(({ sink: { httpAuthorization: _auth, ...sink }, ...rest }) => ({ ...rest, sink })));
      if (request.method !== "POST") return undefined;
      const denied = need("create:log_streams");
      if (denied) return denied;
      const body = parseBody(createLog, request);
      if (!body.ok) return error(400, `Payload validation error: ${body.message}`, "invalid_body");
      const stream: LogStream = { id: fakeId("lst_"), status: "active", ...body.value } as LogStream;
      state.logStreams.push(stream);
      return json(200, stream);
    }
    const match = /^\/api\/v2\/log-streams\/([^/]+)$/.exec(request.path);
    if (!match) return undefined;
    const index = state.logStreams.findIndex((stream) => stream.id === decodeURIComponent(match[1] ?? ""));
    if (request.method === "PATCH") {
      const denied = need("update:log_streams");
      if (denied) return denied;
      const body = parseBody(updateLog, request);
      if (!body.ok) return error(400, `Payload validation error: ${body.message}`, "invalid_body");
      if (index < 0) return error(404, "The log stream does not exist");
      state.logStreams[index] = { ...state.logStreams[index]!, ...body.value } as LogStream;
      return json(200, state.logStreams[index]);
    }
    if (request.method === "DELETE") {
      const denied = need("delete:log_streams");
      if (denied) return denied;
      if (index < 0) return error(404, "The log stream does not exist");
      state.logStreams.splice(index, 1);
      return { status: 204 };
    }
    return undefined;
  }

  for (const key of ["eventStreams", "logStreams"] as const) {
    Object.defineProperty(server, key, { get: () => state[key], set: (value) => (state[key] = value), enumerable: true });
  }
  return Object.assign(server as FakeServer & Pick<FakeAuth0StreamsApi, "eventStreams" | "logStreams">, {
    deliveries: () => Promise.all(state.pending),
    domain,
    clientId,
    clientSecret,
    issueToken: (scopes: readonly string[] = granted) => tokens.issue(scopes, "auth0"),
  });
}
