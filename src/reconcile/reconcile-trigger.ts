import { logLine } from "../log";
import type { CycleTrigger } from "./engine";
import type { ReconcileStatus, StartAnswer } from "./reconciler";
import { userSources } from "./sources/registry";

/** The reconciler of one provider: one object per provider, named after it. */
export function reconcilerOf(env: Cloudflare.Env, provider: string) {
  return env.RECONCILER.getByName(provider);
}

/** Providers whose users can be listed with the credentials set (the Cron Trigger reconciles those). */
export function reconcilableProviders(env: Cloudflare.Env): string[] {
  return userSources.filter((source) => source.configure(env as never).ok).map((source) => source.name);
}

/** What the Cron Trigger does: one call per configured provider, so it fits a Cron run's 10 ms of CPU. */
export async function startReconcileCycles(env: Cloudflare.Env, trigger: CycleTrigger): Promise<void> {
  await Promise.all(
    reconcilableProviders(env).map((provider) =>
      reconcilerOf(env, provider)
        .start(provider, { trigger })
        .then((answer: StartAnswer) => {
          if (!answer.started && answer.reason === "running") logLine({ msg: "reconcile_still_running", provider });
        })
        .catch((error: Error) => logLine({ msg: "reconcile_start_failed", provider, error: error.name })),
    ),
  );
}

/** Every listable provider's status, for /health, the status page and GET /admin/reconcile. */
export async function reconcileStatuses(env: Cloudflare.Env): Promise<ReconcileStatus[]> {
  const configured = new Set(reconcilableProviders(env));
  return Promise.all(
    userSources.map(async (source): Promise<ReconcileStatus> => {
      if (!configured.has(source.name)) {
        const setup = source.configure(env as never);
        return { provider: source.name, configured: false, ...(!setup.ok && { problem: setup.problem }), state: "idle", current: null, last: null, lastComplete: null };
      }
      return reconcilerOf(env, source.name).status(source.name);
    }),
  );
}
