/**
 * A local stand-in for Supabase's Management API "run SQL" call (`POST /v1/projects/{ref}/database/query`,
 * supabase.com/docs/reference/api) over a project whose `auth.users` triggers it keeps. Strict:
 *
 * - `Authorization: Bearer <token>`; the token's scopes: `database:read` for `read_only` queries,
 *   `database:write` for the rest (else 403); another project's ref is a 404.
 * - Body `{query, read_only?, parameters?}` (unknown fields: 400). Only the statements a Database
 *   Webhook on auth.users is made of are understood — listing `pg_trigger` for `auth.users`,
 *   `drop trigger if exists "…" on auth.users`, and `create trigger "…" after insert or update or
 *   delete on auth.users for each row execute function supabase_functions.http_request(url,
 *   'POST', headers, params, timeout)` — anything else is a 400 syntax error, as is a write in a
 *   `read_only` query. Statements of one query apply together or not at all.
 * - `deliver(event, userId)`: what pg_net would send — the Database Webhook sample payload with the
 *   trigger's headers — to each trigger's URL.
 */
import * as z from "zod";
import type { SampleEvent } from "../../signing/sample-webhooks";
import { startFakeServer, type FakeReply, type FakeServer } from "./fake-http";
import { ScopedTokens, json, parseBody, sendProviderWebhook, type SentWebhook } from "./fake-management-api";

export interface SupabaseTrigger {
  name: string;
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
}

export interface FakeSupabaseApi extends FakeServer {
  readonly projectRef: string;
  triggers: SupabaseTrigger[];
  issueToken(scopes?: readonly string[]): string;
  deliver(event: SampleEvent, userId: string): Promise<SentWebhook[]>;
}

const LIST = /^select tgname, pg_get_triggerdef\(oid\) as definition from pg_trigger where tgrelid = 'auth\.users'::regclass and not tgisinternal$/i;
const DROP = /^drop trigger if exists "((?:[^"]|"")+)" on auth\.users$/i;
const CREATE = /^create trigger "((?:[^"]|"")+)" after insert or update or delete on auth\.users for each row execute function supabase_functions\.http_request\('((?:[^']|'')*)', 'POST', '((?:[^']|'')*)', '\{\}', '(\d+)'\)$/i;

const unquote = (text: string, quote: string) => text.replaceAll(quote + quote, quote);

export async function startFakeSupabaseApi(): Promise<FakeSupabaseApi> {
  const projectRef = "abcdefghijklmnopqrst";
  const tokens = new ScopedTokens();
  const state = { triggers: [] as SupabaseTrigger[] };
  const queryBody = z.strictObject({ query: z.string().min(1), read_only: z.boolean().optional(), parameters: z.array(z.unknown()).optional() });
  const error = (status: number, message: string): FakeReply => json(status, { message });
  const definition = (trigger: SupabaseTrigger) =>
    `CREATE TRIGGER ${trigger.name} AFTER INSERT OR DELETE OR UPDATE ON auth.users FOR EACH ROW EXECUTE FUNCTION supabase_functions.http_request('${trigger.url}', 'POST', '${JSON.stringify(trigger.headers)}', '{}', '${trigger.timeoutMs}')`;

  const server = await startFakeServer((request) => {
    const scopes = tokens.scopesOf(request);
    if (!scopes) return error(401, "Unauthorized");
    const match = /^\/v1\/projects\/([^/]+)\/database\/query$/.exec(request.path);
    if (!match || request.method !== "POST") return error(404, "Cannot find the route");
    if (match[1] !== projectRef) return error(404, "Project not found");
    const body = parseBody(queryBody, request);
    if (!body.ok) return error(400, body.message);
    const readOnly = body.value.read_only === true;
    if (!scopes.has(readOnly ? "database:read" : "database:write")) return error(403, `Your access token is missing the ${readOnly ? "database:read" : "database:write"} scope`);

    const statements = body.value.query.split(/;\s*(?:\n|$)/).map((statement) => statement.trim()).filter(Boolean);
    let triggers = [...state.triggers];
    let rows: unknown[] = [];
    for (const statement of statements) {
      if (LIST.test(statement)) {
        rows = triggers.map((trigger) => ({ tgname: trigger.name, definition: definition(trigger) }));
        continue;
      }
      if (readOnly) return error(400, "ERROR: 25006: cannot execute this statement in a read-only transaction");
      const drop = DROP.exec(statement);
      if (drop) {
        const name = unquote(drop[1] ?? "", '"');
        triggers = triggers.filter((trigger) => trigger.name !== name);
        continue;
      }
      const create = CREATE.exec(statement);
      if (create) {
        const name = unquote(create[1] ?? "", '"');
        if (triggers.some((trigger) => trigger.name === name)) return error(400, `ERROR: 42710: trigger "${name}" for relation "users" already exists`);
        let headers: Record<string, string>;
        try {
          headers = JSON.parse(unquote(create[3] ?? "", "'"));
        } catch {
          return error(400, "ERROR: 22P02: invalid input syntax for type json");
        }
        triggers.push({ name, url: unquote(create[2] ?? "", "'"), headers, timeoutMs: Number(create[4]) });
        continue;
      }
      return error(400, `ERROR: 42601: syntax error (this fake understands only Database Webhook statements): ${statement.slice(0, 80)}`);
    }
    state.triggers = triggers;
    return json(201, rows);
  });

  Object.defineProperty(server, "triggers", { get: () => state.triggers, set: (value: SupabaseTrigger[]) => (state.triggers = value), enumerable: true });
  return Object.assign(server as FakeServer & Pick<FakeSupabaseApi, "triggers">, {
    projectRef,
    issueToken: (scopes: readonly string[] = ["database:read", "database:write"]) => tokens.issue(scopes, "sbp"),
    deliver: (event: SampleEvent, userId: string) =>
      Promise.all(state.triggers.map((trigger) => sendProviderWebhook("supabase", event, trigger.url, userId, { SUPABASE_WEBHOOK_SECRET: (trigger.headers.Authorization ?? "").replace(/^Bearer /, "") }))),
  });
}
