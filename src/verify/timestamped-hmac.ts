import { MAX_SIGNATURES, anySignatureMatches, concatBytes, decodeSha256Hex, importUtf8HmacKeys, utf8 } from "./hmac-keys";
import type { Verifier } from "./verifier";

/**
 * The Stripe-style scheme WorkOS and ZITADEL share: one header `t=<timestamp>,v1=<hex>[,v1=<hex>…]`
 * (WorkOS writes `t=…, v1=…` with a space), HMAC-SHA256 over `${t}.${rawBody}` keyed with the
 * secret's UTF-8 bytes. Genuine when any v1 entry matches any configured secret (rotation) and
 * `t` is within the tolerance, past or future.
 */
export interface TimestampedHmacOptions {
  /** Header carrying `t=…,v1=…`, e.g. `workos-signature`, `zitadel-signature`. */
  header: string;
  /** What `t` counts: WorkOS sends milliseconds, ZITADEL seconds. */
  timestampUnit: "ms" | "s";
  /** WorkOS's SDK defaults to 180 s, ZITADEL's to 300 s. */
  toleranceSeconds: number;
}

export function createTimestampedHmacVerifier(secrets: readonly string[], options: TimestampedHmacOptions): Verifier {
  const tolerance = options.toleranceSeconds * 1000;
  const unitMs = options.timestampUnit === "ms" ? 1 : 1000;
  const timestampPattern = options.timestampUnit === "ms" ? /^\d{1,15}$/ : /^\d{1,12}$/;
  // Imported once per isolate (the config that owns this verifier is cached), not per request.
  let keys: Promise<CryptoKey[]> | undefined;

  return async ({ headers, body }, nowMs) => {
    const header = headers.get(options.header);
    if (!header) return { ok: false, reason: `missing ${options.header} header` };
    const { timestamp, signatures } = parseSignatureHeader(header);
    if (timestamp === undefined || !timestampPattern.test(timestamp)) return { ok: false, reason: `malformed timestamp in ${options.header}` };
    if (Math.abs(nowMs - Number(timestamp) * unitMs) > tolerance) {
      return { ok: false, reason: `${options.header} timestamp is outside the ${options.toleranceSeconds} s window` };
    }
    if (signatures.length === 0) return { ok: false, reason: `no v1 signature in ${options.header}` };

    // The timestamp is signed exactly as sent, so a re-formatted number cannot match.
    const signed = concatBytes(utf8(`${timestamp}.`), body);
    keys ??= importUtf8HmacKeys(secrets);
    return (await anySignatureMatches(await keys, signatures, signed)) ? { ok: true } : { ok: false, reason: "signature does not match" };
  };
}

/** `t=…, v1=…, v1=…` → the timestamp text and the decodable v1 digests (others are skipped). */
function parseSignatureHeader(header: string): { timestamp?: string; signatures: Uint8Array[] } {
  let timestamp: string | undefined;
  const signatures: Uint8Array[] = [];
  for (const part of header.split(",")) {
    const separator = part.indexOf("=");
    if (separator < 0) continue;
    const key = part.slice(0, separator).trim();
    const value = part.slice(separator + 1).trim();
    if (key === "t") timestamp ??= value;
    else if (key === "v1" && signatures.length < MAX_SIGNATURES) {
      const digest = decodeSha256Hex(value);
      if (digest) signatures.push(digest);
    }
  }
  return { timestamp, signatures };
}
