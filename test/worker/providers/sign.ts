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

/** Svix message ids are made by the CLIs' signing helpers (signing/), shared with the tests. */
export { svixMessageId } from "../../../signing/svix-message-id";
