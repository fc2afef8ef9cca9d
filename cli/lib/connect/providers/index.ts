/** Every provider `npm run connect` knows: by management API, or by dashboard steps. */
import type { Connector } from "../connector";
import { auth0EventStreams, auth0LogStreams } from "./auth0";
import { kinde } from "./kinde";
import { logto } from "./logto";
import { okta } from "./okta";
import { supabase } from "./supabase";
import { workos } from "./workos";
import { zitadel } from "./zitadel";

export const CONNECTORS: Record<string, Connector> = {
  auth0: auth0EventStreams,
  "auth0-logs": auth0LogStreams,
  workos,
  logto,
  okta,
  zitadel,
  kinde,
  supabase,
};

/** Providers with no documented API to register a webhook endpoint (../shared/reference/PROVIDER-APIS.md §7, §8). */
export const DASHBOARD_ONLY = {
  clerk: {
    title: "Clerk",
    steps: (url: string) => [
      "Clerk Dashboard → Configure → Webhooks → Add Endpoint",
      `Endpoint URL: ${url}`,
      "Subscribe to events: user.created, user.updated, user.deleted",
      "Create, then copy the endpoint's Signing Secret (whsec_…)",
      "npx wrangler secret put CLERK_WEBHOOK_SIGNING_SECRET   (locally: CLERK_WEBHOOK_SIGNING_SECRET=… in .dev.vars)",
      "npm run doctor -- --url <bridge> --provider clerk",
    ],
  },
  "stack-auth": {
    title: "Stack Auth",
    steps: (url: string) => [
      "Stack Auth dashboard → your project → Webhooks → Add endpoint",
      `URL: ${url}`,
      "Events: user.created, user.updated, user.deleted",
      "Copy the endpoint's signing secret (whsec_…)",
      "npx wrangler secret put STACK_AUTH_WEBHOOK_SECRET   (locally: STACK_AUTH_WEBHOOK_SECRET=… in .dev.vars)",
      "npm run doctor -- --url <bridge> --provider stack-auth",
    ],
  },
} as const;
