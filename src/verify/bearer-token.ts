import { constantTimeEqual } from "./constant-time";
import type { Verifier } from "./verifier";

/**
 * A static shared secret in the `Authorization` header, for senders that do not sign
 * (Auth0 Event Streams, Auth0 Actions). `scheme: "Bearer"` expects `Bearer <token>`.
 */
export function createBearerTokenVerifier(token: string, options: { scheme?: "Bearer" } = { scheme: "Bearer" }): Verifier {
  const expected = options.scheme ? `${options.scheme} ${token}` : token;
  return async ({ headers }) => {
    const presented = headers.get("authorization");
    if (!presented) return { ok: false, reason: "missing Authorization header" };
    return (await constantTimeEqual(presented.trim(), expected))
      ? { ok: true }
      : { ok: false, reason: "invalid Authorization token" };
  };
}
