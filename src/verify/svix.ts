import type { Verifier } from "./verifier";

/**
 * Svix signatures, which Standard Webhooks adopted unchanged (only the header prefix differs):
 * HMAC-SHA256 over `${id}.${timestamp}.${rawBody}` keyed with base64-decode(secret minus `whsec_`),
 * sent as a space-separated list of `v1,<base64>` entries. A request is genuine when any entry
 * matches any configured secret (key rotation), and its timestamp is within the tolerance.
 */
export interface SvixVerifierOptions {
  /** `svix` (Clerk) or `webhook` (Standard Webhooks). */
  headerPrefix: "svix" | "webhook";
  toleranceSeconds?: number;
}

const encoder = new TextEncoder();

export function createSvixVerifier(secrets: readonly string[], options: SvixVerifierOptions): Verifier {
  const tolerance = (options.toleranceSeconds ?? 300) * 1000;
  const idHeader = `${options.headerPrefix}-id`;
  const timestampHeader = `${options.headerPrefix}-timestamp`;
  const signatureHeader = `${options.headerPrefix}-signature`;
  // Imported once per isolate (the config that owns this verifier is cached), not per request.
  let keys: Promise<CryptoKey[]> | undefined;

  return async ({ headers, body }, nowMs) => {
    const id = headers.get(idHeader);
    const timestamp = headers.get(timestampHeader);
    const signatures = headers.get(signatureHeader);
    if (!id || !timestamp || !signatures) {
      return { ok: false, reason: `missing ${idHeader}, ${timestampHeader} or ${signatureHeader} header` };
    }
    if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: `malformed ${timestampHeader}` };
    if (Math.abs(nowMs - Number(timestamp) * 1000) > tolerance) {
      return { ok: false, reason: `${timestampHeader} is outside the ${tolerance / 1000} s window` };
    }
    const candidates = parseV1Signatures(signatures);
    if (candidates.length === 0) return { ok: false, reason: "no v1 signature" };

    const signed = concat(encoder.encode(`${id}.${timestamp}.`), body);
    keys ??= Promise.all(secrets.map(importSecret));
    for (const key of await keys) {
      for (const signature of candidates) {
        // crypto.subtle.verify compares in constant time.
        if (await crypto.subtle.verify("HMAC", key, signature, signed)) return { ok: true, deliveryId: id, signedAt: Number(timestamp) * 1000 };
      }
    }
    return { ok: false, reason: "signature does not match" };
  };
}

/** `whsec_<base64>` (optionally as Supabase shows it, `v1,whsec_<base64>`) → key bytes; throws when not base64. */
export function decodeSvixSecret(secret: string): Uint8Array {
  const encoded = secret.replace(/^v1,/, "").replace(/^whsec_/, "");
  if (!encoded || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw new Error("is not whsec_ followed by base64");
  return decodeBase64(encoded);
}

function importSecret(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", decodeSvixSecret(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
}

function parseV1Signatures(header: string): Uint8Array[] {
  const signatures: Uint8Array[] = [];
  for (const entry of header.split(" ")) {
    const [version, value] = entry.split(",", 2);
    if (version !== "v1" || !value || value.length > 200) continue;
    try {
      signatures.push(decodeBase64(value));
    } catch {
      // not base64: cannot match
    }
  }
  return signatures;
}

function decodeBase64(value: string): Uint8Array {
  const binary = atob(value);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function concat(head: Uint8Array, tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + tail.length);
  out.set(head, 0);
  out.set(tail, head.length);
  return out;
}
