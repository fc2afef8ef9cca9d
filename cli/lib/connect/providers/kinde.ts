/**
 * Kinde: a webhook (`/api/v1/webhooks`, Management API). Kinde has no per-webhook secret: the
 * body is a JWT signed with the business's key, which the bridge checks against
 * `<KINDE_ISSUER_URL>/.well-known/jwks` — so what is stored is KINDE_ISSUER_URL, not a secret.
 */
import { clientCredentialsToken, envValue, managementApi, tenantFromEnv, type Json } from "../management-api";
import type { Connector, ConnectContext } from "../connector";

interface Webhook {
  id: string;
  endpoint?: string;
}

async function listWebhooks(context: Pick<ConnectContext, "api">): Promise<Webhook[]> {
  const answer = await context.api.read<Json>("GET", "/api/v1/webhooks");
  return (answer?.webhooks ?? []) as Webhook[];
}

export const kinde: Connector = {
  name: "kinde",
  route: "kinde",
  events: ["user.created", "user.updated", "user.deleted"],
  envHelp: [
    "KINDE_DOMAIN              your Kinde domain, e.g. acme.kinde.com (also stored as the bridge's KINDE_ISSUER_URL)",
    "KINDE_MANAGEMENT_TOKEN    a Management API token, or instead:",
    "KINDE_M2M_CLIENT_ID, KINDE_M2M_CLIENT_SECRET   an M2M app authorised for the Kinde Management API",
    "  scopes: read:webhooks, create:webhooks, update:webhooks, delete:webhooks",
    "KINDE_BASE_URL            default https://<KINDE_DOMAIN>",
  ],

  async client(env, options) {
    const tenant = tenantFromEnv(env, "KINDE", "acme.kinde.com");
    if ("problem" in tenant) return tenant;
    const { domain, baseUrl } = tenant;
    let token = envValue(env, "KINDE_MANAGEMENT_TOKEN");
    if (!token) {
      const clientId = envValue(env, "KINDE_M2M_CLIENT_ID");
      const clientSecret = envValue(env, "KINDE_M2M_CLIENT_SECRET");
      if (!clientId || !clientSecret) return { problem: "set KINDE_MANAGEMENT_TOKEN, or KINDE_M2M_CLIENT_ID and KINDE_M2M_CLIENT_SECRET of an M2M app authorised for the Management API" };
      token = await clientCredentialsToken("Kinde", `${baseUrl}/oauth2/token`, { grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret, audience: `https://${domain}/api` }, { ...(options.fetch && { fetch: options.fetch }) });
    }
    return managementApi(options, { label: "Kinde", baseUrl, tenant: `https://${domain}`, authorization: `Bearer ${token}`, credential: token });
  },

  async register(context) {
    const existing = (await listWebhooks(context)).find((webhook) => webhook.endpoint === context.webhookUrl);
    const fields = { name: "orq-identity-bridge", event_types: [...this.events], description: "orq.ai identity bridge" };
    const answer = existing
      ? await context.api.write<Json>("PATCH", `/api/v1/webhooks/${encodeURIComponent(existing.id)}`, fields)
      : await context.api.write<Json>("POST", "/api/v1/webhooks", { ...fields, endpoint: context.webhookUrl });
    const issuer = context.api.options.tenant ?? context.api.options.baseUrl;
    return { id: existing?.id ?? answer?.webhook?.id ?? "(new)", action: existing ? "updated" : "created", vars: { KINDE_ISSUER_URL: issuer } };
  },

  async remove(context) {
    const matching = (await listWebhooks(context)).filter((webhook) => webhook.endpoint === context.webhookUrl);
    for (const webhook of matching) await context.api.write("DELETE", `/api/v1/webhooks/${encodeURIComponent(webhook.id)}`);
    return matching.map((webhook) => webhook.id);
  },
};
