/**
 * Sample webhooks as each auth provider sends them: the documented example payload
 * (test/fixtures/<provider>/<event>.json) made into a fresh event, plus the headers that
 * authenticate it. Used by `npm run send`, the node end-to-end tests and benchmarks.
 *
 * Signing uses the providers' own libraries (svix for Clerk), never the bridge's code, so a
 * bug in the bridge's verifier cannot hide behind a matching bug here.
 *
 * Adding a provider (WorkOS, Kinde, …) is one entry in SAMPLE_PROVIDERS plus its fixtures.
 * Node-only (node:fs, node:crypto): never import it from src/.
 */
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { Webhook } from "svix";
import { DEV_SECRETS } from "../../test/support/secrets";

// biome-ignore lint: sample payloads are free-form JSON
export type Json = any;

export const SAMPLE_EVENTS = ["user.created", "user.updated", "user.deleted"] as const;
export type SampleEvent = (typeof SAMPLE_EVENTS)[number];

const FIXTURES_DIR = new URL("../../test/fixtures/", import.meta.url);

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
  sign(body, { eventId, now, secret }) {
    const timestamp = Math.floor(now / 1000);
    return {
      "content-type": "application/json",
      "svix-id": eventId,
      "svix-timestamp": String(timestamp),
      "svix-signature": new Webhook(firstSecret(secret)).sign(eventId, new Date(timestamp * 1000), body),
    };
  },
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

export const SAMPLE_PROVIDERS = { clerk, auth0 } satisfies Record<string, SampleProvider>;
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
  const body = JSON.stringify(payload);
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
export async function sendSampleRequest(request: Pick<SampleRequest, "url" | "method" | "headers" | "body">, signal?: AbortSignal) {
  const response = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body, ...(signal && { signal }) });
  const text = await response.text();
  let answer: unknown = text;
  try {
    answer = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, ok: response.ok, answer };
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
export function readDevVarsFile(projectDir: URL = new URL("../../", import.meta.url)): { path: string; vars: Record<string, string> } | undefined {
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

/** During a rotation the bridge's binding holds several secrets (space- or comma-separated): sign with the first. */
function firstSecret(value: string): string {
  return value.split(/[\s,]+/).find(Boolean) ?? value;
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
