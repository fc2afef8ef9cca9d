/**
 * A local stand-in for Okta's Event Hooks API (developer.okta.com/docs/api/resources/event-hooks),
 * strict like the real one:
 *
 * - `Authorization: SSWS <API token>` (a super admin's: every permission) or `Bearer <token>`
 *   with scopes `okta.eventHooks.read` / `okta.eventHooks.manage`; a missing scope is a 403.
 * - `GET /api/v1/eventHooks` → the hooks, paged the way Okta pages its lists (developer.okta.com
 *   "Pagination"; the Event Hooks reference documents no query parameters): `pageSize` (default 20)
 *   at a time, oldest first, with `Link: <…>; rel="self"` and, while more follow, `<…?after=<last
 *   id>>; rel="next"`, naming `linkOrigin` (Okta's own domain; default the fake's URL). The only
 *   query parameter accepted is the `after` cursor it handed out: any other (or an unknown cursor)
 *   is a 400. `POST` / `PUT /api/v1/eventHooks/{id}` with strict bodies; created `ACTIVE` +
 *   `UNVERIFIED`; the auth value is never echoed back.
 * - `POST …/lifecycle/verify` makes the one-time `GET <uri>` with `X-Okta-Verification-Challenge`
 *   and the configured auth header, and answers 200 (`VERIFIED`) only if the answer is
 *   `{"verification": <challenge>}` within 3 s, else 400. `…/lifecycle/activate|deactivate`.
 * - `DELETE` only when `INACTIVE` (else 400). `deliver(event, userId)`: the sample event hook
 *   delivery, with the auth header, to every ACTIVE + VERIFIED hook subscribed to it.
 */
import { randomBytes } from "node:crypto";
import * as z from "zod";
import type { SampleEvent } from "../../signing/sample-webhooks";
import { endpointUrl, fakeId, json, parseBody, sendProviderWebhook, startAsyncFakeServer, ScopedTokens, type AsyncFakeServer, type SentWebhook } from "./fake-management-api";
import type { FakeReply, FakeRequest } from "./fake-http";

const OKTA_EVENT_TYPES = ["user.lifecycle.create", "user.account.update_profile", "user.lifecycle.delete.initiated", "user.lifecycle.activate", "user.lifecycle.deactivate", "user.session.start"] as const;
const SAMPLE_TYPES: Record<SampleEvent, string> = { "user.created": "user.lifecycle.create", "user.updated": "user.account.update_profile", "user.deleted": "user.lifecycle.delete.initiated" };

export interface OktaEventHook {
  id: string;
  status: "ACTIVE" | "INACTIVE";
  verificationStatus: "UNVERIFIED" | "VERIFIED";
  name: string;
  events: { type: "EVENT_TYPE"; items: string[] };
  channel: { type: "HTTP"; version: "1.0.0"; config: { uri: string; headers?: Array<{ key: string; value: string }>; authScheme?: { type: "HEADER"; key: string; value: string }; method?: string } };
  created: string;
  lastUpdated: string;
}

export interface FakeOktaApi extends AsyncFakeServer {
  readonly apiToken: string;
  hooks: OktaEventHook[];
  issueToken(scopes: readonly string[]): string;
  deliver(event: SampleEvent, userId: string): Promise<SentWebhook[]>;
}

export async function startFakeOktaApi(options: { allowHttpLoopback?: boolean; pageSize?: number; linkOrigin?: string } = {}): Promise<FakeOktaApi> {
  const pageSize = options.pageSize ?? 20;
  let linkOrigin = options.linkOrigin ?? "";
  const apiToken = `00${randomBytes(20).toString("base64url")}`;
  const tokens = new ScopedTokens();
  const state = { hooks: [] as OktaEventHook[] };
  const hookBody = z.strictObject({
    name: z.string().min(1).max(255),
    description: z.string().optional(),
    events: z.strictObject({ type: z.literal("EVENT_TYPE"), items: z.array(z.enum(OKTA_EVENT_TYPES)).min(1) }),
    channel: z.strictObject({
      type: z.literal("HTTP"),
      version: z.literal("1.0.0"),
      config: z.strictObject({
        uri: endpointUrl(options.allowHttpLoopback ?? false),
        headers: z.array(z.strictObject({ key: z.string(), value: z.string() })).optional(),
        authScheme: z.strictObject({ type: z.literal("HEADER"), key: z.string().min(1), value: z.string().min(1) }).optional(),
        method: z.literal("POST").optional(),
      }),
    }),
  });
  const error = (status: number, code: string, summary: string, causes: string[] = []): FakeReply => json(status, { errorCode: code, errorSummary: summary, errorLink: code, errorId: fakeId("oae"), errorCauses: causes.map((errorSummary) => ({ errorSummary })) });
  /** What the API answers: the hook without the auth value. */
  const view = (hook: OktaEventHook) => {
    const { authScheme, ...config } = hook.channel.config;
    return { ...hook, channel: { ...hook.channel, config: { ...config, ...(authScheme && { authScheme: { type: authScheme.type, key: authScheme.key } }), method: "POST" } } };
  };

  const scopesOf = (request: FakeRequest) => {
    const sswsToken = /^SSWS\s+(\S+)$/.exec(request.headers.authorization ?? "")?.[1];
    if (sswsToken !== undefined) return sswsToken === apiToken ? new Set(["okta.eventHooks.read", "okta.eventHooks.manage"]) : undefined;
    return tokens.scopesOf(request);
  };

  async function verify(hook: OktaEventHook): Promise<boolean> {
    const challenge = randomBytes(24).toString("base64url");
    const { config } = hook.channel;
    try {
      const response = await fetch(config.uri, {
        headers: { "x-okta-verification-challenge": challenge, ...Object.fromEntries((config.headers ?? []).map((header) => [header.key, header.value])), ...(config.authScheme && { [config.authScheme.key]: config.authScheme.value }) },
        signal: AbortSignal.timeout(3_000),
      });
      const body = (await response.json().catch(() => undefined)) as { verification?: unknown } | undefined;
      return response.status === 200 && body?.verification === challenge;
    } catch {
      return false;
    }
  }

  /** One page of the list, with the Link header Okta sends. */
  function listPage(request: FakeRequest): FakeReply {
    const unknown = [...request.query.keys()].filter((key) => key !== "after");
    if (unknown.length > 0) return error(400, "E0000001", "Api validation failed: query", [`unknown query parameter ${unknown.join(", ")}`]);
    const after = request.query.get("after");
    const start = after === null ? 0 : state.hooks.findIndex((hook) => hook.id === after) + 1;
    if (start === 0 && after !== null) return error(400, "E0000001", "Api validation failed: after", [`invalid cursor ${after}`]);
    const page = state.hooks.slice(start, start + pageSize);
    const self = `${linkOrigin}/api/v1/eventHooks${after === null ? "" : `?after=${encodeURIComponent(after)}`}`;
    const links = [`<${self}>; rel="self"`];
    if (start + pageSize < state.hooks.length) links.push(`<${linkOrigin}/api/v1/eventHooks?after=${encodeURIComponent(page.at(-1)!.id)}>; rel="next"`);
    return json(200, page.map(view), { link: links.join(", ") });
  }

  const server = await startAsyncFakeServer(async (request) => {
    const scopes = scopesOf(request);
    if (!scopes) return error(401, "E0000011", "Invalid token provided");
    const need = (scope: string) => (scopes.has(scope) ? undefined : error(403, "E0000006", "You do not have permission to perform the requested action", [`missing scope ${scope}`]));
    if (request.path === "/api/v1/eventHooks") {
      if (request.method === "GET") return need("okta.eventHooks.read") ?? listPage(request);
      if (request.method !== "POST") return error(405, "E0000022", "The endpoint does not support the provided HTTP method");
      const denied = need("okta.eventHooks.manage");
      if (denied) return denied;
      const body = parseBody(hookBody, request);
      if (!body.ok) return error(400, "E0000001", "Api validation failed: eventHook", [body.message]);
      const now = new Date().toISOString();
      const hook = { id: fakeId("who"), status: "ACTIVE", verificationStatus: "UNVERIFIED", created: now, lastUpdated: now, ...body.value } as OktaEventHook;
      state.hooks.push(hook);
      return json(200, view(hook));
    }
    const match = /^\/api\/v1\/eventHooks\/([^/]+)(?:\/lifecycle\/(verify|activate|deactivate))?$/.exec(request.path);
    if (!match) return error(404, "E0000007", `Not found: Resource not found: ${request.path}`);
    const hook = state.hooks.find((candidate) => candidate.id === match[1]);
    const denied = need(request.method === "GET" ? "okta.eventHooks.read" : "okta.eventHooks.manage");
    if (denied) return denied;
    if (!hook) return error(404, "E0000007", `Not found: Resource not found: ${match[1]} (EventHook)`);
    const lifecycle = match[2];
    if (lifecycle && request.method === "POST") {
      if (lifecycle === "activate") hook.status = "ACTIVE";
      if (lifecycle === "deactivate") hook.status = "INACTIVE";
      if (lifecycle === "verify") {
        if (!(await verify(hook))) return error(400, "E0000001", "Api validation failed: Verification failed", ["Event hook verification failed"]);
        hook.verificationStatus = "VERIFIED";
      }
      return json(200, view(hook));
    }
    if (request.method === "GET") return json(200, view(hook));
    if (request.method === "PUT") {
      const body = parseBody(hookBody, request);
      if (!body.ok) return error(400, "E0000001", "Api validation failed: eventHook", [body.message]);
      const uriChanged = body.value.channel.config.uri !== hook.channel.config.uri;
      Object.assign(hook, body.value, { lastUpdated: new Date().toISOString() }, uriChanged && { verificationStatus: "UNVERIFIED" });
      return json(200, view(hook));
    }
    if (request.method === "DELETE") {
      if (hook.status !== "INACTIVE") return error(400, "E0000001", "Api validation failed: You can only delete event hooks with a status of INACTIVE");
      state.hooks = state.hooks.filter((candidate) => candidate !== hook);
      return { status: 204 };
    }
    return error(405, "E0000022", "The endpoint does not support the provided HTTP method");
  });

  linkOrigin ||= server.url;
  Object.defineProperty(server, "hooks", { get: () => state.hooks, set: (value: OktaEventHook[]) => (state.hooks = value), enumerable: true });
  return Object.assign(server as AsyncFakeServer & Pick<FakeOktaApi, "hooks">, {
    apiToken,
    issueToken: (scopes: readonly string[]) => tokens.issue(scopes, "okta"),
    deliver: (event: SampleEvent, userId: string) =>
      Promise.all(
        state.hooks
          .filter((hook) => hook.status === "ACTIVE" && hook.verificationStatus === "VERIFIED" && hook.events.items.includes(SAMPLE_TYPES[event]))
          .map((hook) => sendProviderWebhook("okta", event, hook.channel.config.uri, userId, { OKTA_WEBHOOK_SECRET: hook.channel.config.authScheme?.value ?? "" })),
      ),
  });
}
