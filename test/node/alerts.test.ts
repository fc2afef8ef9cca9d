/**
 * Alerts end to end under a real `wrangler dev` (its own, with ALERT_WEBHOOK_URL pointing at a fake
 * Teams Workflows endpoint that checks the Adaptive Card shape, test/support/fake-alert-receiver.ts):
 * orq.ai rejecting the key and a flood of forged signatures each raise one alert and clear once;
 * the Cron Trigger is fired as Cloudflare would (GET /cdn-cgi/handler/scheduled?cron=* * * * *).
 * `npm run doctor` reports whether alerts are configured and sends a test alert with --alert-test.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { buildSampleRequest, sendSampleRequest } from "../../signing/sample-webhooks";
import { DEV_SECRETS } from "../../signing/dev-secrets";
import { startAlertReceiver, type AlertReceiver, type ReceivedAlert } from "../support/fake-alert-receiver";
import { TEST_BRIDGE_VARS, orqIdentity, sleep, startDevServer, uniqueId, waitFor, type DevServer, type Json } from "./dev-server";
import { runScript } from "./doctor-harness";

const orqUrl = inject("orqUrl");
const sharedBridgeUrl = inject("bridgeUrl");
const ENDPOINT_TOKEN = "alert-path-token-not-secret";

let receiver: AlertReceiver;
let bridge: DevServer;

beforeAll(async () => {
  receiver = await startAlertReceiver();
  bridge = await startDevServer({
    orqUrl,
    vars: { ...TEST_BRIDGE_VARS, ALERT_WEBHOOK_URL: `${receiver.url}/teams/workflows/${ENDPOINT_TOKEN}`, ALERT_FORMAT: "teams" },
  });
});

afterAll(async () => {
  await bridge?.close();
  await receiver?.close();
});

/** The Cron Trigger, as `wrangler dev` exposes it. */
async function fireCron(): Promise<void> {
  const response = await fetch(`${bridge.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent("* * * * *")}`);
  expect(response.status).toBe(200);
  await response.body?.cancel();
}

/** The Adaptive Cards received about one condition, as raised/cleared (the card's title says which). */
function cardsAbout(condition: string): Array<{ state: "raised" | "cleared"; card: Json; received: ReceivedAlert }> {
  return receiver
    .received()
    .filter((message) => message.status === 202 && message.body.attachments[0].content.body[0].text.endsWith(`· ${condition}`))
    .map((message) => {
      const card = message.body.attachments[0].content;
      return { state: card.body[0].text.includes(": cleared ·") ? "cleared" : "raised", card, received: message };
    });
}

/** Fires the Cron Trigger until `count` cards about `condition` arrived (the isolate's counts may still be on their way). */
async function cronUntil(condition: string, count: number): Promise<void> {
  await waitFor(
    async () => {
      await fireCron();
      return cardsAbout(condition).length >= count ? true : undefined;
    },
    `${count} alert(s) about ${condition}`,
    { timeoutMs: 60_000, intervalMs: 2_000 },
  );
}

async function health(url = bridge.url): Promise<Json> {
  return (await fetch(`${url}/health`)).json();
}

async function emulatorFaults(method: "POST" | "DELETE", externalIdPrefix: string, faults?: unknown[]): Promise<void> {
  const url = new URL("/__emulator/faults", orqUrl);
  if (method === "DELETE") url.searchParams.set("externalIdPrefix", externalIdPrefix);
  const response = await fetch(url, { method, headers: { "content-type": "application/json" }, ...(faults && { body: JSON.stringify({ rules: [{ externalIdPrefix, faults }] }) }) });
  expect(response.ok).toBe(true);
}

function sendClerk(userId: string, secrets: Partial<typeof DEV_SECRETS> = {}) {
  return sendSampleRequest(buildSampleRequest("clerk", "user.created", { bridgeUrl: bridge.url, userId, secrets: { ...DEV_SECRETS, ...secrets } }));
}

describe("alerts under wrangler dev (Teams Workflows format)", () => {
  it("orq.ai rejecting the key: one Adaptive Card naming ORQ_API_KEY while it lasts, one when it clears", async () => {
    const prefix = uniqueId("alert-e2e-key-");
    await emulatorFaults("POST", prefix, [{ status: 401 }]);
    try {
      expect(await sendClerk(`${prefix}a`)).toMatchObject({ status: 200 });
      await waitFor(async () => ((await health()).scheduler?.state === "key_rejected" ? true : undefined), "the bridge to pause for the key", { timeoutMs: 30_000 });
      await cronUntil("orq_key_rejected", 1);
      await fireCron();
      await fireCron();
      const cards = cardsAbout("orq_key_rejected");
      expect(cards.map((card) => card.state)).toEqual(["raised"]);
      expect(JSON.stringify(cards[0]!.card)).toContain("ORQ_API_KEY");
      expect(cards[0]!.card.body.map((element: Json) => element.type)).toEqual(["TextBlock", "TextBlock", "FactSet", "TextBlock"]);
      // The link points at the bridge's own status page, learnt from the requests it served.
      expect(cards[0]!.card.actions[0].url).toBe(`${bridge.url}/admin`);
      expect((await health()).alerts).toMatchObject({ webhook: "set", format: "teams", open: ["orq_key_rejected"], unsent: 0 });
    } finally {
      await emulatorFaults("DELETE", prefix);
    }
    await waitFor(async () => ((await health()).scheduler?.state === "flowing" ? true : undefined), "a probe to succeed", { timeoutMs: 30_000 });
    await cronUntil("orq_key_rejected", 2);
    expect(cardsAbout("orq_key_rejected").map((card) => card.state)).toEqual(["raised", "cleared"]);
    await waitFor(async () => ((await orqIdentity(orqUrl, `${prefix}a`)) ? true : undefined), "the kept signup to land");
  });

  // Up to a minute passes before an isolate reports its counts (at most one Durable Object request per isolate per minute).
  it("1,000 forged Clerk signatures: one alert naming clerk and CLERK_WEBHOOK_SIGNING_SECRET; a genuine webhook clears it", { timeout: 180_000 }, async () => {
    const wrongSecret = `whsec_${Buffer.from("not-the-bridge-signing-secret-32").toString("base64")}`;
    const forged = buildSampleRequest("clerk", "user.created", { bridgeUrl: bridge.url, userId: uniqueId("alert-e2e-forged-"), secrets: { ...DEV_SECRETS, CLERK_WEBHOOK_SIGNING_SECRET: wrongSecret } });
    const before = receiver.received().length;
    // Verdicts are counted per minute, and 401s count from the minute after the last accepted webhook
    // (the previous test's): start the flood in a minute of its own.
    await new Promise((resolve) => setTimeout(resolve, 60_000 - (Date.now() % 60_000) + 500));
    const started = Date.now();
    const statuses: number[] = [];
    for (let batch = 0; batch < 50; batch++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(forged.url, { method: "POST", headers: forged.headers, body: forged.body })));
      for (const answer of answers) {
        statuses.push(answer.status);
        await answer.body?.cancel();
      }
    }
    console.info(`1,000 forged webhooks sent in ${Date.now() - started} ms`);
    expect(statuses.filter((status) => status === 401)).toHaveLength(1000);

    await cronUntil("webhook_verification_failing", 1);
    for (let minute = 0; minute < 3; minute++) await fireCron();
    const cards = cardsAbout("webhook_verification_failing");
    expect(cards.map((card) => card.state)).toEqual(["raised"]);
    const text = JSON.stringify(cards[0]!.card);
    expect(text).toContain("clerk");
    expect(text).toContain("CLERK_WEBHOOK_SIGNING_SECRET");
    // The flood sent exactly one message, whatever else: nothing but this card arrived meanwhile.
    expect(receiver.received().slice(before)).toHaveLength(1);

    expect(await sendClerk(uniqueId("alert-e2e-genuine-"))).toMatchObject({ status: 200 });
    await cronUntil("webhook_verification_failing", 2);
    expect(cardsAbout("webhook_verification_failing").map((card) => card.state)).toEqual(["raised", "cleared"]);
  });

  it("npm run doctor says alerts are configured and --alert-test sends a test card; it never prints the URL", async () => {
    const env = { ORQ_API_URL: orqUrl, ORQ_API_KEY: DEV_SECRETS.ORQ_API_KEY, CLERK_WEBHOOK_SIGNING_SECRET: DEV_SECRETS.CLERK_WEBHOOK_SIGNING_SECRET, ADMIN_TOKEN: TEST_BRIDGE_VARS.ADMIN_TOKEN };
    const before = receiver.received().length;
    const run = await runScript("doctor", ["--url", bridge.url, "--alert-test"], env);

    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain("✓ alerts on the bridge: ALERT_WEBHOOK_URL is set there (format teams); open conditions: none; last alert sent");
    expect(run.stdout).toContain("✓ the bridge sends a test alert: the alert endpoint answered 202 (format teams)");
    expect(run.stdout).toContain("all 10 checks passed");
    const test = receiver.received().slice(before).find((message) => JSON.stringify(message.body).includes("Test alert from the orq identity bridge"));
    expect(test?.status).toBe(202);
    expect(run.stdout + run.stderr).not.toContain(ENDPOINT_TOKEN);

    const noToken = await runScript("doctor", ["--url", bridge.url, "--alert-test", "--wait", "5"], { ...env, ADMIN_TOKEN: "" });
    expect(noToken.code).toBe(1);
    expect(noToken.stdout).toContain("✗ the bridge sends a test alert: ADMIN_TOKEN is not set here");
  });

  it("npm run doctor against a bridge without alerts says so without failing", async () => {
    const run = await runScript("doctor", ["--url", sharedBridgeUrl], { ORQ_API_URL: orqUrl, ORQ_API_KEY: DEV_SECRETS.ORQ_API_KEY, CLERK_WEBHOOK_SIGNING_SECRET: DEV_SECRETS.CLERK_WEBHOOK_SIGNING_SECRET });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('i alerts on the bridge: not configured: nobody is told when syncing stops (add ALERT_WEBHOOK_URL=… to .dev.vars; docs/operations.md "Alerts")');
    expect(run.stdout).toContain("all 8 checks passed");
    expect((await health(sharedBridgeUrl)).alerts).toEqual({ webhook: "not_set", format: "slack" });
  });

  it("no answer and no log line of the bridge carries the alert URL's token", async () => {
    await sleep(500);
    expect(JSON.stringify(await health())).not.toContain(ENDPOINT_TOKEN);
    expect(bridge.logs()).not.toContain(ENDPOINT_TOKEN);
    expect(bridge.logs()).toContain('"msg":"alert_sent"');
  });
});
