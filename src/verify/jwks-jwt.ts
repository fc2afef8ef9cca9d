import type { Verifier } from "./verifier";
import { withTimeout } from "../with-timeout";

/**
 * Bodies that are RS256 JWTs signed by the sender (Kinde: `Content-Type: application/jwt`),
 * checked against the sender's JSON Web Key Set with WebCrypto only (RSASSA-PKCS1-v1_5, SHA-256).
 * Only `alg: RS256` is accepted: never `none`, never HS* (an HMAC "signed" with the public key).
 *
 * The key set is fetched once per isolate and issuer and reused by every request; a token whose
 * `kid` is not in it triggers one refetch (key rotation), at most once per REFETCH_COOLDOWN_MS so
 * that forged tokens with random `kid`s cannot turn the bridge into a load generator.
 */
export interface JwksJwtVerifierOptions {
  /** Where the key set lives, e.g. `https://<subdomain>.kinde.com/.well-known/jwks`. */
  jwksUrl: string;
  /** Header carrying the delivery's idempotency key (Kinde: `webhook-id`). */
  deliveryIdHeader?: string;
}

/** The key set is not reused for longer than this, so a key the sender revokes stops working. */
export const JWKS_MAX_AGE_MS = 60 * 60_000;
/** At most one refetch for an unknown `kid` per issuer in this window. */
export const REFETCH_COOLDOWN_MS = 30_000;
const FETCH_TIMEOUT_MS = 5_000;
/** RSA keys under 2048 bits are breakable; the JOSE spec (RFC 7518 §3.3) requires at least that. */
const MIN_MODULUS_BITS = 2048;

/**
 * The key set could not be fetched (network, 5xx, not a JWKS). Answered as a temporary failure
 * (503), not 401: the sender retries, and the event is not lost to an outage of its key endpoint.
 */
export class JwksUnavailableError extends Error {
  override readonly name = "JwksUnavailableError";
  readonly retry = true;
}

const ALGORITHM = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const encoder = new TextEncoder();
const COMPACT_JWS = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]+)$/;

interface KeySet {
  keys: ReadonlyMap<string, CryptoKey>;
  /** Keys without a `kid`: tried when the token names none. */
  unnamed: readonly CryptoKey[];
  fetchedAt: number;
}

interface IssuerKeys {
  current?: KeySet;
  loading?: Promise<KeySet>;
  lastRefetchAt: number;
}

/** Per isolate, per JWKS URL: shared by every verifier (configs are rebuilt per env object). */
const keySets = new Map<string, IssuerKeys>();

export function createJwksJwtVerifier(options: JwksJwtVerifierOptions): Verifier {
  return async ({ headers, body }, nowMs) => {
    let token: string;
    try {
      token = utf8.decode(body).trim();
    } catch {
      return { ok: false, reason: "body is not a JWT" };
    }
    const parts = COMPACT_JWS.exec(token);
    if (!parts) return { ok: false, reason: "body is not a JWT" };
    const [, encodedHeader = "", encodedPayload = "", encodedSignature = ""] = parts;

    const header = decodeJsonSegment(encodedHeader);
    if (!isObject(header)) return { ok: false, reason: "JWT header is not JSON" };
    if (header.alg !== "RS256") return { ok: false, reason: "JWT alg must be RS256" };
    if (header.kid !== undefined && typeof header.kid !== "string") return { ok: false, reason: "JWT kid is not a string" };
    const signature = decodeBase64Url(encodedSignature);
    if (!signature) return { ok: false, reason: "JWT signature is not base64url" };

    let candidates: readonly CryptoKey[];
    try {
      candidates = await keysFor(options.jwksUrl, header.kid, nowMs);
    } catch (error) {
      if (error instanceof JwksUnavailableError) return { ok: false, reason: "the issuer's JWKS is unavailable", temporary: true };
      throw error;
    }
    if (candidates.length === 0) return { ok: false, reason: "JWT is signed with a key the issuer does not publish" };
    const signed = encoder.encode(`${encodedHeader}.${encodedPayload}`);
    let genuine = false;
    for (const key of candidates) {
      if (await crypto.subtle.verify(ALGORITHM, key, signature, signed)) {
        genuine = true;
        break;
      }
    }
    if (!genuine) return { ok: false, reason: "JWT signature does not match" };

    // Authentic from here on: what the payload holds is the route's to judge (bad JSON → 400).
    const content = decodeBase64Url(encodedPayload);
    if (!content) return { ok: false, reason: "JWT payload is not base64url" };
    const claims = parseJson(content);
    // Senders may add the registered time claims; when they do, they hold.
    if (isObject(claims)) {
      if (typeof claims.exp === "number" && nowMs >= claims.exp * 1000) return { ok: false, reason: "JWT has expired" };
      if (typeof claims.nbf === "number" && nowMs < claims.nbf * 1000) return { ok: false, reason: "JWT is not valid yet" };
    }

    const deliveryId = options.deliveryIdHeader ? headers.get(options.deliveryIdHeader)?.trim() || undefined : undefined;
    return { ok: true, content, deliveryId };
  };
}

async function keysFor(jwksUrl: string, kid: string | undefined, nowMs: number): Promise<readonly CryptoKey[]> {
  let issuer = keySets.get(jwksUrl);
  if (!issuer) {
    issuer = { lastRefetchAt: Number.NEGATIVE_INFINITY };
    keySets.set(jwksUrl, issuer);
  }
  let set = issuer.current;
  if (!set || nowMs - set.fetchedAt > JWKS_MAX_AGE_MS) {
    try {
      set = await load(jwksUrl, issuer, nowMs);
    } catch (error) {
      // An expired set still beats no set while the sender's key endpoint is down.
      if (!set) throw error;
    }
  }
  const found = pick(set, kid);
  if (found.length > 0 || nowMs - issuer.lastRefetchAt < REFETCH_COOLDOWN_MS) return found;
  issuer.lastRefetchAt = nowMs;
  return pick(await load(jwksUrl, issuer, nowMs), kid);
}

function pick(set: KeySet, kid: string | undefined): readonly CryptoKey[] {
  if (kid === undefined) return [...set.keys.values(), ...set.unnamed];
  const key = set.keys.get(kid);
  return key ? [key] : [];
}

/** One fetch at a time per issuer; concurrent requests share it. */
function load(jwksUrl: string, issuer: IssuerKeys, nowMs: number): Promise<KeySet> {
  issuer.loading ??= fetchKeySet(jwksUrl, nowMs)
    .then((set) => {
      issuer.current = set;
      return set;
    })
    .finally(() => {
      issuer.loading = undefined;
    });
  return issuer.loading;
}

async function fetchKeySet(jwksUrl: string, nowMs: number): Promise<KeySet> {
  let document: unknown;
  try {
    document = await withTimeout(FETCH_TIMEOUT_MS, async (signal) => {
      const response = await fetch(jwksUrl, { headers: { accept: "application/json" }, signal });
      if (!response.ok) {
        await response.body?.cancel();
        throw new JwksUnavailableError(`JWKS answered ${response.status}`);
      }
      return response.json();
    });
  } catch (error) {
    if (error instanceof JwksUnavailableError) throw error;
    throw new JwksUnavailableError(`JWKS could not be fetched: ${(error as Error)?.name ?? "error"}`);
  }
  if (!isObject(document) || !Array.isArray(document.keys)) throw new JwksUnavailableError("JWKS has no keys array");

  const keys = new Map<string, CryptoKey>();
  const unnamed: CryptoKey[] = [];
  for (const jwk of document.keys) {
    const key = await importVerificationKey(jwk);
    if (!key) continue;
    if (typeof jwk.kid === "string") keys.set(jwk.kid, key);
    else unnamed.push(key);
  }
  return { keys, unnamed, fetchedAt: nowMs };
}

/** An RS256 signing key from a JWK; undefined for keys of other types or uses (skipped, not fatal). */
async function importVerificationKey(jwk: unknown): Promise<CryptoKey | undefined> {
  if (!isObject(jwk) || jwk.kty !== "RSA" || typeof jwk.n !== "string" || typeof jwk.e !== "string") return undefined;
  if (jwk.alg !== undefined && jwk.alg !== "RS256") return undefined;
  if (jwk.use !== undefined && jwk.use !== "sig") return undefined;
  const modulus = decodeBase64Url(jwk.n);
  if (!modulus || modulus.length * 8 < MIN_MODULUS_BITS) return undefined;
  try {
    // Only the public parameters: a published private key must never become a verification key by accident.
    return await crypto.subtle.importKey("jwk", { kty: "RSA", n: jwk.n, e: jwk.e, alg: "RS256", ext: true }, ALGORITHM, false, ["verify"]);
  } catch {
    return undefined;
  }
}

function decodeJsonSegment(segment: string): unknown {
  const bytes = decodeBase64Url(segment);
  return bytes && parseJson(bytes);
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch {
    return undefined;
  }
}

function decodeBase64Url(segment: string): Uint8Array | undefined {
  const base64 = segment.replaceAll("-", "+").replaceAll("_", "/");
  try {
    const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    return Uint8Array.from(binary, (char) => char.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
