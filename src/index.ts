import { evaluateAlerts } from "./alert/alert-trigger";
import { app } from "./app";
import { getConfig } from "./config";
import { reconcileDue } from "./cron-schedule";
import { startReconcileCycles } from "./reconcile/reconcile-trigger";

export { Alerter } from "./alert/alerter";
export { DeliveryScheduler } from "./deliver/delivery-scheduler";
export { BridgeStatus } from "./record/bridge-status";
export { IdentitySync } from "./record/identity-sync";
export { Reconciler } from "./reconcile/reconciler";

export default {
  fetch: app.fetch,
  /**
   * The Cron Trigger (wrangler.toml, every minute): evaluates alerts, and on the reconcile interval's
   * minutes starts a reconcile cycle per configured provider (the work runs in alarms).
   */
  scheduled(controller, env, ctx) {
    ctx.waitUntil(
      Promise.all([
        reconcileDue(controller, getConfig(env).reconcile.intervalMinutes) ? startReconcileCycles(env, "cron") : undefined,
        evaluateAlerts(env),
      ]),
    );
  },
} satisfies ExportedHandler<Cloudflare.Env>;
