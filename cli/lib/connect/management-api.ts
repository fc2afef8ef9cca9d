/**
 * A provider's management API as `npm run connect` calls it: JSON in and out, every call printed
 * (secrets masked), writes only printed under `--dry-run`, and a non-2xx answer thrown as an
 * error that names the call and the provider's message.
 */
import { apiBaseUrl } from "../../../src/reconcile/user-source";

// biome-ignore lint: management API answers are free-form JSON
export type Json = any;

export class ManagementApiError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

/** Values that must never be printed: each is replaced by `••••` wherever it appears. */
export class SecretMask {
  private readonly values = new Set<string>();
  add(value: string | undefined): void {
    if (value && value.length >= 4) this.values.add(value);
  }
  mask(text: string): string {
    let out = text;
    for (const value of [...this.values].sort((a, b) => b.length - a.length)) out = out.split(value).join("••••");
    return out;
  }
}

export interface ManagementApiOptions {
  /** Names the provider in messages, e.g. "Auth0". */
  label: string;
  baseUrl: string;
  /** Which tenant the calls are for, when it is not in baseUrl: Kinde's own URL (its issuer), Supabase's project ref. */
  tenant?: string;
  /** Authorization and the like; never printed. */
  headers: Record<string, string>;
  dryRun: boolean;
  mask: SecretMask;
  print(line: string): void;
  fetch?: typeof fetch;
}

const TIMEOUT_MS = 20_000;

export class ManagementApi {
  constructor(readonly options: ManagementApiOptions) {}

  /** A call that changes nothing (a list, a search): made even in a dry run. */
  read<T = Json>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    return this.call(method, path, body).then((answer) => answer.json as T);
  }

  /** A read that also answers the response headers (a `Link` header that names the next page). */
  readWithHeaders<T = Json>(method: "GET" | "POST", path: string, body?: unknown): Promise<{ body: T; headers: Headers }> {
    return this.call(method, path, body).then((answer) => ({ body: answer.json as T, headers: answer.headers }));
  }

  /** A call that changes the provider: in a dry run only printed, answering undefined. */
  async write<T = Json>(method: "POST" | "PUT" | "PATCH" | "DELETE", path: string, body?: unknown): Promise<T | undefined> {
    if (this.options.dryRun) {
      this.options.print(`  would call ${this.describe(method, path, body)}`);
      return undefined;
    }
    this.options.print(`  ${this.describe(method, path, body)}`);
    return (await this.call(method, path, body)).json as T;
  }

  private describe(method: string, path: string, body: unknown): string {
    return this.options.mask.mask(`${method} ${this.options.baseUrl}${path}${body === undefined ? "" : ` ${JSON.stringify(body)}`}`);
  }

  private async call(method: string, path: string, body: unknown): Promise<{ json: unknown; headers: Headers }> {
    const fetchImpl = this.options.fetch ?? fetch;
    let response: Response;
    try {
      response = await fetchImpl(`${this.options.baseUrl}${path}`, {
        method,
        headers: { accept: "application/json", ...(body !== undefined && { "content-type": "application/json" }), ...this.options.headers },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      throw new ManagementApiError(`${this.options.label} ${method} ${path}: no answer from ${this.options.baseUrl} (${(error as Error).message})`, undefined);
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    if (!response.ok) {
      throw new ManagementApiError(this.options.mask.mask(`${this.options.label} ${method} ${path} answered ${response.status}: ${errorMessage(json)}`), response.status);
    }
    return { json, headers: response.headers };
  }
}

/**
 * The target of the `rel="next"` link in an RFC 8288 `Link` header (several links, comma-separated,
 * as fetch joins repeated headers), resolved against `base`; undefined when there is none.
 */
export function nextLink(header: string | null, base: string): URL | undefined {
  if (!header) return undefined;
  for (const match of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]*)*)/g)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(match[2] ?? "");
    const relations = (rel?.[1] ?? rel?.[2] ?? "").toLowerCase().split(/\s+/);
    if (!relations.includes("next")) continue;
    if (!URL.canParse(match[1]!, base)) throw new Error(`the Link header's next page is not a URL: ${match[1]}`);
    return new URL(match[1]!, base);
  }
  return undefined;
}

function errorMessage(body: unknown): string {
  if (typeof body === "string") return body.slice(0, 300) || "(empty)";
  const record = (body ?? {}) as Json;
  const message = record.message ?? record.error_description ?? record.errorSummary ?? record.error?.message ?? record.error ?? record.errors?.[0]?.message;
  return typeof message === "string" ? message : JSON.stringify(body).slice(0, 300);
}

/** `<NAME>_BASE_URL` when set (a proxy, a test double), else the provider's own URL. */
export function baseUrlFrom(env: NodeJS.ProcessEnv, variable: string, fallback: string): string | undefined {
  return apiBaseUrl(env[variable], fallback);
}

/**
 * A tenant named by `<PREFIX>_DOMAIN` (a scheme or trailing slash is tolerated) whose API is at
 * `<PREFIX>_BASE_URL`, by default `https://<domain>`.
 */
export function tenantFromEnv(env: NodeJS.ProcessEnv, prefix: string, example: string): { domain: string; baseUrl: string } | { problem: string } {
  const domain = envValue(env, `${prefix}_DOMAIN`)?.replace(/^https?:\/\//, "").replace(/\/+$/, "");
  if (!domain) return { problem: `${prefix}_DOMAIN is not set (e.g. ${example})` };
  const baseUrl = baseUrlFrom(env, `${prefix}_BASE_URL`, `https://${domain}`);
  return baseUrl ? { domain, baseUrl } : { problem: `${prefix}_BASE_URL must be an http(s) URL` };
}

export interface ClientOptions {
  dryRun: boolean;
  mask: SecretMask;
  print(line: string): void;
  fetch?: typeof fetch;
}

/** The API client for one provider; `credential` (the token in `authorization`) is masked in everything printed. */
export function managementApi(options: ClientOptions, api: { label: string; baseUrl: string; authorization: string; credential: string; tenant?: string }): ManagementApi {
  options.mask.add(api.credential);
  return new ManagementApi({
    label: api.label,
    baseUrl: api.baseUrl,
    ...(api.tenant !== undefined && { tenant: api.tenant }),
    headers: { authorization: api.authorization },
    dryRun: options.dryRun,
    mask: options.mask,
    print: options.print,
    ...(options.fetch && { fetch: options.fetch }),
  });
}

/** A required variable, trimmed; undefined when unset or blank. */
export function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** An OAuth 2.0 client-credentials token (Auth0, Logto, Kinde M2M apps). */
export async function clientCredentialsToken(
  label: string,
  url: string,
  form: Record<string, string>,
  options: { basicAuth?: [string, string]; json?: boolean; fetch?: typeof fetch },
): Promise<string> {
  const fetchImpl = options.fetch ?? fetch;
  const headers: Record<string, string> = { accept: "application/json" };
  if (options.basicAuth) headers.authorization = `Basic ${Buffer.from(options.basicAuth.join(":")).toString("base64")}`;
  headers["content-type"] = options.json ? "application/json" : "application/x-www-form-urlencoded";
  let response: Response;
  try {
    response = await fetchImpl(url, { method: "POST", headers, body: options.json ? JSON.stringify(form) : new URLSearchParams(form).toString(), signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    throw new ManagementApiError(`${label} token request: no answer from ${url} (${(error as Error).message})`, undefined);
  }
  const body = (await response.json().catch(() => ({}))) as Json;
  if (!response.ok || typeof body.access_token !== "string") {
    throw new ManagementApiError(`${label} token request answered ${response.status}: ${errorMessage(body)}`, response.status);
  }
  return body.access_token;
}
