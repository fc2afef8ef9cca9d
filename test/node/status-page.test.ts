/**
 * The admin status page in a real browser (through playwright-core; which Chromium: test/support/browser.ts) against the
 * bridge under `wrangler dev`: log in, see a delivery that orq.ai (the emulator) refuses, press
 * Replay once the cause is fixed, see it recovered. Leaves a screenshot in test/artifacts/.
 */
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { buildSampleRequest, sendSampleRequest } from "../../signing/sample-webhooks";
import { launchBrowser } from "../support/browser";
import { DEV_SECRETS } from "../support/secrets";
import { orqIdentity, TEST_BRIDGE_VARS, uniqueId, waitFor, waitForIdentity } from "./dev-server";

const bridgeUrl = inject("bridgeUrl");
const orqUrl = inject("orqUrl");
const ARTIFACTS = fileURLToPath(new URL("../artifacts/", import.meta.url));

let browser: Browser;

beforeAll(async () => {
  const launched = await launchBrowser();
  browser = launched.browser;
  console.info(`browser: ${launched.choice.source} (${launched.choice.executablePath})`);
});

afterAll(async () => {
  await browser?.close();
});

async function emulatorFaults(method: "POST" | "DELETE", externalIdPrefix: string, faults?: unknown[]): Promise<void> {
  const url = new URL("/__emulator/faults", orqUrl);
  if (method === "DELETE") url.searchParams.set("externalIdPrefix", externalIdPrefix);
  const response = await fetch(url, {
    method,
    headers: { "content-type": "application/json" },
    ...(faults && { body: JSON.stringify({ rules: [{ externalIdPrefix, faults }] }) }),
  });
  expect(response.ok).toBe(true);
}

async function sendClerkCreated(userId: string, firstName: string): Promise<void> {
  const request = buildSampleRequest("clerk", "user.created", {
    bridgeUrl,
    userId,
    secrets: DEV_SECRETS,
    patch: (payload) => {
      payload.data.first_name = firstName;
    },
  });
  expect(await sendSampleRequest(request)).toMatchObject({ status: 200, answer: { status: "recorded" } });
}

/** Reloads the page until `probe` holds: the page is server-rendered, updates show on reload. */
function reloadUntil(page: Page, probe: () => Promise<boolean>, what: string): Promise<true> {
  return waitFor(
    async () => {
      await page.goto(`${bridgeUrl}/admin`);
      return (await probe()) ? true : undefined;
    },
    what,
    { timeoutMs: 45_000, intervalMs: 300 },
  );
}

describe("admin status page in Chromium", () => {
  it("log in, see a delivery orq.ai refuses, replay it once fixed, see it recovered", async () => {
    const refused = uniqueId("user_statuspage_");
    const delivered = uniqueId("user_statuspage_ok_");
    const throttled = uniqueId("user_statuspage_busy_");
    await emulatorFaults("POST", refused, [{ status: 422 }]);
    await emulatorFaults("POST", throttled, [{ status: 503, retryAfter: 600 }]);
    await sendClerkCreated(delivered, "Grace");
    await sendClerkCreated(throttled, "Barbara");
    await sendClerkCreated(refused, "Ada");
    await waitForIdentity(orqUrl, delivered);

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();

    // Not logged in: the login form, with nothing about the bridge's data.
    const first = await page.goto(`${bridgeUrl}/admin`);
    expect(first?.status()).toBe(401);
    expect(await page.content()).not.toContain(refused);

    await page.fill("input[name=token]", "not-the-admin-token-at-all");
    await page.click("button[type=submit]");
    await expect.poll(() => page.textContent("body")).toContain("That token is not valid");

    await page.fill("input[name=token]", TEST_BRIDGE_VARS.ADMIN_TOKEN);
    await page.click("button[type=submit]");
    await page.waitForSelector("#failures");
    const cookies = await context.cookies();
    const session = cookies.find((cookie) => cookie.name === "__Host-bridge_admin");
    expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict" });
    expect(session!.value).not.toContain(TEST_BRIDGE_VARS.ADMIN_TOKEN);

    // The refused delivery shows up as given up on, with orq.ai's answer as the reason.
    const failureRow = `#failures tr[data-identity="clerk:${refused}"]`;
    await reloadUntil(page, async () => (await page.$(failureRow)) !== null, "the failure to be listed");
    expect(await page.textContent(failureRow)).toMatch(/failed[\s\S]*422/);
    expect(Number(await page.textContent("[data-testid=failed] .value"))).toBeGreaterThanOrEqual(1);
    // A delivery orq.ai asked to retry later is part of the retry backlog, not given up on.
    const retryingRow = `#failures tr[data-identity="clerk:${throttled}"]`;
    await reloadUntil(page, async () => (await page.$(retryingRow)) !== null, "the retrying delivery to be listed");
    expect(await page.textContent(retryingRow)).toMatch(/retrying[\s\S]*503/);
    expect(Number(await page.textContent("[data-testid=retrying] .value"))).toBeGreaterThanOrEqual(1);
    // The delivery scheduler's tile: its state, and in the hint the pace, calls in flight of
    // ORQ_MAX_CONCURRENCY (its default, 50) and the backlog.
    expect(await page.textContent("[data-testid=orq-delivery] .value")).toMatch(/^(Flowing|Rate-limited|Paused: outage|Paused: key rejected)$/);
    expect(await page.textContent("[data-testid=orq-delivery] .hint")).toMatch(/pace .+ · \d+ of 50 calls in flight · \d+ waiting/);
    expect(await page.textContent(`#recent tr[data-identity="clerk:${delivered}"]`)).toContain("delivered");
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}status-page-failing.png`, fullPage: true });

    // The operator fixes the cause (orq.ai accepts the identity again) and presses Replay.
    await emulatorFaults("DELETE", refused);
    await page.click(`${failureRow} button`);
    await page.waitForSelector(".notice.ok");
    expect(await page.textContent(".notice.ok")).toContain(`Replay queued for clerk ${refused}`);

    await reloadUntil(
      page,
      async () => (await page.$(failureRow)) === null && (await page.textContent(`#recent tr[data-identity="clerk:${refused}"]`))?.includes("delivered") === true,
      "the replayed identity to leave the failures and show as delivered",
    );
    expect(await orqIdentity(orqUrl, refused)).toMatchObject({ external_id: refused, display_name: "Ada Doe" });

    // The lookup explains the identity's state now.
    await page.goto(`${bridgeUrl}/admin?provider=clerk&user_id=${encodeURIComponent(refused)}#lookup`);
    expect(await page.textContent("#lookup dl")).toMatch(/delivered[\s\S]*orq\.ai holds the newest state/);
    await page.screenshot({ path: `${ARTIFACTS}status-page.png`, fullPage: true });

    await emulatorFaults("DELETE", throttled);

    // Logging out ends the session in this browser.
    await page.click("header button[type=submit]");
    await page.waitForSelector("input[name=token]");
    const again = await page.goto(`${bridgeUrl}/admin`);
    expect(again?.status()).toBe(401);
    await context.close();
  });
});
