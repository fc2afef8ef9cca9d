/**
 * `npm run connect -- logto|workos`: providers that generate the signing secret themselves. Each
 * against a strict fake of its management API; end to end through the bridge under `wrangler dev`
 * into the orq.ai emulator.
 */
import { afterEach, describe, expect, inject, it } from "vitest";
import { DEV_SECRETS } from "../../signing/dev-secrets";
import { startFakeLogtoApi, type FakeLogtoApi, type LogtoHook } from "../support/fake-logto-api";
import { startFakeWorkosApi, type FakeWorkosApi, type WorkosEndpoint } from "../support/fake-workos-api";
import { uniqueId, waitForIdentity } from "./dev-server";
import { runScript, storedVars, tempDevVars } from "./doctor-harness";

const bridgeUrl = inject("bridgeUrl");
const orqUrl = inject("orqUrl");
const orqEnv = { ORQ_API_URL: orqUrl, ORQ_API_KEY: DEV_SECRETS.ORQ_API_KEY };

let closeFake: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closeFake?.();
  closeFake = undefined;
});

describe("npm run connect -- logto", () => {
  async function logto(): Promise<FakeLogtoApi> {
    const fake = await startFakeLogtoApi({ allowHttpLoopback: true });
    closeFake = () => fake.close();
    return fake;
  }
  const logtoEnv = (fake: FakeLogtoApi) => ({ LOGTO_ENDPOINT: fake.url, LOGTO_M2M_APP_ID: fake.appId, LOGTO_M2M_APP_SECRET: fake.appSecret });

  it("end to end: registers the hook, stores the signing key Logto returned, and Logto's signed test event lands in orq.ai through the bridge", async () => {
    const fake = await logto();
    // The bridge under test verifies with the dev key: the fake hands that one out.
    fake.nextSigningKeys = [DEV_SECRETS.LOGTO_WEBHOOK_SIGNING_KEY];
    const devVars = tempDevVars();

    // LOGTO_WEBHOOK_SIGNING_KEY in the environment: what the running bridge has, so no restart is needed before the check.
    const run = await runScript("connect", ["logto", "--url", bridgeUrl, "--local", "--dev-vars", devVars], { ...logtoEnv(fake), ...orqEnv, LOGTO_WEBHOOK_SIGNING_KEY: DEV_SECRETS.LOGTO_WEBHOOK_SIGNING_KEY });

    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(fake.hooks).toHaveLength(1);
    expect(fake.hooks[0]).toMatchObject({ events: ["PostRegister", "User.Created", "User.Data.Updated", "User.Deleted"], config: { url: `${bridgeUrl}/webhooks/logto` }, enabled: true });
    expect(storedVars(devVars).LOGTO_WEBHOOK_SIGNING_KEY).toBe(DEV_SECRETS.LOGTO_WEBHOOK_SIGNING_KEY);
    expect(run.stdout).not.toContain(DEV_SECRETS.LOGTO_WEBHOOK_SIGNING_KEY);
    expect(run.stdout).toContain("✓ logto test event: Logto sent its test User.Created");
    expect(run.stdout).toMatch(/✓ the test user is gone from orq\.ai: bridge-doctor-/);
    const [delivery] = await fake.deliveries();
    expect(delivery).toMatchObject({ status: 200, answer: { status: "recorded" } });
    expect(await waitForIdentity(orqUrl, delivery!.userId)).toMatchObject({ tags: expect.arrayContaining(["logto"]) });
  });

  it("a re-run finds the hook past the first page and updates it, keeping its signing key; --remove deletes only it", async () => {
    const fake = await logto();
    fake.hooks = Array.from({ length: 150 }, (_, index): LogtoHook => ({ tenantId: "default", id: `other${index}`, name: "other", events: ["PostSignIn"], config: { url: `https://other.example/${index}` }, signingKey: "k".repeat(32), enabled: true, createdAt: 0 }));
    const devVars = tempDevVars();
    const first = await runScript("connect", ["logto", "--url", bridgeUrl, "--local", "--dev-vars", devVars, "--no-check"], logtoEnv(fake));
    expect(first.code, first.stdout).toBe(0);
    const key = storedVars(devVars).LOGTO_WEBHOOK_SIGNING_KEY;

    const second = await runScript("connect", ["logto", "--url", bridgeUrl, "--local", "--dev-vars", devVars, "--no-check"], logtoEnv(fake));

    expect(second.code, second.stdout).toBe(0);
    const mine = fake.hooks.filter((hook) => hook.config.url === `${bridgeUrl}/webhooks/logto`);
    expect(mine).toHaveLength(1);
    expect(second.stdout).toContain(`✓ webhook ${mine[0]!.id} updated`);
    expect(storedVars(devVars).LOGTO_WEBHOOK_SIGNING_KEY).toBe(key);
    expect(fake.requests().filter((request) => request.path === "/api/hooks" && request.method === "GET").map((request) => request.query.page)).toEqual(["1", "2", "1", "2"]);

    const removed = await runScript("connect", ["logto", "--url", bridgeUrl, "--remove"], logtoEnv(fake));
    expect(removed.code, removed.stdout).toBe(0);
    expect(fake.hooks).toHaveLength(150);
  });

  it("with --local, a signing key the running bridge does not have yet is stored and the next steps wait for a restart", async () => {
    const fake = await logto();
    const devVars = tempDevVars();
    const run = await runScript("connect", ["logto", "--url", bridgeUrl, "--local", "--dev-vars", devVars], { ...logtoEnv(fake), ...orqEnv });

    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(storedVars(devVars).LOGTO_WEBHOOK_SIGNING_KEY).toBe(fake.hooks[0]!.signingKey);
    expect(run.stdout).toContain(`– LOGTO_WEBHOOK_SIGNING_KEY changed in ${devVars}: restart \`npm run dev\`, then run this command again (it keeps what is stored) to ask for a test event, check end to end`);
    expect(await fake.deliveries()).toEqual([]);
    expect(run.stdout).not.toContain("bridge-doctor-");

    const again = await runScript("connect", ["logto", "--url", bridgeUrl, "--local", "--dev-vars", devVars, "--no-check"], logtoEnv(fake));
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).not.toContain("changed in");
    expect(again.stdout).toContain("✓ logto test event");
  });

  it("a token without the Management API permission is refused, exit 1", async () => {
    const fake = await logto();
    const run = await runScript("connect", ["logto", "--url", bridgeUrl, "--local", "--dev-vars", tempDevVars(), "--no-check"], { LOGTO_ENDPOINT: fake.url, LOGTO_MANAGEMENT_TOKEN: fake.issueToken([]) });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("✗ Logto GET /api/hooks?page=1&page_size=100 answered 403: Forbidden: missing scope all");
    expect(fake.hooks).toEqual([]);
  });
});

describe("npm run connect -- workos", () => {
  async function workos(): Promise<FakeWorkosApi> {
    const fake = await startFakeWorkosApi({ allowHttpLoopback: true });
    closeFake = () => fake.close();
    return fake;
  }

  it("end to end: creates the endpoint, stores the secret WorkOS returned, and WorkOS's signed user.created lands in orq.ai", async () => {
    const fake = await workos();
    fake.nextSecrets = [DEV_SECRETS.WORKOS_WEBHOOK_SECRET];
    const devVars = tempDevVars();

    const run = await runScript("connect", ["workos", "--url", bridgeUrl, "--local", "--dev-vars", devVars], { WORKOS_API_KEY: fake.apiKey, WORKOS_BASE_URL: fake.url, ...orqEnv, WORKOS_WEBHOOK_SECRET: DEV_SECRETS.WORKOS_WEBHOOK_SECRET });

    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(fake.endpoints).toMatchObject([{ endpoint_url: `${bridgeUrl}/webhooks/workos`, events: ["user.created", "user.updated", "user.deleted"], status: "enabled" }]);
    expect(storedVars(devVars).WORKOS_WEBHOOK_SECRET).toBe(DEV_SECRETS.WORKOS_WEBHOOK_SECRET);
    expect(run.stdout).toMatch(/✓ the test user appears in orq\.ai: bridge-doctor-/);
    const userId = uniqueId("user_workos_connect_");
    const [sent] = await fake.deliver("user.created", userId);
    expect(sent).toMatchObject({ status: 200, answer: { status: "recorded" } });
    expect(await waitForIdentity(orqUrl, userId)).toMatchObject({ tags: expect.arrayContaining(["workos"]) });
  });

  it("is idempotent across pages of endpoints, and --dry-run writes nothing", async () => {
    const fake = await workos();
    fake.endpoints = Array.from({ length: 120 }, (_, index): WorkosEndpoint => ({ object: "webhook_endpoint", id: `we_other${String(index).padStart(3, "0")}`, endpoint_url: `https://other.example/${index}`, secret: "whsec_x", status: "enabled", events: ["session.created"], created_at: "", updated_at: "" }));
    const env = { WORKOS_API_KEY: fake.apiKey, WORKOS_BASE_URL: fake.url };
    const dry = await runScript("connect", ["workos", "--url", bridgeUrl, "--dry-run"], env);
    expect(dry.code, dry.stdout).toBe(0);
    expect(dry.stdout).toContain(`would call POST ${fake.url}/webhook_endpoints {"endpoint_url":"${bridgeUrl}/webhooks/workos","events":["user.created","user.updated","user.deleted"]}`);
    expect(fake.endpoints).toHaveLength(120);

    for (let run = 0; run < 2; run++) {
      const result = await runScript("connect", ["workos", "--url", bridgeUrl, "--local", "--dev-vars", tempDevVars(), "--no-check"], env);
      expect(result.code, result.stdout).toBe(0);
    }
    expect(fake.endpoints.filter((endpoint) => endpoint.endpoint_url === `${bridgeUrl}/webhooks/workos`)).toHaveLength(1);
    expect(fake.requests().filter((request) => request.method === "GET").map((request) => request.query.after ?? "")).toEqual(["", "we_other099", "", "we_other099", "", "we_other099"]);
  });

  it("a wrong API key is refused, exit 1", async () => {
    const fake = await workos();
    const run = await runScript("connect", ["workos", "--url", bridgeUrl, "--no-check"], { WORKOS_API_KEY: "sk_test_wrong", WORKOS_BASE_URL: fake.url });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("answered 401: Unauthorized");
    expect(run.stdout).not.toContain("sk_test_wrong");
  });
});
