/**
 * Auth0: an Event Stream with a webhook destination (`/api/v2/event-streams`), or with
 * `--log-stream` a Custom Webhook Log Stream (`/api/v2/log-streams`). Auth0 signs neither: the
 * bridge generates the token Auth0 sends (`Authorization: Bearer …` for Event Streams, the whole
 * header for Log Streams). Event Stream tokens are write-only, so an update sets a new one.
 */
import { clientCredentialsToken, envValue, managementApi, tenantFromEnv, type ClientOptions, type Json, type ManagementApi } from "../management-api";
import { collectPages, type Connector } from "../connector";

const NAME = "orq-identity-bridge";

async function auth0Client(env: NodeJS.ProcessEnv, options: ClientOptions, scopes: string) {
  const tenant = tenantFromEnv(env, "AUTH0", "acme.eu.auth0.com");
  if ("problem" in tenant) return tenant;
  const { domain, baseUrl } = tenant;
  let token = envValue(env, "AUTH0_MANAGEMENT_TOKEN");
  if (!token) {
    const clientId = envValue(env, "AUTH0_CLIENT_ID");
    const clientSecret = envValue(env, "AUTH0_CLIENT_SECRET");
    if (!clientId || !clientSecret) return { problem: `set AUTH0_MANAGEMENT_TOKEN, or AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET of a machine-to-machine app authorised for the Management API (${scopes})` };
    token = await clientCredentialsToken("Auth0", `${baseUrl}/oauth/token`, { grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret, audience: `https://${domain}/api/v2/` }, { json: true, ...(options.fetch && { fetch: options.fetch }) });
  }
  return managementApi(options, { label: "Auth0", baseUrl, authorization: `Bearer ${token}`, credential: token });
}

const ENV_HELP = [
  "AUTH0_DOMAIN              tenant domain, e.g. acme.eu.auth0.com",
  "AUTH0_MANAGEMENT_TOKEN    a Management API token, or instead:",
  "AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET   a machine-to-machine app authorised for the Management API",
  "AUTH0_BASE_URL            default https://<AUTH0_DOMAIN>",
];

interface EventStream {
  id: string;
  destination?: { type?: string; configuration?: { webhook_endpoint?: string } };
}

async function listEventStreams(context: { api: ManagementApi }): Promise<EventStream[]> {
  return collectPages(async (from) => {
    const answer = await context.api.read<Json>("GET", `/api/v2/event-streams?take=50${from ? `&from=${encodeURIComponent(from)}` : ""}`);
    // The reference shows `{eventStreams, next}`; a plain array is accepted too.
    if (Array.isArray(answer)) return { items: answer as EventStream[], next: undefined };
    return { items: (answer?.eventStreams ?? []) as EventStream[], next: typeof answer?.next === "string" && answer.next ? answer.next : undefined };
  });
}

export const auth0EventStreams: Connector = {
  name: "auth0",
  route: "auth0",
  secretBinding: "AUTH0_WEBHOOK_TOKEN",
  events: ["user.created", "user.updated", "user.deleted"],
  envHelp: [...ENV_HELP, "  scopes: read:event_streams, create:event_streams, update:event_streams, delete:event_streams"],
  client: (env, options) => auth0Client(env, options, "read/create/update/delete:event_streams"),

  async register(context) {
    const existing = (await listEventStreams(context)).find((stream) => stream.destination?.configuration?.webhook_endpoint === context.webhookUrl);
    const token = context.bridgeSecret();
    const body = {
      name: NAME,
      subscriptions: this.events.map((event_type) => ({ event_type })),
      destination: { type: "webhook", configuration: { webhook_endpoint: context.webhookUrl, webhook_authorization: { method: "bearer", token } } },
      status: "enabled",
    };
    if (existing) {
      await context.api.write("PATCH", `/api/v2/event-streams/${encodeURIComponent(existing.id)}`, body);
      return { id: existing.id, action: "updated", secret: token };
    }
    const created = await context.api.write<EventStream>("POST", "/api/v2/event-streams", body);
    return { id: created?.id ?? "(new)", action: "created", secret: token };
  },

  async remove(context) {
    const matching = (await listEventStreams(context)).filter((stream) => stream.destination?.configuration?.webhook_endpoint === context.webhookUrl);
    for (const stream of matching) await context.api.write("DELETE", `/api/v2/event-streams/${encodeURIComponent(stream.id)}`);
    return matching.map((stream) => stream.id);
  },

  async sendTest(context, registration) {
    const answer = await context.api.write<Json>("POST", `/api/v2/event-streams/${encodeURIComponent(registration.id)}/test`, { event_type: "user.created" });
    const status = typeof answer?.status === "string" ? answer.status : undefined;
    return { ok: status !== "failed", found: `Auth0 sent its test user.created${status ? `: ${status}` : ""}${answer?.attempts?.[0]?.error_message ? ` (${answer.attempts[0].error_message})` : ""}` };
  },
};

/** The log categories that carry the codes the bridge maps (ss, scu, sce, sdu, sapi). */
const LOG_FILTERS = ["auth.signup.success", "management.success", "user.notification"];

interface LogStream {
  id: string;
  type?: string;
  sink?: { httpEndpoint?: string };
}

export const auth0LogStreams: Connector = {
  name: "auth0 --log-stream",
  route: "auth0-logs",
  secretBinding: "AUTH0_LOG_STREAM_TOKEN",
  events: LOG_FILTERS,
  envHelp: [...ENV_HELP, "  scopes: read:log_streams, create:log_streams, update:log_streams, delete:log_streams"],
  client: (env, options) => auth0Client(env, options, "read/create/update/delete:log_streams"),

  async register(context) {
    const streams = await context.api.read<LogStream[]>("GET", "/api/v2/log-streams");
    const existing = streams.find((stream) => stream.type === "http" && stream.sink?.httpEndpoint === context.webhookUrl);
    const token = context.bridgeSecret();
    const sink = { httpEndpoint: context.webhookUrl, httpContentType: "application/json", httpContentFormat: "JSONARRAY", httpAuthorization: token };
    const filters = LOG_FILTERS.map((name) => ({ type: "category", name }));
    if (existing) {
      await context.api.write("PATCH", `/api/v2/log-streams/${encodeURIComponent(existing.id)}`, { name: `${NAME}-logs`, status: "active", sink, filters });
      return { id: existing.id, action: "updated", secret: token };
    }
    const created = await context.api.write<LogStream>("POST", "/api/v2/log-streams", { name: `${NAME}-logs`, type: "http", sink, filters });
    return { id: created?.id ?? "(new)", action: "created", secret: token };
  },

  async remove(context) {
    const streams = await context.api.read<LogStream[]>("GET", "/api/v2/log-streams");
    const matching = streams.filter((stream) => stream.sink?.httpEndpoint === context.webhookUrl);
    for (const stream of matching) await context.api.write("DELETE", `/api/v2/log-streams/${encodeURIComponent(stream.id)}`);
    return matching.map((stream) => stream.id);
  },
};
