/**
 * Supabase: no webhook resource — a Database Webhook is a trigger on `auth.users` calling
 * `supabase_functions.http_request`, created with SQL through the Management API
 * (`POST /v1/projects/{ref}/database/query`). Supabase does not sign: the trigger sends
 * `Authorization: Bearer <SUPABASE_WEBHOOK_SECRET>`, which the bridge chooses.
 */
import { baseUrlFrom, envValue, managementApi } from "../management-api";
import type { Connector, ConnectContext } from "../connector";

const TRIGGER = "orq_identity_bridge";
const LIST_TRIGGERS = "select tgname, pg_get_triggerdef(oid) as definition from pg_trigger where tgrelid = 'auth.users'::regclass and not tgisinternal";

/** A SQL string literal. */
function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function identifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function triggersFor(context: ConnectContext, ref: string): Promise<string[]> {
  const rows = await context.api.read<Array<{ tgname: string; definition: string }>>("POST", `/v1/projects/${encodeURIComponent(ref)}/database/query`, { query: LIST_TRIGGERS, read_only: true });
  return rows.filter((row) => row.definition.includes(literal(context.webhookUrl))).map((row) => row.tgname);
}

function projectRef(context: ConnectContext): string {
  return context.api.options.tenant ?? "";
}

export const supabase: Connector = {
  name: "supabase",
  route: "supabase",
  secretBinding: "SUPABASE_WEBHOOK_SECRET",
  events: ["INSERT", "UPDATE", "DELETE"],
  envHelp: [
    "SUPABASE_PROJECT_REF      the project's reference id (from its URL)",
    "SUPABASE_ACCESS_TOKEN     a personal access token (sbp_…) or OAuth token with database write access",
    "SUPABASE_API_URL          default https://api.supabase.com",
    "  (the project needs Database Webhooks enabled: the supabase_functions schema and pg_net)",
  ],

  async client(env, options) {
    const ref = envValue(env, "SUPABASE_PROJECT_REF");
    if (!ref || !/^[a-z0-9]+$/.test(ref)) return { problem: "SUPABASE_PROJECT_REF is not set (the id in https://<ref>.supabase.co)" };
    const token = envValue(env, "SUPABASE_ACCESS_TOKEN");
    if (!token) return { problem: "SUPABASE_ACCESS_TOKEN is not set (a personal access token, sbp_…)" };
    const baseUrl = baseUrlFrom(env, "SUPABASE_API_URL", "https://api.supabase.com");
    if (!baseUrl) return { problem: "SUPABASE_API_URL must be an http(s) URL" };
    return managementApi(options, { label: "Supabase", baseUrl, tenant: ref, authorization: `Bearer ${token}`, credential: token });
  },

  async register(context) {
    const ref = projectRef(context);
    const existing = await triggersFor(context, ref);
    const secret = context.bridgeSecret();
    const headers = JSON.stringify({ "Content-Type": "application/json", Authorization: `Bearer ${secret}` });
    // One statement list, so the old trigger and the new one swap in one transaction.
    const drops = [...new Set([TRIGGER, ...existing])].map((name) => `drop trigger if exists ${identifier(name)} on auth.users;`);
    const create = `create trigger ${identifier(TRIGGER)} after insert or update or delete on auth.users for each row execute function supabase_functions.http_request(${literal(context.webhookUrl)}, 'POST', ${literal(headers)}, '{}', '5000');`;
    await context.api.write("POST", `/v1/projects/${encodeURIComponent(ref)}/database/query`, { query: [...drops, create].join("\n") });
    return { id: `trigger ${TRIGGER} on auth.users`, action: existing.length > 0 ? "updated" : "created", secret };
  },

  async remove(context) {
    const ref = projectRef(context);
    const existing = await triggersFor(context, ref);
    if (existing.length > 0) {
      await context.api.write("POST", `/v1/projects/${encodeURIComponent(ref)}/database/query`, { query: existing.map((name) => `drop trigger if exists ${identifier(name)} on auth.users;`).join("\n") });
    }
    return existing.map((name) => `trigger ${name}`);
  },
};
