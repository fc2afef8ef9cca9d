/**
 * Development and test secrets. They are public on purpose: `npm run dev`, `npm run send`,
 * `npm run doctor` (against a local bridge) and the tests use them with the local orq.ai emulator.
 * Never use them for a deployed bridge.
 */
export const DEV_SECRETS = {
  ORQ_API_KEY: "orq-dev-key-not-secret",
  CLERK_WEBHOOK_SIGNING_SECRET: "whsec_ZGV2LW9ubHktY2xlcmstc2lnbmluZy1zZWNyZXQtMzI=",
  AUTH0_WEBHOOK_TOKEN: "dev-only-auth0-event-stream-token",
  WORKOS_WEBHOOK_SECRET: "dev-only-workos-webhook-secret",
  ZITADEL_WEBHOOK_SIGNING_KEY: "dev-only-zitadel-target-signing-key",
  LOGTO_WEBHOOK_SIGNING_KEY: "dev-only-logto-webhook-signing-key",
  STACK_AUTH_WEBHOOK_SECRET: "whsec_ZGV2LW9ubHktc3RhY2stYXV0aC1zdml4LXNlY3JldC0zMmI=",
  STANDARD_WEBHOOK_SECRET: "whsec_ZGV2LW9ubHktc3RhbmRhcmQtd2ViaG9va3Mtc2VjcmV0MzI=",
  /** Not a secret: the issuer whose `/.well-known/jwks` `npm run dev` serves (signing/kinde-dev-key.ts). */
  KINDE_ISSUER_URL: "http://127.0.0.1:8789",
  OKTA_WEBHOOK_SECRET: "dev-only-okta-event-hook-secret",
  SUPABASE_WEBHOOK_SECRET: "dev-only-supabase-webhook-secret",
  AUTH0_LOG_STREAM_TOKEN: "dev-only-auth0-log-stream-token",
} as const;
