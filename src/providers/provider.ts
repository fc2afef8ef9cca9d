import * as z from "zod/mini";
import { describeIssue } from "../describe-issue";
import { isRepresentableTime, toEpochMs, type IdentityEvent } from "../identity/identity-event";
import { MIN_STATIC_TOKEN_LENGTH } from "../verify/bearer-token";
import { createSvixVerifier, decodeSvixSecret } from "../verify/svix";
import type { Verifier } from "../verify/verifier";

/** Env bindings as plain values; each provider reads its own. */
export type EnvValues = Readonly<Record<string, unknown>>;

export type ProviderSetup =
  | { status: "configured"; verify: Verifier }
  | { status: "not_configured" }
  /** `problem` names what is wrong, never the value. */
  | { status: "invalid"; problem: string };

export type NormaliseResult =
  /** One event, or several for senders that batch (Okta, Auth0 Log Streams); never empty. */
  | { kind: "events"; events: IdentityEvent[] }
  /** A type the bridge does not handle (or a batch with nothing handled): 200, nothing recorded. */
  | { kind: "ignored"; eventType: string }
  /** Wrong shape: 400 naming the field. */
  | { kind: "invalid"; problem: string; eventType?: string }
  /** Authentic but too old (schemes that put their replay window in the payload): 401. */
  | { kind: "expired"; problem: string };

/**
 * A provider plug-in: how its requests are verified, what its payloads look like and how they
 * become the neutral IdentityEvent. Everything provider-specific lives behind this shape.
 */
export interface WebhookProvider {
  /** Route `/webhooks/<name>`, tag and metadata value. */
  readonly name: string;
  /** The env binding holding its secret (for /health and error messages). */
  readonly secretBinding: string;
  configure(env: EnvValues): ProviderSetup;
  /**
   * `body`: the parsed JSON (or the verifier's decoded payload). `deliveryId`: the verifier's
   * idempotency key, when the scheme has one. `receivedAt`: for payload-level replay windows.
   */
  normalise(body: unknown, context: { deliveryId?: string; receivedAt: number }): NormaliseResult;
  /**
   * Answers an authenticated `GET` on the route, for senders that verify endpoints that way
   * (Okta's one-time `X-Okta-Verification-Challenge`). JSON body to send with 200, or undefined → 400.
   */
  answerGet?(headers: Headers): Record<string, unknown> | undefined;
}

/** Reads a string binding; empty or whitespace-only counts as not set. */
export function readBinding(env: EnvValues, name: string): string | undefined {
  const value = env[name];
  return typeof value === "string" && value.trim() ? value.trim() : undefined;
}

/**
 * A provider configured by a static shared token (Auth0, Okta, Supabase, Auth0 Log Streams):
 * not set → closed; shorter than MIN_STATIC_TOKEN_LENGTH → invalid (guessable).
 */
export function configureStaticToken(env: EnvValues, binding: string, verifierFor: (token: string) => Verifier): ProviderSetup {
  const token = readBinding(env, binding);
  if (!token) return { status: "not_configured" };
  if (token.length < MIN_STATIC_TOKEN_LENGTH) return { status: "invalid", problem: `must be at least ${MIN_STATIC_TOKEN_LENGTH} characters` };
  return { status: "configured", verify: verifierFor(token) };
}

/**
 * A provider configured by signing secrets. Several may be set, separated by spaces or commas
 * (`separator`), while a secret is rotated: a request matching any of them is genuine.
 * `check` throws with a reason when a secret is malformed.
 */
export function configureSigningSecrets(
  env: EnvValues,
  binding: string,
  verifierFor: (secrets: string[]) => Verifier,
  options: { separator?: RegExp; check?: (secret: string) => unknown } = {},
): ProviderSetup {
  const value = readBinding(env, binding);
  if (!value) return { status: "not_configured" };
  const secrets = value.split(options.separator ?? /[\s,]+/).filter(Boolean);
  for (const [index, secret] of secrets.entries()) {
    try {
      options.check?.(secret);
    } catch (error) {
      return { status: "invalid", problem: `secret #${index + 1} ${(error as Error).message}` };
    }
  }
  return { status: "configured", verify: verifierFor(secrets) };
}

/** Svix-signed providers (Clerk, Stack Auth) and Standard Webhooks senders (`webhook-*` headers). */
export function configureSvix(env: EnvValues, binding: string, headerPrefix: "svix" | "webhook", separator?: RegExp): ProviderSetup {
  return configureSigningSecrets(env, binding, (secrets) => createSvixVerifier(secrets, { headerPrefix }), {
    separator,
    check: decodeSvixSecret,
  });
}


/**
 * Shared first steps of every normaliser: find the event type, ignore types the bridge does not
 * handle, and check the payload of handled ones against its schema (400 naming the field).
 */
export function parseHandledEvent<S extends Record<string, z.ZodMiniType>>(
  body: unknown,
  schemas: S,
  /** Where the sender puts the event type: `type`, or e.g. `event` (WorkOS), `event_type` (ZITADEL). */
  typeField = "type",
): { kind: "parsed"; type: keyof S & string; payload: z.output<S[keyof S]> } | Exclude<NormaliseResult, { kind: "events" }> {
  const type = typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>)[typeField] : undefined;
  if (typeof type !== "string") return { kind: "invalid", problem: `${typeField}: expected a string` };
  if (!Object.hasOwn(schemas, type)) return { kind: "ignored", eventType: type };
  const parsed = (schemas[type] as z.ZodMiniType).safeParse(body);
  if (!parsed.success) return { kind: "invalid", problem: describeIssue(parsed.error), eventType: type };
  return { kind: "parsed", type, payload: parsed.data as z.output<S[keyof S]> };
}

export function single(event: IdentityEvent): NormaliseResult {
  return { kind: "events", events: [event] };
}

/** A non-empty string id (provider ids are never numbers, never blank). */
export const UserId = z.string().check(z.trim(), z.minLength(1, "must not be empty"));
/** Optional string that providers send as null when absent. */
export const optionalString = z.nullish(z.string());
/** Epoch seconds or milliseconds that a Date can hold (see toEpochMs): rejects 1e20 and the like. */
export const EpochTime = z.number().check(z.refine((value) => isRepresentableTime(toEpochMs(value)), "is not a representable time"));
export const optionalEpochTime = z.nullish(EpochTime);
export const metadataObject = z.nullish(z.record(z.string(), z.unknown()));
