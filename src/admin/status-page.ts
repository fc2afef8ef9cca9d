import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { csrf } from "hono/csrf";
import { alerterOf } from "../alert/alerter";
import { getConfig } from "../config";
import { SCHEDULER_NAME } from "../deliver/delivery-scheduler";
import { reconcileHealth } from "../reconcile/reconcile-report";
import { reconcileStatuses } from "../reconcile/reconcile-trigger";
import { orqAuthState } from "../receive/health-route";
import { logLine } from "../log";
import { providers } from "../providers/registry";
import { BRIDGE_STATUS_NAME, formatFailureCursor, parseFailureCursor } from "../record/bridge-status";
import { identityObjectName } from "../record/identity-change";
import { BRIDGE_VERSION } from "../version";
import { constantTimeEqual } from "../verify/constant-time";
import type { AdminEnv } from "./admin-auth";
import { endSession, hasSession, startSession } from "./admin-session";
import { MAX_USER_ID_LENGTH, replayIdentity } from "./replay";
import { renderLoginPage, renderStatusPage, type StatusPageData } from "./status-page-view";

const FAILURES_SHOWN = 25;
const RECENT_SHOWN = 15;

/**
 * `GET /admin`: the status page, behind a login form that exchanges ADMIN_TOKEN for a session
 * cookie. Its forms post to `/admin/login`, `/admin/logout` and `/admin/page/replay`; those check
 * the request's origin (the cookie is SameSite=Strict as well) and answer with a redirect.
 */
export const statusPage = new Hono<AdminEnv>();

/** Form posts must come from this origin (the cookie is also SameSite=Strict) and be small. */
const sameOrigin = csrf();
const smallForm = bodyLimit({ maxSize: 4096, onError: (c) => c.text("form too large", 413) });

const requireSession: MiddlewareHandler<AdminEnv> = async (c, next) => {
  if (!(await hasSession(c))) return render(c, renderLoginPage(false), 401);
  await next();
};

statusPage.get("/", requireSession, async (c) => {
  const config = getConfig(c.env);
  const after = parseFailureCursor(c.req.query("cursor") ?? "") ?? undefined;
  const scheduler = c.env.ORQ_SCHEDULER.getByName(SCHEDULER_NAME);
  const alerting = config.alerts.url === undefined ? undefined : alerterOf(c.env).overview().catch(() => null);
  const [overview, stats, delivered] = await Promise.all([
    c.env.BRIDGE_STATUS.getByName(BRIDGE_STATUS_NAME).overview({ limit: FAILURES_SHOWN + 1, after }, RECENT_SHOWN),
    scheduler.stats().catch(() => null),
    scheduler.recentDeliveries(RECENT_SHOWN).catch(() => []),
  ]);
  const reconciles = await reconcileStatuses(c.env).catch(() => []);
  const orqAuth = orqAuthState(stats, overview.summary);
  // Successes come from the scheduler (they cost no call to BridgeStatus), failures from BridgeStatus.
  const recent = [...delivered.map((entry) => ({ ...entry, state: "ok" as const, reason: null })), ...overview.recent]
    .sort((a, b) => b.at - a.at)
    .slice(0, RECENT_SHOWN);
  const failures = overview.failures.slice(0, FAILURES_SHOWN);
  const last = failures[failures.length - 1];

  const data: StatusPageData = {
    version: BRIDGE_VERSION,
    now: Date.now(),
    orqKey: !config.orq.apiKey ? "missing" : orqAuth ? "rejected" : "accepted",
    orqAuth,
    retrying: overview.summary.retrying,
    failed: overview.summary.failed,
    scheduler: stats && { ...stats, max: config.orq.maxConcurrency },
    providers: [...config.providers].map(([name, setup]) => [name, setup.status]),
    problems: config.problems,
    failures,
    olderFailures: overview.failures.length > FAILURES_SHOWN && last ? `/admin?cursor=${encodeURIComponent(formatFailureCursor(last))}#failures` : null,
    recent,
    reconcile: reconciles.filter((status) => status.configured).map((status) => ({ status, health: reconcileHealth(status, config.reconcile.intervalMinutes, Date.now()) })),
    alerts: alerting === undefined ? null : { format: config.alerts.format, overview: await alerting },
  };

  const target = identityFrom(c.req.query("provider"), c.req.query("user_id"));
  if (target) {
    const status = await c.env.IDENTITY_SYNC.getByName(identityObjectName(target.provider, target.userId)).inspect();
    data.lookup = { ...target, status };
    const replayed = c.req.query("replayed");
    if (replayed === "queued") data.notice = { kind: "ok", text: `Replay queued for ${target.provider} ${target.userId}.` };
    if (replayed === "unknown") data.notice = { kind: "error", text: `The bridge never received an event for ${target.provider} ${target.userId}.` };
  }
  return render(c, renderStatusPage(data), 200);
});

statusPage.post("/login", sameOrigin, smallForm, async (c) => {
  const form = await c.req.parseBody();
  const token = typeof form.token === "string" ? form.token : "";
  if (!(await constantTimeEqual(token, c.var.adminToken))) {
    logLine({ msg: "admin_login_failed" });
    return render(c, renderLoginPage(true), 401);
  }
  await startSession(c);
  return c.redirect("/admin", 303);
});

statusPage.post("/logout", sameOrigin, smallForm, requireSession, (c) => {
  endSession(c);
  return c.redirect("/admin", 303);
});

statusPage.post("/page/replay", sameOrigin, smallForm, requireSession, async (c) => {
  const form = await c.req.parseBody();
  const target = identityFrom(form.provider, form.user_id);
  if (!target) return c.redirect("/admin", 303);
  const queued = await replayIdentity(c.env, target);
  const query = new URLSearchParams({ provider: target.provider, user_id: target.userId, replayed: queued ? "queued" : "unknown" });
  return c.redirect(`/admin?${query}#lookup`, 303);
});

function identityFrom(provider: unknown, userId: unknown): { provider: string; userId: string } | null {
  if (typeof provider !== "string" || typeof userId !== "string") return null;
  if (!providers.some((known) => known.name === provider)) return null;
  const trimmed = userId.trim();
  return trimmed && trimmed.length <= MAX_USER_ID_LENGTH ? { provider, userId: trimmed } : null;
}

/** HTML answers: never cached, never framed, and nothing but the inline styles may load. */
function render(c: Context<AdminEnv>, page: ReturnType<typeof renderLoginPage>, status: 200 | 401) {
  c.header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  c.header("Referrer-Policy", "no-referrer");
  c.header("X-Content-Type-Options", "nosniff");
  return c.html(page, status);
}
