import { app } from "./app";
import { startReconcileCycles } from "./reconcile/reconcile-trigger";

export { DeliveryScheduler } from "./deliver/delivery-scheduler";
export { BridgeStatus } from "./record/bridge-status";
export { IdentitySync } from "./record/identity-sync";
export { Reconciler } from "./reconcile/reconciler";

export default {
  fetch: app.fetch,
  /** The Cron Trigger (wrangler.toml): starts a reconcile cycle per configured provider; the work runs in alarms. */
  scheduled(_controller, env, ctx) {
    ctx.waitUntil(startReconcileCycles(env, "cron"));
  },
} satisfies ExportedHandler<Cloudflare.Env>;
