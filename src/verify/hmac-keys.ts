/**
 * Pieces shared by the hex-HMAC schemes (timestamped-hmac.ts, body-hmac.ts): their providers
 * key HMAC-SHA256 with the secret's UTF-8 bytes (no base64, unlike Svix) and send hex digests.
 */
const encoder = new TextEncoder();

/** Most signature headers carry one or two entries (key rotation); more is never legitimate. */
export const MAX_SIGNATURES = 8;

/** Imports each secret as an HMAC-SHA256 verification key over its UTF-8 bytes. */
export function importUtf8HmacKeys(secrets: readonly string[]): Promise<CryptoKey[]> {
  return Promise.all(
    secrets.map((secret) => crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"])),
  );
}

/** A SHA-256 hex digest (64 hex digits, either case) → its 32 bytes; undefined when it is not one. */
export function decodeSha256Hex(value: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F]{64}$/.test(value)) return undefined;
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) bytes[i] = Number.parseInt(value.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/**
 * True when any signature matches `signed` under any key. crypto.subtle.verify compares in
 * constant time, so no digest is ever compared with `===`.
 */
export async function anySignatureMatches(keys: readonly CryptoKey[], signatures: readonly Uint8Array[], signed: Uint8Array): Promise<boolean> {
  for (const key of keys) {
    for (const signature of signatures) {
      if (await crypto.subtle.verify("HMAC", key, signature, signed)) return true;
    }
  }
  return false;
}

export function concatBytes(head: Uint8Array, tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + tail.length);
  out.set(head, 0);
  out.set(tail, head.length);
  return out;
}

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}
