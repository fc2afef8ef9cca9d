/**
 * Alerts end to end inside workerd (the `alerts` project: its own runtime, orq.ai emulator and a fake
 * alert receiver, test/support/fake-alert-receiver.ts, that checks the Slack, Discord, Teams and
 * JSON shapes and answers as they do). The bridge's ALERT_WEBHOOK_URL points at the receiver's Slack
 * endpoint. The Cron Trigger is the Worker's own `scheduled` handler, run here by hand. Tests run in
 * order, each from a fresh Alerter, a quiet scheduler and an empty receiver.
 */
import { env } from "cloudflare:workers";
import { createExecutionContext, createScheduledController, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { AlertMessage } from "../../src/alert/alert-conditions";
import { forgetWebhookTally, takeWebhookTally } from "../../src/alert/alert-trigger";
import { Alerter, ALERTER_NAME } from "../../src/alert/alerter";
import { postAlert } from "../../src/alert/send-alert";
import { parseConfig } from "../../src/config";
import type { DeliveryScheduler } from "../../src/deliver/delivery-scheduler";
import worker from "../../src/index";
import { quietWorkspace, scheduler, sleep, waitUntil } from "../workspace/workspace-harness";
import {
  addFaults,
  auth0Event,
  callBridge,
  callBridgeWith,
  clearFaults,
  clerkEvent,
  deliverNow,
  orqIdentity,
  postAuth0,
  postClerk,
  svixHeaders,
  uniqueId,
  type Json,
} from "../worker/harness";

const receiverUrl = new URL(env.ALERT_WEBHOOK_URL!).origin;
const ENDPOINT_TOKEN = "alert-token-not-secret";
const ADMIN_TOKEN = env.ADMIN_TOKEN!;
const alerter = () => env.ALERTS.getByName(ALERTER_NAME);

interface Received {
  at: number;
  path: string;
  format: string;
  body: Json;
  raw: string;
  status: number;
}

async function received(): Promise<Received[]> {
  return ((await (await fetch(`${receiverUrl}/__receiver/messages`)).json()) as { messages: Received[] }).messages;
}

async function receiverMode(mode: { status: number } | { hang: true } | null): Promise<void> {
  await fetch(`${receiverUrl}/__receiver/mode`, { method: "POST", body: JSON.stringify(mode ?? {}) });
}

/** The Slack messages received about one condition, as "raised" or "cleared" (from the header). */
async function alertsAbout(condition: string): Promise<Array<{ state: "raised" | "cleared"; text: string; raw: string }>> {
  return (await received())
    .filter((message) => message.status === 200 && message.body.blocks?.[0]?.text?.text.endsWith(`· ${condition}`))
    .map((message) => ({ state: message.body.blocks[0].text.text.includes(": cleared ·") ? "cleared" : "raised", text: message.body.text, raw: message.raw }));
}

/** The Worker's Cron Trigger, as Cloudflare runs it every minute. */
async function runCron(scheduledTime = Date.now()): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime, cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

/** A freshly deployed Alerter (no conditions, outbox, counts or meter), this isolate's counts dropped, the receiver empty and answering. */
async function freshAlerts(): Promise<void> {
  await runInDurableObject(alerter(), async (instance: Alerter, state) => {
    await state.storage.deleteAlarm();
    await state.storage.deleteAll();
    Object.assign(instance, new Alerter(state, env));
  });
  forgetWebhookTally();
  await receiverMode(null);
  await fetch(`${receiverUrl}/__receiver/messages`, { method: "DELETE" });
}

/**
 * A request as the runtime hands it to the Worker: its own execution context, whose waitUntil work
 * goes on after the answer (nobody waits for it). Floods go this way: the harness's SELF fetch slows
 * down with every request made through it (a test-runner artefact, measured: 100 requests took 0.4 s,
 * the sixth 100 took 9 s).
 */
async function fetchAsTheRuntimeDoes(path: string, init: RequestInit): Promise<Response> {
  return worker.fetch(new Request(`https://bridge.test${path}`, init), env, createExecutionContext());
}

function admin(path: string, init: RequestInit = {}): Promise<Response> {
  return callBridge(path, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...init.headers } });
}

/** Every log line of the file, for the last test. */
const logged: string[] = [];
function captureLogs(): void {
  const log = console.log;
  vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
    logged.push(args.map(String).join(" "));
    log(...args);
  });
}
beforeAll(captureLogs);
afterAll(() => vi.restoreAllMocks());

beforeEach(async () => {
  await quietWorkspace();
  await freshAlerts();
});

describe("the payload shapes, against the local fakes", () => {
  const message: AlertMessage = {
    id: "orq_key_rejected/1/raised",
    condition: "orq_key_rejected",
    state: "raised",
    severity: "critical",
    startedAt: Date.parse("2026-12-01T03:00:00Z"),
    summary: "orq.ai rejects the bridge's API key (401/403): nothing is delivered.",
    details: { waiting: 3, newest: ["clerk:user_<!channel>", "auth0:@everyone"] },
    action: "Put a valid orq.ai API key in ORQ_API_KEY.",
    link: "https://bridge.example.com/admin",
  };

  it("Slack takes {text, blocks} (200 ok); Discord's /slack form takes the text (200 ok); Teams Workflows take an Adaptive Card (202); json takes the documented object", async () => {
    const base = `${receiverUrl}`;
    const answers = await Promise.all([
      postAlert({ url: `${base}/slack/T1/B1/x`, format: "slack" }, message),
      postAlert({ url: `${base}/discord/api/webhooks/123/abc/slack`, format: "slack" }, message),
      postAlert({ url: `${base}/teams/workflows/abc`, format: "teams" }, message),
      postAlert({ url: `${base}/json/incident`, format: "json" }, message),
    ]);
    expect(answers).toEqual([{ ok: true, status: 200 }, { ok: true, status: 200 }, { ok: true, status: 202 }, { ok: true, status: 200 }]);

    const [slack, discord, teams, json] = await received();
    expect(slack!.body.text).toContain("orq_key_rejected");
    // Mentions in ids are neutralised: no <!channel>, no @everyone ping.
    expect(slack!.raw).not.toContain("<!channel>");
    expect(discord!.body.text).not.toMatch(/@everyone/);
    expect(discord!.body.text).toContain("https://bridge.example.com/admin");
    const card = teams!.body.attachments[0];
    expect(card.contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(card.content.actions[0]).toEqual({ type: "Action.OpenUrl", title: "Open the status page", url: "https://bridge.example.com/admin" });
    expect(json!.body).toEqual({
      source: "orq-identity-bridge",
      id: "orq_key_rejected/1/raised",
      condition: "orq_key_rejected",
      state: "raised",
      severity: "critical",
      started_at: "2026-12-01T03:00:00.000Z",
      cleared_at: null,
      summary: message.summary,
      details: message.details,
      action: message.action,
      link: "https://bridge.example.com/admin",
    });
  });

  it("a plain Discord webhook URL is sent to its Slack-compatible /slack form; http:// only for localhost", () => {
    expect(parseConfig({ ALERT_WEBHOOK_URL: "https://discord.com/api/webhooks/123/tok" }).alerts).toEqual({ url: "https://discord.com/api/webhooks/123/tok/slack", format: "slack" });
    expect(parseConfig({ ALERT_WEBHOOK_URL: "https://discord.com/api/webhooks/123/tok/slack" }).alerts.url).toBe("https://discord.com/api/webhooks/123/tok/slack");
    expect(parseConfig({ ALERT_WEBHOOK_URL: "https://prod-1.westeurope.logic.azure.com/workflows/x", ALERT_FORMAT: "teams" }).alerts.format).toBe("teams");
    const plain = parseConfig({ ALERT_WEBHOOK_URL: "http://hooks.example.com/secret-path-token" });
    expect(plain.alerts.url).toBeUndefined();
    expect(plain.problems).toContainEqual({ variable: "ALERT_WEBHOOK_URL", problem: "must be https:// (http:// only for localhost)" });
    expect(JSON.stringify(plain.problems)).not.toContain("secret-path-token");
    expect(parseConfig({ ALERT_FORMAT: "email" }).problems.map((problem) => problem.variable)).toContain("ALERT_FORMAT");
  });
});

describe("unset", () => {
  it("with ALERT_WEBHOOK_URL unset nothing is counted, evaluated or sent, and /health says not_set", async () => {
    const unset = { ALERT_WEBHOOK_URL: undefined };
    for (let i = 0; i < 10; i++) await callBridgeWith(unset, "/webhooks/clerk", { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(takeWebhookTally()).toBeUndefined();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), { ...env, ...unset }, ctx);
    await waitOnExecutionContext(ctx);
    expect(await alerter().usage()).toEqual({ requests: {}, rowsWritten: 0 });
    expect(await received()).toEqual([]);
    expect((await (await callBridgeWith(unset, "/health")).json<Json>()).alerts).toEqual({ webhook: "not_set", format: "slack" });
  });
});

describe("orq.ai rejects the key", () => {
  it("one alert when it starts (naming ORQ_API_KEY), none while it lasts, one when it clears", async () => {
    const prefix = uniqueId("alert_key");
    await addFaults({ externalIdPrefix: prefix, faults: [{ status: 401 }] });
    try {
      await postClerk(clerkEvent("user.created", `${prefix}_a`));
      await waitUntil("the scheduler pauses for the key", async () => (await scheduler().stats()).state === "key_rejected", 10_000);
      for (let minute = 0; minute < 3; minute++) await runCron();
      const raised = await alertsAbout("orq_key_rejected");
      expect(raised.map((alert) => alert.state)).toEqual(["raised"]);
      expect(raised[0]!.text).toContain("ORQ_API_KEY");
      expect(raised[0]!.text).toContain("What to do:");
      expect((await callBridge("/health").then((r) => r.json<Json>())).alerts).toMatchObject({ webhook: "set", format: "slack", open: ["orq_key_rejected"], unsent: 0 });
    } finally {
      await clearFaults(prefix);
    }
    await waitUntil("a probe succeeds", async () => (await scheduler().stats()).state === "flowing", 20_000);
    await runCron();
    await runCron();
    expect((await alertsAbout("orq_key_rejected")).map((alert) => alert.state)).toEqual(["raised", "cleared"]);
    expect(await orqIdentity(`${prefix}_a`)).not.toBeNull();
  });
});

describe("an orq.ai outage", () => {
  /** The scheduler as if orq.ai had been failing for everyone for `ms`. */
  async function outageFor(ms: number): Promise<void> {
    await runInDurableObject(scheduler(), (instance: DeliveryScheduler) => {
      Object.assign(instance, { mode: "outage", modeSince: Date.now() - ms });
    });
  }

  it("is raised only once it lasts more than 5 minutes, and cleared when deliveries flow; the status page lists it and the last alert", async () => {
    await outageFor(4 * 60_000);
    await runCron();
    expect(await alertsAbout("orq_outage")).toEqual([]);

    await outageFor(5 * 60_000 + 30_000);
    await runCron();
    await runCron();
    const [raised] = await alertsAbout("orq_outage");
    expect(raised).toMatchObject({ state: "raised" });
    expect(raised!.text).toContain("more than 5 minutes");

    const page = await statusPage();
    expect(page).toContain('data-condition="orq_outage"');
    expect(page).toMatch(/Last alert sent .*orq_outage raised \(answered 200\)/s);

    await runInDurableObject(scheduler(), (instance: DeliveryScheduler) => {
      Object.assign(instance, { mode: "flowing", modeSince: Date.now() });
    });
    await runCron();
    expect((await alertsAbout("orq_outage")).map((alert) => alert.state)).toEqual(["raised", "cleared"]);
    expect(await statusPage()).toContain("No condition open.");
  });
});

describe("identities given up on", () => {
  it("one alert with the count and the first user ids (never an email address or a name), no repeat within 15 minutes, cleared after a replay", async () => {
    const prefix = uniqueId("alert_given_up");
    const users = [`${prefix}_a`, `${prefix}_alice@example.com`, `${prefix}_b`];
    await addFaults({ externalIdPrefix: prefix, faults: [{ status: 422 }] });
    const withEmail = (payload: Json) => {
      payload.data.email_addresses = [{ id: payload.data.primary_email_address_id, email_address: "john.doe@example.com", verification: { status: "verified" }, linked_to: [] }];
    };
    for (const userId of users.slice(0, 2)) {
      await postClerk(clerkEvent("user.created", userId, withEmail));
      expect(await deliverNow("clerk", userId)).toMatchObject({ delivery: "failed" });
    }
    await runCron();
    const [first] = await alertsAbout("identities_given_up");
    expect(first!.text).toContain("2 identities were given up on");
    expect(first!.text).toContain(`clerk:${users[0]} (422)`);
    // An id that reads as an email address is not shown.
    expect(first!.text).toContain("clerk:(an id that looks like an email address: see the status page) (422)");
    for (const personal of ["John", "Doe", "john.doe", "alice@", "example.com"]) expect(first!.raw).not.toContain(personal);

    // A third one within 15 minutes: no second alert (the next one would carry the new count).
    await postClerk(clerkEvent("user.created", users[2]!, withEmail));
    expect(await deliverNow("clerk", users[2]!)).toMatchObject({ delivery: "failed" });
    await runCron();
    expect((await alertsAbout("identities_given_up")).length).toBe(1);
    expect((await alerter().overview()).open[0]).toMatchObject({ key: "identities_given_up", summary: expect.stringContaining("3 identities") });

    await clearFaults(prefix);
    expect((await admin("/admin/replay", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ since: new Date(Date.now() - 600_000).toISOString() }) })).status).toBe(202);
    for (const userId of users) await waitUntil(`${userId} is delivered`, async () => (await orqIdentity(userId)) !== null, 15_000);
    await waitUntil("no failure is left", async () => (await env.BRIDGE_STATUS.getByName("bridge").summary()).failed === 0, 10_000);
    await runCron();
    expect((await alertsAbout("identities_given_up")).map((alert) => alert.state)).toEqual(["raised", "cleared"]);
  });
});

describe("a provider's webhooks fail verification", () => {
  it("1,000 forged signatures: one alert naming clerk and CLERK_WEBHOOK_SIGNING_SECRET, one Alerter request to count them all; a verified webhook clears it", async () => {
    const forged = clerkEvent("user.created", uniqueId("forged"));
    const body = JSON.stringify(forged);
    const headers = { "content-type": "application/json", "svix-id": "msg_forged", "svix-timestamp": String(Math.floor(Date.now() / 1000)), "svix-signature": "v1,bm90LWEtcmVhbC1zaWduYXR1cmUtYXQtYWxsLW5vdC1ldmVu" };
    const started = Date.now();
    for (let batch = 0; batch < 20; batch++) {
      const answers = await Promise.all(Array.from({ length: 50 }, () => fetchAsTheRuntimeDoes("/webhooks/clerk", { method: "POST", headers, body })));
      expect(answers.every((answer) => answer.status === 401)).toBe(true);
    }
    const floodMs = Date.now() - started;
    // The isolate's one report for the minute goes out GATHER_MS after the first 401.
    await waitUntil("the isolate reported its counts", async () => ((await alerter().usage()).requests.recordWebhooks ?? 0) >= 1, 15_000);
    for (let minute = 0; minute < 3; minute++) await runCron();

    const alerts = await alertsAbout("webhook_verification_failing");
    expect(alerts.map((alert) => alert.state)).toEqual(["raised"]);
    expect(alerts[0]!.text).toContain("clerk");
    expect(alerts[0]!.text).toContain("CLERK_WEBHOOK_SIGNING_SECRET");
    expect((await received()).length).toBe(1);
    const { requests: usage } = await alerter().usage();
    const counted = await runInDurableObject(alerter(), (_instance, state) => state.storage.sql.exec<{ n: number }>("SELECT SUM(rejected) AS n FROM webhook_minutes WHERE provider = 'clerk'").one().n);
    console.info(`1,000 forged webhooks in ${floodMs} ms: ${usage.recordWebhooks} Alerter request(s) to count them (${counted} counted), ${alerts.length} alert`);
    expect(usage.recordWebhooks).toBe(1);
    expect(counted).toBe(1000);

    // A genuine webhook proves the secret matches: the condition clears.
    expect((await postClerk(clerkEvent("user.created", uniqueId("genuine")))).status).toBe(200);
    await runCron();
    expect((await alertsAbout("webhook_verification_failing")).map((alert) => alert.state)).toEqual(["raised", "cleared"]);
    expect((await alerter().usage()).requests.recordWebhooks).toBe(1);
  });

  it("401s alongside accepted webhooks (someone probing a healthy endpoint) raise nothing; nor do 4 alone", async () => {
    for (let i = 0; i < 6; i++) expect((await postAuth0(auth0Event("user.created", uniqueId("auth0|probe")), "not-the-auth0-token-at-all")).status).toBe(401);
    expect((await postAuth0(auth0Event("user.created", uniqueId("auth0|real")))).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await callBridge("/webhooks/workos", { method: "POST", body: "{}" })).status).toBe(401);
    await runCron();
    expect(await received()).toEqual([]);
  });
});

describe("cost", () => {
  it("accepted webhooks cost no Durable Object request each for alerting: one report per isolate per minute", async () => {
    const users = Array.from({ length: 100 }, () => uniqueId("alert_cost"));
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        users.slice(batch * 10, batch * 10 + 10).map(async (userId) => {
          const body = JSON.stringify(clerkEvent("user.created", userId));
          expect((await fetchAsTheRuntimeDoes("/webhooks/clerk", { method: "POST", headers: svixHeaders(body), body })).status).toBe(200);
        }),
      );
    }
    // The isolate's report goes out with the first webhook of the minute; on a busy machine it may come late.
    await waitUntil("the isolate reported its counts", async () => ((await alerter().usage()).requests.recordWebhooks ?? 0) >= 1, 30_000);
    await sleep(2_000);
    const usage = await alerter().usage();
    console.info(`alerting cost of 100 accepted webhooks: ${JSON.stringify(usage)} (Alerter requests; rows written)`);
    expect(usage.requests).toEqual({ recordWebhooks: 1 });
    // One row per provider and minute counted (a burst on a busy machine may straddle a minute: two),
    // and the bridge's address once, which SQLite counts as two rows (the meta row and its key's index).
    // (Webhooks answered after the report's GATHER_MS wait for the next one: the count may be under 100.)
    const minutes = await runInDurableObject(alerter(), (_instance, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM webhook_minutes").one());
    expect(minutes.n).toBeGreaterThanOrEqual(1);
    expect(minutes.n).toBeLessThanOrEqual(2);
    expect(usage.rowsWritten).toBe(minutes.n + 2);
  });

  it("a quiet minute costs one Alerter request (plus its reads of the scheduler, BridgeStatus and the reconcilers) and writes no row", async () => {
    for (let minute = 0; minute < 3; minute++) await runCron();
    const usage = await alerter().usage();
    console.info(`alerting cost of 3 quiet minutes: ${JSON.stringify(usage)}`);
    expect(usage).toEqual({ requests: { evaluate: 3 }, rowsWritten: 0 });
    expect(await received()).toEqual([]);
  });
});

describe("an alert endpoint that is down", () => {
  it("never slows webhooks or deliveries; the alert is retried with backoff, shown as unsent meanwhile, and arrives once the endpoint answers", async () => {
    await receiverMode({ hang: true });
    await runInDurableObject(scheduler(), (instance: DeliveryScheduler) => {
      Object.assign(instance, { mode: "outage", modeSince: Date.now() - 6 * 60_000 });
    });
    const cron = runCron();
    await waitUntil("the alert is on its way", async () => (await received()).length === 1, 5_000);
    await runInDurableObject(scheduler(), (instance: DeliveryScheduler) => {
      Object.assign(instance, { mode: "flowing", modeSince: Date.now() });
    });

    // While the endpoint hangs: a signup is answered and delivered as fast as ever.
    const userId = uniqueId("alert_hang");
    const asked = Date.now();
    expect((await postClerk(clerkEvent("user.created", userId))).status).toBe(200);
    const answeredMs = Date.now() - asked;
    await waitUntil("the signup lands", async () => (await orqIdentity(userId)) !== null, 5_000);
    const landedMs = Date.now() - asked;
    console.info(`with the alert endpoint hanging: webhook answered in ${answeredMs} ms, landed in orq.ai after ${landedMs} ms`);
    expect(answeredMs).toBeLessThan(1_000);
    expect(landedMs).toBeLessThan(3_000);

    await cron;
    const overview = await alerter().overview();
    expect(overview.unsentCount).toBe(1);
    expect(overview.unsent[0]).toMatchObject({ condition: "orq_outage", state: "raised", attempts: 1, lastProblem: "no answer within 10 s" });
    expect(overview.unsent[0]!.nextAttemptAt - Date.now()).toBeGreaterThan(5_000);
    expect(await statusPage()).toMatch(/data-unsent="orq_outage"/);
    expect((await callBridge("/health").then((r) => r.json<Json>())).alerts.unsent).toBe(1);

    await receiverMode(null);
    // The first retry is due 15 s after the failure (the Alerter's alarm; later ones back off to 15 minutes).
    await waitUntil("the retry arrives", async () => (await received()).some((message) => message.status === 200), 30_000);
    await runCron();
    expect((await alertsAbout("orq_outage")).map((alert) => alert.state)).toEqual(["raised", "cleared"]);
    expect((await alerter().overview()).unsentCount).toBe(0);
  });
});

describe("POST /admin/alerts/test", () => {
  it("sends a test message and says so; a failing endpoint is a 502 naming its status, never the URL; unset is a 409", async () => {
    const sent = await admin("/admin/alerts/test", { method: "POST" });
    expect(sent.status).toBe(200);
    expect(await sent.json()).toEqual({ sent: true, format: "slack", status: 200 });
    const [test] = await received();
    expect(test!.body.text).toContain("Test alert from the orq identity bridge");
    expect(test!.body.text).toContain("https://bridge.test/admin");

    await receiverMode({ status: 404 });
    const failing = await admin("/admin/alerts/test", { method: "POST" });
    expect(failing.status).toBe(502);
    const text = await failing.text();
    expect(JSON.parse(text)).toEqual({ error: "alert_not_sent", message: "the alert endpoint answered 404", format: "slack", status: 404 });
    expect(text).not.toContain(ENDPOINT_TOKEN);
    expect(text).not.toContain(receiverUrl);

    const unset = await callBridgeWith({ ALERT_WEBHOOK_URL: undefined }, "/admin/alerts/test", { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(unset.status).toBe(409);
    expect(await unset.json()).toEqual({ error: "not_configured", message: "ALERT_WEBHOOK_URL is not set" });
    expect((await callBridge("/admin/alerts/test", { method: "POST" })).status).toBe(401);
  });
});

describe("secrets and personal data", () => {
  it("no log line and no answer carries the alert URL's token; no log line carries an email address", async () => {
    const health = await (await callBridge("/health")).text();
    expect(health).not.toContain(ENDPOINT_TOKEN);
    expect(await statusPage()).not.toContain(ENDPOINT_TOKEN);
    const alertLines = logged.filter((line) => line.includes('"msg":"alert_'));
    expect(alertLines.length).toBeGreaterThan(5);
    for (const line of logged) {
      expect(line).not.toContain(ENDPOINT_TOKEN);
      expect(line).not.toMatch(/john\.doe@example\.com/);
    }
  });
});

async function statusPage(): Promise<string> {
  const login = await callBridge("/admin/login", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://bridge.test" },
    body: new URLSearchParams({ token: ADMIN_TOKEN }).toString(),
    redirect: "manual",
  });
  const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
  return (await callBridge("/admin", { headers: { cookie } })).text();
}
