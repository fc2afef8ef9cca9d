/**
 * Svix message ids, made the way Svix makes them. Web APIs only (no node: imports), so code
 * running in workerd (the worker tests) can import it as well as the command-line tools.
 */
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const KSUID_EPOCH_SECONDS = 1_400_000_000;

/**
 * A Svix message id as Svix creates them: `msg_` + a millisecond KSUID (svix-ksuid `KsuidMs`:
 * 4 bytes of seconds since 2014-05-13T16:53:20Z, 1 byte of sub-second in 1/256 s, 15 random
 * bytes, base62 in 27 characters), created at `atMs`. The bridge orders Stack Auth events by it.
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
