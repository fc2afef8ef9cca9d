import { constantTimeEqual } from "./constant-time";
import type { Verifier } from "./verifier";

/** Shorter shared tokens are guessable; no sender requires them to be short, so the bridge insists. */
export const MIN_STATIC_TOKEN_LENGTH = 16;

export interface StaticTokenOptions {
  /**
   * `Bearer` (default): the header is `Authorization: Bearer <token>` (Auth0 Event Streams and
   * Actions, Supabase). `raw`: the whole header value is the token, for senders where the operator
   * types the exact header value (Okta Event Hooks, Auth0 Log Streams).
   */
  scheme?: "Bearer" | "raw";
}

/**
 * A static shared secret in the `Authorization` header, for senders that do not sign.
 * Compared in constant time.
 */
export function createBearerTokenVerifier(token: string, options: StaticTokenOptions = {}): Verifier {
  const expected = options.scheme === "raw" ? token : `Bearer ${token}`;
  return async ({ headers }) => {
    const presented = headers.get("authorization");
    if (!presented) return { ok: false, reason: "missing Authorization header" };
    return (await constantTimeEqual(presented.trim(), expected))
      ? { ok: true }
      : { ok: false, reason: "invalid Authorization token" };
  };
}
