/**
 * Calls to a provider's management API (Clerk Backend API, Auth0 Management API) that survive
 * its rate limits: a 429 waits what the API asks (`Retry-After` / `X-RateLimit-Reset`), 5xx and
 * network errors back off and retry, anything else is answered as a failure naming the status.
 */
import { backoffDelayMs, rateLimitWaitMs, sleep, type RetryPolicy } from "./rate-limit";

export interface ApiContext {
  fetch: typeof fetch;
  retry: RetryPolicy;
  /** Per request; a download passes its own, longer one. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Told about every wait, so the operator sees why nothing moves. */
  onWait?(ms: number, why: string): void;
}

export interface ApiRequest {
  url: string;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
  /** Names the call in messages, e.g. `Clerk GET /v1/users`; never carries a secret. */
  label: string;
  timeoutMs?: number;
}

export type ApiFailure = {
  ok: false;
  status?: number;
  reason: string;
  /** The operator pressed Ctrl-C (or the caller aborted): not the API's fault. */
  interrupted: boolean;
};

export type ApiResponse = { ok: true; response: Response } | ApiFailure;
export type ApiJson<T> = { ok: true; body: T; headers: Headers } | ApiFailure;

/** One request with retries; on success the body is left unread for the caller. */
export async function callProviderApi(request: ApiRequest, context: ApiContext): Promise<ApiResponse> {
  const interrupted = (): ApiFailure => ({ ok: false, reason: `${request.label}: interrupted`, interrupted: true });
  let lastReason = "";
  let lastStatus: number | undefined;
  for (let attempt = 1; attempt <= context.retry.attempts; attempt++) {
    if (context.signal?.aborted) return interrupted();
    let response: Response;
    try {
      const timeout = AbortSignal.timeout(request.timeoutMs ?? context.timeoutMs);
      response = await context.fetch(request.url, {
        method: request.method ?? "GET",
        headers: { accept: "application/json", ...(request.json !== undefined && { "content-type": "application/json" }), ...request.headers },
        ...(request.json !== undefined && { body: JSON.stringify(request.json) }),
        signal: context.signal ? AbortSignal.any([context.signal, timeout]) : timeout,
      });
    } catch (error) {
      if (context.signal?.aborted) return interrupted();
      lastStatus = undefined;
      lastReason = error instanceof Error && error.name === "TimeoutError" ? "timed out" : "network error";
      if (!(await waitBeforeRetry(attempt, undefined, `${request.label}: ${lastReason}`, context))) return interrupted();
      continue;
    }
    if (response.ok) return { ok: true, response };

    lastStatus = response.status;
    const retryable = response.status === 429 || response.status >= 500 || response.status === 408;
    if (!retryable) {
      return { ok: false, status: response.status, reason: `${request.label} answered ${response.status}: ${await errorSummary(response)}`, interrupted: false };
    }
    await response.body?.cancel();
    const asked = response.status === 429 || response.status === 503 ? rateLimitWaitMs(response.headers) : undefined;
    lastReason = response.status === 429 ? "rate limited (429)" : `answered ${response.status}`;
    if (asked !== undefined && asked > context.retry.maxWaitMs) {
      return { ok: false, status: response.status, reason: `${request.label} asks to wait ${Math.round(asked / 1000)} s, longer than allowed; run again later`, interrupted: false };
    }
    if (!(await waitBeforeRetry(attempt, asked, `${request.label}: ${lastReason}`, context))) return interrupted();
  }
  return {
    ok: false,
    ...(lastStatus !== undefined && { status: lastStatus }),
    reason: `${request.label}: ${lastReason} after ${context.retry.attempts} attempts`,
    interrupted: false,
  };
}

/** Same, for a JSON answer. */
export async function callProviderJson<T>(request: ApiRequest, context: ApiContext): Promise<ApiJson<T>> {
  const answer = await callProviderApi(request, context);
  if (!answer.ok) return answer;
  try {
    return { ok: true, body: (await answer.response.json()) as T, headers: answer.response.headers };
  } catch {
    return { ok: false, status: answer.response.status, reason: `${request.label}: the answer is not JSON`, interrupted: false };
  }
}

/** Waits before attempt `attempt + 1`; false when interrupted or when no attempt is left. */
async function waitBeforeRetry(attempt: number, askedMs: number | undefined, why: string, context: ApiContext): Promise<boolean> {
  if (attempt >= context.retry.attempts) return !context.signal?.aborted;
  const ms = backoffDelayMs(attempt, context.retry, askedMs);
  context.onWait?.(ms, why);
  return sleep(ms, context.signal);
}

/**
 * A short reason from an error body: Clerk `{errors: [{message, long_message}]}`, Auth0
 * `{statusCode, error, message}`, OAuth `{error, error_description}`.
 */
async function errorSummary(response: Response): Promise<string> {
  const text = (await response.text().catch(() => "")).slice(0, 2000);
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const clerkError = Array.isArray(body.errors) ? (body.errors[0] as Record<string, unknown> | undefined) : undefined;
    const message = clerkError?.long_message ?? clerkError?.message ?? body.error_description ?? body.message ?? body.error;
    if (typeof message === "string" && message) return message.slice(0, 300);
  } catch {
    // not JSON
  }
  return text.replace(/\s+/g, " ").trim().slice(0, 200) || "no details";
}
