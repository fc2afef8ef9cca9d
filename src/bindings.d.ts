/**
 * Secrets and vars the bridge reads (docs/configuration.md). They are not declared in
 * wrangler.toml, so `wrangler types` cannot see them; all are optional strings.
 */
declare namespace Cloudflare {
  interface Env {
    ORQ_API_KEY?: string;
    ORQ_API_URL?: string;
    ORQ_TIMEOUT_MS?: string;
    ORQ_TAGS?: string;
    ORQ_METADATA_KEYS?: string;
    ORQ_EXTERNAL_ID_SOURCE?: string;
    ORQ_EXTERNAL_ID_PREFIX?: string;
    ORQ_ON_DELETE?: string;
    /** Plan-driven budgets: JSON (a string, or an object from a [vars] table in wrangler.toml). */
    ORQ_BUDGETS?: string | Record<string, unknown>;
    ADMIN_TOKEN?: string;
    CLERK_WEBHOOK_SIGNING_SECRET?: string;
    AUTH0_WEBHOOK_TOKEN?: string;
    WORKOS_WEBHOOK_SECRET?: string;
    ZITADEL_WEBHOOK_SIGNING_KEY?: string;
    LOGTO_WEBHOOK_SIGNING_KEY?: string;
    STACK_AUTH_WEBHOOK_SECRET?: string;
    STANDARD_WEBHOOK_SECRET?: string;
    KINDE_ISSUER_URL?: string;
    OKTA_WEBHOOK_SECRET?: string;
    SUPABASE_WEBHOOK_SECRET?: string;
    AUTH0_LOG_STREAM_TOKEN?: string;
    ALERT_WEBHOOK_URL?: string;
    ALERT_FORMAT?: string;
  }
}
