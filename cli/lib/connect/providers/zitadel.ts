/**
 * ZITADEL Actions v2: a Target (the URL; ZITADEL generates its signing key and returns it once)
 * and one Execution per handled event pointing at it. Executions replace their target list, so
 * the bridge's target is added to what an execution already holds, never instead of it.
 * An existing target's key cannot be read back: unless the bridge's key is known here, an update
 * rotates it (`expirationSigningKey: "0s"`) to learn the new one.
 */
import { envValue, managementApi, tenantFromEnv, type Json, type ManagementApi } from "../management-api";
import type { Connector, ConnectContext } from "../connector";

interface Target {
  id: string;
  name?: string;
  endpoint?: string;
}

interface Execution {
  condition?: Json;
  targets?: string[];
}

const PAGE = 100;

/** `search` answers `{pagination: {totalResult}, <key>: [...]}` (v2beta called the list `result`). */
async function searchAll<T>(api: ManagementApi, path: string, key: string): Promise<T[]> {
  const all: T[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const answer = await api.read<Json>("POST", path, { pagination: { offset: String(offset), limit: PAGE, asc: true } });
    const items = (answer?.[key] ?? answer?.result ?? []) as T[];
    all.push(...items);
    const total = Number(answer?.pagination?.totalResult ?? all.length);
    if (items.length === 0 || all.length >= total) return all;
  }
}

function sameCondition(a: Json, b: Json): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function targetName(url: string): string {
  return `orq-identity-bridge ${new URL(url).host}`;
}

export const zitadel: Connector = {
  name: "zitadel",
  route: "zitadel",
  secretBinding: "ZITADEL_WEBHOOK_SIGNING_KEY",
  events: ["user.human.added", "user.human.selfregistered", "user.human.profile.changed", "user.human.email.changed", "user.removed"],
  envHelp: [
    "ZITADEL_DOMAIN            your instance, e.g. acme-xyz.zitadel.cloud",
    "ZITADEL_TOKEN             a personal access token (or access token) of an IAM_OWNER / a user with action.target.* and action.execution.*",
    "ZITADEL_BASE_URL          default https://<ZITADEL_DOMAIN>",
  ],

  async client(env, options) {
    const tenant = tenantFromEnv(env, "ZITADEL", "acme-xyz.zitadel.cloud");
    if ("problem" in tenant) return tenant;
    const token = envValue(env, "ZITADEL_TOKEN");
    if (!token) return { problem: "ZITADEL_TOKEN is not set (a personal access token with the action.* permissions)" };
    return managementApi(options, { label: "ZITADEL", baseUrl: tenant.baseUrl, authorization: `Bearer ${token}`, credential: token });
  },

  async register(context) {
    const existing = (await searchAll<Target>(context.api, "/v2/actions/targets/search", "targets")).find((target) => target.endpoint === context.webhookUrl);
    const target = { name: targetName(context.webhookUrl), endpoint: context.webhookUrl, timeout: "10s", restAsync: {} };
    let id: string;
    let secret: string | undefined;
    if (existing) {
      id = existing.id;
      secret = context.knownBridgeSecret();
      const answer = await context.api.write<Json>("POST", `/v2/actions/targets/${encodeURIComponent(id)}`, secret ? target : { ...target, expirationSigningKey: "0s" });
      secret ??= typeof answer?.signingKey === "string" ? answer.signingKey : undefined;
    } else {
      const answer = await context.api.write<Json>("POST", "/v2/actions/targets", target);
      id = answer?.id ?? "(new)";
      secret = typeof answer?.signingKey === "string" ? answer.signingKey : undefined;
    }
    const executions = await searchAll<Execution>(context.api, "/v2/actions/executions/search", "executions");
    for (const event of this.events) {
      const condition = { event: { event } };
      const current = executions.find((execution) => sameCondition(execution.condition, condition))?.targets ?? [];
      if (current.includes(id)) continue;
      await context.api.write("PUT", "/v2/actions/executions", { condition, targets: [...current, id] });
    }
    return { id, action: existing ? "updated" : "created", ...(secret && { secret }), notes: [`executions for ${this.events.join(", ")} include target ${id}`] };
  },

  async remove(context) {
    const matching = (await searchAll<Target>(context.api, "/v2/actions/targets/search", "targets")).filter((target) => target.endpoint === context.webhookUrl);
    // Deleting a target also removes it from every execution.
    for (const target of matching) await context.api.write("DELETE", `/v2/actions/targets/${encodeURIComponent(target.id)}`);
    return matching.map((target) => target.id);
  },
};
