/**
 * Which conditions are open and which messages a change sends (src/alert/alert-conditions.ts), the
 * Cron Trigger's schedule and the retry schedule: pure functions, with the clock as an argument.
 * End to end through the Alerter and a fake receiver: test/alerts/alerts.test.ts.
 */
import { describe, expect, it } from "vitest";
import {
  evaluateConditions,
  planAlerts,
  safeUserId,
  type AlertInputs,
  type StoredCondition,
  type WebhookWindow,
} from "../../src/alert/alert-conditions";
import { formatAlert } from "../../src/alert/alert-formats";
import { alertRetryDelayMs } from "../../src/alert/alerter";
import { reconcileDue } from "../../src/cron-schedule";
import type { SchedulerStats } from "../../src/deliver/delivery-scheduler";
import type { Cycle } from "../../src/reconcile/engine";
import type { ReconcileStatus } from "../../src/reconcile/reconciler";
import type { FailureEntry } from "../../src/record/bridge-status";

const NOW = Date.parse("2026-12-01T03:00:00Z");
const MINUTE = 60_000;

function stats(state: SchedulerStats["state"], since: number): SchedulerStats {
  return { state, since, pace: null, callsLastMinute: 0, inFlight: 0, concurrencyAllowance: 2, reserved: 0, backlog: 7, reconcileBacklog: 0, oldestWaitingSince: null, pausedUntil: null, nextProbeAt: null };
}

function inputs(overrides: Partial<AlertInputs> = {}): AlertInputs {
  return {
    now: NOW,
    scheduler: stats("flowing", NOW - 3_600_000),
    status: { summary: { orqAuth: null, retrying: 0, failed: 0 }, failures: [] },
    reconcile: { statuses: [], intervalMinutes: 60 },
    webhooks: [],
    open: new Map(),
    ...overrides,
  };
}

const keys = (input: AlertInputs) => evaluateConditions(input).open.map((condition) => condition.key);

/** `rejected`: 401s since the last verified webhook (at `lastVerifiedAt`), in the last 10 minutes. */
function clerkWindow(rejected: number, lastVerifiedAt: number | null = null, lastRejectedAt: number | null = NOW - MINUTE): WebhookWindow {
  return { provider: "clerk", secretBinding: "CLERK_WEBHOOK_SIGNING_SECRET", rejected, firstRejectedAt: rejected > 0 ? NOW - 3 * MINUTE : null, lastRejectedAt, lastVerifiedAt };
}

function cycle(overrides: Partial<Cycle>): Cycle {
  return {
    id: "c1", provider: "clerk", trigger: "cron", dryRun: false, confirmDeletes: false, startedAt: NOW - 10 * MINUTE, endedAt: NOW - 9 * MINUTE, phase: "done",
    counts: { users_seen: 10, owned_seen: 10, created: 0, updated: 0, deleted: 0, unchanged: 10, deletions_held_back: 0, kept: 0, failed: 0 },
    ownedCursor: null, ownedPages: 1, usersCursor: null, usersPages: 1, failures: 0, requests: 3, applies: 0, drift: [],
    ...overrides,
  };
}

function reconcile(last: Cycle | null, lastComplete: Cycle | null): AlertInputs["reconcile"] {
  const status: ReconcileStatus = { provider: "clerk", configured: true, state: "idle", current: null, last, lastComplete };
  return { statuses: [status], intervalMinutes: 60 };
}

describe("which conditions are open", () => {
  it("orq.ai rejecting the key, from the scheduler, or from BridgeStatus when the scheduler cannot be asked", () => {
    expect(keys(inputs({ scheduler: stats("key_rejected", NOW - 1_000) }))).toEqual(["orq_key_rejected"]);
    const fromStatus = inputs({ scheduler: null, status: { summary: { orqAuth: { failingSince: NOW, lastFailureAt: NOW, reason: "401" }, retrying: 1, failed: 0 }, failures: [] } });
    expect(keys(fromStatus)).toEqual(["orq_key_rejected"]);
    expect(evaluateConditions(fromStatus).unknown).toEqual(["orq_outage"]);
    expect(evaluateConditions(inputs({ scheduler: null, status: null })).unknown).toEqual(expect.arrayContaining(["orq_key_rejected", "orq_outage", "identities_given_up"]));
  });

  it("an outage only after more than 5 minutes", () => {
    expect(keys(inputs({ scheduler: stats("outage", NOW - 5 * MINUTE) }))).toEqual([]);
    expect(keys(inputs({ scheduler: stats("outage", NOW - 5 * MINUTE - 1_000) }))).toEqual(["orq_outage"]);
    expect(keys(inputs({ scheduler: stats("rate_limited", NOW - 60 * MINUTE) }))).toEqual([]);
  });

  it("a provider's webhooks: 5 or more 401s in 10 minutes and none verified since; it stays open until a webhook is verified or an hour passes without a 401", () => {
    expect(keys(inputs({ webhooks: [clerkWindow(4)] }))).toEqual([]);
    expect(keys(inputs({ webhooks: [clerkWindow(5)] }))).toEqual(["webhook_verification_failing:clerk"]);
    // Right after a secret rotation: webhooks accepted 4 minutes ago do not hold the alert back.
    expect(keys(inputs({ webhooks: [clerkWindow(5, NOW - 4 * MINUTE)] }))).toEqual(["webhook_verification_failing:clerk"]);
    // 401s followed by an accepted webhook (the window counts none after it): someone probing a healthy endpoint.
    expect(keys(inputs({ webhooks: [clerkWindow(0, NOW)] }))).toEqual([]);
    const open = new Map([["webhook_verification_failing:clerk", NOW - 40 * MINUTE]]);
    expect(keys(inputs({ webhooks: [clerkWindow(0, null, NOW - 30 * MINUTE)], open }))).toEqual(["webhook_verification_failing:clerk"]);
    expect(keys(inputs({ webhooks: [clerkWindow(0, NOW - 45 * MINUTE, NOW - 30 * MINUTE)], open }))).toEqual(["webhook_verification_failing:clerk"]);
    expect(keys(inputs({ webhooks: [clerkWindow(0, NOW - 2 * MINUTE, NOW - 30 * MINUTE)], open }))).toEqual([]);
    expect(keys(inputs({ webhooks: [clerkWindow(0, null, NOW - 61 * MINUTE)], open }))).toEqual([]);
    const [condition] = evaluateConditions(inputs({ webhooks: [clerkWindow(7)] })).open;
    expect(condition!.summary).toContain("CLERK_WEBHOOK_SIGNING_SECRET");
    expect(condition!.action).toContain("npx wrangler secret put CLERK_WEBHOOK_SIGNING_SECRET");
  });

  it("identities given up on: the count and at most five user ids, never one that reads as an email address", () => {
    const failures: FailureEntry[] = Array.from({ length: 7 }, (_, i) => ({
      name: `clerk:user_${i}`, provider: "clerk", userId: i === 0 ? "jane@example.com" : `user_${i}`, externalId: `user_${i}`, state: "failed",
      attempts: 1, status: 422, reason: "display_name: Jane Doe is too long", firstFailureAt: NOW - i * MINUTE, updatedAt: NOW,
    }));
    const [condition] = evaluateConditions(inputs({ status: { summary: { orqAuth: null, retrying: 0, failed: 12 }, failures } })).open;
    expect(condition).toMatchObject({ key: "identities_given_up", count: 12, details: { count: 12 } });
    expect(condition!.details.newest).toHaveLength(5);
    expect(JSON.stringify(condition)).not.toMatch(/jane|Jane|Doe/);
    expect(safeUserId("auth0|64f0c")).toBe("auth0|64f0c");
  });

  it("reconcile: a failed cycle, one overdue (older than two intervals), deletions held back", () => {
    expect(keys(inputs({ reconcile: reconcile(cycle({ error: "clerk answered 401" }), cycle({ endedAt: NOW - 30 * MINUTE })) }))).toEqual(["reconcile_failed:clerk"]);
    expect(keys(inputs({ reconcile: reconcile(cycle({ endedAt: NOW - 121 * MINUTE }), cycle({ endedAt: NOW - 121 * MINUTE })) }))).toEqual(["reconcile_overdue:clerk"]);
    const held = cycle({ heldBack: "12 candidates, more than RECONCILE_MAX_DELETES (5)", counts: { ...cycle({}).counts, deletions_held_back: 12 } });
    const [condition] = evaluateConditions(inputs({ reconcile: reconcile(held, held) })).open;
    expect(condition).toMatchObject({ key: "reconcile_deletions_held_back:clerk", details: { held_back: 12 } });
    expect(condition!.action).toContain("confirm_deletes");
    expect(keys(inputs({ reconcile: reconcile({ ...held, dryRun: true }, held) }))).toEqual([]);
    expect(keys(inputs({ reconcile: reconcile(cycle({}), cycle({})) }))).toEqual([]);
  });
});

describe("which messages a change sends", () => {
  const link = "https://bridge.example.com/admin";
  const apply = (stored: StoredCondition[], plan: ReturnType<typeof planAlerts>) =>
    [...stored.filter((condition) => !plan.remove.includes(condition.key) && !plan.upsert.some((next) => next.key === condition.key)), ...plan.upsert];

  it("raised once when it starts, nothing while it lasts, cleared once when it ends", () => {
    const open = evaluateConditions(inputs({ scheduler: stats("key_rejected", NOW) }));
    const first = planAlerts([], open, NOW, link, null);
    expect(first.messages.map((message) => [message.condition, message.state])).toEqual([["orq_key_rejected", "raised"]]);
    expect(first.messages[0]).toMatchObject({ link, severity: "critical", id: `orq_key_rejected/${NOW}/raised` });
    const stored = apply([], first);
    expect(planAlerts(stored, open, NOW + MINUTE, link, null)).toEqual({ upsert: [], remove: [], messages: [] });
    const cleared = planAlerts(stored, evaluateConditions(inputs()), NOW + 2 * MINUTE, link, null);
    expect(cleared.messages.map((message) => [message.state, message.severity, message.startedAt])).toEqual([["cleared", "info", NOW]]);
    expect(cleared.messages[0]!.clearedAt).toBe(NOW + 2 * MINUTE);
    expect(cleared.remove).toEqual(["orq_key_rejected"]);
  });

  it("a source that cannot be read clears nothing", () => {
    const stored = apply([], planAlerts([], evaluateConditions(inputs({ scheduler: stats("key_rejected", NOW) })), NOW, link, null));
    expect(planAlerts(stored, evaluateConditions(inputs({ scheduler: null, status: null })), NOW + MINUTE, link, null).messages).toEqual([]);
  });

  it("identities given up on: at most one alert per 15 minutes, a growing count is sent as an update then", () => {
    const givenUp = (failed: number) => evaluateConditions(inputs({ status: { summary: { orqAuth: null, retrying: 0, failed }, failures: [] } }));
    const first = planAlerts([], givenUp(2), NOW, link, null);
    expect(first.messages.map((message) => message.state)).toEqual(["raised"]);
    let stored = apply([], first);
    const early = planAlerts(stored, givenUp(5), NOW + 14 * MINUTE, link, NOW);
    expect(early.messages).toEqual([]);
    stored = apply(stored, early);
    const later = planAlerts(stored, givenUp(5), NOW + 15 * MINUTE, link, NOW);
    expect(later.messages.map((message) => [message.state, message.summary])).toEqual([["updated", expect.stringContaining("5 identities")]]);
    stored = apply(stored, later);
    expect(planAlerts(stored, givenUp(5), NOW + 40 * MINUTE, link, NOW + 15 * MINUTE).messages).toEqual([]);
    // Cleared, then back within 15 minutes of the last alert: its raise waits its turn, and a clear
    // before then sends nothing (its raise never went out).
    const back = planAlerts([], givenUp(1), NOW + 20 * MINUTE, link, NOW + 15 * MINUTE);
    expect(back.messages).toEqual([]);
    expect(planAlerts(apply([], back), givenUp(0), NOW + 21 * MINUTE, link, NOW + 15 * MINUTE).messages).toEqual([]);
  });
});

describe("formats", () => {
  it("Slack's text stands alone (Discord shows only it) and fits its limits; the header fits Block Kit's 150 characters", () => {
    const plan = planAlerts([], evaluateConditions(inputs({ webhooks: [{ ...clerkWindow(9), provider: "x".repeat(300) }] })), NOW, "https://b.example/admin", null);
    const slack = formatAlert(plan.messages[0]!, "slack") as { text: string; blocks: Array<{ type: string; text?: { text: string } }> };
    expect(slack.text.length).toBeLessThanOrEqual(1900);
    expect(slack.text).toContain("What to do:");
    expect(slack.blocks[0]!.text!.text.length).toBeLessThanOrEqual(150);
  });
});

describe("schedules", () => {
  it("the every-minute Cron Trigger starts a reconcile cycle on the interval's minutes; any other schedule always does", () => {
    const at = (iso: string, cron = "* * * * *") => reconcileDue({ cron, scheduledTime: Date.parse(iso) }, 60);
    expect(at("2026-12-01T03:00:00Z")).toBe(true);
    expect(at("2026-12-01T03:01:00Z")).toBe(false);
    expect(at("2026-12-01T03:59:00Z")).toBe(false);
    expect(at("2026-12-01T03:17:00Z", "0 * * * *")).toBe(true);
    expect(reconcileDue({ cron: "* * * * *", scheduledTime: Date.parse("2026-12-01T03:30:00Z") }, 30)).toBe(true);
  });

  it("an unsent alert is retried after 15 s, 30 s, 1, 2, 4, 8 minutes, then every 15 minutes", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(alertRetryDelayMs)).toEqual([15_000, 30_000, 60_000, 120_000, 240_000, 480_000, 900_000, 900_000]);
  });
});
