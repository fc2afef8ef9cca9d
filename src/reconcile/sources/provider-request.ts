/**
 * One request to a provider's management API, answered as a value: the response, or a
 * SourceFailure that says whether to retry and after how long. No retries and no waiting here
 * (user-source.ts says why).
 */
import { parseRetryAfter } from "../../deliver/orq-client";
import { isTimeout, withTimeout } from "../../with-timeout";
import type { SourceFailure, UserSourceContext } from "../user-source";

export interface ProviderRequest {
  url: string;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
  /** Names the call in reasons, e.g. `Clerk GET /v1/users`; never carries a secret. */
  label: string;
  /** Answers with these statuses come back as responses, not failures (a 404 that means "gone"). */
  expect?: readonly number[];
  /** Overrides the context's timeout (a large download). */
  timeoutMs?: number;
}

export type ProviderAnswer<T> = { ok: true; status: number; body: T; headers: Headers } | SourceFailure;

/**
 * The JSON answer of one request. The deadline covers the body too: a server that stalls
 * mid-answer is a timeout, not a hung alarm.
 */
export async function requestProviderJson<T = unknown>(request: ProviderRequest, ctx: UserSourceContext): Promise<ProviderAnswer<T>> {
  return send<Extract<ProviderAnswer<T>, { ok: true }>>(request, ctx, async (response) => {
    try {
      return { ok: true, status: response.status, body: (await response.json()) as T, headers: response.headers };
    } catch (error) {
      if (isTimeout(error)) throw error;
      return { ok: false, status: response.status, reason: `${request.label}: the answer is not JSON`, retryable: false, requests: 1 };
    }
  });
}

/** The response with its body unread (a download streamed by the caller); the deadline covers the headers only. */
export async function requestProvider(request: ProviderRequest, ctx: UserSourceContext): Promise<{ ok: true; response: Response } | SourceFailure> {
  return send<{ ok: true; response: Response }>(request, ctx, async (response) => ({ ok: true, response }));
}

async function send<T extends { ok: true }>(
  request: ProviderRequest,
  ctx: UserSourceContext,
  read: (response: Response) => Promise<T | SourceFailure>,
): Promise<T | SourceFailure> {
  const timeoutMs = request.timeoutMs ?? ctx.timeoutMs;
  try {
    return await withTimeout(timeoutMs, async (deadline) => {
      const signal = ctx.signal ? AbortSignal.any([ctx.signal, deadline]) : deadline;
      const response = await ctx.fetch(request.url, {
        method: request.method ?? "GET",
        headers: { accept: "application/json", ...(request.json !== undefined && { "content-type": "application/json" }), ...request.headers },
        ...(request.json !== undefined && { body: JSON.stringify(request.json) }),
        // withTimeout clears its timer once `read` settles, so a body streamed after that is not cut.
        signal,
      });
      if (response.ok || request.expect?.includes(response.status)) return read(response);
      return classifyFailure(request.label, response, ctx.now?.() ?? Date.now());
    });
  } catch (error) {
    const reason = isTimeout(error) ? `timed out after ${timeoutMs} ms` : ctx.signal?.aborted ? "interrupted" : "network error";
    return { ok: false, reason: `${request.label}: ${reason}`, retryable: true, requests: 1 };
  }
}

async function classifyFailure(label: string, response: Response, now: number): Promise<SourceFailure> {
  const { status } = response;
  if (status === 401 || status === 403) {
    return { ok: false, status, reason: `${label}: answered ${status}: ${await errorSummary(response)}`, retryable: false, authProblem: true, requests: 1 };
  }
  if (status === 429 || status >= 500 || status === 408) {
    await response.body?.cancel();
    const retryAfterMs = status === 429 || status === 503 ? rateLimitWaitMs(response.headers, now) : undefined;
    const reason = status === 429 ? `${label}: rate limited (429)` : `${label}: answered ${status}`;
    return { ok: false, status, reason, retryable: true, requests: 1, ...(retryAfterMs !== undefined && { retryAfterMs }) };
  }
  return { ok: false, status, reason: `${label}: answered ${status}: ${await errorSummary(response)}`, retryable: false, requests: 1 };
}

/**
 * The wait a 429 (or 503) asks for: `Retry-After` (Clerk, orq.ai), else `X-RateLimit-Reset`
 * (Auth0 sends the epoch second its bucket refills; some APIs send seconds from now instead).
 */
export function rateLimitWaitMs(headers: Headers, now = Date.now()): number | undefined {
  const retryAfter = parseRetryAfter(headers.get("retry-after"), now);
  if (retryAfter !== undefined) return retryAfter;
  const reset = Number(headers.get("x-ratelimit-reset") ?? Number.NaN);
  if (!Number.isFinite(reset) || reset < 0) return undefined;
  return reset > 1e9 ? Math.max(0, reset * 1000 - now) : reset * 1000;
}

/**
 * A short reason from an error body: Clerk `{errors: [{message, long_message}]}`, Auth0
 * `{statusCode, error, message}`, OAuth `{error, error_description}`.
 */
export async function errorSummary(response: Response): Promise<string> {
  const text = (await response.text().catch(() => "")).slice(0, 2000);
  const body = parseJson(text) as Record<string, unknown> | undefined;
  if (body && typeof body === "object") {
    const clerkError = Array.isArray(body.errors) ? (body.errors[0] as Record<string, unknown> | undefined) : undefined;
    const message = clerkError?.long_message ?? clerkError?.message ?? body.error_description ?? body.message ?? body.error;
    if (typeof message === "string" && message) return message.slice(0, 300);
  }
  return text.replace(/\s+/g, " ").trim().slice(0, 200) || "no details";
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
