import { describeIssue } from "../describe-issue";
import { isTimeout, withTimeout } from "../with-timeout";
import { CreateIdentityRequest, UpdateIdentityRequest } from "./orq-schemas";

/**
 * A small typed client for orq.ai's identities API: plain fetch, bodies checked against the
 * OpenAPI schemas, every answer classified. It depends on status codes only, never on response
 * body shapes (they changed twice, see ORQ.md).
 */
export type OrqOutcome =
  | { kind: "ok"; status: number }
  | { kind: "not_found"; status: 404 }
  | { kind: "conflict"; status: 409 }
  | OrqFailure;

export interface OrqFailure {
  kind: "failed";
  /** Retrying later can succeed (network, timeout, 5xx, 429, auth). */
  retryable: boolean;
  /** 401/403: the bridge's own API key is wrong; keep everything and shout. */
  authProblem: boolean;
  status?: number;
  /** From `Retry-After` on 429/503, milliseconds. */
  retryAfterMs?: number;
  /** Short reason for operators; never contains a secret. */
  reason: string;
  /** On a permanent 4xx: the request field orq.ai's error names, when it names exactly one. */
  field?: string;
}

export interface OrqClientOptions {
  baseUrl: string;
  apiKey: string | undefined;
  timeoutMs: number;
  fetch?: typeof fetch;
}

export interface OrqClient {
  create(body: CreateIdentityRequest): Promise<OrqOutcome>;
  update(externalId: string, body: UpdateIdentityRequest): Promise<OrqOutcome>;
  remove(externalId: string): Promise<OrqOutcome>;
  retrieve(externalId: string): Promise<OrqOutcome>;
}

/**
 * One request to orq.ai with the bridge's key and a JSON body; `read` turns the answer into a
 * result. The deadline covers the answer's body too (a server that stalls mid-body is a timeout);
 * a network error or a timeout comes back as a retryable failure. The identities client, the
 * Budgets API client and the identities list all call through it.
 */
export async function requestOrq<T>(
  options: { apiKey: string; timeoutMs: number; fetch: typeof fetch },
  method: string,
  url: string,
  body: unknown,
  read: (response: Response) => Promise<T>,
): Promise<T | (OrqFailure & { retryable: true })> {
  const headers: Record<string, string> = { authorization: `Bearer ${options.apiKey}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const payload = body === undefined ? undefined : JSON.stringify(body);
  try {
    return await withTimeout(options.timeoutMs, async (signal) => read(await options.fetch(url, { method, headers, body: payload, signal })));
  } catch (error) {
    return { kind: "failed", retryable: true, authProblem: false, reason: isTimeout(error) ? `timed out after ${options.timeoutMs} ms` : "network error" };
  }
}

export function createOrqClient(options: OrqClientOptions): OrqClient {
  const doFetch = options.fetch ?? fetch;
  const base = `${options.baseUrl}/v2/identities`;

  async function call(method: string, url: string, body?: unknown): Promise<OrqOutcome> {
    if (!options.apiKey) {
      return { kind: "failed", retryable: true, authProblem: true, reason: "ORQ_API_KEY is not set" };
    }
    return requestOrq({ ...options, apiKey: options.apiKey, fetch: doFetch }, method, url, body, classifyOrqResponse);
  }

  const itemUrl = (externalId: string) => `${base}/${encodeURIComponent(externalId)}`;

  return {
    create(body) {
      const parsed = CreateIdentityRequest.safeParse(body);
      if (!parsed.success) return Promise.resolve(invalidRequest(describeIssue(parsed.error)));
      return call("POST", base, parsed.data);
    },
    update(externalId, body) {
      const parsed = UpdateIdentityRequest.safeParse(body);
      if (!parsed.success) return Promise.resolve(invalidRequest(describeIssue(parsed.error)));
      return call("PATCH", itemUrl(externalId), parsed.data);
    },
    remove: (externalId) => call("DELETE", itemUrl(externalId)),
    retrieve: (externalId) => call("GET", itemUrl(externalId)),
  };
}

function invalidRequest(reason: string): OrqFailure {
  return { kind: "failed", retryable: false, authProblem: false, reason: `invalid identity: ${reason}` };
}

/** An answer of the identities API as an outcome: a failure says whether to retry and why. */
export async function classifyOrqResponse(response: Response): Promise<OrqOutcome> {
  const { status } = response;
  // The body is only read for a short reason on permanent failures; drain it otherwise.
  if (status >= 200 && status < 300) {
    await response.body?.cancel();
    return { kind: "ok", status };
  }
  if (status === 404) {
    await response.body?.cancel();
    return { kind: "not_found", status };
  }
  if (status === 409) {
    await response.body?.cancel();
    return { kind: "conflict", status };
  }
  const failure: OrqFailure = { kind: "failed", status, retryable: true, authProblem: false, reason: `orq.ai answered ${status}` };
  if (status === 401 || status === 403) {
    failure.authProblem = true;
    failure.reason = `orq.ai rejected the API key (${status}): check ORQ_API_KEY`;
  } else if (status === 429 || status === 503) {
    failure.retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
  } else if (status >= 400 && status < 500 && status !== 408) {
    failure.retryable = false;
    const message = await errorMessage(response);
    failure.reason = `orq.ai answered ${status}: ${message}`;
    failure.field = namedField(message);
    return failure;
  }
  await response.body?.cancel();
  return failure;
}

/** `Retry-After` is seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** `metadata.plan` and `metadata` both count; one field named twice is still one. */
const REQUEST_FIELD = /\b(external_id|display_name|email|avatar_url|tags|metadata(?:\.[\w-]+)?)\b/g;

/** The one request field an error message names (`email: must be an email`), else undefined. */
export function namedField(message: string): string | undefined {
  const fields = new Set(Array.from(message.matchAll(REQUEST_FIELD), (match) => match[1]!));
  return fields.size === 1 ? [...fields][0] : undefined;
}

/** orq's error bodies vary by era: `{error: "..."}`, `{message}`, `{error: {code, message}}`. */
async function errorMessage(response: Response): Promise<string> {
  const text = (await response.text().catch(() => "")).slice(0, 2000);
  let message: unknown = text;
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    const error = body.error as { message?: unknown } | string | undefined;
    message = typeof error === "string" ? error : (error?.message ?? body.message ?? text);
  } catch {
    // not JSON: keep the text
  }
  // Validation messages may quote the rejected value; an email must not reach logs or the admin view.
  return String(message).replace(/[^\s@"'<>]+@[^\s@"'<>]+/g, "<redacted>").slice(0, 300) || "no details";
}
