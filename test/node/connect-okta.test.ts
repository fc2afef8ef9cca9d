/**
 * `npm run connect -- okta` against a strict fake of Okta's Event Hooks API, whose verify call
 * makes the real challenge GET to the bridge under `wrangler dev`.
 */
import { afterEach, describe, expect, inject, it } from "vitest";
import { DEV_SECRETS } from "../../signing/dev-secrets";
import { startFakeOktaApi, type FakeOktaApi, type OktaEventHook } from "../support/fake-okta-api";
import { uniqueId, waitForIdentity } from "./dev-server";
import { fakeWrangler, runScript, storedVars, tempDevVars } from "./doctor-harness";

const bridgeUrl = inject("bridgeUrl");
const orqUrl = inject("orqUrl");
const webhookUrl = `${bridgeUrl}/webhooks/okta`;

let fake: FakeOktaApi | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

describe("npm run connect -- okta", () => {
  it("end to end: creates the hook with the handled events, Okta verifies it against the bridge, and its signed delivery lands in orq.ai; a re-run updates the same hook", async () => {
    fake = await startFakeOktaApi({ allowHttpLoopback: true });
    const env = { OKTA_DOMAIN: "fake.okta.com", OKTA_BASE_URL: fake.url, OKTA_API_TOKEN: fake.apiToken, OKTA_WEBHOOK_SECRET: DEV_SECRETS.OKTA_WEBHOOK_SECRET, ORQ_API_URL: orqUrl, ORQ_API_KEY: DEV_SECRETS.ORQ_API_KEY };
    const devVars = tempDevVars();

    const run = await runScript("connect", ["okta", "--url", bridgeUrl, "--local", "--dev-vars", devVars], env);

    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(fake.hooks).toHaveLength(1);
    expect(fake.hooks[0]).toMatchObject({
      status: "ACTIVE",
      verificationStatus: "VERIFIED",
      events: { type: "EVENT_TYPE", items: ["user.lifecycle.create", "user.account.update_profile", "user.lifecycle.delete.initiated"] },
      channel: { config: { uri: webhookUrl, authScheme: { type: "HEADER", key: "Authorization", value: DEV_SECRETS.OKTA_WEBHOOK_SECRET } } },
    });
    expect(run.stdout).toContain("✓ Okta verified the hook");
    expect(run.stdout).not.toContain(DEV_SECRETS.OKTA_WEBHOOK_SECRET);
    expect(storedVars(devVars).OKTA_WEBHOOK_SECRET).toBe(DEV_SECRETS.OKTA_WEBHOOK_SECRET);
    const userId = uniqueId("00uconnect");
    const [sent] = await fake.deliver("user.created", userId);
    expect(sent).toMatchObject({ status: 200 });
    expect(await waitForIdentity(orqUrl, userId)).toMatchObject({ tags: expect.arrayContaining(["okta"]) });

    const again = await runScript("connect", ["okta", "--url", bridgeUrl, "--local", "--dev-vars", devVars, "--no-check"], env);
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toContain(`✓ webhook ${fake.hooks[0]!.id} updated`);
    expect(fake.hooks).toHaveLength(1);
  });

  it("follows Okta's Link rel=\"next\" pages: a re-run finds the bridge's hook on the second page and updates it instead of creating another; --remove finds it there too", async () => {
    // Links name Okta's own domain (as Okta's do); the pages must still be read through OKTA_BASE_URL.
    fake = await startFakeOktaApi({ allowHttpLoopback: true, pageSize: 5, linkOrigin: "https://fake.okta.com" });
    fake.hooks = Array.from({ length: 7 }, (_, index): OktaEventHook => ({
      id: `whoother${index}`,
      status: "ACTIVE",
      verificationStatus: "VERIFIED",
      name: "other",
      events: { type: "EVENT_TYPE", items: ["user.session.start"] },
      channel: { type: "HTTP", version: "1.0.0", config: { uri: `https://other.example/${index}`, authScheme: { type: "HEADER", key: "Authorization", value: "other-secret-value" } } },
      created: "",
      lastUpdated: "",
    }));
    const env = { OKTA_DOMAIN: "fake.okta.com", OKTA_BASE_URL: fake.url, OKTA_API_TOKEN: fake.apiToken, OKTA_WEBHOOK_SECRET: DEV_SECRETS.OKTA_WEBHOOK_SECRET };
    const mine = () => fake!.hooks.filter((hook) => hook.channel.config.uri === webhookUrl);
    const listings = () => fake!.requests().filter((request) => request.method === "GET" && request.path === "/api/v1/eventHooks" && request.status === 200).map((request) => request.query.after ?? "");
    // The fake is strict: a query parameter it did not hand out is refused.
    const limited = await fetch(`${fake.url}/api/v1/eventHooks?limit=200`, { headers: { authorization: `SSWS ${fake.apiToken}` } });
    expect(limited.status).toBe(400);

    const first = await runScript("connect", ["okta", "--url", bridgeUrl, "--local", "--dev-vars", tempDevVars(), "--no-check"], env);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(mine()).toHaveLength(1);
    const id = mine()[0]!.id;
    expect(fake.hooks.findIndex((hook) => hook.id === id)).toBe(7);

    const second = await runScript("connect", ["okta", "--url", bridgeUrl, "--local", "--dev-vars", tempDevVars(), "--no-check"], env);

    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toContain(`✓ webhook ${id} updated`);
    expect(mine()).toMatchObject([{ id, status: "ACTIVE", verificationStatus: "VERIFIED" }]);
    expect(fake.hooks).toHaveLength(8);
    expect(listings()).toEqual(["", "whoother4", "", "whoother4"]);

    const removed = await runScript("connect", ["okta", "--url", bridgeUrl, "--remove"], env);
    expect(removed.code, removed.stdout).toBe(0);
    expect(removed.stdout).toContain(`✓ removed ${id}`);
    expect(fake.hooks.map((hook) => hook.id)).toEqual(Array.from({ length: 7 }, (_, index) => `whoother${index}`));
  });

  it("a secret the deployed bridge does not have fails Okta's verification after `wrangler secret put`, says how to fix it, exit 1", async () => {
    fake = await startFakeOktaApi({ allowHttpLoopback: true });
    const run = await runScript("connect", ["okta", "--url", bridgeUrl, "--no-check"], { OKTA_DOMAIN: "fake.okta.com", OKTA_BASE_URL: fake.url, OKTA_API_TOKEN: fake.apiToken, CONNECT_WRANGLER: fakeWrangler(0).bin });

    expect(run.code).toBe(1);
    expect(run.stdout).toContain("✓ OKTA_WEBHOOK_SECRET stored with `wrangler secret put OKTA_WEBHOOK_SECRET`");
    expect(run.stdout).toContain("Okta could not verify yet (attempt 1 of 3)");
    expect(run.stdout).toMatch(/✗ Okta POST \/api\/v1\/eventHooks\/who[0-9a-f]+\/lifecycle\/verify answered 400: Api validation failed: Verification failed — Okta's challenge GET was not answered with the new secret/);
    expect(fake.hooks[0]?.verificationStatus).toBe("UNVERIFIED");
  }, 30_000);

  it("with --local and a new secret, verification waits for `npm run dev` to restart; the re-run keeps the secret and verifies", async () => {
    fake = await startFakeOktaApi({ allowHttpLoopback: true });
    const devVars = tempDevVars();
    const env = { OKTA_DOMAIN: "fake.okta.com", OKTA_BASE_URL: fake.url, OKTA_API_TOKEN: fake.apiToken };
    const run = await runScript("connect", ["okta", "--url", bridgeUrl, "--local", "--dev-vars", devVars, "--no-check"], env);

    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toContain(`– OKTA_WEBHOOK_SECRET changed in ${devVars}: restart \`npm run dev\`, then run this command again (it keeps what is stored) to verify the webhook`);
    expect(fake.requests().filter((request) => request.path.endsWith("/lifecycle/verify"))).toEqual([]);
    expect(Buffer.from(storedVars(devVars).OKTA_WEBHOOK_SECRET ?? "", "hex")).toHaveLength(32);
  });

  it("--remove deactivates, then deletes; a token with only okta.eventHooks.read cannot create", async () => {
    fake = await startFakeOktaApi({ allowHttpLoopback: true });
    const base = { OKTA_DOMAIN: "fake.okta.com", OKTA_BASE_URL: fake.url };
    const readOnly = await runScript("connect", ["okta", "--url", bridgeUrl, "--no-check"], { ...base, OKTA_ACCESS_TOKEN: fake.issueToken(["okta.eventHooks.read"]) });
    expect(readOnly.code).toBe(1);
    expect(readOnly.stdout).toContain("answered 403: You do not have permission to perform the requested action");
    expect(fake.hooks).toEqual([]);

    const env = { ...base, OKTA_API_TOKEN: fake.apiToken, OKTA_WEBHOOK_SECRET: DEV_SECRETS.OKTA_WEBHOOK_SECRET };
    expect((await runScript("connect", ["okta", "--url", bridgeUrl, "--local", "--dev-vars", tempDevVars(), "--no-check"], env)).code).toBe(0);
    const removed = await runScript("connect", ["okta", "--url", bridgeUrl, "--remove"], env);

    expect(removed.code, removed.stdout).toBe(0);
    expect(fake.hooks).toEqual([]);
    expect(fake.requests().filter((request) => request.method !== "GET").slice(-2).map((request) => `${request.method} ${request.path.replace(/who[0-9a-f]+/, "{id}")}`)).toEqual(["POST /api/v1/eventHooks/{id}/lifecycle/deactivate", "DELETE /api/v1/eventHooks/{id}"]);
  });
});
