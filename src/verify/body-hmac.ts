import { anySignatureMatches, decodeSha256Hex, importUtf8HmacKeys } from "./hmac-keys";
import type { Verifier } from "./verifier";

/**
 * A hex HMAC-SHA256 of the raw body alone in one header, keyed with the secret's UTF-8 bytes
 * (Logto's `logto-signature-sha-256`). The scheme has neither a timestamp nor a delivery id: the
 * provider plug-in checks the payload's own time against replays and builds its dedupe key.
 */
export function createBodyHmacVerifier(secrets: readonly string[], options: { header: string }): Verifier {
  // Imported once per isolate (the config that owns this verifier is cached), not per request.
  let keys: Promise<CryptoKey[]> | undefined;

  return async ({ headers, body }) => {
    const header = headers.get(options.header)?.trim();
    if (!header) return { ok: false, reason: `missing ${options.header} header` };
    const signature = decodeSha256Hex(header);
    if (!signature) return { ok: false, reason: `${options.header} is not a hex SHA-256 HMAC` };
    keys ??= importUtf8HmacKeys(secrets);
    return (await anySignatureMatches(await keys, [signature], body)) ? { ok: true } : { ok: false, reason: "signature does not match" };
  };
}
