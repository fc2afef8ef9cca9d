/**
 * WorkOS: a webhook endpoint (`/webhook_endpoints`). WorkOS generates the secret and returns it in
 * the endpoint object, so the bridge's WORKOS_WEBHOOK_SECRET is taken from the answer.
 */
import { baseUrlFrom, envValue, managementApi, type Json } from "../management-api";
import { collectPages, type Connector, type ConnectContext } from "../connector";

interface Endpoint {
  id: string;
  endpoint_url?: string;
  secret?: string;
}

function listEndpoints(context: Pick<ConnectContext, "api">): Promise<Endpoint[]> {
  return collectPages(async (after) => {
    const answer = await context.api.read<Json>("GET", `/webhook_endpoints?limit=100${after ? `&after=${encodeURIComponent(after)}` : ""}`);
    const after_ = answer?.list_metadata?.after;
    return { items: (answer?.data ?? []) as Endpoint[], next: typeof after_ === "string" && after_ ? after_ : undefined };
  });
}

export const workos: Connector = {
  name: "workos",
  route: "workos",
  secretBinding: "WORKOS_WEBHOOK_SECRET",
  events: ["user.created", "user.updated", "user.deleted"],
  envHelp: ["WORKOS_API_KEY            your environment's API key (sk_…)", "WORKOS_BASE_URL           default https://api.workos.com"],

  async client(env, options) {
    const key = envValue(env, "WORKOS_API_KEY");
    if (!key) return { problem: "WORKOS_API_KEY is not set (the environment's API key, sk_…)" };
    const baseUrl = baseUrlFrom(env, "WORKOS_BASE_URL", "https://api.workos.com");
    if (!baseUrl) return { problem: "WORKOS_BASE_URL must be an http(s) URL" };
    return managementApi(options, { label: "WorkOS", baseUrl, authorization: `Bearer ${key}`, credential: key });
  },

  async register(context) {
    const existing = (await listEndpoints(context)).find((endpoint) => endpoint.endpoint_url === context.webhookUrl);
    const answer = existing
      ? await context.api.write<Endpoint>("PATCH", `/webhook_endpoints/${encodeURIComponent(existing.id)}`, { events: this.events, status: "enabled" })
      : await context.api.write<Endpoint>("POST", "/webhook_endpoints", { endpoint_url: context.webhookUrl, events: this.events });
    const secret = answer?.secret ?? existing?.secret;
    return { id: existing?.id ?? answer?.id ?? "(new)", action: existing ? "updated" : "created", ...(secret && { secret }) };
  },

  async remove(context) {
    const matching = (await listEndpoints(context)).filter((endpoint) => endpoint.endpoint_url === context.webhookUrl);
    for (const endpoint of matching) await context.api.write("DELETE", `/webhook_endpoints/${encodeURIComponent(endpoint.id)}`);
    return matching.map((endpoint) => endpoint.id);
  },
};
