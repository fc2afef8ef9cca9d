/**
 * `npm run connect -- zitadel` against a strict fake of ZITADEL's Actions v2 API (target +
 * executions), end to end through the bridge under `wrangler dev`.
 */
import { afterEach, describe, expect, inject, it } from "vitest";
import { DEV_SECRETS } from "../../signing/dev-secrets";
import { startFakeZitadelApi, type FakeZitadelApi, type ZitadelTarget } from "../support/fake-zitadel-api";
import { uniqueId, waitForIdentity } from "./dev-server";
import { runScript, storedVars, tempDevVars } from "./doctor-harness";

const bridgeUrl = inject("bridgeUrl");
const orqUrl = inject("orqUrl");
const webhookUrl = `${bridgeUrl}/webhooks/zitadel`;
const HANDLED = ["user.human.added", "user.human.selfregistered", "user.human.profile.changed", "user.human.email.changed", "user.removed"];

let fake: FakeZitadelApi | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

describe("npm run connect -- zitadel", () => {
  it("end to end: creates the target and one execution per handled event (keeping other targets), stores the signing key ZITADEL returned, and ZITADEL's signed event lands in orq.ai", async () => {
    fake = await startFakeZitadelApi({ allowHttpLoopback: true });
    fake.nextSigningKeys = [DEV_SECRETS.ZITADEL_WEBHOOK_SIGNING_KEY];
    const other: ZitadelTarget = { id: "other-target", name: "audit", endpoint: "https://audit.example/hook", timeout: "5s", restAsync: {}, signingKey: "k", creationDate: "", changeDate: "" };
    fake.targets = [other];
    fake.executions = [{ condition: { event: { event: "user.removed" } }, targets: ["other-target"] }];
    const devVars = tempDevVars();

    const run = await runScript("connect", ["zitadel", "--url", bridgeUrl, "--local", "--dev-vars", devVars], { ZITADEL_DOMAIN: "fake.zitadel.cloud", ZITADEL_BASE_URL: fake.url, ZITADEL_TOKEN: fake.issueToken(), ORQ_API_URL: orqUrl, ORQ_API_KEY: DEV_SECRETS.ORQ_API_KEY, ZITADEL_WEBHOOK_SIGNING_KEY: DEV_SECRETS.ZITADEL_WEBHOOK_SIGNING_KEY });

    expect(run.code, run.stdout + run.stderr).toBe(0);
    const mine = fake.targets.find((target) => target.endpoint === webhookUrl);
    expect(mine).toMatchObject({ restAsync: {}, timeout: "10s" });
    expect(fake.executions.map((execution) => execution.condition.event.event).sort()).toEqual([...HANDLED].sort());
    for (const execution of fake.executions) expect(execution.targets).toEqual(execution.condition.event.event === "user.removed" ? ["other-target", mine!.id] : [mine!.id]);
    expect(storedVars(devVars).ZITADEL_WEBHOOK_SIGNING_KEY).toBe(DEV_SECRETS.ZITADEL_WEBHOOK_SIGNING_KEY);
    expect(run.stdout).not.toContain(DEV_SECRETS.ZITADEL_WEBHOOK_SIGNING_KEY);
    expect(run.stdout).toMatch(/✓ the test user is gone from orq\.ai: bridge-doctor-/);

    const userId = uniqueId("zitadel-connect-");
    const [sent] = await fake.deliver("user.created", userId);
    expect(sent).toMatchObject({ url: webhookUrl, status: 200, answer: { status: "recorded" } });
    expect(await waitForIdentity(orqUrl, userId)).toMatchObject({ tags: expect.arrayContaining(["zitadel"]) });
  });

  it("a re-run finds the target on a later search page and rotates its key (the old one cannot be read); --remove deletes it and its executions", async () => {
    fake = await startFakeZitadelApi({ allowHttpLoopback: true });
    fake.targets = Array.from({ length: 130 }, (_, index): ZitadelTarget => ({ id: `t${index}`, name: `other-${index}`, endpoint: `https://other.example/${index}`, timeout: "5s", restAsync: {}, signingKey: "k", creationDate: "", changeDate: "" }));
    const env = { ZITADEL_DOMAIN: "fake.zitadel.cloud", ZITADEL_BASE_URL: fake.url, ZITADEL_TOKEN: fake.issueToken() };
    const devVars = tempDevVars();
    expect((await runScript("connect", ["zitadel", "--url", bridgeUrl, "--local", "--dev-vars", devVars, "--no-check"], env)).code).toBe(0);
    const firstKey = storedVars(devVars).ZITADEL_WEBHOOK_SIGNING_KEY;

    const again = await runScript("connect", ["zitadel", "--url", bridgeUrl, "--local", "--dev-vars", tempDevVars(), "--no-check"], env);

    expect(again.code, again.stdout).toBe(0);
    const mine = fake.targets.filter((target) => target.endpoint === webhookUrl);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.signingKey).not.toBe(firstKey);
    expect(again.stdout).toContain(`✓ webhook ${mine[0]!.id} updated`);
    expect(fake.executions).toHaveLength(5);

    const removed = await runScript("connect", ["zitadel", "--url", bridgeUrl, "--remove"], env);
    expect(removed.code, removed.stdout).toBe(0);
    expect(fake.targets).toHaveLength(130);
    expect(fake.executions).toEqual([]);
  });

  it("a token without action.execution.write stops at the execution, exit 1", async () => {
    fake = await startFakeZitadelApi({ allowHttpLoopback: true });
    const token = fake.issueToken(["action.target.read", "action.target.write", "action.execution.read"]);
    const run = await runScript("connect", ["zitadel", "--url", bridgeUrl, "--local", "--dev-vars", tempDevVars(), "--no-check"], { ZITADEL_DOMAIN: "fake.zitadel.cloud", ZITADEL_BASE_URL: fake.url, ZITADEL_TOKEN: token });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("✗ ZITADEL PUT /v2/actions/executions answered 403: No matching permissions found: action.execution.write");
  });
});
