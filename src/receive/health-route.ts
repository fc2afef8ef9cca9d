import type { Context } from "hono";
import { getConfig } from "../config";
import { ORQ_GATE_NAME, type GateStats } from "../deliver/orq-gate";
import { logLine } from "../log";
import { BRIDGE_STATUS_NAME, type BridgeSummary } from "../record/bridge-status";
import { BRIDGE_VERSION } from "../version";

/**
 * `GET /health`: version, which providers are configured, configuration problems (by variable,
 * never a value), whether orq.ai accepts the API key, and the delivery backlog.
 * Always 200 so it can be read; `status` says `ok` or `degraded`.
 */
export async function healthRoute(c: Context<{ Bindings: Cloudflare.Env }>) {
  const config = getConfig(c.env);
  const [summary, gate] = await Promise.all([
    c.env.BRIDGE_STATUS.getByName(BRIDGE_STATUS_NAME)
      .summary()
      .catch((error: Error): BridgeSummary | null => {
        logLine({ msg: "health_status_unavailable", error: error.name });
        return null;
      }),
    c.env.ORQ_GATE.getByName(ORQ_GATE_NAME)
      .stats()
      .catch((): GateStats | null => null),
  ]);
  const auth = summary?.orqAuth;
  const degraded = config.problems.length > 0 || !summary || auth !== null || summary.failed > 0;
  return c.json({
    status: degraded ? "degraded" : "ok",
    version: BRIDGE_VERSION,
    providers: Object.fromEntries([...config.providers].map(([name, setup]) => [name, setup.status])),
    orq: {
      api_key: config.orq.apiKey ? "set" : "missing",
      auth: auth ? "failing" : "ok",
      ...(auth && {
        auth_failing_since: new Date(auth.failingSince).toISOString(),
        last_auth_failure_at: new Date(auth.lastFailureAt).toISOString(),
        reason: auth.reason,
      }),
    },
    deliveries: summary && {
      retrying: summary.retrying,
      failed: summary.failed,
      // The ORQ_MAX_CONCURRENCY cap: calls to orq.ai in flight now, and deliveries queued for a slot.
      ...(gate && { in_flight: gate.inFlight, waiting_for_slot: gate.queued, max_concurrency: config.orq.maxConcurrency }),
    },
    problems: config.problems,
  });
}
