/**
 * Development and test secrets. They are public on purpose: `npm run dev` and the tests use them
 * against the local orq.ai emulator. Never use them for a deployed bridge.
 */
export const DEV_SECRETS = {
  ORQ_API_KEY: "orq-dev-key-not-secret",
  CLERK_WEBHOOK_SIGNING_SECRET: "whsec_ZGV2LW9ubHktY2xlcmstc2lnbmluZy1zZWNyZXQtMzI=",
  AUTH0_WEBHOOK_TOKEN: "dev-only-auth0-event-stream-token",
} as const;
