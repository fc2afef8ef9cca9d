/**
 * The user-listing plug-in: one per provider, beside its webhook plug-in (src/providers/<name>.ts).
 * It reads the provider's users back through its management API, one page per call, so the same
 * code runs in a Durable Object alarm (a budget of subrequests per run, retries across alarms) and
 * in `npm run backfill` (retries with waits in between). Nothing here sleeps or retries: a 429,
 * 5xx or network error comes back as a SourceFailure saying whether, and after how long, to try
 * again; the caller decides. Plain `fetch` and Web APIs only (it runs on workerd).
 */
import type { EnvValues, WebhookProvider } from "../providers/provider";

/** Where a listing continues: a JSON object of scalars, kept in a checkpoint file or Durable Object storage. */
export type Cursor = { readonly [key: string]: string | number | boolean | null };

export interface SourceFailure {
  ok: false;
  status?: number;
  /** Names the call (`Clerk GET /v1/users: rate limited (429)`); never carries a secret. */
  reason: string;
  /** Asking again later can succeed (network, timeout, 408, 429, 5xx). */
  retryable: boolean;
  /** From `Retry-After` or `X-RateLimit-Reset`. */
  retryAfterMs?: number;
  /** 401/403: the provider credentials are wrong or lack a scope; every further call would fail alike. */
  authProblem?: boolean;
  /** HTTP requests the failed call cost (a failure spends the budget too). */
  requests: number;
}

export interface UserPage {
  ok: true;
  /** Users as the management API returns them (the same objects its webhooks carry). May be empty while `next` is not null. */
  users: unknown[];
  /** Where this page started: listing from it again gives this page again. */
  cursor: Cursor;
  /** Where the listing continues; null once it is complete. */
  next: Cursor | null;
  /** HTTP requests this page cost (a token fetch counts). */
  requests: number;
  /** Users in the whole listing, when this page learned it exactly (Auth0's first page). */
  total?: number;
  /** Something the operator should know, e.g. users the provider's API cannot list. */
  warning?: string;
}

export interface UserSourceContext {
  fetch: typeof fetch;
  /** Per HTTP request, the answer's body included. */
  timeoutMs: number;
  /** Cancels requests in flight (the CLI's Ctrl-C). */
  signal?: AbortSignal;
  now?: () => number;
}

export type Configured = { ok: true; client: UserSourceClient } | { ok: false; missing?: string; problem: string };

export interface UserSourceOptions {
  /** Users per listing request; capped at the API's maximum (the default). */
  pageSize?: number;
}

export interface UserSource {
  /** The webhook plug-in's name. */
  readonly name: string;
  /** The webhook plug-in whose `normalise` maps a listed user (through `toWebhook`). */
  readonly webhook: WebhookProvider;
  /** The variables it reads, for docs and /health. */
  readonly envVariables: readonly string[];
  /** One line per variable, for usage texts. */
  readonly envHelp: readonly string[];
  /**
   * A client when the credentials are present and usable. Not configured: `missing` names the
   * first variable to set. Present but unusable (a URL that is not http(s)): `problem` only.
   */
  configure(env: EnvValues, options?: UserSourceOptions): Configured;
  /** The webhook body the provider would send about this user's current state, for `webhook.normalise`. */
  toWebhook(user: unknown, now: number): { body: unknown; deliveryId: string; userId: string };
  /** When the provider last changed this user (epoch ms), if it says. */
  updatedAt(user: unknown): number | undefined;
}

export interface UserSourceClient {
  /** Users per listing request. */
  readonly pageSize: number;
  /**
   * Identifies the account being listed (API URL, tenant, a hash of the key; never a secret), so
   * a cursor is never resumed against another account. Async: hashing is `crypto.subtle`.
   */
  account(): Promise<string>;
  /** One page from `cursor` (undefined: the start), in a stable order, oldest users first. */
  listPage(cursor: Cursor | undefined, ctx: UserSourceContext): Promise<UserPage | SourceFailure>;
  /**
   * Reads one user to confirm a deletion: `gone` only when the provider answers its own "no such
   * user" 404 (a bare 404 from a wrong URL is a failure, never a deletion).
   */
  confirmGone(userId: string, ctx: UserSourceContext): Promise<{ ok: true; gone: boolean; requests: number } | SourceFailure>;
  /** The number of users, for progress, when the provider can count them cheaply. */
  total?(ctx: UserSourceContext): Promise<{ ok: true; total: number | undefined; requests: number } | SourceFailure>;
}

/** A listed user's id for messages, whatever shape it arrived in. */
export function describeUserId(user: unknown, field: string): string {
  const id = typeof user === "object" && user !== null ? (user as Record<string, unknown>)[field] : undefined;
  return typeof id === "string" && id ? id : "(user without an id)";
}

/** A base URL without trailing slash, or undefined when it is not http(s). */
export function apiBaseUrl(value: string | undefined, fallback: string): string | undefined {
  const raw = value?.trim() || fallback;
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? raw.replace(/\/+$/, "") : undefined;
  } catch {
    return undefined;
  }
}

/** The first 12 hex digits of SHA-256(`secret`): tells two keys apart without revealing either. */
export async function fingerprint(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
  return Array.from(new Uint8Array(digest).slice(0, 6), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** A page size between 1 and the API's maximum; the maximum when none is asked for. */
export function pageSizeWithin(asked: number | undefined, max: number): number {
  return asked === undefined ? max : Math.min(Math.max(1, Math.floor(asked)), max);
}

export function unknownCursor(cursor: Cursor | undefined): SourceFailure {
  return { ok: false, reason: `cannot continue from the cursor ${JSON.stringify(cursor)}: it was made by another version or source; start over`, retryable: false, requests: 0 };
}
