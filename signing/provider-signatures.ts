/**
 * Signing a webhook the way each provider does, for the command-line tools that send webhooks
 * (`npm run send`, `npm run doctor`, `npm run connect`'s checks) and the tests that reuse them.
 *
 * Svix (Clerk, Stack Auth) and Standard Webhooks are signed with the providers' own libraries
 * (`svix`, `standardwebhooks`); WorkOS, ZITADEL and Logto from their documented algorithms; Kinde
 * as an RS256 JWT with a key you hold. Never with the bridge's verifiers, so a bug there cannot
 * hide behind a matching bug here. Node-only (node:crypto): never import it from src/.
 */
import { createHmac, createPrivateKey, sign as rsaSign, type JsonWebKeyInput } from "node:crypto";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";

/** During a rotation the bridge's binding holds several secrets (space- or comma-separated): sign with the first. */
export function firstSecret(value: string): string {
  return value.split(/[\s,]+/).find(Boolean) ?? value;
}

/** Hex HMAC-SHA256 keyed with the secret's UTF-8 bytes (WorkOS, ZITADEL, Logto). */
export function hmacSha256Hex(secret: string, content: string): string {
  return createHmac("sha256", secret).update(content).digest("hex");
}

/** Svix headers (Clerk, Stack Auth), signed with the svix library; `id` is the `svix-id`. */
export function svixSignatureHeaders(body: string, id: string, nowMs: number, secret: string): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return {
    "content-type": "application/json",
    "svix-id": id,
    "svix-timestamp": String(timestamp),
    "svix-signature": new SvixWebhook(firstSecret(secret)).sign(id, new Date(timestamp * 1000), body),
  };
}

/**
 * Standard Webhooks headers, signed with `standardwebhooks`. `v1,whsec_…` (as Supabase shows it) is
 * accepted, so several secrets here are separated by whitespace only.
 */
export function standardWebhookHeaders(body: string, id: string, nowMs: number, secret: string): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  const first = (secret.split(/\s+/).find(Boolean) ?? secret).replace(/^v1,/, "");
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": new StandardWebhook(first).sign(id, new Date(timestamp * 1000), body),
  };
}

/** WorkOS (workos-node `SignatureProvider`): `WorkOS-Signature: t=<ms>, v1=<hex HMAC-SHA256(secret, `${t}.${body}`)>`. */
export function workosSignatureHeader(body: string, nowMs: number, secret: string): Record<string, string> {
  return { "content-type": "application/json", "workos-signature": `t=${nowMs}, v1=${hmacSha256Hex(firstSecret(secret), `${nowMs}.${body}`)}` };
}

/** ZITADEL (`pkg/actions/signing.go`): `ZITADEL-Signature: t=<unix s>,v1=<hex HMAC-SHA256(key, `${t}.${body}`)>`. */
export function zitadelSignatureHeader(body: string, nowMs: number, secret: string): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return { "content-type": "application/json", "zitadel-signature": `t=${timestamp},v1=${hmacSha256Hex(firstSecret(secret), `${timestamp}.${body}`)}` };
}

/** Logto ("Secure webhooks"): `logto-signature-sha-256: <hex HMAC-SHA256(signing key, body)>`. */
export function logtoSignatureHeader(body: string, secret: string): Record<string, string> {
  return { "content-type": "application/json", "logto-signature-sha-256": hmacSha256Hex(firstSecret(secret), body) };
}

/** Kinde: the body is an RS256 JWT of the payload, signed with `privateJwk` (Kinde uses the business's key). */
export function kindeJwt(payload: unknown, kid: string, privateJwk: JsonWebKeyInput["key"]): string {
  const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const signingInput = `${segment({ alg: "RS256", kid, typ: "JWT" })}.${segment(payload)}`;
  const key = createPrivateKey({ key: { ...privateJwk }, format: "jwk" });
  return `${signingInput}.${rsaSign("sha256", Buffer.from(signingInput), key).toString("base64url")}`;
}
