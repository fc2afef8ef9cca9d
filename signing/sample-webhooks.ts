/**
 * Sample webhooks as each auth provider sends them: the documented example payload
 * (test/fixtures/<provider>/<event>.json) made into a fresh event, plus the headers that
 * authenticate it. Used by `npm run send`, the node end-to-end tests and benchmarks.
 *
 * Signing (signing/) uses the providers' own libraries (svix for Clerk), never the
 * bridge's code, so a bug in the bridge's verifier cannot hide behind a matching bug here.
 *
 * Adding a provider (WorkOS, Kinde, …) is one entry in SAMPLE_PROVIDERS plus its fixtures.
 * Node-only (node:fs, node:crypto): never import it from src/.
 */
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { DEV_SECRETS } from "./dev-secrets";
import { KINDE_DEV_KID, KINDE_DEV_PRIVATE_JWK } from "./kinde-dev-key";
import {
  kindeJwt,
  logtoSignatureHeader,
  standardWebhookHeaders,
  svixSignatureHeaders,
  workosSignatureHeader,
  zitadelSignatureHeader,
} from "./provider-signatures";
import { svixMessageId } from "./svix-message-id";

// biome-ignore lint: sample payloads are free-form JSON
export type Json = any;

export const SAMPLE_EVENTS = ["user.created", "user.updated", "user.deleted"] as const;
export type SampleEvent = (typeof SAMPLE_EVENTS)[number];

const FIXTURES_DIR = new URL("../test/fixtures/", import.meta.url);

/** The documented example payload of one provider's event, a fresh copy each call. */
export function loadFixture(provider: string, event: SampleEvent): Json {
  return JSON.parse(readFileSync(new URL(`${provider}/${event}.json`, FIXTURES_DIR), "utf8"));
}

export interface PrepareContext {
  event: SampleEvent;
  /** Epoch milliseconds the event happens at. */
  now: number;
  /** Replaces the sample's user id when given. */
  userId?: string;
}

export interface SignContext {
  /** The event's idempotency key (what `prepare` returned). */
  eventId: string;
  now: number;
  /** The provider's secret, as configured on the bridge (see `secretBinding`). */
  secret: string;
}

export interface SampleProvider {
  /** Bridge route, `/webhooks/<name>`. */
  route: string;
  /** Env binding with the secret the bridge verifies with; `sign` gets its value. */
  secretBinding: keyof typeof DEV_SECRETS;
  /** The documented sample payload for an event type. */
  fixture(event: SampleEvent): Json;
  /** Makes `payload` (a fixture) a new event at `now`, in place; returns its event id and user id. */
  prepare(payload: Json, context: PrepareContext): { eventId: string; userId: string };
  /** Headers that authenticate `body` the way the provider does (content-type included). */
  sign(body: string, context: SignContext): Record<string, string>;
  /** The body on the wire when it is not the payload's JSON (Kinde: a signed JWT). */
  encodeBody?(payload: Json): string;
}

/** Svix headers (Clerk, Stack Auth); the event id is the `svix-id`. */
function signSvix(body: string, { eventId, now, secret }: SignContext): Record<string, string> {
  return svixSignatureHeaders(body, eventId, now, secret);
}

/** Clerk (Svix): `{type, timestamp (ms), data: user}`; the event id is the `svix-id` header. */
const clerk: SampleProvider = {
  route: "/webhooks/clerk",
  secretBinding: "CLERK_WEBHOOK_SIGNING_SECRET",
  fixture: (event) => loadFixture("clerk", event),
  prepare(payload, { event, now, userId }) {
    if (userId !== undefined) payload.data.id = userId;
    payload.timestamp = now;
    if (event !== "user.deleted") {
      payload.data.updated_at = now;
      if (event === "user.created") payload.data.created_at = now;
    }
    return { eventId: `msg_${randomId()}`, userId: String(payload.data.id) };
  },
  sign: signSvix,
};

/** Auth0 Event Streams: CloudEvents 1.0 with `data.object` the user, authenticated by a bearer token. */
const auth0: SampleProvider = {
  route: "/webhooks/auth0",
  secretBinding: "AUTH0_WEBHOOK_TOKEN",
  fixture: (event) => loadFixture("auth0", event),
  prepare(payload, { event, now, userId }) {
    const user = payload.data.object;
    if (userId !== undefined) user.user_id = userId;
    const iso = new Date(now).toISOString();
    const eventId = `evt_${randomId()}`;
    payload.id = eventId;
    payload.time = iso;
    user.updated_at = iso;
    if (event === "user.created") user.created_at = iso;
    if (event === "user.deleted") user.deleted_at = iso;
    if (payload.data.previous_object && userId !== undefined) payload.data.previous_object.user_id = userId;
    return { eventId, userId: String(user.user_id) };
  },
  sign: (_body, { secret }) => ({ "content-type": "application/json", authorization: `Bearer ${secret}` }),
};

/**
 * WorkOS: `{object: "event", id, event, data: user, created_at}`, signed as WorkOS's SDK does:
 * `WorkOS-Signature: t=<ms>, v1=<hex HMAC-SHA256(secret, `${t}.${body}`)>`.
 */
const workos: SampleProvider = {
  route: "/webhooks/workos",
  secretBinding: "WORKOS_WEBHOOK_SECRET",
  fixture: (event) => loadFixture("workos", event),
  prepare(payload, { event, now, userId }) {
    if (userId !== undefined) payload.data.id = userId;
    const iso = new Date(now).toISOString();
    payload.id = `event_${randomId().toUpperCase()}`;
    payload.created_at = iso;
    payload.data.updated_at = iso;
    if (event === "user.created") payload.data.created_at = iso;
    return { eventId: payload.id, userId: String(payload.data.id) };
  },
  sign: (body, { now, secret }) => workosSignatureHeader(body, now, secret),
};

/**
 * ZITADEL Actions v2 event target (user.created → `user.human.added`, user.updated →
 * `user.human.profile.changed`, user.deleted → `user.removed`), signed as `pkg/actions/signing.go`
 * does: `ZITADEL-Signature: t=<unix s>,v1=<hex HMAC-SHA256(key, `${t}.${body}`)>`.
 */
const zitadel: SampleProvider = {
  route: "/webhooks/zitadel",
  secretBinding: "ZITADEL_WEBHOOK_SIGNING_KEY",
  fixture: (event) => loadFixture("zitadel", event),
  prepare(payload, { now, userId }) {
    if (userId !== undefined) payload.aggregateID = userId;
    payload.created_at = new Date(now).toISOString();
    // A new event each send: the bridge dedupes on (instance, user, sequence).
    payload.sequence = now;
    return { eventId: `${payload.instanceID}:${payload.aggregateID}:${payload.sequence}`, userId: String(payload.aggregateID) };
  },
  sign: (body, { now, secret }) => zitadelSignatureHeader(body, now, secret),
};

/**
 * Logto (user.created → `User.Created`, user.updated → `User.Data.Updated`, user.deleted →
 * `User.Deleted` with the id in `params.userId`), signed as Logto's docs show:
 * `logto-signature-sha-256: <hex HMAC-SHA256(signing key, body)>`. Logto sends no event id; the
 * bridge's is `hookId:event:createdAt`.
 */
const logto: SampleProvider = {
  route: "/webhooks/logto",
  secretBinding: "LOGTO_WEBHOOK_SIGNING_KEY",
  fixture: (event) => loadFixture("logto", event),
  prepare(payload, { event, now, userId }) {
    const iso = new Date(now).toISOString();
    payload.createdAt = iso;
    if (userId !== undefined) {
      if (payload.data) payload.data.id = userId;
      if (payload.params?.userId) payload.params.userId = userId;
    }
    if (payload.data) {
      payload.data.updatedAt = now;
      if (event === "user.created") payload.data.createdAt = now;
    }
    return { eventId: `${payload.hookId}:${payload.event}:${iso}`, userId: String(payload.data?.id ?? payload.params?.userId) };
  },
  sign: (body, { secret }) => logtoSignatureHeader(body, secret),
};

/** Stack Auth (Svix): `{type, data: user}`; the event id is the `svix-id`, a Svix message id made at `now`. */
const stackAuth: SampleProvider = {
  route: "/webhooks/stack-auth",
  secretBinding: "STACK_AUTH_WEBHOOK_SECRET",
  fixture: (event) => loadFixture("stack-auth", event),
  prepare(payload, { event, now, userId }) {
    if (userId !== undefined) payload.data.id = userId;
    if (event === "user.created") payload.data.signed_up_at_millis = now;
    if (event !== "user.deleted") payload.data.last_active_at_millis = now;
    // The bridge orders Stack Auth events by the time inside the Svix message id.
    return { eventId: svixMessageId(now), userId: String(payload.data.id) };
  },
  sign: signSvix,
};

/** Standard Webhooks with the bridge's neutral payload (docs/standard-webhook-payload.md), signed with `standardwebhooks`. */
const standard: SampleProvider = {
  route: "/webhooks/standard",
  secretBinding: "STANDARD_WEBHOOK_SECRET",
  fixture: (event) => loadFixture("standard", event),
  prepare(payload, { event, now, userId }) {
    if (userId !== undefined) payload.data.id = userId;
    const iso = new Date(now).toISOString();
    payload.timestamp = iso;
    payload.data.updated_at = iso;
    if (event === "user.created") payload.data.created_at = iso;
    return { eventId: `msg_${randomId()}`, userId: String(payload.data.id) };
  },
  sign: (body, { eventId, now, secret }) => standardWebhookHeaders(body, eventId, now, secret),
};

/**
 * Kinde: the body is an RS256 JWT of the payload, signed here with the public dev key
 * (signing/kinde-dev-key.ts) that `npm run dev` serves at KINDE_ISSUER_URL/.well-known/jwks.
 * `encodeBody` turns the prepared payload into that JWT; `webhook-id` is the idempotency key.
 */
const kinde: SampleProvider = {
  route: "/webhooks/kinde",
  secretBinding: "KINDE_ISSUER_URL",
  fixture: (event) => loadFixture("kinde", event),
  prepare(payload, { now, userId }) {
    if (userId !== undefined) payload.data.user.id = userId;
    payload.event_id = `event_${randomId()}`;
    payload.timestamp = payload.event_timestamp = new Date(now).toISOString();
    return { eventId: `msg_${randomId()}`, userId: String(payload.data.user.id) };
  },
  // KINDE_ISSUER_URL is not a key: the dev key signs, the bridge fetches its public half from the issuer.
  sign: (_body, { eventId }) => ({ "content-type": "application/jwt", "webhook-id": eventId }),
  encodeBody: (payload) => kindeJwt(payload, KINDE_DEV_KID, KINDE_DEV_PRIVATE_JWK),
};

/** Okta Event Hooks: a batch (`data.events[]`) of one LogEvent; the secret is the whole Authorization header. */
const okta: SampleProvider = {
  route: "/webhooks/okta",
  secretBinding: "OKTA_WEBHOOK_SECRET",
  fixture: (event) => loadFixture("okta", event),
  prepare(payload, { now, userId }) {
    const event = payload.data.events[0];
    const user = event.target.find((target: Json) => target.type === "User");
    if (userId !== undefined) user.id = userId;
    const iso = new Date(now).toISOString();
    event.uuid = randomUUID();
    event.published = iso;
    payload.eventId = randomUUID();
    payload.eventTime = iso;
    return { eventId: event.uuid, userId: String(user.id) };
  },
  sign: (_body, { secret }) => ({ "content-type": "application/json", accept: "application/json", authorization: secret }),
};

/** Supabase Database Webhook on auth.users; the event id is derived by the bridge from type, id and updated_at. */
const supabase: SampleProvider = {
  route: "/webhooks/supabase",
  secretBinding: "SUPABASE_WEBHOOK_SECRET",
  fixture: (event) => loadFixture("supabase", event),
  prepare(payload, { event, now, userId }) {
    const iso = new Date(now).toISOString();
    for (const row of [payload.record, payload.old_record]) {
      if (row && userId !== undefined) row.id = userId;
    }
    const row = payload.record ?? payload.old_record;
    if (payload.record) {
      payload.record.updated_at = iso;
      if (event === "user.created") payload.record.created_at = iso;
    }
    const id = String(row.id);
    return { eventId: payload.type === "DELETE" ? `DELETE:${id}` : `${payload.type}:${id}:${iso}`, userId: id };
  },
  sign: (_body, { secret }) => ({ "content-type": "application/json", authorization: `Bearer ${secret}` }),
};

/** Auth0 Log Streams (Custom Webhook, JSON array): one log record; the token is the whole Authorization header. */
const auth0Logs: SampleProvider = {
  route: "/webhooks/auth0-logs",
  secretBinding: "AUTH0_LOG_STREAM_TOKEN",
  fixture: (event) => loadFixture("auth0-logs", event),
  prepare(payload, { now, userId }) {
    const record = payload[0];
    const log = record.data;
    record.log_id = log.log_id = `900${randomId()}`;
    log.date = new Date(now).toISOString();
    // A sapi log is about the user in the request path; its user_id is the admin who made the call.
    if (log.type === "sapi") {
      const target = userId ?? log.details.response.body.user_id;
      log.details.request.path = `/api/v2/users/${encodeURIComponent(target)}`;
      log.details.response.body.user_id = target;
      return { eventId: record.log_id, userId: String(target) };
    }
    if (userId !== undefined) log.user_id = userId;
    return { eventId: record.log_id, userId: String(log.user_id) };
  },
  sign: (_body, { secret }) => ({ "content-type": "application/json", authorization: secret }),
};

export const SAMPLE_PROVIDERS = { clerk, auth0, workos, zitadel, logto, "stack-auth": stackAuth, standard, kinde, okta, supabase, "auth0-logs": auth0Logs } satisfies Record<string, SampleProvider>;
export type SampleProviderName = keyof typeof SAMPLE_PROVIDERS;

export function isSampleProvider(name: string): name is SampleProviderName {
  return Object.hasOwn(SAMPLE_PROVIDERS, name);
}

export function isSampleEvent(name: string): name is SampleEvent {
  return (SAMPLE_EVENTS as readonly string[]).includes(name);
}

export interface SampleRequestOptions {
  /** Bridge base URL, e.g. http://127.0.0.1:8787 (no trailing slash needed). */
  bridgeUrl: string;
  userId?: string;
  /** Epoch ms; default now. */
  now?: number;
  /** Secrets to sign with; default `resolveSecrets()` (env, then .dev.vars, then DEV_SECRETS). */
  secrets?: Partial<Record<keyof typeof DEV_SECRETS, string>>;
  /** Last-moment changes to the payload (after `prepare`, before signing). */
  patch?: (payload: Json) => void;
}

export interface SampleRequest {
  provider: SampleProviderName;
  event: SampleEvent;
  url: string;
  method: "POST";
  headers: Record<string, string>;
  /** Exactly the signed bytes: send it as is. */
  body: string;
  payload: Json;
  eventId: string;
  userId: string;
}

/** A ready-to-send, authenticated request carrying a fresh copy of the provider's sample event. */
export function buildSampleRequest(provider: SampleProviderName, event: SampleEvent, options: SampleRequestOptions): SampleRequest {
  const spec: SampleProvider = SAMPLE_PROVIDERS[provider];
  const now = options.now ?? Date.now();
  const payload = spec.fixture(event);
  const { eventId, userId } = spec.prepare(payload, { event, now, ...(options.userId !== undefined && { userId: options.userId }) });
  options.patch?.(payload);
  const body = spec.encodeBody?.(payload) ?? JSON.stringify(payload);
  const secret = (options.secrets ?? resolveSecrets())[spec.secretBinding] ?? DEV_SECRETS[spec.secretBinding];
  return {
    provider,
    event,
    url: `${options.bridgeUrl.replace(/\/+$/, "")}${spec.route}`,
    method: "POST",
    headers: spec.sign(body, { eventId, now, secret }),
    body,
    payload,
    eventId,
    userId,
  };
}

/** Sends a built request with fetch; `answer` is the parsed JSON (or the text when it is not JSON). */
export async function sendSampleRequest(request: Pick<SampleRequest, "url" | "method" | "headers" | "body">, signal?: AbortSignal, fetchImpl: typeof fetch = fetch) {
  const response = await fetchImpl(request.url, { method: request.method, headers: request.headers, body: request.body, ...(signal && { signal }) });
  const text = await response.text();
  let answer: unknown = text;
  try {
    answer = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, ok: response.ok, answer, retryAfter: response.headers.get("retry-after") };
}

// ---------------------------------------------------------------------------------------------------------------
// Secrets: the same precedence `npm run dev` gives the bridge, so `npm run send` signs with what it verifies with
// ---------------------------------------------------------------------------------------------------------------

/**
 * KEY=VALUE lines as wrangler reads `.dev.vars` (dotenv): blank lines and `#` comments skipped,
 * an optional `export ` prefix, values optionally in matching single, double or back quotes
 * (double-quoted values expand \n), otherwise trimmed with a trailing ` # comment` removed.
 */
export function parseDevVars(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const rawLine of text.replace(/^\uFEFF/, "").split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([\w.-]+)\s*=\s*(.*)$/.exec(rawLine);
    if (!match) continue;
    const [, key = "", rest = ""] = match;
    let value = rest.trim();
    const quote = value[0];
    if ((quote === '"' || quote === "'" || quote === "`") && value.length >= 2 && value.endsWith(quote)) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\n/g, "\n").replace(/\\r/g, "\r");
    } else {
      value = value.replace(/\s+#.*$/, "").trim();
    }
    vars[key] = value;
  }
  return vars;
}

/**
 * The local variables file wrangler dev loads for this project, parsed: `.dev.vars`, or when
 * there is none, `.env` (wrangler's own fallback). Undefined when neither exists.
 */
export function readDevVarsFile(projectDir: URL = new URL("../", import.meta.url)): { path: string; vars: Record<string, string> } | undefined {
  for (const name of [".dev.vars", ".env"]) {
    const file = new URL(name, projectDir);
    if (existsSync(file)) return { path: name, vars: parseDevVars(readFileSync(file, "utf8")) };
  }
  return undefined;
}

/** Each secret from the environment, else the project's .dev.vars (or .env), else DEV_SECRETS. */
export function resolveSecrets(env: NodeJS.ProcessEnv = process.env, fileVars: Record<string, string> = readDevVarsFile()?.vars ?? {}) {
  const secrets = { ...DEV_SECRETS } as Record<keyof typeof DEV_SECRETS, string>;
  for (const key of Object.keys(DEV_SECRETS) as Array<keyof typeof DEV_SECRETS>) {
    const value = env[key]?.trim() || fileVars[key]?.trim();
    if (value) secrets[key] = value;
  }
  return secrets;
}

function randomId(): string {
  return randomUUID().replaceAll("-", "");
}

// ---------------------------------------------------------------------------------------------------------------
// curl
// ---------------------------------------------------------------------------------------------------------------

/** POSIX shell single-quoting: safe for any byte string. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * The request as a copy-pasteable curl command. The body is passed single-quoted (not through a
 * heredoc, which would append a newline and break the signature).
 */
export function toCurl(request: Pick<SampleRequest, "url" | "method" | "headers" | "body">): string {
  const lines = [`curl -sS -X ${request.method} ${shellQuote(request.url)}`];
  for (const [name, value] of Object.entries(request.headers)) lines.push(`  -H ${shellQuote(`${name}: ${value}`)}`);
  lines.push(`  --data-binary ${shellQuote(request.body)}`);
  return lines.join(" \\\n");
}
