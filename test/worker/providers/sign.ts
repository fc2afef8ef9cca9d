/**
 * Signs test requests the way WorkOS, ZITADEL and Logto do, from their documented algorithms,
 * with WebCrypto only (none of them ships a signing library usable here). Written from the
 * providers' docs and SDK sources, never from the bridge's verifiers:
 * - WorkOS (workos-node `SignatureProvider`): `WorkOS-Signature: t=<ms>, v1=<hex HMAC-SHA256(secret, `${t}.${body}`)>`
 * - ZITADEL (`pkg/actions/signing.go`): `ZITADEL-Signature: t=<unix s>,v1=<hex HMAC-SHA256(key, `${t}.${body}`)>[,v1=…]`
 * - Logto ("Secure webhooks"): `logto-signature-sha-256: <hex HMAC-SHA256(signing key, body)>`
 * Stack Auth and Standard Webhooks are signed with the `svix` / `standardwebhooks` libraries in the tests.
 *
 * Bodies may be text or raw bytes (the hostile corpus signs bodies that are not UTF-8).
 *
 * Pure Web APIs, no workerd-only imports: scripts/lib/sample-webhooks.ts reuses `svixMessageId`.
 */
const encoder = new TextEncoder();

/** A request body as text, or as raw bytes (which need not be UTF-8: hostile bodies are signed as sent). */
export type SignedBody = string | Uint8Array;

function concatBytes(...parts: SignedBody[]): Uint8Array {
  const chunks = parts.map((part) => (typeof part === "string" ? encoder.encode(part) : part));
  const out = new Uint8Array(chunks.reduce((length, chunk) => length + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

export async function hmacSha256Hex(secret: string, content: SignedBody): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const digest = new Uint8Array(await crypto.subtle.sign("HMAC", key, concatBytes(content)));
  return [...digest].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** `v1=<hex>` of the `${t}.${body}` scheme WorkOS and ZITADEL share; `t` exactly as it is sent. */
export function timestampedHmacHex(secret: string, timestamp: string | number, body: SignedBody): Promise<string> {
  return hmacSha256Hex(secret, concatBytes(`${timestamp}.`, body));
}

export async function workosSignatureHeaders(body: SignedBody, secret: string, timestampMs = Date.now()): Promise<Record<string, string>> {
  const signature = await timestampedHmacHex(secret, timestampMs, body);
  return { "content-type": "application/json", "workos-signature": `t=${timestampMs}, v1=${signature}` };
}

/** Several `keys` give several v1 entries, as ZITADEL sends during a key rotation. */
export async function zitadelSignatureHeaders(body: SignedBody, keys: readonly string[], timestampSeconds = Math.floor(Date.now() / 1000)): Promise<Record<string, string>> {
  const parts = [`t=${timestampSeconds}`];
  for (const key of keys) parts.push(`v1=${await timestampedHmacHex(key, timestampSeconds, body)}`);
  return { "content-type": "application/json", "zitadel-signature": parts.join(",") };
}

export async function logtoSignatureHeaders(body: SignedBody, signingKey: string): Promise<Record<string, string>> {
  return { "content-type": "application/json", "logto-signature-sha-256": await hmacSha256Hex(signingKey, body) };
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const KSUID_EPOCH_SECONDS = 1_400_000_000;

/**
 * A Svix message id as Svix creates them: `msg_` + a millisecond KSUID (svix-ksuid `KsuidMs`:
 * 4 bytes of seconds since 2014-05-13T16:53:20Z, 1 byte of sub-second in 1/256 s, 15 random
 * bytes, base62 in 27 characters), created at `atMs`.
 */
export function svixMessageId(atMs: number = Date.now()): string {
  const bytes = new Uint8Array(20);
  const seconds = Math.floor(atMs / 1000) - KSUID_EPOCH_SECONDS;
  new DataView(bytes.buffer).setUint32(0, seconds);
  bytes[4] = Math.floor(((atMs % 1000) * 256) / 1000);
  crypto.getRandomValues(bytes.subarray(5));
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let text = "";
  for (let i = 0; i < 27; i++) {
    text = BASE62[Number(value % 62n)] + text;
    value /= 62n;
  }
  return `msg_${text}`;
}
