/**
 * Okta: an Event Hook (`/api/v1/eventHooks`). Okta does not sign: it sends the header the bridge
 * chooses (`Authorization: <OKTA_WEBHOOK_SECRET>`). A hook receives events only once verified:
 * `POST …/lifecycle/verify` makes Okta send the one-time challenge GET, which the bridge answers —
 * so it runs after the secret is stored. Deleting needs a deactivation first.
 */
import { envValue, managementApi, ManagementApiError, nextLink, tenantFromEnv, type Json } from "../management-api";
import { collectPages, type Connector, type ConnectContext } from "../connector";

interface EventHook {
  id: string;
  status?: string;
  verificationStatus?: string;
  channel?: { config?: { uri?: string } };
}

/** A freshly stored Worker secret takes a moment to reach every edge location. */
const VERIFY_ATTEMPTS = 3;
const VERIFY_RETRY_MS = 3_000;

const LIST_PATH = "/api/v1/eventHooks";
/** Okta allows 10 (older docs: 25) event hooks per org; 50 pages is far beyond any real list. */
const MAX_PAGES = 50;

/**
 * Every event hook. The reference documents no query parameters for this list, but Okta's general
 * pagination rule (developer.okta.com "Pagination") is a `Link: <…>; rel="next"` header on each page
 * but the last: it is followed until there is none. The link names Okta's own domain; the next call
 * goes to the same base URL as the first (OKTA_BASE_URL may be a proxy), so the token is never
 * sent to a host named by an answer, and only to this list's path.
 */
async function listHooks(context: Pick<ConnectContext, "api">): Promise<EventHook[]> {
  const { baseUrl } = context.api.options;
  return collectPages(async (cursor) => {
    const path = cursor ?? LIST_PATH;
    const { body, headers } = await context.api.readWithHeaders<EventHook[]>("GET", path);
    const next = nextLink(headers.get("link"), `${baseUrl}${path}`);
    // Okta's own path, or the same under OKTA_BASE_URL's path (a proxy that rewrites links).
    if (next && next.pathname !== LIST_PATH && next.pathname !== new URL(`${baseUrl}${LIST_PATH}`).pathname) {
      throw new Error(`Okta GET ${path}: the next page it links to (${next.pathname}) is not ${LIST_PATH}: giving up`);
    }
    const nextPath = next && `${LIST_PATH}${next.search}`;
    if (nextPath === path) throw new Error(`Okta GET ${path}: the next page it links to is the same page: giving up`);
    return { items: Array.isArray(body) ? body : [], next: nextPath };
  }, MAX_PAGES);
}

function matching(hooks: EventHook[], url: string): EventHook[] {
  return hooks.filter((hook) => hook.channel?.config?.uri === url);
}

export const okta: Connector = {
  name: "okta",
  route: "okta",
  secretBinding: "OKTA_WEBHOOK_SECRET",
  events: ["user.lifecycle.create", "user.account.update_profile", "user.lifecycle.delete.initiated"],
  envHelp: [
    "OKTA_DOMAIN               your Okta domain, e.g. acme.okta.com",
    "OKTA_API_TOKEN            an API token of a super admin (sent as SSWS), or instead:",
    "OKTA_ACCESS_TOKEN         an OAuth 2.0 service-app token with okta.eventHooks.manage and okta.eventHooks.read",
    "OKTA_BASE_URL             default https://<OKTA_DOMAIN>",
  ],

  async client(env, options) {
    const tenant = tenantFromEnv(env, "OKTA", "acme.okta.com");
    if ("problem" in tenant) return tenant;
    const apiToken = envValue(env, "OKTA_API_TOKEN");
    const accessToken = envValue(env, "OKTA_ACCESS_TOKEN");
    if (!apiToken && !accessToken) return { problem: "set OKTA_API_TOKEN (SSWS) or OKTA_ACCESS_TOKEN (OAuth 2.0, okta.eventHooks.manage)" };
    const authorization = apiToken ? `SSWS ${apiToken}` : `Bearer ${accessToken}`;
    return managementApi(options, { label: "Okta", baseUrl: tenant.baseUrl, authorization, credential: (apiToken ?? accessToken)! });
  },

  async register(context) {
    const [existing] = matching(await listHooks(context), context.webhookUrl);
    const secret = context.bridgeSecret();
    const body = {
      name: "orq-identity-bridge",
      events: { type: "EVENT_TYPE", items: [...this.events] },
      channel: { type: "HTTP", version: "1.0.0", config: { uri: context.webhookUrl, authScheme: { type: "HEADER", key: "Authorization", value: secret } } },
    };
    if (existing) {
      await context.api.write("PUT", `/api/v1/eventHooks/${encodeURIComponent(existing.id)}`, body);
      if (existing.status !== "ACTIVE") await context.api.write("POST", `/api/v1/eventHooks/${encodeURIComponent(existing.id)}/lifecycle/activate`);
      return { id: existing.id, action: "updated", secret };
    }
    const created = await context.api.write<EventHook>("POST", "/api/v1/eventHooks", body);
    return { id: created?.id ?? "(new)", action: "created", secret };
  },

  async activate(context, registration) {
    const path = `/api/v1/eventHooks/${encodeURIComponent(registration.id)}/lifecycle/verify`;
    for (let attempt = 1; ; attempt++) {
      try {
        const answer = await context.api.write<Json>("POST", path);
        return [`Okta verified the hook (its challenge GET was answered by the bridge)${answer?.verificationStatus ? `: ${answer.verificationStatus}` : ""}`];
      } catch (error) {
        if (!(error instanceof ManagementApiError) || error.status !== 400 || attempt >= VERIFY_ATTEMPTS) {
          throw new ManagementApiError(`${(error as Error).message} — Okta's challenge GET was not answered with the new secret: is the bridge running with OKTA_WEBHOOK_SECRET set (with --local: restart \`npm run dev\`)? Then run connect again`, (error as ManagementApiError).status);
        }
        context.print(`  Okta could not verify yet (attempt ${attempt} of ${VERIFY_ATTEMPTS}); retrying in ${VERIFY_RETRY_MS / 1000} s`);
        await new Promise((resolve) => setTimeout(resolve, VERIFY_RETRY_MS));
      }
    }
  },

  async remove(context: ConnectContext) {
    const hooks = matching(await listHooks(context), context.webhookUrl);
    for (const hook of hooks) {
      // "You can only delete event hooks with a status of INACTIVE."
      if (hook.status !== "INACTIVE") await context.api.write("POST", `/api/v1/eventHooks/${encodeURIComponent(hook.id)}/lifecycle/deactivate`);
      await context.api.write("DELETE", `/api/v1/eventHooks/${encodeURIComponent(hook.id)}`);
    }
    return hooks.map((hook) => hook.id);
  },
};
