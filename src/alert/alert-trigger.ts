import { getConfig } from "../config";
import { logLine } from "../log";
import { alerterOf, type WebhookTally } from "./alerter";

/**
 * The Worker's side of alerting. Webhook verdicts (verified, or answered 401) are counted in this
 * isolate's memory, per provider and minute, and reported to the Alerter at most once a minute per
 * isolate: a flood of forged webhooks costs no Durable Object request per request, and neither does a
 * webhook on the happy path. The first verdict after a quiet spell waits GATHER_MS so a burst travels
 * as one report; a report is sent from `waitUntil` after the answer, so only a report that can go out
 * within WAIT_UNTIL_BUDGET_MS is scheduled (the runtime ends `waitUntil` work 30 s after the answer).
 * Counts that could not go out yet wait for the next webhook or ride the Cron Trigger's evaluation.
 * With ALERT_WEBHOOK_URL unset nothing is counted.
 */
export const REPORT_EVERY_MS = 60_000;
export const GATHER_MS = 5_000;
const WAIT_UNTIL_BUDGET_MS = 25_000;
/** Provider-minutes kept while reports fail (the Alerter unreachable): the oldest go first. */
const MAX_PENDING = 240;

type Verdict = "verified" | "rejected";

let pending = new Map<string, { provider: string; minute: number; verified: number; rejected: number }>();
let origin: string | undefined;
let lastReportAt = Number.NEGATIVE_INFINITY;
let reportScheduled = false;
/** Bumped by forgetWebhookTally: a report timer of an earlier generation does nothing. */
let generation = 0;

export function countWebhook(env: Cloudflare.Env, waitUntil: ((promise: Promise<unknown>) => void) | undefined, provider: string, verdict: Verdict, requestUrl: string, now = Date.now()): void {
  if (!getConfig(env).alerts.url) return;
  const minute = Math.floor(now / 60_000);
  const key = `${provider}\n${minute}`;
  const entry = pending.get(key) ?? { provider, minute, verified: 0, rejected: 0 };
  entry[verdict]++;
  pending.set(key, entry);
  origin = new URL(requestUrl).origin;
  if (pending.size > MAX_PENDING) pending.delete(pending.keys().next().value!);
  if (reportScheduled || !waitUntil) return;
  const at = Math.max(now + GATHER_MS, lastReportAt + REPORT_EVERY_MS);
  if (at - now > WAIT_UNTIL_BUDGET_MS) return;
  reportScheduled = true;
  const scheduledIn = generation;
  waitUntil(
    new Promise((resolve) => setTimeout(resolve, at - now))
      .then(() => (scheduledIn === generation ? report(env) : undefined))
      .finally(() => {
        if (scheduledIn === generation) reportScheduled = false;
      }),
  );
}

async function report(env: Cloudflare.Env): Promise<void> {
  const tally = takeWebhookTally();
  if (!tally) return;
  lastReportAt = Date.now();
  try {
    await alerterOf(env).recordWebhooks(tally);
  } catch (error) {
    restoreWebhookTally(tally);
    logLine({ msg: "alert_tally_report_failed", error: (error as Error)?.name });
  }
}

/** This isolate's counts since its last report (and forgets them), or undefined when there are none. */
export function takeWebhookTally(): WebhookTally | undefined {
  if (pending.size === 0) return undefined;
  const tally: WebhookTally = { ...(origin && { origin }), counts: [...pending.values()] };
  pending = new Map();
  return tally;
}

/** This isolate as a freshly started one has it: nothing counted, nothing reported yet (tests start from it). */
export function forgetWebhookTally(): void {
  pending = new Map();
  origin = undefined;
  lastReportAt = Number.NEGATIVE_INFINITY;
  reportScheduled = false;
  generation++;
}

function restoreWebhookTally(tally: WebhookTally): void {
  for (const count of tally.counts) {
    const key = `${count.provider}\n${count.minute}`;
    const entry = pending.get(key) ?? { ...count, verified: 0, rejected: 0 };
    entry.verified += count.verified;
    entry.rejected += count.rejected;
    pending.set(key, entry);
  }
}

/**
 * The Cron Trigger's minute (every minute, wrangler.toml): with alerts configured, one call to the
 * Alerter, carrying this isolate's counts. Unset: nothing.
 */
export async function evaluateAlerts(env: Cloudflare.Env): Promise<void> {
  if (!getConfig(env).alerts.url) return;
  const tally = takeWebhookTally();
  try {
    await alerterOf(env).evaluate(tally);
  } catch (error) {
    if (tally) restoreWebhookTally(tally);
    logLine({ msg: "alert_evaluation_failed", error: (error as Error)?.name });
  }
}
