/**
 * Logto: a webhook (`/api/hooks`, Management API). Logto generates the signing key and returns it
 * (also when listing), so the bridge's LOGTO_WEBHOOK_SIGNING_KEY is taken from the answer.
 * `POST /api/hooks/{id}/test` makes Logto send a test event to the URL.
 */
import { baseUrlFrom, clientCredentialsToken, envValue, managementApi, type Json } from "../management-api";
import type { Connector, ConnectContext } from "../connector";

interface Hook {
  id: string;
  signingKey?: string;
  config?: { url?: string };
}

const PAGE_SIZE = 100;

async function listHooks(context: Pick<ConnectContext, "api">): Promise<Hook[]> {
  const all: Hook[] = [];
  for (let page = 1; page <= 100; page++) {
    const hooks = await context.api.read<Hook[]>("GET", `/api/hooks?page=${page}&page_size=${PAGE_SIZE}`);
    all.push(...hooks);
    if (hooks.length < PAGE_SIZE) return all;
  }
  return all;
}

export const logto: Connector = {
  name: "logto",
  route: "logto",
  secretBinding: "LOGTO_WEBHOOK_SIGNING_KEY",
  events: ["PostRegister", "User.Created", "User.Data.Updated", "User.Deleted"],
  envHelp: [
    "LOGTO_ENDPOINT            your Logto URL, e.g. https://abc123.logto.app",
    "LOGTO_MANAGEMENT_TOKEN    a Management API access token, or instead:",
    "LOGTO_M2M_APP_ID, LOGTO_M2M_APP_SECRET   an M2M app with a role holding the Management API permission `all`",
    "LOGTO_RESOURCE            default https://<tenant>.logto.app/api (Cloud) or https://default.logto.app/api (OSS)",
  ],

  async client(env, options) {
    const endpoint = baseUrlFrom(env, "LOGTO_ENDPOINT", "");
    if (!endpoint) return { problem: "LOGTO_ENDPOINT is not set (your Logto URL, e.g. https://abc123.logto.app)" };
    let token = envValue(env, "LOGTO_MANAGEMENT_TOKEN");
    if (!token) {
      const appId = envValue(env, "LOGTO_M2M_APP_ID");
      const appSecret = envValue(env, "LOGTO_M2M_APP_SECRET");
      if (!appId || !appSecret) return { problem: "set LOGTO_MANAGEMENT_TOKEN, or LOGTO_M2M_APP_ID and LOGTO_M2M_APP_SECRET of an M2M app with Management API access" };
      const host = new URL(endpoint).hostname;
      const resource = envValue(env, "LOGTO_RESOURCE") ?? (host.endsWith(".logto.app") ? `https://${host}/api` : "https://default.logto.app/api");
      token = await clientCredentialsToken("Logto", `${endpoint}/oidc/token`, { grant_type: "client_credentials", resource, scope: "all" }, { basicAuth: [appId, appSecret], ...(options.fetch && { fetch: options.fetch }) });
    }
    return managementApi(options, { label: "Logto", baseUrl: endpoint, authorization: `Bearer ${token}`, credential: token });
  },

  async register(context) {
    const existing = (await listHooks(context)).find((hook) => hook.config?.url === context.webhookUrl);
    const body = { name: "orq-identity-bridge", events: this.events, config: { url: context.webhookUrl }, enabled: true };
    const answer = existing
      ? await context.api.write<Hook>("PATCH", `/api/hooks/${encodeURIComponent(existing.id)}`, body)
      : await context.api.write<Hook>("POST", "/api/hooks", body);
    const secret = answer?.signingKey ?? existing?.signingKey;
    return { id: existing?.id ?? answer?.id ?? "(new)", action: existing ? "updated" : "created", ...(secret && { secret }) };
  },

  async remove(context) {
    const matching = (await listHooks(context)).filter((hook) => hook.config?.url === context.webhookUrl);
    for (const hook of matching) await context.api.write("DELETE", `/api/hooks/${encodeURIComponent(hook.id)}`);
    return matching.map((hook) => hook.id);
  },

  async sendTest(context, registration) {
    await context.api.write<Json>("POST", `/api/hooks/${encodeURIComponent(registration.id)}/test`, { events: ["User.Created"], config: { url: context.webhookUrl } });
    return { ok: true, found: "Logto sent its test User.Created" };
  },
};
