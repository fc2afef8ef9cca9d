import { html, raw } from "hono/html";
import type { AlertOverview } from "../alert/alerter";
import type { AlertFormat, ConfigProblem } from "../config";
import type { SchedulerStats } from "../deliver/delivery-scheduler";
import type { BridgeSummary, FailureEntry, RecentDelivery } from "../record/bridge-status";
import type { IdentityStatus } from "../record/identity-sync";
import type { ReconcileHealth } from "../reconcile/reconcile-report";
import type { ReconcileStatus } from "../reconcile/reconciler";

/**
 * The status page's markup: pure functions of the data, no I/O. `html` escapes every
 * interpolated value (ids and reasons come from providers and orq.ai). No external assets and no
 * script: styles are inline, every action is a plain form POST. (hono/html rather than hono/jsx:
 * the JSX runtime alone would cost ~4 KiB of the 48 KiB gzipped bundle budget.)
 */
export interface StatusPageData {
  version: string;
  now: number;
  orqKey: "missing" | "accepted" | "rejected";
  orqAuth: BridgeSummary["orqAuth"];
  retrying: number;
  failed: number;
  /** The workspace's delivery scheduler (pace, outage, backlog); null when it could not be asked. */
  scheduler: (SchedulerStats & { max: number }) | null;
  providers: Array<[name: string, status: string]>;
  problems: readonly ConfigProblem[];
  failures: FailureEntry[];
  /** Link to the next (older) page of failures, when there is one. */
  olderFailures: string | null;
  recent: RecentDelivery[];
  lookup?: { provider: string; userId: string; status: IdentityStatus | null };
  notice?: { kind: "ok" | "error"; text: string };
  /** Self-healing, per provider with management API credentials. */
  reconcile?: Array<{ status: ReconcileStatus; health: ReconcileHealth }>;
  /** Alerts: null when ALERT_WEBHOOK_URL is not set; `overview` null when the Alerter could not be asked. */
  alerts?: { format: AlertFormat; overview: AlertOverview | null } | null;
}

type Html = ReturnType<typeof html>;

/** Static and ours: inserted unescaped. */
const STYLE_HTML = raw(`
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#f6f7f9}
header{display:flex;align-items:center;gap:12px;padding:14px 28px;background:#fff;border-bottom:1px solid #e3e6ea}
header h1{font-size:16px;margin:0;font-weight:600}
header .version{color:#6a737d;font-size:12px}
header nav{margin-left:auto;display:flex;gap:8px;align-items:center}
main{max-width:1160px;margin:0 auto;padding:22px 28px 40px}
section{background:#fff;border:1px solid #e3e6ea;border-radius:10px;padding:16px 18px;margin-bottom:18px}
h2{font-size:14px;margin:0 0 12px;font-weight:600;display:flex;align-items:baseline;gap:8px}
h2 small{font-weight:400;color:#6a737d}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:14px;margin-bottom:18px}
.tile{background:#fff;border:1px solid #e3e6ea;border-radius:10px;padding:14px 16px;border-top:4px solid #d0d7de}
.tile .label{color:#6a737d;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.tile .value{font-size:24px;font-weight:600;margin:4px 0 2px}
.tile .hint{color:#6a737d;font-size:12px}
.tile.ok{border-top-color:#2da44e}.tile.warn{border-top-color:#d4a72c}.tile.bad{border-top-color:#cf222e}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;padding:7px 8px;border-bottom:1px solid #eef0f2;vertical-align:top}
th{font-size:12px;color:#6a737d;font-weight:500}
tr:last-child td{border-bottom:0}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.reason{max-width:340px;color:#57606a}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:500}
.badge.ok{background:#dafbe1;color:#116329}.badge.warn{background:#fff8c5;color:#7d4e00}
.badge.bad{background:#ffebe9;color:#a40e26}.badge.muted{background:#eaeef2;color:#57606a}
.empty{color:#6a737d;margin:4px 0}
button,.button{font:inherit;font-size:13px;padding:5px 12px;border-radius:6px;border:1px solid #d0d7de;background:#f6f8fa;color:#1f2328;cursor:pointer;text-decoration:none}
button:hover,.button:hover{background:#eef1f4}
button.primary{background:#1f883d;border-color:#1a7f37;color:#fff}
button.primary:hover{background:#1a7f37}
form.inline{display:inline;margin:0}
.notice{padding:10px 14px;border-radius:8px;margin-bottom:18px;border:1px solid}
.notice.ok{background:#dafbe1;border-color:#aceebb}.notice.error{background:#ffebe9;border-color:#ffcecb}
.lookup{display:flex;gap:8px;flex-wrap:wrap;align-items:center}
input,select{font:inherit;padding:5px 8px;border:1px solid #d0d7de;border-radius:6px;background:#fff}
input[name=user_id]{min-width:340px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:14px 0 0}
dt{color:#6a737d}dd{margin:0}
.more{margin-top:10px;text-align:right}
.login{max-width:360px;margin:12vh auto;background:#fff;border:1px solid #e3e6ea;border-radius:10px;padding:24px}
.login h1{font-size:18px;margin:0 0 4px}.login p{color:#6a737d;margin:0 0 16px}
.login label{display:block;margin-bottom:4px;color:#57606a}.login input{width:100%;margin-bottom:12px}.login button{width:100%}
`);

function document(title: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${title}</title><style>${STYLE_HTML}</style></head>
<body>${body}</body></html>`;
}

export function renderLoginPage(failed: boolean): Html {
  return document(
    "Sign in · orq identity bridge",
    html`<form class="login" method="post" action="/admin/login">
<h1>orq identity bridge</h1><p>Sign in with the bridge's ADMIN_TOKEN.</p>
${failed && html`<div class="notice error" role="alert">That token is not valid.</div>`}
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button class="primary" type="submit">Sign in</button></form>`,
  );
}

export function renderStatusPage(data: StatusPageData): Html {
  return document(
    "Status · orq identity bridge",
    html`<header><h1>orq identity bridge</h1><span class="version">v${data.version}</span>
<nav><a class="button" href="/admin">Refresh</a>
<form class="inline" method="post" action="/admin/logout"><button type="submit">Log out</button></form></nav></header>
<main>
${data.notice && html`<div class="notice ${data.notice.kind}" role="status">${data.notice.text}</div>`}
${tiles(data)}
${data.problems.length > 0 && problems(data.problems)}
${data.alerts?.overview && alertsSection(data.alerts.overview, data.now)}
${failures(data)}
${recent(data)}
${lookup(data)}
</main>`,
  );
}

function tiles(data: StatusPageData): Html {
  const key =
    data.orqKey === "missing"
      ? { tone: "bad", value: "Not set", hint: "ORQ_API_KEY is missing: nothing is delivered" }
      : data.orqKey === "rejected"
        ? { tone: "bad", value: "Rejected", hint: `since ${clock(data.orqAuth!.failingSince)}: ${data.orqAuth!.reason}` }
        : { tone: "ok", value: "Accepted", hint: "no rejection since the last successful call" };
  const configured = data.providers.filter(([, status]) => status === "configured").map(([name]) => name);
  return html`<div class="tiles">
${tile("orq-key", "orq.ai API key", key.tone, key.value, key.hint)}
${tile("retrying", "Retry backlog", data.retrying > 0 ? "warn" : "ok", String(data.retrying), data.retrying === 1 ? "identity waiting for a retry" : "identities waiting for a retry")}
${data.scheduler && schedulerTile(data.scheduler, data.now)}
${(data.reconcile ?? []).map((entry) => reconcileTile(entry.status, entry.health, data.now))}
${data.alerts !== undefined && alertsTile(data.alerts, data.now)}
${tile("failed", "Given up", data.failed > 0 ? "bad" : "ok", String(data.failed), "need a replay once the cause is fixed")}
${tile(
  "providers",
  "Providers configured",
  configured.length > 0 && data.problems.length === 0 ? "ok" : "warn",
  `${configured.length} of ${data.providers.length}`,
  data.problems.length > 0 ? `${data.problems.length} configuration problem(s), listed below` : configured.join(", ") || "none",
)}
</div>`;
}

/** Self-healing per provider: the age of the last complete cycle and what it did. */
function reconcileTile(status: ReconcileStatus, health: ReconcileHealth, now: number): Html {
  const last = status.last;
  const complete = status.lastComplete;
  const tone = health === "failed" || health === "overdue" ? "bad" : last && last.counts.deletions_held_back > 0 ? "warn" : "ok";
  const value = status.state === "running" ? "Running" : complete?.endedAt ? ago(now - complete.endedAt) : "Never run";
  const parts: string[] = [];
  if (last?.error) parts.push(`last cycle failed: ${last.error}`);
  if (last) {
    const c = last.counts;
    parts.push(`${c.users_seen} users, ${c.owned_seen} identities: ${c.created} created, ${c.updated} updated, ${c.deleted} deleted, ${c.unchanged} unchanged`);
    if (c.deletions_held_back > 0) parts.push(`${c.deletions_held_back} deletions held back${last.heldBack ? ` (${last.heldBack})` : ""}`);
  }
  if (health === "overdue") parts.push("overdue: older than two intervals");
  return tile(`reconcile-${status.provider}`, `Self-healing: ${status.provider}`, tone, value, parts.join(" · ") || "the first cycle starts with the next Cron Trigger");
}

/** Alerts: how many conditions are open, and whether the last messages went out. */
function alertsTile(alerts: NonNullable<StatusPageData["alerts"]> | null, now: number): Html {
  if (!alerts) return tile("alerts", "Alerts", "warn", "Off", "set ALERT_WEBHOOK_URL to be told when syncing stops");
  const overview = alerts.overview;
  if (!overview) return tile("alerts", "Alerts", "warn", "Unknown", "the alert state could not be read");
  const open = overview.open.length;
  const tone = overview.unsentCount > 0 ? "bad" : open > 0 ? "warn" : "ok";
  const hint = [
    `${alerts.format} format`,
    overview.lastSent ? `last sent ${ago(now - overview.lastSent.at)}` : "none sent yet",
    ...(overview.unsentCount > 0 ? [`${overview.unsentCount} unsent`] : []),
  ].join(" · ");
  return tile("alerts", "Alerts", tone, open === 0 ? "None open" : `${open} open`, hint);
}

function alertsSection(overview: AlertOverview, now: number): Html {
  if (overview.open.length === 0 && overview.unsentCount === 0 && !overview.lastSent && !overview.dropped) return html``;
  const open = overview.open.map(
    (condition) => html`<tr data-condition="${condition.key}">
<td><span class="badge ${condition.severity === "critical" ? "bad" : "warn"}">${condition.key}</span></td>
<td>${time(condition.startedAt, now)}</td>
<td class="reason">${condition.summary}<div>${condition.action}</div></td>
<td>${condition.notified ? "sent" : "waiting its turn"}</td></tr>`,
  );
  const unsent = overview.unsent.map(
    (alert) => html`<tr data-unsent="${alert.condition}"><td><span class="badge bad">unsent</span> ${alert.condition} ${alert.state}</td>
<td>${time(alert.queuedAt, now)}</td><td class="reason">${alert.lastProblem ?? "not tried yet"} · ${alert.attempts} attempt(s)</td>
<td>next ${time(alert.nextAttemptAt, now)}</td></tr>`,
  );
  const last = overview.lastSent;
  return html`<section id="alerts"><h2>Alerts <small>conditions open now, and messages to ALERT_WEBHOOK_URL</small></h2>
${open.length === 0 ? html`<p class="empty">No condition open.</p>` : html`<table><thead><tr><th>Condition</th><th>Since</th><th>What and what to do</th><th>Alert</th></tr></thead><tbody>${open}</tbody></table>`}
${unsent.length > 0 && html`<table><thead><tr><th>Not sent (${overview.unsentCount})</th><th>Queued</th><th>Why</th><th>Retry</th></tr></thead><tbody>${unsent}</tbody></table>`}
<p class="empty" data-testid="last-alert">${last ? html`Last alert sent ${time(last.at, now)}: ${last.condition} ${last.state} (answered ${last.status}).` : "No alert sent yet."}${overview.dropped && html` ${overview.dropped.count} alert(s) could not be sent within a day and were dropped.`}</p>
</section>`;
}

function tile(id: string, label: string, tone: string, value: string, hint: string): Html {
  return html`<div class="tile ${tone}" data-testid="${id}"><div class="label">${label}</div><div class="value">${value}</div><div class="hint">${hint}</div></div>`;
}

function problems(list: readonly ConfigProblem[]): Html {
  return html`<section><h2>Configuration problems</h2><table><tbody>
${list.map((problem) => html`<tr><td><code>${problem.variable}</code></td><td>${problem.problem}</td></tr>`)}
</tbody></table></section>`;
}

function failures(data: StatusPageData): Html {
  const rows = data.failures.map(
    (failure) => html`<tr data-identity="${failure.provider}:${failure.userId}">
<td>${identity(failure.provider, failure.userId, failure.externalId)}</td>
<td><span class="badge ${failure.state === "failed" ? "bad" : "warn"}">${failure.state}</span></td>
<td class="reason">${failure.reason ?? ""}</td>
<td>${failure.attempts}</td>
<td>${time(failure.firstFailureAt, data.now)}</td>
<td>${time(failure.updatedAt, data.now)}</td>
<td><form class="inline" method="post" action="/admin/page/replay">
<input type="hidden" name="provider" value="${failure.provider}"><input type="hidden" name="user_id" value="${failure.userId}">
<button type="submit">Replay</button></form></td></tr>`,
  );
  return html`<section id="failures"><h2>Failures <small>identities whose newest state has not reached orq.ai</small></h2>
${
  rows.length === 0
    ? html`<p class="empty">No failing deliveries.</p>`
    : html`<table><thead><tr><th>Identity</th><th>State</th><th>Reason</th><th>Attempts</th><th>Failing since</th><th>Updated</th><th></th></tr></thead>
<tbody>${rows}</tbody></table>`
}
${data.olderFailures && html`<div class="more"><a class="button" href="${data.olderFailures}">Older failures →</a></div>`}
</section>`;
}

const OUTCOME: Record<RecentDelivery["state"], [label: string, tone: string]> = {
  ok: ["delivered", "ok"],
  retrying: ["retrying", "warn"],
  failed: ["failed", "bad"],
};

const SCHEDULER_STATE: Record<SchedulerStats["state"], [label: string, tone: string]> = {
  flowing: ["Flowing", "ok"],
  rate_limited: ["Rate-limited", "warn"],
  outage: ["Paused: outage", "bad"],
  key_rejected: ["Paused: key rejected", "bad"],
};

function schedulerTile(stats: SchedulerStats & { max: number }, now: number): Html {
  const [label, tone] = SCHEDULER_STATE[stats.state];
  const pace = stats.pace ? `${stats.pace.perMinute}/min (${stats.pace.source})` : "no limit known yet";
  const parts = [
    `pace ${pace}`,
    `${stats.inFlight} of ${stats.max} calls in flight`,
    `${stats.backlog} waiting${stats.oldestWaitingSince === null ? "" : `, the oldest for ${ago(now - stats.oldestWaitingSince)}`}`,
    ...(stats.nextProbeAt === null ? [] : [`next probe ${stats.nextProbeAt <= now ? "now" : `in ${ago(stats.nextProbeAt - now)}`}`]),
  ];
  return tile("orq-delivery", "orq.ai delivery", stats.backlog > 0 && tone === "ok" ? "warn" : tone, label, parts.join(" · "));
}

function recent(data: StatusPageData): Html {
  const rows = data.recent.map((delivery) => {
    const [label, tone] = OUTCOME[delivery.state];
    return html`<tr data-identity="${delivery.provider}:${delivery.userId}">
<td>${time(delivery.at, data.now)}</td>
<td>${identity(delivery.provider, delivery.userId, delivery.externalId)}</td>
<td>${delivery.eventType}</td>
<td><span class="badge ${tone}" title="${delivery.reason ?? ""}">${label}</span></td>
<td>${delivery.status ?? "—"}</td></tr>`;
  });
  return html`<section id="recent"><h2>Recent deliveries <small>newest first; failures appear when they start or change</small></h2>
${
  rows.length === 0
    ? html`<p class="empty">Nothing delivered yet.</p>`
    : html`<table><thead><tr><th>When</th><th>Identity</th><th>Event</th><th>Outcome</th><th>orq.ai status</th></tr></thead>
<tbody>${rows}</tbody></table>`
}
</section>`;
}

function lookup(data: StatusPageData): Html {
  const found = data.lookup;
  const options = data.providers.map(
    ([name]) => html`<option value="${name}"${found?.provider === name ? html` selected` : ""}>${name}</option>`,
  );
  return html`<section id="lookup"><h2>Look up an identity <small>why is a user not (yet) in orq.ai?</small></h2>
<form class="lookup" method="get" action="/admin#lookup">
<select name="provider" aria-label="Provider">${options}</select>
<input name="user_id" aria-label="User id" placeholder="user id, e.g. user_2abc… or auth0|…" value="${found?.userId ?? ""}" required>
<button type="submit">Look up</button></form>
${found && (found.status ? identityDetails(found.status, data.now) : html`<p class="empty">The bridge never received an event for this identity.</p>`)}
</section>`;
}

function identityDetails(status: IdentityStatus, now: number): Html {
  const tone = { delivered: "ok", failed: "bad", retrying: "warn", pending: "muted" }[status.delivery];
  return html`<dl>
<dt>External id</dt><dd><code>${status.externalId}</code></dd>
<dt>Delivery</dt><dd><span class="badge ${tone}">${status.delivery}</span> ${status.pending ? "newest state not yet in orq.ai" : "orq.ai holds the newest state"}</dd>
<dt>Last event</dt><dd>${status.lastEvent.type} <code>${status.lastEvent.id}</code>, ${time(status.lastEvent.occurredAt, now)}${status.tombstone ? " (user deleted)" : ""}</dd>
<dt>Attempts</dt><dd>${status.attempts}${status.nextAttemptAt !== null && html`, next ${time(status.nextAttemptAt, now)}`}</dd>
<dt>Last orq.ai answer</dt><dd>${status.lastStatus ?? "—"}${status.lastError ? `: ${status.lastError}` : ""}</dd>
<dt>In orq.ai</dt><dd>${status.existsInOrq === null ? "unknown" : status.existsInOrq ? "yes" : "no"}</dd>
${status.budget && html`<dt>Budget</dt><dd><span class="badge ${{ ok: "ok", failed: "bad", retrying: "warn", pending: "muted" }[status.budget.state]}">${status.budget.state}</span> plan ${status.budget.plan ?? "(no budget)"}${status.budget.error ? `: ${status.budget.error}` : ""}</dd>`}
</dl>`;
}

function identity(provider: string, userId: string, externalId: string): Html {
  return html`<span class="badge muted">${provider}</span> <code>${userId}</code>${externalId !== userId && html`<div>→ <code>${externalId}</code></div>`}`;
}

function time(ms: number, now: number): Html {
  return html`<time datetime="${new Date(ms).toISOString()}" title="${clock(ms)}">${ago(now - ms)}</time>`;
}

function clock(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

function ago(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / 1000);
  if (seconds < 5) return "just now";
  const text =
    seconds < 90 ? `${seconds} s`
    : seconds < 90 * 60 ? `${Math.round(seconds / 60)} min`
    : seconds < 36 * 3600 ? `${Math.round(seconds / 3600)} h`
    : `${Math.round(seconds / 86400)} days`;
  return ms < 0 ? `in ${text}` : `${text} ago`;
}
