/**
 * A corpus of malformed and malicious requests for every webhook route (and, in
 * test/worker/hostile-input.test.ts, every admin route), each with the answer the bridge owes it.
 *
 * The cases that need a correctly signed body ("authentic sender, broken payload") use a small
 * signer table: one entry per provider, signing exactly as the provider does, with the provider's
 * own library where one exists (`svix` for Clerk), never with the bridge's verifiers. A provider
 * without an entry still gets every case, unsigned: then the right answer is always 401 (or 404
 * while its secret is not configured). Adding a provider's signer is one entry in SIGNERS.
 *
 * Web APIs only (no node:), so the worker tests can import it.
 */
import { Webhook } from "svix";
import auth0Created from "../fixtures/auth0/user.created.json";
import clerkCreated from "../fixtures/clerk/user.created.json";
import stackAuthCreated from "../fixtures/stack-auth/user.created.json";
import standardCreated from "../fixtures/standard/user.created.json";
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
}

export interface SignOptions {
  /** The scheme's message id, where it has one. */
  id?: string;
  /** Seconds since epoch, for schemes that sign a timestamp. */
  timestamp?: number;
}

/** How a provider's genuine requests look: enough to build every "authentic but hostile" case. */
export interface WebhookSigner {
  /** A fresh copy of a handled event (a user creation) for `userId`. */
  event(userId: string): Json;
  setUserId(payload: Json, userId: unknown): void;
  setType(payload: Json, type: unknown): void;
  /** Authenticating headers for exactly these bytes, content-type included. */
  sign(body: Uint8Array, options?: SignOptions): Promise<HeaderList>;
  /** Credentials that look plausible and must be refused (401) for this valid `body`. */
  forgeries(body: Uint8Array): Promise<Array<[name: string, headers: HeaderList]>>;
  /** Provider-specific ways to break a signed event's shape: each must get 400 invalid_payload. */
  shapeBreakers: Array<[name: string, breakIt: (payload: Json) => void]>;
  /** The scheme binds the body (a signature), not only the sender (a static token). */
  signsBody: boolean;
  /** Headers whose every byte the verifier checks (ids, timestamps, tokens; not the signature list, whose base64 has slack bits). */
  checkedHeaders: string[];
}

const encoder = new TextEncoder();
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

// ---------------------------------------------------------------------------------------------------------------
// Signers
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
    ["content-type", "application/json"],
    [`${prefix}-id`, id],
    [`${prefix}-timestamp`, String(timestamp)],
    [`${prefix}-signature`, signature],
  ];
}

type SvixPrefix = "svix" | "webhook";

async function svixForgeries(secret: string, body: Uint8Array, prefix: SvixPrefix = "svix"): Promise<Array<[string, HeaderList]>> {
  const [idHeader, timestampHeader, signatureHeader] = [`${prefix}-id`, `${prefix}-timestamp`, `${prefix}-signature`];
  const now = Math.floor(Date.now() / 1000);
  const valid = await svixSign(secret, body, {}, prefix);
  const validSignature = headerValue(valid, signatureHeader);
  const signatureBytes = validSignature.slice(3);
  const otherSecret = `whsec_${btoa("another-secret-of-the-same-size!")}`;
  const otherBody = new Uint8Array([...body, 0x20]);
  const swap = (name: string, value: string | undefined): HeaderList => replaceHeader(valid, name, value);
  const signedAt = async (timestamp: number) => svixSign(secret, body, { timestamp }, prefix);

  return [
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
    ["the secret sent as a bearer token instead of a signature", [["content-type", "application/json"], ["authorization", `Bearer ${secret}`]]],
  ];
}

async function bearerForgeries(token: string): Promise<Array<[string, HeaderList]>> {
  const json: [string, string] = ["content-type", "application/json"];
  const last = token.at(-1) === "x" ? "y" : "x";
  return [
    ["no Authorization header", [json]],
    ["'Bearer' without a token", [json, ["authorization", "Bearer"]]],
    ["a wrong token of the same length", [json, ["authorization", `Bearer ${"w".repeat(token.length)}`]]],
    ["the token minus its last character", [json, ["authorization", `Bearer ${token.slice(0, -1)}`]]],
    ["the token plus one character", [json, ["authorization", `Bearer ${token}x`]]],
    ["the token with its last character changed", [json, ["authorization", `Bearer ${token.slice(0, -1)}${last}`]]],
    ["the token with the Basic scheme", [json, ["authorization", `Basic ${token}`]]],
    ["the token without a scheme", [json, ["authorization", token]]],
    ["the token after two spaces", [json, ["authorization", `Bearer  ${token}`]]],
    ["the token base64-encoded", [json, ["authorization", `Bearer ${btoa(token)}`]]],
    ["a duplicated Authorization header (the right one twice)", [json, ["authorization", `Bearer ${token}`], ["authorization", `Bearer ${token}`]]],
    ["a bogus Authorization header before the right one", [json, ["authorization", "Bearer bogus"], ["authorization", `Bearer ${token}`]]],
    ["a 64 KB token", [json, ["authorization", `Bearer ${"t".repeat(64 * 1024)}`]]],
    ["Latin-1 bytes as the token", [json, ["authorization", "Bearer \u00ff\u00fe\u00e9"]]],
    ["the right token in another header", [json, ["x-authorization", `Bearer ${token}`]]],
    ["the right token in a cookie", [json, ["cookie", `token=${token}`]]],
  ];
}

const clerkSecret = DEV_SECRETS.CLERK_WEBHOOK_SIGNING_SECRET;
const auth0Token = DEV_SECRETS.AUTH0_WEBHOOK_TOKEN;

const clerkSigner: WebhookSigner = {
  event(userId) {
    const payload = structuredClone(clerkCreated) as Json;
    payload.data.id = userId;
    return payload;
  },
  setUserId: (payload, userId) => void (payload.data.id = userId),
  setType: (payload, type) => void (payload.type = type),
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
  event(userId) {
    const payload = structuredClone(auth0Created) as Json;
    payload.id = `evt_${crypto.randomUUID()}`;
    payload.data.object.user_id = userId;
    return payload;
  },
  setUserId: (payload, userId) => void (payload.data.object.user_id = userId),
  setType: (payload, type) => void (payload.type = type),
  sign: async () => [
    ["content-type", "application/json"],
    ["authorization", `Bearer ${auth0Token}`],
  ],
  forgeries: () => bearerForgeries(auth0Token),
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
    event(userId) {
      const payload = structuredClone(fixture) as Json;
      payload.data.id = userId;
      return payload;
    },
    setUserId: (payload, userId) => void (payload.data.id = userId),
    setType: (payload, type) => void (payload.type = type),
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
  ["timestamp missing", (p) => delete p.timestamp],
  ["data missing", (p) => delete p.data],
  ["email a number", (p) => (p.data.email = 42)],
  ["metadata a string", (p) => (p.data.metadata = "plan=pro")],
  ["created_at in words", (p) => (p.data.created_at = "yesterday")],
  ["created_at beyond the representable date range (1e20 ms)", (p) => (p.data.created_at = 1e20)],
]);

/** Providers whose requests the corpus can sign. Others get the unsigned cases only (see the file comment). */
export const SIGNERS: Readonly<Record<string, WebhookSigner>> = {
  clerk: clerkSigner,
  auth0: auth0Signer,
  "stack-auth": stackAuthSigner,
  standard: standardSigner,
};

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

/**
 * Every body case for one provider. `id()` makes a fresh user id for the run; `valid(id)` is a
 * handled event for it (the signer's, or a generic one for providers without a signer).
 */
function bodyCases(id: () => string, signer: WebhookSigner | undefined): BodyCase[] {
  const cases: BodyCase[] = [];
  const fallback: WebhookSigner["event"] = (userId) => ({ type: "user.created", data: { id: userId } });
  const event = (userId: string) => (signer ?? { event: fallback }).event(userId);
  const setType = (payload: Json, type: unknown) => (signer ? signer.setType(payload, type) : (payload.type = type));
  const setUserId = (payload: Json, value: unknown) => (signer ? signer.setUserId(payload, value) : (payload.data.id = value));
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
    payload.data = raw(deepObject(10_000));
    shape("data nested 10 000 objects deep", serialise(payload), [userId]);
  }
  {
    const userId = id();
    const payload = event(userId);
    payload.data = raw(`[${"0,".repeat(99_999)}0]`);
    shape("data an array of 100 000 numbers", serialise(payload), [userId]);
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

  // ---- types the bridge does not handle: 200, ignored, nothing recorded
  const ignored = (name: string, payload: Json, userIds: string[], headers?: HeaderList, category: CorpusCategory = "ignored types") =>
    add(category, name, serialise(payload), 200, "ignored", userIds, headers);
  for (const type of LOOKALIKE_TYPES) {
    const userId = id();
    const payload = event(userId);
    setType(payload, type);
    ignored(`type ${JSON.stringify(type.length > 40 ? `${type.slice(0, 20)}…(${type.length} chars)` : type)}`, payload, [userId]);
  }
  {
    const userId = id();
    const payload = event(userId);
    setType(payload, "x".repeat(900 * 1024));
    ignored("a 900 KB type", payload, [userId]);
  }
  {
    const userId = id();
    const payload = event(userId);
    setType(payload, "session.created");
    payload.extra = raw(deepArray(100_000));
    ignored("an ignored type carrying arrays nested 100 000 deep", payload, [userId]);
  }
  {
    const userId = id();
    const payload = event(userId);
    setType(payload, "session.created");
    payload.extra = raw(`[${"0,".repeat(99_999)}0]`);
    ignored("an ignored type carrying an array of 100 000 numbers", payload, [userId]);
  }
  {
    const userId = id();
    const payload = event(userId);
    setType(payload, "session.created");
    const body = new TextDecoder().decode(serialise(payload)).replace(/^\{/, '{"__proto__":{"type":"user.created","polluted":true},"constructor":{"prototype":{"polluted":true}},');
    add("ignored types", "an ignored type with __proto__ and constructor keys", text(body), 200, "ignored", [userId]);
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
    const userId = id();
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
  const signer = route.setup === "configured" ? SIGNERS[route.provider] : undefined;
  const path = `/webhooks/${route.provider}`;
  let counter = 0;
  const id = () => `${runId}_${counter++}`;
  /** What an unauthenticated POST gets: 401, or 404 while the provider has no (valid) secret. */
  const refused = route.setup === "configured" ? { status: 401, outcome: "unauthorized" } : { status: 404, outcome: "provider_not_configured" };
  const cases: HostileCase[] = [];
  const push = (entry: HostileCase) => cases.push(entry);

  for (const entry of bodyCases(id, signer)) {
    const signed = signer ? await signer.sign(entry.body) : [["content-type", "application/json"] as [string, string]];
    let headers = signed;
    for (const [name] of entry.headers ?? []) headers = replaceHeader(headers, name.toLowerCase(), undefined);
    for (const [name, value] of entry.headers ?? []) if (value !== "") headers = [...headers, [name, value]];
    const expected = signer ? { status: entry.status, outcome: entry.outcome } : refused;
    push({ name: entry.name, category: entry.category, request: { method: "POST", path, headers, body: entry.body }, ...expected, userIds: entry.userIds });
  }

  // ---- credentials: nobody gets in
  {
    const userId = id();
    const body = serialise(signer ? signer.event(userId) : { type: "user.created", data: { id: userId } });
    const forged = signer ? await signer.forgeries(body) : [];
    const otherProvider: HeaderList = route.provider === "clerk"
      ? [["content-type", "application/json"], ["authorization", `Bearer ${auth0Token}`]]
      : await svixSign(clerkSecret, body);
    const credentials: Array<[string, HeaderList]> = [
      ["no credentials at all", [["content-type", "application/json"]]],
      ["another provider's credentials", otherProvider],
      ...forged,
    ];
    for (const [name, headers] of credentials) {
      push({ name, category: "credentials", request: { method: "POST", path, headers, body }, ...refused, userIds: [userId] });
    }
  }

  // ---- methods other than POST
  {
    const userId = id();
    const body = serialise(signer ? signer.event(userId) : { type: "user.created", data: { id: userId } });
    const headers = signer ? await signer.sign(body) : [];
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
      });
    }
  }

  // ---- paths next to the route: nothing there
  {
    const userId = id();
    const body = serialise(signer ? signer.event(userId) : { type: "user.created", data: { id: userId } });
    const headers = signer ? await signer.sign(body) : [];
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
      push({ name: `POST ${variant}`, category: "paths", request: { method: "POST", path: variant, headers, body }, status: 404, outcome: "not_found", userIds: [userId] });
    }
  }

  // ---- bodies over the limit: 413 before anything else
  {
    const userId = id();
    const payload = signer ? signer.event(userId) : { type: "user.created", data: { id: userId } };
    payload.padding = "p".repeat(MIB);
    const body = serialise(payload);
    push({ name: "a signed body over 1 MiB", category: "oversized", request: { method: "POST", path, headers: signer ? await signer.sign(body) : [], body }, status: 413, outcome: "payload_too_large", userIds: [userId] });
    push({ name: "an unsigned 2 MiB body", category: "oversized", request: { method: "POST", path, headers: [], body: new Uint8Array(2 * MIB).fill(0x20) }, status: 413, outcome: "payload_too_large", userIds: [] });
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
