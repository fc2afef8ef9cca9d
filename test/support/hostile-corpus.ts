/**
 * A corpus of malformed and malicious requests for every webhook route (and, in
 * test/worker/hostile-input.test.ts, every admin route), each with the answer the bridge owes it.
 *
 * The cases that need a correctly signed body ("authentic sender, broken payload") use a signer
 * table, WEBHOOK_SIGNERS: one entry per provider, signing exactly as the provider does, from its
 * documentation (with the provider's own library where one exists: `svix` for Clerk, `jose` for
 * Kinde's JWTs), never with the bridge's verifiers. Each entry says where the provider puts the
 * event type and the user in its payload (batch senders included), so every generic case reaches
 * the same place for every provider. A provider without an entry, or whose secret is not set,
 * still gets every case, unsigned: then the right answer is always 401 (or 404 while its secret
 * is not configured).
 *
 * Web APIs only (no node:), so the worker tests can import it.
 */
import { CompactSign, base64url, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import { Webhook } from "svix";
import auth0LogsCreated from "../fixtures/auth0-logs/user.created.json";
import auth0Created from "../fixtures/auth0/user.created.json";
import clerkCreated from "../fixtures/clerk/user.created.json";
import kindeCreated from "../fixtures/kinde/user.created.json";
import logtoCreated from "../fixtures/logto/user.created.json";
import oktaCreated from "../fixtures/okta/user.created.json";
import stackAuthCreated from "../fixtures/stack-auth/user.created.json";
import standardCreated from "../fixtures/standard/user.created.json";
import supabaseCreated from "../fixtures/supabase/user.created.json";
import workosCreated from "../fixtures/workos/user.created.json";
import zitadelCreated from "../fixtures/zitadel/user.created.json";
import { hmacSha256Hex, logtoSignatureHeaders, timestampedHmacHex } from "../worker/providers/sign";
import { KINDE_DEV_JWKS, KINDE_DEV_KID, KINDE_DEV_PRIVATE_JWK } from "./kinde-dev-key";
import { DEV_SECRETS } from "./secrets";

// biome-ignore lint: payloads are free-form JSON
export type Json = any;
/** Header lines in order; a name may repeat (a duplicated header). */
export type HeaderList = Array<[name: string, value: string]>;

export type CorpusCategory =
  | "credentials"
  | "invalid JSON"
  | "wrong shape"
  | "ids"
  | "unicode ids"
  | "ignored types"
  | "odd headers"
  | "methods"
  | "paths"
  | "oversized";

export interface HostileRequest {
  method: string;
  /** Path (and query) on the bridge. */
  path: string;
  headers: HeaderList;
  body?: Uint8Array;
}

export interface HostileCase {
  /** What is wrong with the request, readable in a failure message; unique per route. */
  name: string;
  category: CorpusCategory;
  request: HostileRequest;
  /** The exact status the bridge owes this request. */
  status: number;
  /** The `error` code of the JSON answer, for 4xx; for 2xx the `status` field of the answer. */
  outcome?: string;
  /** User ids the request names: none of them may ever reach orq.ai. */
  userIds: string[];
  /** The request carries the provider's genuine credentials for its body: it gets past verification. */
  signed: boolean;
}

export interface SignOptions {
  /** The scheme's message id, where it has one. */
  id?: string;
  /** Seconds since epoch, for schemes that sign a timestamp. */
  timestamp?: number;
}

/** Where a value sits in a payload: keys and array indexes from the top. */
export type Path = ReadonlyArray<string | number>;

/** A request body and the headers that go with it. */
export interface SignedRequest {
  headers: HeaderList;
  body: Uint8Array;
}

/** How a provider's genuine requests look: enough to build every "authentic but hostile" case. */
export interface WebhookSigner {
  /** A fresh copy of a handled event (a user creation) for `userId`, as the provider sends it. */
  event(userId: string): Json;
  /**
   * Where the generic cases write into `event()`'s payload: the event type, the user's id, and the
   * object that carries the user (for batch senders, inside the first entry of the batch).
   */
  at: { type: Path; userId: Path; user: Path };
  /**
   * The request body that carries these payload bytes, for senders whose body is not the JSON
   * itself (Kinde: a JWT whose payload they are). Absent: the bytes are the body.
   */
  encode?(payload: Uint8Array): Promise<Uint8Array>;
  /** Authenticating headers for exactly this request body, content-type included. */
  sign(body: Uint8Array, options?: SignOptions): Promise<HeaderList>;
  /** Requests carrying this valid `payload` with credentials that look plausible and must be refused (401). */
  forgeries(payload: Uint8Array): Promise<Array<[name: string, request: SignedRequest]>>;
  /** Provider-specific ways to break a signed event's shape: each must get 400 invalid_payload. */
  shapeBreakers: Array<[name: string, breakIt: (payload: Json) => void]>;
  /** Generic body cases whose answer differs for this provider's documented format, by case name (say why). */
  expectations?: Readonly<Record<string, { status: number; outcome: string }>>;
  /**
   * A key set the bridge must trust for these signatures (Kinde: the issuer's JWKS). The test
   * serves it on its JWKS server and points `binding` at that issuer.
   */
  trust?: { binding: string; jwks: { keys: readonly unknown[] } };
  /** The scheme binds the body (a signature), not only the sender (a static token). */
  signsBody: boolean;
  /** Headers whose every byte the verifier checks (ids, timestamps, tokens; not a signature list, whose encoding has slack: base64 bits, hex case). */
  checkedHeaders: string[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
// ignoreBOM: a leading byte-order mark is part of the signed bytes, so it must stay in the signed text.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const MIB = 1024 * 1024;

/** Written into a payload where JSON cannot express the value; `serialise` swaps in the raw text. */
const RAW = "\u0001raw:";
export const raw = (text: string) => `${RAW}${text}`;

export function serialise(payload: Json): Uint8Array {
  const json = JSON.stringify(payload).replace(/"\\u0001raw:(?:[^"\\]|\\.)*"/g, (literal) => (JSON.parse(literal) as string).slice(RAW.length));
  return encoder.encode(json);
}

export const text = (value: string) => encoder.encode(value);

function replaceHeader(headers: HeaderList, name: string, value: string | undefined): HeaderList {
  const kept = headers.filter(([key]) => key.toLowerCase() !== name);
  return value === undefined ? kept : [...kept, [name, value]];
}

function headerValue(headers: HeaderList, name: string): string {
  return headers.find(([key]) => key.toLowerCase() === name)?.[1] ?? "";
}

/** The object holding the value at `path`. */
function parentAt(payload: Json, path: Path): Json {
  return path.slice(0, -1).reduce((node: Json, key) => node[key], payload);
}

/** Sets the value at `path`; `undefined` deletes it. */
function setAt(payload: Json, path: Path, value: unknown): void {
  const parent = parentAt(payload, path);
  const key = path.at(-1)!;
  if (value === undefined) delete parent[key];
  else parent[key] = value;
}

/** `{…}` with keys named `__proto__` / `constructor` of its own, so JSON.stringify writes them as sent. */
function defineOwn(target: Json, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });
}

/** `payload` as JSON, changed by `change` (for forgeries that re-sign a replayed or altered event). */
function altered(payload: Uint8Array, change: (event: Json) => void): Uint8Array {
  const event = JSON.parse(decoder.decode(payload));
  change(event);
  return serialise(event);
}

const JSON_CONTENT: [string, string] = ["content-type", "application/json"];
const sameBody = (body: Uint8Array, list: Array<[string, HeaderList]>): Array<[string, SignedRequest]> =>
  list.map(([name, headers]) => [name, { headers, body }]);
const toHeaderList = (record: Record<string, string>): HeaderList => Object.entries(record);

// ---------------------------------------------------------------------------------------------------------------
// Signing schemes and their forgeries
// ---------------------------------------------------------------------------------------------------------------

/**
 * Svix (Clerk, Stack Auth) and Standard Webhooks, which differ only in the header prefix: the svix
 * library for text bodies; the same HMAC by hand for bytes that are not UTF-8.
 */
async function svixSign(secret: string, body: Uint8Array, options: SignOptions = {}, prefix: SvixPrefix = "svix"): Promise<HeaderList> {
  const id = options.id ?? `msg_${crypto.randomUUID()}`;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  let signature: string;
  try {
    signature = new Webhook(secret).sign(id, new Date(timestamp * 1000), strictUtf8.decode(body));
  } catch {
    const key = await crypto.subtle.importKey(
      "raw",
      Uint8Array.from(atob(secret.replace(/^whsec_/, "")), (c) => c.charCodeAt(0)),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const signed = new Uint8Array([...encoder.encode(`${id}.${timestamp}.`), ...body]);
    signature = `v1,${btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.sign("HMAC", key, signed))))}`;
  }
  return [
    JSON_CONTENT,
    [`${prefix}-id`, id],
    [`${prefix}-timestamp`, String(timestamp)],
    [`${prefix}-signature`, signature],
  ];
}

type SvixPrefix = "svix" | "webhook";

async function svixForgeries(secret: string, body: Uint8Array, prefix: SvixPrefix = "svix"): Promise<Array<[string, SignedRequest]>> {
  const [idHeader, timestampHeader, signatureHeader] = [`${prefix}-id`, `${prefix}-timestamp`, `${prefix}-signature`];
  const now = Math.floor(Date.now() / 1000);
  const valid = await svixSign(secret, body, {}, prefix);
  const validSignature = headerValue(valid, signatureHeader);
  const signatureBytes = validSignature.slice(3);
  const otherSecret = `whsec_${btoa("another-secret-of-the-same-size!")}`;
  const otherBody = new Uint8Array([...body, 0x20]);
  const swap = (name: string, value: string | undefined): HeaderList => replaceHeader(valid, name, value);
  const signedAt = async (timestamp: number) => svixSign(secret, body, { timestamp }, prefix);

  return sameBody(body, [
    ["a signature made with another secret", await svixSign(otherSecret, body, {}, prefix)],
    ["a signature for a different body (one trailing space)", replaceHeader(valid, signatureHeader, headerValue(await svixSign(secret, otherBody, { id: headerValue(valid, idHeader), timestamp: Number(headerValue(valid, timestampHeader)) }, prefix), signatureHeader))],
    [`the ${idHeader} of another message`, swap(idHeader, "msg_someone_else")],
    [`an empty ${idHeader}`, swap(idHeader, "")],
    [`no ${idHeader} header`, swap(idHeader, undefined)],
    [`no ${timestampHeader} header`, swap(timestampHeader, undefined)],
    [`no ${signatureHeader} header`, swap(signatureHeader, undefined)],
    ["a replayed message signed 301 s ago", await signedAt(now - 301)],
    ["a replayed message signed an hour ago", await signedAt(now - 3600)],
    ["a replayed message signed 30 days ago", await signedAt(now - 30 * 86400)],
    ["a message signed at the epoch (timestamp 0)", await signedAt(0)],
    ["a message signed at timestamp 1", await signedAt(1)],
    // The corpus is built once and sent over the following seconds: a margin keeps this case outside the window.
    ["a future timestamp, 360 s ahead", await signedAt(now + 360)],
    ["a future timestamp, a day ahead", await signedAt(now + 86400)],
    ["a future timestamp in the year 33658", await signedAt(999_999_999_999)],
    [`an empty ${timestampHeader}`, swap(timestampHeader, "")],
    [`a ${timestampHeader} in words`, swap(timestampHeader, "now")],
    [`a ${timestampHeader} in exponent notation`, swap(timestampHeader, "1.7e9")],
    [`a negative ${timestampHeader}`, swap(timestampHeader, `-${now}`)],
    [`a fractional ${timestampHeader}`, swap(timestampHeader, `${now}.5`)],
    [`a hexadecimal ${timestampHeader}`, swap(timestampHeader, `0x${now.toString(16)}`)],
    [`a ${timestampHeader} with a plus sign`, swap(timestampHeader, `+${now}`)],
    [`a ${timestampHeader} in milliseconds`, swap(timestampHeader, String(Date.now()))],
    [`a 40-digit ${timestampHeader}`, swap(timestampHeader, "9".repeat(40))],
    [`a ${timestampHeader} in superscript digits`, swap(timestampHeader, "\u00b9\u00b2\u00b3")],
    [`an empty ${signatureHeader}`, swap(signatureHeader, "")],
    ["a signature list holding only 'v1,'", swap(signatureHeader, "v1,")],
    ["a signature list holding only 'v1'", swap(signatureHeader, "v1")],
    ["the right signature labelled v2", swap(signatureHeader, `v2,${signatureBytes}`)],
    ["the right signature labelled V1 (upper case)", swap(signatureHeader, `V1,${signatureBytes}`)],
    ["the right signature after a space instead of a comma", swap(signatureHeader, `v1 ${signatureBytes}`)],
    ["the right signature truncated by 4 characters", swap(signatureHeader, `v1,${signatureBytes.slice(0, -4)}`)],
    ["the signing secret itself as the signature", swap(signatureHeader, `v1,${secret.replace(/^whsec_/, "")}`)],
    ["1000 bogus v1 entries (a 50 KB header)", swap(signatureHeader, Array.from({ length: 1000 }, (_, i) => `v1,${btoa(`bogus-signature-${String(i).padStart(16, "0")}`)}`).join(" "))],
    [`a duplicated ${idHeader} header`, [...valid, [idHeader, "msg_second"]]],
    [`a duplicated ${timestampHeader} header`, [...valid, [timestampHeader, String(now)]]],
    ["the secret sent as a bearer token instead of a signature", [JSON_CONTENT, ["authorization", `Bearer ${secret}`]]],
  ]);
}

/**
 * A static token in `Authorization`: `Bearer <token>` (Auth0 Event Streams, Supabase) or the whole
 * header value as configured (`raw`: Okta Event Hooks, Auth0 Log Streams).
 */
function tokenSign(token: string, scheme: "Bearer" | "raw"): () => Promise<HeaderList> {
  return async () => [JSON_CONTENT, ["authorization", scheme === "raw" ? token : `Bearer ${token}`]];
}

async function tokenForgeries(token: string, body: Uint8Array, scheme: "Bearer" | "raw" = "Bearer"): Promise<Array<[string, SignedRequest]>> {
  const as = (value: string) => (scheme === "raw" ? value : `Bearer ${value}`);
  const last = token.at(-1) === "x" ? "y" : "x";
  const auth = (...values: string[]): HeaderList => [JSON_CONTENT, ...values.map((value): [string, string] => ["authorization", value])];
  return sameBody(body, [
    ["no Authorization header", [JSON_CONTENT]],
    ["'Bearer' without a token", auth("Bearer")],
    ["a wrong token of the same length", auth(as("w".repeat(token.length)))],
    ["the token minus its last character", auth(as(token.slice(0, -1)))],
    ["the token plus one character", auth(as(`${token}x`))],
    ["the token with its last character changed", auth(as(`${token.slice(0, -1)}${last}`))],
    ["the token with the Basic scheme", auth(`Basic ${token}`)],
    // Bearer senders must name the scheme; raw senders send the token alone, so a scheme Okta or Auth0 never adds is wrong.
    scheme === "raw" ? ["the token with a Bearer scheme the sender never adds", auth(`Bearer ${token}`)] : ["the token without a scheme", auth(token)],
    scheme === "raw" ? ["the token in quotes", auth(`"${token}"`)] : ["the token after two spaces", auth(`Bearer  ${token}`)],
    ["the token base64-encoded", auth(as(btoa(token)))],
    ["a duplicated Authorization header (the right one twice)", auth(as(token), as(token))],
    ["a bogus Authorization header before the right one", auth(as("bogus"), as(token))],
    ["a 64 KB token", auth(as("t".repeat(64 * 1024)))],
    ["Latin-1 bytes as the token", auth(as("\u00ff\u00fe\u00e9"))],
    ["the right token in another header", [JSON_CONTENT, ["x-authorization", as(token)]]],
    ["the right token in a cookie", [JSON_CONTENT, ["cookie", `token=${token}`]]],
  ]);
}

interface TimestampedHmacScheme {
  header: string;
  unit: "ms" | "s";
  windowSeconds: number;
  /** WorkOS writes `t=…, v1=…`, ZITADEL `t=…,v1=…`. */
  separator: ", " | ",";
}

/** `<header>: t=<timestamp>,v1=<hex HMAC-SHA256(secret, `${t}.${body}`)>` (WorkOS, ZITADEL). */
async function timestampedHmacSign(secret: string, scheme: TimestampedHmacScheme, body: Uint8Array, timestamp?: number | string): Promise<HeaderList> {
  const t = timestamp ?? (scheme.unit === "ms" ? Date.now() : Math.floor(Date.now() / 1000));
  return [JSON_CONTENT, [scheme.header, `t=${t}${scheme.separator}v1=${await timestampedHmacHex(secret, t, body)}`]];
}

async function timestampedHmacForgeries(secret: string, scheme: TimestampedHmacScheme, body: Uint8Array): Promise<Array<[string, SignedRequest]>> {
  const perSecond = scheme.unit === "ms" ? 1000 : 1;
  const now = scheme.unit === "ms" ? Date.now() : Math.floor(Date.now() / 1000);
  const { header, separator, windowSeconds } = scheme;
  const value = (...parts: string[]): HeaderList => [JSON_CONTENT, [header, parts.join(separator)]];
  const v1 = (t: number | string, bytes: Uint8Array = body, key: string = secret) => timestampedHmacHex(key, t, bytes);
  /** Signed correctly for a timestamp the bridge must refuse (stale, future or malformed). */
  const signedAt = async (t: number | string) => value(`t=${t}`, `v1=${await v1(t)}`);
  const genuine = await v1(now);
  const old = now - 3600 * perSecond;
  // The corpus is built once and sent over the following seconds: margins keep the cases outside the window.
  return sameBody(body, [
    [`no ${header} header`, [JSON_CONTENT]],
    [`an empty ${header}`, value("")],
    ["a signature made with another secret", value(`t=${now}`, `v1=${await v1(now, body, "another-secret-of-the-same-size")}`)],
    ["a signature for a different body (one trailing space)", value(`t=${now}`, `v1=${await v1(now, new Uint8Array([...body, 0x20]))}`)],
    ["an HMAC of the body alone, without the timestamp", value(`t=${now}`, `v1=${await hmacSha256Hex(secret, body)}`)],
    [`a replayed message signed ${windowSeconds + 20} s ago`, await signedAt(now - (windowSeconds + 20) * perSecond)],
    ["a replayed message signed an hour ago", await signedAt(old)],
    ["a replayed message signed 30 days ago", await signedAt(now - 30 * 86400 * perSecond)],
    ["a message signed at the epoch (t=0)", await signedAt(0)],
    [`a future timestamp, ${windowSeconds + 60} s ahead`, await signedAt(now + (windowSeconds + 60) * perSecond)],
    ["a future timestamp, a day ahead", await signedAt(now + 86400 * perSecond)],
    scheme.unit === "ms"
      ? ["t in seconds instead of milliseconds", await signedAt(Math.floor(Date.now() / 1000))]
      : ["t in milliseconds instead of seconds", await signedAt(Date.now())],
    ["no t= entry", value(`v1=${genuine}`)],
    ["no v1= entry", value(`t=${now}`)],
    ["t in words (signed as sent)", await signedAt("now")],
    ["an empty t (signed as sent)", await signedAt("")],
    ["a negative t (signed as sent)", await signedAt(`-${now}`)],
    ["a fractional t (signed as sent)", await signedAt(`${now}.5`)],
    ["a hexadecimal t (signed as sent)", await signedAt(`0x${now.toString(16)}`)],
    ["t with a plus sign (signed as sent)", await signedAt(`+${now}`)],
    ["t in exponent notation (signed as sent)", await signedAt(`${(now / 10 ** 9).toFixed(9)}e9`)],
    ["a 40-digit t (signed as sent)", await signedAt("9".repeat(40))],
    ["t in superscript digits (signed as sent)", await signedAt("\u00b9\u00b2\u00b3")],
    ["the right signature labelled v0", value(`t=${now}`, `v0=${genuine}`)],
    ["the right signature labelled v2", value(`t=${now}`, `v2=${genuine}`)],
    ["the right signature labelled V1 (upper case)", value(`t=${now}`, `V1=${genuine}`)],
    ["the right signature truncated by 2 hex digits", value(`t=${now}`, `v1=${genuine.slice(0, -2)}`)],
    ["the right signature plus one hex digit", value(`t=${now}`, `v1=${genuine}0`)],
    ["the right signature in base64 instead of hex", value(`t=${now}`, `v1=${btoa(String.fromCharCode(...genuine.match(/../g)!.map((pair) => Number.parseInt(pair, 16))))}`)],
    ["the signing secret itself as the signature", value(`t=${now}`, `v1=${secret}`)],
    ["a replayed signature behind a fresh t= put in front", value(`t=${now}`, `t=${old}`, `v1=${await v1(old)}`)],
    [`the right value under another header (x-${header})`, [JSON_CONTENT, [`x-${header}`, `t=${now}${separator}v1=${genuine}`]]],
    ["the secret sent as a bearer token instead of a signature", [JSON_CONTENT, ["authorization", `Bearer ${secret}`]]],
  ]);
}

/** Logto: `logto-signature-sha-256: <hex HMAC-SHA256(signing key, body)>`; the payload's `createdAt` is the replay guard. */
const LOGTO_HEADER = "logto-signature-sha-256";

async function logtoForgeries(key: string, body: Uint8Array): Promise<Array<[string, SignedRequest]>> {
  const genuine = await hmacSha256Hex(key, body);
  const only = (value: string): HeaderList => [JSON_CONTENT, [LOGTO_HEADER, value]];
  const sha256Hex = async (bytes: Uint8Array) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
  /** Correctly signed, but sent `ageMs` after its `createdAt`: a replay. */
  const replayed = async (name: string, createdAt: number): Promise<[string, SignedRequest]> => {
    const old = altered(body, (event) => (event.createdAt = new Date(createdAt).toISOString()));
    return [name, { headers: toHeaderList(await logtoSignatureHeaders(old, key)), body: old }];
  };
  const now = Date.now();
  return [
    ...sameBody(body, [
      [`no ${LOGTO_HEADER} header`, [JSON_CONTENT]],
      [`an empty ${LOGTO_HEADER}`, only("")],
      ["a signature made with another key", only(await hmacSha256Hex("another-signing-key-of-same-size!!", body))],
      ["a signature for a different body (one trailing space)", only(await hmacSha256Hex(key, new Uint8Array([...body, 0x20])))],
      ["a plain SHA-256 of the body, without the key", only(await sha256Hex(body))],
      ["the right signature truncated by 2 hex digits", only(genuine.slice(0, -2))],
      ["the right signature plus one hex digit", only(`${genuine}0`)],
      ["the right signature with a sha256= prefix", only(`sha256=${genuine}`)],
      ["the right signature in base64 instead of hex", only(btoa(String.fromCharCode(...genuine.match(/../g)!.map((pair) => Number.parseInt(pair, 16)))))],
      ["the signing key itself as the signature", only(key)],
      ["the right signature under another header (logto-signature)", [JSON_CONTENT, ["logto-signature", genuine]]],
      ["two signatures in one header", only(`${genuine},${genuine}`)],
      ["the key sent as a bearer token instead of a signature", [JSON_CONTENT, ["authorization", `Bearer ${key}`]]],
    ]),
    // Authentic, but older than Logto's 5-minute replay window (margin: the corpus is sent over the following seconds).
    await replayed("a replayed payload created 6 minutes ago", now - 6 * 60_000),
    await replayed("a replayed payload created an hour ago", now - 3_600_000),
    await replayed("a replayed payload created at the epoch", 0),
  ];
}

// ---- Kinde: the body is an RS256 JWT, signed with jose against the dev key set (test/support/kinde-dev-key.ts)

let kindeKeys: Promise<{ genuine: CryptoKey; attacker: CryptoKey; attackerJwk: JWK }> | undefined;
function kindeSigningKeys() {
  kindeKeys ??= (async () => {
    const genuine = (await importJWK({ ...KINDE_DEV_PRIVATE_JWK }, "RS256")) as CryptoKey;
    const attacker = await generateKeyPair("RS256", { extractable: true });
    return { genuine, attacker: attacker.privateKey, attackerJwk: { ...(await exportJWK(attacker.publicKey)), kid: "attacker-key", alg: "RS256", use: "sig" } };
  })();
  return kindeKeys;
}

/** A compact JWS over exactly these payload bytes (which need not be JSON: CompactSign signs raw bytes). */
async function kindeJwt(payload: Uint8Array, header: Record<string, unknown> = {}, key?: CryptoKey | Uint8Array): Promise<string> {
  const protectedHeader = { alg: "RS256", kid: KINDE_DEV_KID, typ: "JWT", ...header } as Record<string, unknown>;
  for (const name of Object.keys(protectedHeader)) if (protectedHeader[name] === undefined) delete protectedHeader[name];
  return new CompactSign(payload).setProtectedHeader(protectedHeader as { alg: string }).sign(key ?? (await kindeSigningKeys()).genuine);
}

const kindeHeaders = (options: SignOptions = {}): HeaderList => [
  ["content-type", "application/jwt"],
  ["webhook-id", options.id ?? `msg_${crypto.randomUUID()}`],
];

async function kindeForgeries(payload: Uint8Array): Promise<Array<[string, SignedRequest]>> {
  const { attacker, attackerJwk } = await kindeSigningKeys();
  const jwt = await kindeJwt(payload);
  const [head = "", claims = "", signature = ""] = jwt.split(".");
  const b64 = (value: string | Uint8Array) => base64url.encode(value);
  const now = Date.now();
  const at = (ms: number) => altered(payload, (event) => (event.timestamp = event.event_timestamp = new Date(ms).toISOString()));
  const claim = (name: string, value: number) => altered(payload, (event) => (event[name] = value));
  const request = (body: string, headers: HeaderList = kindeHeaders()): SignedRequest => ({ headers, body: text(body) });
  const publicJwk = KINDE_DEV_JWKS.keys[0];
  const otherPayload = altered(payload, (event) => (event.data.user.id = `${event.data.user.id}_other`));
  return [
    ["a JWT signed with another key under the published kid", request(await kindeJwt(payload, {}, attacker))],
    ["a JWT signed with another key under an unknown kid", request(await kindeJwt(payload, { kid: "attacker-key" }, attacker))],
    ["a JWT signed with another key and no kid", request(await kindeJwt(payload, { kid: undefined }, attacker))],
    ["a JWT carrying the attacker's own key in its header (jwk)", request(await kindeJwt(payload, { kid: "attacker-key", jwk: attackerJwk }, attacker))],
    ["a JWT pointing at the attacker's key set (jku)", request(await kindeJwt(payload, { kid: "attacker-key", jku: "https://evil.example/.well-known/jwks" }, attacker))],
    ["an unsigned JWT (alg none)", request(`${b64(JSON.stringify({ alg: "none", typ: "JWT" }))}.${claims}.`)],
    ["alg none with the genuine signature kept", request(`${b64(JSON.stringify({ alg: "none", kid: KINDE_DEV_KID }))}.${claims}.${signature}`)],
    ["an HS256 JWT keyed with the published public key", request(await kindeJwt(payload, { alg: "HS256" }, text(JSON.stringify(publicJwk))))],
    ["an HS256 JWT keyed with the public key's modulus", request(await kindeJwt(payload, { alg: "HS256" }, base64url.decode(publicJwk!.n)))],
    ["an RS512 JWT signed with the genuine key", request(await kindeJwt(payload, { alg: "RS512" }, (await importJWK({ ...KINDE_DEV_PRIVATE_JWK, alg: "RS512" }, "RS512")) as CryptoKey))],
    ["the genuine signature over another payload", request(`${head}.${b64(otherPayload)}.${signature}`)],
    ["the genuine JWT with its signature truncated", request(`${head}.${claims}.${signature.slice(0, -4)}`)],
    ["the genuine JWT without its signature", request(`${head}.${claims}.`)],
    ["the genuine JWT's header and payload only", request(`${head}.${claims}`)],
    ["the genuine JWT in base64 with padding", request(`${head}.${claims}.${signature}==`)],
    ["the genuine JWT twice, on two lines", request(`${jwt}\n${jwt}`)],
    ["the genuine JWT as a JWS JSON serialization", request(JSON.stringify({ protected: head, payload: claims, signature }), [["content-type", "application/jose+json"]])],
    ["the payload as the body and the genuine JWT in Authorization", { headers: [JSON_CONTENT, ["authorization", `Bearer ${jwt}`]], body: payload }],
    // Authentic, but outside Kinde's 5-minute replay window on the payload's timestamp (with margins).
    ["a replayed JWT whose timestamp is 6 minutes old", request(await kindeJwt(at(now - 6 * 60_000)))],
    ["a replayed JWT whose timestamp is an hour old", request(await kindeJwt(at(now - 3_600_000)))],
    ["a replayed JWT whose timestamp is at the epoch", request(await kindeJwt(at(0)))],
    ["a JWT whose timestamp is 6 minutes ahead", request(await kindeJwt(at(now + 6 * 60_000)))],
    ["a JWT whose timestamp is a day ahead", request(await kindeJwt(at(now + 86_400_000)))],
    ["a JWT with an exp claim a minute in the past", request(await kindeJwt(claim("exp", Math.floor(now / 1000) - 60)))],
    ["a JWT with an nbf claim an hour ahead", request(await kindeJwt(claim("nbf", Math.floor(now / 1000) + 3600)))],
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// The signer table
// ---------------------------------------------------------------------------------------------------------------

const clerkSecret = DEV_SECRETS.CLERK_WEBHOOK_SIGNING_SECRET;
const auth0Token = DEV_SECRETS.AUTH0_WEBHOOK_TOKEN;
/** `{ type, data: { id, … } }`: Clerk, Stack Auth, Standard Webhooks. */
const TYPE_AND_DATA = { type: ["type"], userId: ["data", "id"], user: ["data"] } as const;
const freshClone = (fixture: Json, userId: string, path: Path, patch: (payload: Json) => void = () => {}): Json => {
  const payload = structuredClone(fixture) as Json;
  setAt(payload, path, userId);
  patch(payload);
  return payload;
};

const clerkSigner: WebhookSigner = {
  event: (userId) => freshClone(clerkCreated, userId, TYPE_AND_DATA.userId),
  at: TYPE_AND_DATA,
  sign: (body, options) => svixSign(clerkSecret, body, options),
  forgeries: (body) => svixForgeries(clerkSecret, body),
  signsBody: true,
  checkedHeaders: ["svix-id", "svix-timestamp"],
  shapeBreakers: [
    ["timestamp in words", (p) => (p.timestamp = "yesterday")],
    ["timestamp null", (p) => (p.timestamp = null)],
    ["timestamp beyond any number (1e400)", (p) => (p.timestamp = raw("1e400"))],
    ["timestamp missing", (p) => delete p.timestamp],
    ["data missing", (p) => delete p.data],
    ["data null", (p) => (p.data = null)],
    ["data a string", (p) => (p.data = "user")],
    ["data an array", (p) => (p.data = [p.data])],
    ["email_addresses a string", (p) => (p.data.email_addresses = "a@example.com")],
    ["email_addresses holding numbers", (p) => (p.data.email_addresses = [1, 2])],
    ["an email address entry without its address", (p) => (p.data.email_addresses = [{ id: "idn_1" }])],
    ["public_metadata a string", (p) => (p.data.public_metadata = "plan=pro")],
    ["public_metadata an array", (p) => (p.data.public_metadata = ["plan"])],
    ["first_name a number", (p) => (p.data.first_name = 42)],
    ["image_url an object", (p) => (p.data.image_url = { url: "https://x" })],
    ["created_at in words", (p) => (p.data.created_at = "yesterday")],
    // A number zod accepts but no Date can hold: the mapper must not turn it into an exception.
    ["created_at beyond the representable date range (1e20 ms)", (p) => (p.data.created_at = 1e20)],
    ["updated_at a string", (p) => (p.data.updated_at = "later")],
  ],
};

const auth0Signer: WebhookSigner = {
  event: (userId) => freshClone(auth0Created, userId, ["data", "object", "user_id"], (p) => (p.id = `evt_${crypto.randomUUID()}`)),
  at: { type: ["type"], userId: ["data", "object", "user_id"], user: ["data"] },
  sign: tokenSign(auth0Token, "Bearer"),
  forgeries: (body) => tokenForgeries(auth0Token, body),
  signsBody: false,
  checkedHeaders: ["authorization"],
  shapeBreakers: [
    ["an empty CloudEvent id", (p) => (p.id = "")],
    ["a numeric CloudEvent id", (p) => (p.id = 42)],
    ["no CloudEvent id", (p) => delete p.id],
    ["time in words", (p) => (p.time = "not a date")],
    ["time without a time of day", (p) => (p.time = "2025-02-01")],
    ["time without an offset", (p) => (p.time = "2025-02-01T12:34:56")],
    ["time as epoch seconds", (p) => (p.time = 1738413296)],
    ["time on the 45th of the 13th month", (p) => (p.time = "2025-13-45T12:34:56Z")],
    ["time null", (p) => (p.time = null)],
    ["data missing", (p) => delete p.data],
    ["data.object missing", (p) => delete p.data.object],
    ["data.object null", (p) => (p.data.object = null)],
    ["data.object an array", (p) => (p.data.object = [p.data.object])],
    ["app_metadata a string", (p) => (p.data.object.app_metadata = "pro")],
    ["app_metadata an array", (p) => (p.data.object.app_metadata = ["pro"])],
    ["email a number", (p) => (p.data.object.email = 42)],
    ["created_at a number", (p) => (p.data.object.created_at = 1738413296)],
    ["picture an object", (p) => (p.data.object.picture = { url: "https://x" })],
  ],
};

/** `{ type, data: { id, … } }` payloads signed the Svix way (Stack Auth via Svix, Standard Webhooks). */
function svixStyleSigner(fixture: Json, secret: string, prefix: SvixPrefix, shapeBreakers: WebhookSigner["shapeBreakers"]): WebhookSigner {
  return {
    event: (userId) => freshClone(fixture, userId, TYPE_AND_DATA.userId),
    at: TYPE_AND_DATA,
    sign: (body, options) => svixSign(secret, body, options, prefix),
    forgeries: (body) => svixForgeries(secret, body, prefix),
    signsBody: true,
    checkedHeaders: [`${prefix}-id`, `${prefix}-timestamp`],
    shapeBreakers,
  };
}

const stackAuthSigner = svixStyleSigner(stackAuthCreated, DEV_SECRETS.STACK_AUTH_WEBHOOK_SECRET, "svix", [
  ["data missing", (p) => delete p.data],
  ["data null", (p) => (p.data = null)],
  ["primary_email a number", (p) => (p.data.primary_email = 42)],
  ["display_name an object", (p) => (p.data.display_name = { first: "John" })],
  ["profile_image_url an array", (p) => (p.data.profile_image_url = ["https://x"])],
  ["client_read_only_metadata a string", (p) => (p.data.client_read_only_metadata = "plan=pro")],
  ["signed_up_at_millis in words", (p) => (p.data.signed_up_at_millis = "yesterday")],
  ["signed_up_at_millis beyond the representable date range (1e20 ms)", (p) => (p.data.signed_up_at_millis = 1e20)],
]);

const standardSigner = svixStyleSigner(standardCreated, DEV_SECRETS.STANDARD_WEBHOOK_SECRET, "webhook", [
  ["timestamp in words", (p) => (p.timestamp = "yesterday")],
  ["a negative timestamp", (p) => (p.timestamp = -1)],
  // No "timestamp missing": a Standard Webhooks body without `timestamp` is valid and ordered by the
  // signed `webhook-timestamp` (issue 12, docs/standard-webhook-payload.md).
  ["data missing", (p) => delete p.data],
  ["email a number", (p) => (p.data.email = 42)],
  ["metadata a string", (p) => (p.data.metadata = "plan=pro")],
  ["created_at in words", (p) => (p.data.created_at = "yesterday")],
  ["created_at beyond the representable date range (1e20 ms)", (p) => (p.data.created_at = 1e20)],
]);

const WORKOS: TimestampedHmacScheme = { header: "workos-signature", unit: "ms", windowSeconds: 180, separator: ", " };
const workosSecret = DEV_SECRETS.WORKOS_WEBHOOK_SECRET;
const workosSigner: WebhookSigner = {
  event: (userId) => freshClone(workosCreated, userId, ["data", "id"], (p) => (p.id = `event_${crypto.randomUUID()}`)),
  at: { type: ["event"], userId: ["data", "id"], user: ["data"] },
  sign: (body) => timestampedHmacSign(workosSecret, WORKOS, body),
  forgeries: (body) => timestampedHmacForgeries(workosSecret, WORKOS, body),
  signsBody: true,
  // The timestamp sits inside the signature header, whose hex digits may change case and still match.
  checkedHeaders: [],
  shapeBreakers: [
    ["an empty event id", (p) => (p.id = "")],
    ["a numeric event id", (p) => (p.id = 42)],
    ["no event id", (p) => delete p.id],
    ["created_at in words", (p) => (p.created_at = "yesterday")],
    ["created_at without an offset", (p) => (p.created_at = "2021-06-25T19:07:33.155")],
    ["created_at as epoch milliseconds", (p) => (p.created_at = 1624648053155)],
    ["created_at missing", (p) => delete p.created_at],
    ["data missing", (p) => delete p.data],
    ["data null", (p) => (p.data = null)],
    ["data a string", (p) => (p.data = "user")],
    ["data an array", (p) => (p.data = [p.data])],
    ["email a number", (p) => (p.data.email = 42)],
    ["first_name an object", (p) => (p.data.first_name = { given: "Marcelina" })],
    ["profile_picture_url an array", (p) => (p.data.profile_picture_url = ["https://x"])],
    ["external_id a number", (p) => (p.data.external_id = 42)],
    ["metadata a string", (p) => (p.data.metadata = "language=en")],
    ["metadata an array", (p) => (p.data.metadata = ["en"])],
    ["the user's created_at a number", (p) => (p.data.created_at = 1624648053155)],
  ],
};

const ZITADEL: TimestampedHmacScheme = { header: "zitadel-signature", unit: "s", windowSeconds: 300, separator: "," };
const zitadelKey = DEV_SECRETS.ZITADEL_WEBHOOK_SIGNING_KEY;
const zitadelSigner: WebhookSigner = {
  // event_payload as a JSON object (newer ZITADEL; the fixture's base64 form is accepted too), so a case can reach into it.
  event: (userId) => freshClone(zitadelCreated, userId, ["aggregateID"], (p) => {
    p.sequence = Math.floor(Math.random() * 1e9);
    p.event_payload = JSON.parse(atob(p.event_payload));
  }),
  // ZITADEL's user is the event itself (`aggregateID`) and every event_payload field is optional, so an
  // unknown value there is rightly ignored: the "user object" cases use a profile field that must be a string.
  at: { type: ["event_type"], userId: ["aggregateID"], user: ["event_payload", "userName"] },
  sign: (body) => timestampedHmacSign(zitadelKey, ZITADEL, body),
  forgeries: (body) => timestampedHmacForgeries(zitadelKey, ZITADEL, body),
  signsBody: true,
  checkedHeaders: [],
  shapeBreakers: [
    ["aggregateType of an organisation", (p) => (p.aggregateType = "org")],
    ["aggregateType a number", (p) => (p.aggregateType = 42)],
    ["created_at in words", (p) => (p.created_at = "yesterday")],
    ["created_at without an offset", (p) => (p.created_at = "2025-03-27T10:22:43.262665")],
    ["created_at missing", (p) => delete p.created_at],
    ["instanceID a number", (p) => (p.instanceID = 42)],
    ["sequence an object", (p) => (p.sequence = { n: 1 })],
    ["event_payload a number", (p) => (p.event_payload = 42)],
    ["event_payload an array", (p) => (p.event_payload = [p.event_payload])],
    ["event_payload base64 of text that is not JSON", (p) => (p.event_payload = btoa("not json"))],
    ["event_payload a JSON text cut short", (p) => (p.event_payload = '{"userName":')],
    ["event_payload base64 of a JSON array", (p) => (p.event_payload = btoa("[1,2]"))],
    ["event_payload.email a number", (p) => (p.event_payload.email = 42)],
    ["event_payload.firstName an object", (p) => (p.event_payload.firstName = { value: "test" })],
    ["event_payload.displayName an array", (p) => (p.event_payload.displayName = ["test"])],
  ],
};

const logtoKey = DEV_SECRETS.LOGTO_WEBHOOK_SIGNING_KEY;
const logtoSigner: WebhookSigner = {
  // createdAt now: Logto's payload time is its replay guard (5 minutes).
  event: (userId) => freshClone(logtoCreated, userId, ["data", "id"], (p) => (p.createdAt = new Date().toISOString())),
  at: { type: ["event"], userId: ["data", "id"], user: ["data"] },
  sign: async (body) => toHeaderList(await logtoSignatureHeaders(body, logtoKey)),
  forgeries: (body) => logtoForgeries(logtoKey, body),
  signsBody: true,
  checkedHeaders: [],
  shapeBreakers: [
    ["hookId missing", (p) => delete p.hookId],
    ["an empty hookId", (p) => (p.hookId = "")],
    ["hookId a number", (p) => (p.hookId = 42)],
    ["createdAt in words", (p) => (p.createdAt = "yesterday")],
    ["createdAt missing", (p) => delete p.createdAt],
    ["data null and no user (User.Created)", (p) => (p.data = null)],
    ["data a string", (p) => (p.data = "user")],
    ["data an array", (p) => (p.data = [p.data])],
    ["primaryEmail a number", (p) => (p.data.primaryEmail = 42)],
    ["avatar an object", (p) => (p.data.avatar = { url: "https://x" })],
    ["profile a string", (p) => (p.data.profile = "John")],
    ["profile.givenName a number", (p) => (p.data.profile = { givenName: 42 })],
    ["the user's createdAt an object", (p) => (p.data.createdAt = { ms: 1 })],
    ["params a string", (p) => (p.params = "userId")],
  ],
};

const kindeSigner: WebhookSigner = {
  // timestamp now: Kinde's payload time is its replay guard (5 minutes, past or future).
  event: (userId) =>
    freshClone(kindeCreated, userId, ["data", "user", "id"], (p) => {
      p.event_id = `event_${crypto.randomUUID().replaceAll("-", "")}`;
      p.timestamp = p.event_timestamp = new Date().toISOString();
    }),
  at: { type: ["type"], userId: ["data", "user", "id"], user: ["data", "user"] },
  // Every body case, "invalid JSON" included, becomes the payload of a genuinely signed JWT: an
  // authentic sender with a broken payload, which the bridge owes 400 like any other provider.
  encode: async (payload) => text(await kindeJwt(payload)),
  sign: async (_body, options) => kindeHeaders(options),
  forgeries: kindeForgeries,
  trust: { binding: "KINDE_ISSUER_URL", jwks: KINDE_DEV_JWKS },
  signsBody: true,
  checkedHeaders: [],
  shapeBreakers: [
    ["data missing", (p) => delete p.data],
    ["data null", (p) => (p.data = null)],
    ["data.user missing", (p) => delete p.data.user],
    ["data.user a string", (p) => (p.data.user = "kp_1")],
    ["data.user an array", (p) => (p.data.user = [p.data.user])],
    ["email a number", (p) => (p.data.user.email = 42)],
    ["first_name an object", (p) => (p.data.user.first_name = { value: "Test" })],
    ["username an array", (p) => (p.data.user.username = ["testuser"])],
    ["timestamp in words", (p) => (p.timestamp = "now")],
    ["timestamp as epoch seconds", (p) => (p.timestamp = Math.floor(Date.now() / 1000))],
    ["timestamp without an offset", (p) => (p.timestamp = new Date().toISOString().slice(0, -1))],
    ["timestamp and event_timestamp both missing", (p) => (delete p.timestamp, delete p.event_timestamp)],
    ["event_id a number", (p) => (p.event_id = 42)],
  ],
};

const oktaToken = DEV_SECRETS.OKTA_WEBHOOK_SECRET;
/** Okta batches System Log events: the generic cases work on the first (and only) one. */
const OKTA_EVENT = ["data", "events", 0] as const;
const oktaSigner: WebhookSigner = {
  event: (userId) =>
    freshClone(oktaCreated, userId, [...OKTA_EVENT, "target", 0, "id"], (p) => {
      p.eventId = crypto.randomUUID();
      p.data.events[0].uuid = crypto.randomUUID();
    }),
  at: { type: [...OKTA_EVENT, "eventType"], userId: [...OKTA_EVENT, "target", 0, "id"], user: [...OKTA_EVENT, "target", 0] },
  sign: tokenSign(oktaToken, "raw"),
  forgeries: (body) => tokenForgeries(oktaToken, body, "raw"),
  signsBody: false,
  checkedHeaders: ["authorization"],
  shapeBreakers: [
    ["data missing", (p) => delete p.data],
    ["data null", (p) => (p.data = null)],
    ["data.events missing", (p) => delete p.data.events],
    ["data.events an object", (p) => (p.data.events = p.data.events[0])],
    ["data.events holding a string", (p) => (p.data.events = ["user.lifecycle.create"])],
    ["data.events holding null", (p) => (p.data.events = [null])],
    ["uuid missing", (p) => delete p.data.events[0].uuid],
    ["an empty uuid", (p) => (p.data.events[0].uuid = " ")],
    ["uuid a number", (p) => (p.data.events[0].uuid = 42)],
    ["published in words", (p) => (p.data.events[0].published = "yesterday")],
    ["published without an offset", (p) => (p.data.events[0].published = "2020-11-16T18:15:12.862")],
    ["published missing", (p) => delete p.data.events[0].published],
    ["target missing", (p) => delete p.data.events[0].target],
    ["target an object", (p) => (p.data.events[0].target = p.data.events[0].target[0])],
    ["target empty (no User)", (p) => (p.data.events[0].target = [])],
    ["target naming no User, only an app", (p) => (p.data.events[0].target[0].type = "AppInstance")],
    ["the User target's type missing", (p) => delete p.data.events[0].target[0].type],
    ["alternateId a number", (p) => (p.data.events[0].target[0].alternateId = 42)],
    ["outcome a string", (p) => (p.data.events[0].outcome = "SUCCESS")],
    // Okta: one malformed handled event refuses the whole batch, so the valid first one is not recorded either.
    ["a valid event followed by a handled one without its uuid", (p) => p.data.events.push({ ...structuredClone(p.data.events[0]), uuid: undefined })],
  ],
};

const supabaseToken = DEV_SECRETS.SUPABASE_WEBHOOK_SECRET;
const supabaseSigner: WebhookSigner = {
  event: (userId) => freshClone(supabaseCreated, userId, ["record", "id"]),
  at: { type: ["type"], userId: ["record", "id"], user: ["record"] },
  sign: tokenSign(supabaseToken, "Bearer"),
  forgeries: (body) => tokenForgeries(supabaseToken, body),
  signsBody: false,
  checkedHeaders: ["authorization"],
  shapeBreakers: [
    ["table profiles (a webhook on another table)", (p) => (p.table = "profiles")],
    ["schema public", (p) => (p.schema = "public")],
    ["table missing", (p) => delete p.table],
    ["record missing", (p) => delete p.record],
    ["record null", (p) => (p.record = null)],
    ["record a string", (p) => (p.record = "user")],
    ["record an array", (p) => (p.record = [p.record])],
    ["email a number", (p) => (p.record.email = 42)],
    ["raw_user_meta_data a string", (p) => (p.record.raw_user_meta_data = "Jane")],
    ["raw_app_meta_data an array", (p) => (p.record.raw_app_meta_data = ["email"])],
    ["created_at a number", (p) => (p.record.created_at = 1716883200)],
    ["updated_at and created_at both null", (p) => ((p.record.updated_at = null), (p.record.created_at = null))],
    ["deleted_at an object", (p) => (p.record.deleted_at = { at: "now" })],
    ["a DELETE without old_record", (p) => (p.type = "DELETE")],
  ],
};

const auth0LogsToken = DEV_SECRETS.AUTH0_LOG_STREAM_TOKEN;
/** A JSON Array delivery of one `ss` (signup) record, the format of Auth0's documented example. */
const LOG = [0, "data"] as const;
const auth0LogsSigner: WebhookSigner = {
  event: (userId) =>
    freshClone(auth0LogsCreated, userId, [...LOG, "user_id"], (p) => {
      p[0].log_id = p[0].data.log_id = `900${crypto.randomUUID().replaceAll("-", "")}`;
    }),
  at: { type: [...LOG, "type"], userId: [...LOG, "user_id"], user: LOG },
  sign: tokenSign(auth0LogsToken, "raw"),
  forgeries: (body) => tokenForgeries(auth0LogsToken, body, "raw"),
  signsBody: false,
  checkedHeaders: ["authorization"],
  expectations: {
    // A JSON Array delivery with no records has nothing handled: acknowledged and ignored (docs/providers/auth0-logs.md).
    "an empty array": { status: 200, outcome: "ignored" },
  },
  shapeBreakers: [
    ["date missing", (p) => delete p[0].data.date],
    ["date in words", (p) => (p[0].data.date = "yesterday")],
    ["date without an offset", (p) => (p[0].data.date = "2021-11-03T03:21:19.503")],
    ["date as epoch milliseconds", (p) => (p[0].data.date = 1635909679503)],
    ["log_id a number", (p) => (p[0].data.log_id = 42)],
    ["no log_id anywhere", (p) => (delete p[0].log_id, delete p[0].data.log_id)],
    ["the record's log_id an object", (p) => (p[0].log_id = { id: 1 })],
    ["user_name a number", (p) => (p[0].data.user_name = 42)],
    ["data null", (p) => (p[0].data = null)],
    ["data a string", (p) => (p[0].data = "ss")],
    ["a record that is a string", (p) => (p[0] = "ss")],
    ["a valid record followed by null", (p) => p.push(null)],
    // Auth0 Log Streams: one malformed handled record refuses the whole delivery, the valid first one included.
    ["a valid record followed by a handled one without its date", (p) => p.push({ log_id: "9001", data: { ...structuredClone(p[0].data), log_id: "9001", date: undefined } })],
  ],
};

/**
 * One signer per provider, signing exactly as the provider does, from its documentation (the
 * provider's own library where one exists: `svix` for Clerk, `jose` for Kinde's JWTs), never with
 * the bridge's verifiers.
 */
export const WEBHOOK_SIGNERS: Readonly<Record<string, WebhookSigner>> = {
  clerk: clerkSigner,
  auth0: auth0Signer,
  workos: workosSigner,
  zitadel: zitadelSigner,
  logto: logtoSigner,
  "stack-auth": stackAuthSigner,
  standard: standardSigner,
  kinde: kindeSigner,
  okta: oktaSigner,
  supabase: supabaseSigner,
  "auth0-logs": auth0LogsSigner,
};

/**
 * The signers whose request body is the payload itself and whose secret the test bindings already
 * hold: all but Kinde's (a JWT body, checked against a key set the test must serve).
 * properties.test.ts changes their signed requests byte by byte.
 */
export const SIGNERS: Readonly<Record<string, WebhookSigner>> = Object.fromEntries(
  Object.entries(WEBHOOK_SIGNERS).filter(([, signer]) => !signer.encode && !signer.trust),
);

// ---------------------------------------------------------------------------------------------------------------
// Bodies: what an authenticated sender might send, and what the bridge owes it
// ---------------------------------------------------------------------------------------------------------------

interface BodyCase {
  name: string;
  category: CorpusCategory;
  body: Uint8Array;
  /** Extra or replacing headers (content types). */
  headers?: HeaderList;
  status: number;
  outcome: string;
  userIds: string[];
}

/** Types that look like handled ones but are not: each must be acknowledged and ignored. */
const LOOKALIKE_TYPES = [
  "session.created",
  "user.created ",
  " user.created",
  "USER.CREATED",
  "User.Created",
  "user.created\u0000",
  "user.created\u200f",
  "\u202euser.created",
  "user.\u0441reated",
  "\uff55\uff53\uff45\uff52.created",
  "user.created\ud83d\ude00",
  "\ud800",
  "user.created\udc00",
  "",
  "constructor",
  "__proto__",
  "toString",
  "hasOwnProperty",
  "prototype",
  "valueOf",
  "user",
  "user.",
  "user.*",
  "user.created,user.deleted",
  "user.created\r\nx-injected: 1",
  "user.created\u2028",
  "user.created\u00a0",
  "\u200buser.created",
  "user.created\ufeff",
  "user_created",
  "user:created",
  "user/created",
  "user.created.v2",
  "user.deleted.",
  "user.updated\t",
  "user.\u0000",
  "user.cre\u0301ated",
  "users.created",
  "user.create",
  "user.createdd",
  "x".repeat(10_000),
];

function deepArray(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

function deepObject(depth: number): string {
  return '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

/** For a provider without a signer: a generic `{ type, data: { id } }` event (sent unsigned). */
const FALLBACK: Pick<WebhookSigner, "event" | "at"> = { event: (userId) => ({ type: "user.created", data: { id: userId } }), at: TYPE_AND_DATA };

/**
 * Every body case for one provider. `id()` makes a fresh user id for the run; `valid(id)` is a
 * handled event for it (the signer's, or a generic one for providers without a signer).
 */
function bodyCases(id: () => string, signer: WebhookSigner | undefined): BodyCase[] {
  const cases: BodyCase[] = [];
  const { event, at } = signer ?? FALLBACK;
  const setType = (payload: Json, type: unknown) => setAt(payload, at.type, type);
  const setUserId = (payload: Json, value: unknown) => setAt(payload, at.userId, value);
  /** The object that holds the event type: where extra fields go (inside the batch entry for batch senders). */
  const envelope = (payload: Json): Json => parentAt(payload, at.type);
  const userAt = at.user.join(".");
  const add = (category: CorpusCategory, name: string, body: Uint8Array, status: number, outcome: string, userIds: string[], headers?: HeaderList) =>
    cases.push({ category, name, body, status, outcome, userIds, ...(headers && { headers }) });

  // ---- invalid JSON: 400 invalid_json
  const invalid = (name: string, body: Uint8Array | string, userIds: string[] = [], headers?: HeaderList) =>
    add("invalid JSON", name, typeof body === "string" ? text(body) : body, 400, "invalid_json", userIds, headers);
  {
    const userId = id();
    const whole = serialise(event(userId));
    for (let k = 1; k <= 32; k++) {
      const cut = Math.floor((whole.length * k) / 33);
      invalid(`a valid event truncated to ${cut} of ${whole.length} bytes`, whole.slice(0, cut), [userId]);
    }
    invalid("a valid event followed by garbage", new Uint8Array([...whole, ...text("x")]), [userId]);
    invalid("a valid event followed by a NUL byte", new Uint8Array([...whole, 0]), [userId]);
    invalid("two events concatenated", new Uint8Array([...whole, ...whole]), [userId]);
    invalid("a valid event encoded as UTF-16LE", new Uint8Array([...new TextDecoder().decode(whole)].flatMap((c) => [c.charCodeAt(0) & 0xff, c.charCodeAt(0) >> 8])), [userId]);
    invalid("a valid event behind two byte-order marks", new Uint8Array([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf, ...whole]), [userId]);
    invalid("a valid event gzip-compressed (magic bytes, no Content-Encoding)", new Uint8Array([0x1f, 0x8b, 0x08, 0x00, ...whole.slice(0, 64)]), [userId]);
  }
  for (const [name, body] of [
    ["an empty body", ""],
    ["whitespace only", " \n\t\r "],
    ["a lone {", "{"],
    ["a lone }", "}"],
    ["a lone [", "["],
    ["a truncated literal", "nul"],
    ["a trailing comma", '{"type":"user.created",}'],
    ["single-quoted strings", "{'type':'user.created'}"],
    ["unquoted keys", "{type:\"user.created\"}"],
    ["NaN", '{"type":NaN}'],
    ["undefined", '{"type":undefined}'],
    ["Infinity as a literal", '{"type":Infinity}'],
    ["a line comment", '// hi\n{"type":"user.created"}'],
    ["a block comment", '/* hi */{"type":"user.created"}'],
    ["a raw newline inside a string", '{"type":"user.\ncreated"}'],
    ["a raw NUL inside a string", '{"type":"user.\u0000created"}'],
    ["an invalid escape", '{"type":"\\x41"}'],
    ["a truncated unicode escape", '{"type":"\\ud8"}'],
    ["a missing colon", '{"type" "user.created"}'],
    ["a hexadecimal number", "0x10"],
    ["a number with a leading zero", "01"],
    ["a number with a leading dot", ".5"],
    ["a number with a plus sign", "+1"],
    ["an unterminated string", '"user.created'],
    ["an array with a trailing comma", "[1,]"],
    ["a missing closing brace", '{"type":"user.created","data":{"id":"user_1"}'],
    ["a duplicated key left open", '{"type":"user.created","type":'],
    ["10 000 keys and no closing brace", `{${Array.from({ length: 10_000 }, (_, i) => `"k${i}":${i}`).join(",")}`],
    ["a 100 000-digit number followed by garbage", `${"9".repeat(100_000)}x`],
    ["an unterminated string of 250 001 backslashes", `"${"\\".repeat(250_001)}`],
    ["a bare true with trailing garbage", "truex"],
    ["a value after the closing brace", '{"type":"user.created"} 1'],
    ["an object key that is a number", '{1:"user.created"}'],
  ] as const) {
    invalid(name, body);
  }
  for (const [name, bytes] of [
    ["bytes that are not UTF-8 (FF FE)", [0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]],
    ["an overlong UTF-8 encoding of '/'", [0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]],
    ["a UTF-16 surrogate encoded in UTF-8 (CESU)", [0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d]],
    ["a code point above U+10FFFF", [0x7b, 0x22, 0xf5, 0x80, 0x80, 0x80, 0x22, 0x3a, 0x31, 0x7d]],
    ["a lone UTF-8 continuation byte", [0x7b, 0x22, 0x80, 0x22, 0x3a, 0x31, 0x7d]],
  ] as const) {
    invalid(name, new Uint8Array(bytes));
  }
  invalid("a form-encoded body", "type=user.created&data%5Bid%5D=user_1", [], [["content-type", "application/x-www-form-urlencoded"]]);
  invalid("a multipart body", '--b\r\nContent-Disposition: form-data; name="type"\r\n\r\nuser.created\r\n--b--\r\n', [], [["content-type", "multipart/form-data; boundary=b"]]);
  invalid("an XML body", "<event><type>user.created</type></event>", [], [["content-type", "application/xml"]]);
  invalid("a plain-text body", "user.created", [], [["content-type", "text/plain"]]);

  // ---- valid JSON of the wrong shape: 400 invalid_payload
  const shape = (name: string, body: Uint8Array | Json, userIds: string[] = []) =>
    add("wrong shape", name, body instanceof Uint8Array ? body : serialise(body), 400, "invalid_payload", userIds);
  shape("null", text("null"));
  shape("true", text("true"));
  shape("a number", text("42"));
  shape("a number too large for a double (1e999)", text("1e999"));
  shape("a bare string naming a handled type", text('"user.created"'));
  shape("an empty array", text("[]"));
  {
    const userId = id();
    shape("a handled event wrapped in an array", text(`[${new TextDecoder().decode(serialise(event(userId)))}]`), [userId]);
  }
  shape("an empty object", text("{}"));
  shape("arrays nested 100 000 deep", text(deepArray(100_000)));
  shape("an array of 200 000 numbers", text(`[${"0,".repeat(199_999)}0]`));
  for (const [name, type] of [
    ["type null", null],
    ["type a number", 42],
    ["type true", true],
    ["type an array holding a handled type", ["user.created"]],
    ["type an object", { name: "user.created" }],
  ] as const) {
    const userId = id();
    const payload = event(userId);
    setType(payload, type);
    shape(name, payload, [userId]);
  }
  {
    const userId = id();
    const payload = event(userId);
    setType(payload, undefined);
    shape("type missing", payload, [userId]);
  }
  {
    const userId = id();
    const inner = new TextDecoder().decode(serialise(event(userId)));
    shape("the whole event under a __proto__ key", text(`{"__proto__":${inner}}`), [userId]);
    shape("the whole event under constructor.prototype", text(`{"constructor":{"prototype":${inner}}}`), [userId]);
  }
  {
    const userId = id();
    const payload = event(userId);
    setAt(payload, at.user, raw(deepObject(10_000)));
    shape(`the user object (${userAt}) nested 10 000 objects deep`, serialise(payload), [userId]);
  }
  {
    const userId = id();
    const payload = event(userId);
    setAt(payload, at.user, raw(`[${"0,".repeat(99_999)}0]`));
    shape(`the user object (${userAt}) an array of 100 000 numbers`, serialise(payload), [userId]);
  }
  for (const [name, breakIt] of signer?.shapeBreakers ?? []) {
    const userId = id();
    const payload = event(userId);
    breakIt(payload);
    shape(name, payload, [userId]);
  }

  // ---- user ids that cannot be an orq external_id: 400 invalid_payload
  const badId = (category: CorpusCategory, name: string, value: unknown, userIds: string[] = []) => {
    const payload = event(id());
    setUserId(payload, value);
    add(category, name, serialise(payload), 400, "invalid_payload", userIds);
  };
  badId("ids", "a numeric user id", 42);
  badId("ids", "user id 0", 0);
  badId("ids", "a negative user id", -1);
  badId("ids", "a fractional user id", 1.5);
  badId("ids", "a user id beyond any number (1e400)", raw("1e400"));
  badId("ids", "an empty user id", "");
  badId("ids", "a blank user id", "   ");
  badId("ids", "a user id of tabs and newlines", "\t\n\r");
  badId("ids", "a null user id", null);
  badId("ids", "a boolean user id", true);
  badId("ids", "a user id that is an array", []);
  badId("ids", "a user id that is an array of an id", ["user_1"]);
  badId("ids", "a user id that is an object", {});
  badId("ids", "a user id that is an object with toString", { toString: "user_1" });
  badId("ids", "a user id of 1e21", 1e21);
  badId("ids", "a user id of -0", raw("-0"));
  badId("ids", "a user id of 2^53 + 1", raw("9007199254740993"));
  badId("ids", "a user id that is an array of null", [null]);
  badId("ids", "a user id that is an object holding an id", { id: "user_1" });
  {
    const long121 = `${id()}_`.padEnd(121, "x");
    badId("ids", "a user id of 121 characters", long121, [long121]);
    const long1000 = `${id()}_`.padEnd(1000, "x");
    badId("ids", "a user id of 1000 characters", long1000, [long1000]);
    const huge = `${id()}_`.padEnd(900 * 1024, "x");
    badId("ids", "a user id of 900 KB", huge, [huge]);
    const astral = `${id()}_${"\ud83d\ude00".repeat(121)}`;
    badId("ids", "a user id of 121+ emoji (over 120 in any count)", astral, [astral]);
  }
  // An external_id orq.ai can be addressed by must survive encodeURIComponent and orq's 1–120 count
  // (UTF-16 units in the emulator, as in JavaScript): these ids cannot, so they must be refused up front.
  {
    const high = `${id()}\ud800`;
    badId("unicode ids", "a user id ending in a lone high surrogate", high, [high]);
    const low = `${id()}\udc00x`;
    badId("unicode ids", "a user id holding a lone low surrogate", low, [low]);
    const reversed = `${id()}\udc00\ud800`;
    badId("unicode ids", "a user id holding a reversed surrogate pair", reversed, [reversed]);
    const emoji = `${id()}_${"\ud83d\ude00".repeat(50)}`;
    badId("unicode ids", "a user id of 50 emoji plus 30 characters (within 120 code points, over 120 UTF-16 units)", emoji, [emoji]);
  }

  // ---- types the bridge does not handle: 200, ignored, nothing recorded. All of them name one user:
  // a type that slipped through is named by its own answer ("recorded", not "ignored"), and the test's
  // check that nothing was recorded (a Durable Object per user) stays affordable for every provider.
  const ignored = (name: string, payload: Json, userIds: string[], headers?: HeaderList, category: CorpusCategory = "ignored types") =>
    add(category, name, serialise(payload), 200, "ignored", userIds, headers);
  // One provider's look-alike is another's real type (Logto's `User.Created`): the event's own type is left out.
  const ownType = parentAt(event("own-type"), at.type)[at.type.at(-1)!];
  const userId = id();
  for (const type of LOOKALIKE_TYPES.filter((candidate) => candidate !== ownType)) {
    const payload = event(userId);
    setType(payload, type);
    ignored(`type ${JSON.stringify(type.length > 40 ? `${type.slice(0, 20)}…(${type.length} chars)` : type)}`, payload, [userId]);
  }
  {
    const payload = event(userId);
    setType(payload, "x".repeat(900 * 1024));
    ignored("a 900 KB type", payload, [userId]);
  }
  {
    const payload = event(userId);
    setType(payload, "session.created");
    envelope(payload).extra = raw(deepArray(100_000));
    ignored("an ignored type carrying arrays nested 100 000 deep", payload, [userId]);
  }
  {
    const payload = event(userId);
    setType(payload, "session.created");
    envelope(payload).extra = raw(`[${"0,".repeat(99_999)}0]`);
    ignored("an ignored type carrying an array of 100 000 numbers", payload, [userId]);
  }
  {
    const payload = event(userId);
    setType(payload, "session.created");
    // Next to the type, where a parser that merged keys into a plain object would pick them up.
    defineOwn(envelope(payload), "__proto__", { [at.type.at(-1)!]: "user.created", polluted: true });
    defineOwn(envelope(payload), "constructor", { prototype: { polluted: true } });
    add("ignored types", "an ignored type with __proto__ and constructor keys", serialise(payload), 200, "ignored", [userId]);
  }

  // ---- odd but harmless headers around an ignored event: the event is still just ignored
  const oddHeaders: Array<[string, HeaderList]> = [
    ["no content-type at all", [["content-type", ""]]],
    ["content-type text/plain", [["content-type", "text/plain"]]],
    ["content-type application/json; charset=utf-16", [["content-type", "application/json; charset=utf-16"]]],
    ["a duplicated content-type", [["content-type", "application/json"], ["content-type", "text/html"]]],
    ["content-encoding gzip on a plain body", [["content-encoding", "gzip"]]],
    ["a 64 KB custom header", [["x-padding", "p".repeat(64 * 1024)]]],
    ["200 custom headers", Array.from({ length: 200 }, (_, i) => [`x-extra-${i}`, String(i)] as [string, string])],
    ["Latin-1 bytes in a custom header", [["x-note", "caf\u00e9 \u00ff"]]],
    ["spoofed forwarding headers", [["x-forwarded-for", "127.0.0.1"], ["x-real-ip", "10.0.0.1"], ["cf-connecting-ip", "::1"], ["x-forwarded-host", "admin.internal"]]],
    ["an Expect: 100-continue header", [["expect", "100-continue"]]],
    ["a Range header", [["range", "bytes=0-10"]]],
    ["an X-HTTP-Method-Override to DELETE", [["x-http-method-override", "DELETE"]]],
    ["Connection: close", [["connection", "close"]]],
    ["an Origin from another site", [["origin", "https://evil.example"]]],
    ["a cookie claiming an admin session", [["cookie", "__Host-bridge_admin=1.x; admin=true"]]],
    ["an unsigned JWT (alg none) in a custom header", [["x-jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."]]],
  ];
  for (const [name, headers] of oddHeaders) {
    const payload = event(userId);
    setType(payload, "session.created");
    ignored(`an ignored type with ${name}`, payload, [userId], headers, "odd headers");
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------------------------
// The corpus for one webhook route
// ---------------------------------------------------------------------------------------------------------------

export interface WebhookRouteUnderTest {
  provider: string;
  /** How the bridge under test has this provider set up. */
  setup: "configured" | "not_configured" | "invalid";
  /** The provider answers an authenticated GET (Okta's verification challenge). */
  answersGet: boolean;
}

/**
 * Every hostile request for `/webhooks/<provider>`. User ids are `${runId}_<n>` (so the test can
 * find any of them in the emulator's log).
 */
export async function webhookCorpus(route: WebhookRouteUnderTest, runId: string): Promise<HostileCase[]> {
  const signer = route.setup === "configured" ? WEBHOOK_SIGNERS[route.provider] : undefined;
  const { event, at } = signer ?? FALLBACK;
  const path = `/webhooks/${route.provider}`;
  let counter = 0;
  const id = () => `${runId}_${counter++}`;
  /** What an unauthenticated POST gets: 401, or 404 while the provider has no (valid) secret. */
  const refused = route.setup === "configured" ? { status: 401, outcome: "unauthorized" } : { status: 404, outcome: "provider_not_configured" };
  const tooLarge = { status: 413, outcome: "payload_too_large" };
  const cases: HostileCase[] = [];
  const push = (entry: HostileCase) => cases.push(entry);
  /** These payload bytes as the provider's genuine request carries them: encoded (Kinde: a JWT) and signed. */
  const genuine = async (payload: Uint8Array): Promise<SignedRequest> => {
    if (!signer) return { headers: [JSON_CONTENT], body: payload };
    const body = signer.encode ? await signer.encode(payload) : payload;
    return { headers: await signer.sign(body), body };
  };

  for (const entry of bodyCases(id, signer)) {
    const { headers: signed, body } = await genuine(entry.body);
    let headers = signed;
    for (const [name] of entry.headers ?? []) headers = replaceHeader(headers, name.toLowerCase(), undefined);
    for (const [name, value] of entry.headers ?? []) if (value !== "") headers = [...headers, [name, value]];
    // An encoded body (Kinde's JWT is base64url, a third larger) can outgrow the limit its payload kept: then 413 comes first.
    const expected = !signer ? refused : body.length > MIB ? tooLarge : (signer.expectations?.[entry.name] ?? { status: entry.status, outcome: entry.outcome });
    push({ name: entry.name, category: entry.category, request: { method: "POST", path, headers, body }, ...expected, userIds: entry.userIds, signed: signer !== undefined });
  }

  // ---- credentials: nobody gets in
  {
    const userId = id();
    const payload = serialise(event(userId));
    const forged = signer ? await signer.forgeries(payload) : [];
    const otherProvider: HeaderList = route.provider === "clerk"
      ? [JSON_CONTENT, ["authorization", `Bearer ${auth0Token}`]]
      : await svixSign(clerkSecret, payload);
    const credentials: Array<[string, SignedRequest]> = [
      ["no credentials at all", { headers: [JSON_CONTENT], body: payload }],
      ["another provider's credentials", { headers: otherProvider, body: payload }],
      ...forged,
    ];
    for (const [name, { headers, body }] of credentials) {
      push({ name, category: "credentials", request: { method: "POST", path, headers, body }, ...refused, userIds: [userId], signed: false });
    }
  }

  // ---- methods other than POST
  {
    const userId = id();
    const { headers, body } = await genuine(serialise(event(userId)));
    for (const method of ["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "PURGE"]) {
      const withBody = method !== "GET" && method !== "HEAD";
      const getLike = method === "GET" || method === "HEAD";
      // A GET route exists only for providers with a verification challenge; it checks credentials.
      const expected = getLike && route.answersGet ? refused : { status: 405, outcome: "method_not_allowed" };
      push({
        name: `${method} ${withBody ? "with a signed body" : "(unsigned)"}`,
        category: "methods",
        request: { method, path, headers: withBody ? headers : [], ...(withBody && { body }) },
        status: expected.status,
        ...(method !== "HEAD" && { outcome: expected.outcome }),
        userIds: [userId],
        signed: withBody && signer !== undefined,
      });
    }
  }

  // ---- paths next to the route: nothing there
  {
    const userId = id();
    const { headers, body } = await genuine(serialise(event(userId)));
    for (const variant of [
      `${path}/`,
      `/webhooks/${route.provider.toUpperCase()}`,
      `${path}/extra`,
      `${path}%00`,
      `${path}%2Fx`,
      `/${path}`,
      `${path}.json`,
      `/WEBHOOKS/${route.provider}`,
      `${path};x=1`,
    ]) {
      push({ name: `POST ${variant}`, category: "paths", request: { method: "POST", path: variant, headers, body }, status: 404, outcome: "not_found", userIds: [userId], signed: signer !== undefined });
    }
  }

  // ---- bodies over the limit: 413 before anything else
  {
    const userId = id();
    const payload = event(userId);
    parentAt(payload, at.type).padding = "p".repeat(MIB);
    const { headers, body } = await genuine(serialise(payload));
    push({ name: "a signed body over 1 MiB", category: "oversized", request: { method: "POST", path, headers: signer ? headers : [], body }, ...tooLarge, userIds: [userId], signed: signer !== undefined });
    push({ name: "an unsigned 2 MiB body", category: "oversized", request: { method: "POST", path, headers: [], body: new Uint8Array(2 * MIB).fill(0x20) }, ...tooLarge, userIds: [], signed: false });
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------------------------
// Hostile pieces for admin routes (their expected answers are decided in the test, per route)
// ---------------------------------------------------------------------------------------------------------------

/** Credentials that must never open an admin route, given the real token. */
export function adminCredentialForgeries(token: string): Array<[string, HeaderList]> {
  const last = token.at(-1) === "x" ? "y" : "x";
  return [
    ["no credentials", []],
    ["an empty bearer token", [["authorization", "Bearer"]]],
    ["a wrong token", [["authorization", `Bearer ${"w".repeat(token.length)}`]]],
    ["the token minus its last character", [["authorization", `Bearer ${token.slice(0, -1)}`]]],
    ["the token plus one character", [["authorization", `Bearer ${token}x`]]],
    ["the token with its last character changed", [["authorization", `Bearer ${token.slice(0, -1)}${last}`]]],
    ["the token with the Basic scheme", [["authorization", `Basic ${btoa(`admin:${token}`)}`]]],
    ["the token without a scheme", [["authorization", token]]],
    ["the right token twice in one header", [["authorization", `Bearer ${token}`], ["authorization", `Bearer ${token}`]]],
    ["a 64 KB token", [["authorization", `Bearer ${"t".repeat(64 * 1024)}`]]],
    ["the token in a cookie", [["cookie", `__Host-bridge_admin=${token}`]]],
    ["a forged session cookie", [["cookie", `__Host-bridge_admin=${Math.floor(Date.now() / 1000) + 3600}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`]]],
    ["an expired-looking session cookie with a huge expiry", [["cookie", `__Host-bridge_admin=${"9".repeat(400)}.x`]]],
    ["the token in another header", [["x-admin-token", token]]],
    ["a webhook secret as the token", [["authorization", `Bearer ${auth0Token}`]]],
  ];
}

/** Values for path parameters and query strings, already percent-encoded where needed. */
export const HOSTILE_PATH_VALUES: ReadonlyArray<[name: string, encoded: string]> = [
  ["an empty value", ""],
  ["an encoded NUL", "%00"],
  ["a malformed percent-escape", "%ZZ"],
  ["an encoded lone surrogate", "%ED%A0%80"],
  ["an encoded path traversal", "..%2F..%2Fhealth"],
  ["__proto__", "__proto__"],
  ["constructor", "constructor"],
  ["an encoded emoji", "%F0%9F%98%80"],
  ["an encoded right-to-left override", "%E2%80%AEnimda"],
  ["5000 characters", "a".repeat(5000)],
  ["a script tag", "%3Cscript%3Ealert(1)%3C%2Fscript%3E"],
  ["1e400", "1e400"],
];

/** JSON bodies for admin POST routes that expect JSON; each must get a 4xx. */
export function hostileAdminJsonBodies(userId: string): Array<[string, string]> {
  return [
    ["an empty body", ""],
    ["invalid JSON", '{"provider":"clerk",'],
    ["JSON null", "null"],
    ["a JSON array", "[]"],
    ["a JSON string", '"clerk"'],
    ["arrays nested 100 000 deep", deepArray(100_000)],
    ["objects nested 10 000 deep", deepObject(10_000)],
    ["an unknown provider", JSON.stringify({ provider: "nope", user_id: userId })],
    ["provider __proto__", JSON.stringify({ provider: "__proto__", user_id: userId })],
    ["provider constructor", JSON.stringify({ provider: "constructor", user_id: userId })],
    ["a numeric user id", `{"provider":"clerk","user_id":42}`],
    ["an empty user id", JSON.stringify({ provider: "clerk", user_id: "" })],
    ["a 900 KB user id", JSON.stringify({ provider: "clerk", user_id: "x".repeat(900 * 1024) })],
    ["a lone-surrogate user id", `{"provider":"clerk","user_id":"${userId}\\ud800"}`],
    ["a user id with a NUL", `{"provider":"clerk","user_id":"${userId}\\u0000"}`],
    ["the fields under __proto__", `{"__proto__":{"provider":"clerk","user_id":"${userId}"}}`],
    ["an unknown extra field", JSON.stringify({ provider: "clerk", user_id: userId, admin: true })],
    ["since in words", JSON.stringify({ since: "yesterday" })],
    ["since as a number", `{"since":1e400}`],
    ["since on the 45th of the 13th month", JSON.stringify({ since: "2025-13-45T00:00:00Z" })],
    ["since (in the future, harmless if accepted) together with a user", JSON.stringify({ since: "9999-01-01T00:00:00Z", provider: "clerk", user_id: userId })],
    ["since an object", JSON.stringify({ since: { $gt: 0 } })],
  ];
}
