/**
 * `npm run connect -- kinde|supabase` against strict fakes of their management APIs. Both deliver
 * through the bridge under `wrangler dev` into the orq.ai emulator: Supabase's trigger with the
 * bearer secret connect stored; Kinde (no secret, only its issuer URL to store) with a JWT signed
 * by the business key whose public half the bridge fetches from its issuer's JWKS.
 */
import { afterEach, describe, expect, inject, it } from "vitest";
import { DEV_SECRETS } from "../../signing/dev-secrets";
import { KINDE_DEV_KID, KINDE_DEV_PRIVATE_JWK } from "../../signing/kinde-dev-key";
import { startFakeKindeApi, type FakeKindeApi, type KindeSigningKey } from "../support/fake-kinde-api";
import { startFakeSupabaseApi, type FakeSupabaseApi } from "../support/fake-supabase-api";
import { startJwksServer, type JwksServer } from "../support/jwks-server";
import { TEST_BRIDGE_VARS, orqIdentity, sleep, uniqueId, waitForIdentity } from "./dev-server";
import { runScript, storedVars, tempDevVars } from "./doctor-harness";

const bridgeUrl = inject("bridgeUrl");
const orqUrl = inject("orqUrl");

let closeFake: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closeFake?.();
  closeFake = undefined;
});

/**
 * The issuer the shared bridge trusts: wrangler-dev.global.ts starts it once with TEST_BRIDGE_VARS,
 * whose KINDE_ISSUER_URL is DEV_SECRETS' `http://127.0.0.1:8789` (where `npm run dev` serves the
 * dev key set; nothing in the node project serves it otherwise). This serves `keys` there, or, when
 * that port is already taken (a developer's `npm run dev`), uses what is there if it publishes them.
 */
async function serveTrustedIssuer(keys: { keys: Array<{ kid?: string; n?: string }> }): Promise<JwksServer | undefined> {
  const issuer = new URL(TEST_BRIDGE_VARS.KINDE_ISSUER_URL);
  try {
    return await startJwksServer({ host: issuer.hostname, port: Number(issuer.port), issuers: { [issuer.pathname.replace(/\/+$/, "")]: keys } });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    const published = (await (await fetch(`${issuer.href.replace(/\/+$/, "")}/.well-known/jwks`)).json().catch(() => ({}))) as { keys?: Array<{ kid?: string; n?: string }> };
    const served = keys.keys.every((key) => published.keys?.some((other) => other.kid === key.kid && other.n === key.n));
    if (!served) throw new Error(`${issuer.href} (the bridge's KINDE_ISSUER_URL in the node tests) is taken by something that does not publish the Kinde dev key: stop it and run the tests again`);
    return undefined;
  }
}

describe("npm run connect -- kinde", () => {
  async function kinde(grantedScopes?: readonly string[]): Promise<FakeKindeApi> {
    const fake = await startFakeKindeApi({ allowHttpLoopback: true, ...(grantedScopes && { grantedScopes }) });
    closeFake = () => fake.close();
    return fake;
  }
  const kindeEnv = (fake: FakeKindeApi) => ({ KINDE_DOMAIN: fake.domain, KINDE_BASE_URL: fake.url, KINDE_M2M_CLIENT_ID: fake.clientId, KINDE_M2M_CLIENT_SECRET: fake.clientSecret });

  it("creates the webhook with the handled events, stores KINDE_ISSUER_URL (Kinde has no secret), and a re-run updates it; --remove deletes it", async () => {
    const fake = await kinde();
    fake.webhooks = [{ id: "whk_other", name: "other", endpoint: "https://other.example/kinde", event_types: ["user.authenticated"], created_on: "" }];
    const devVars = tempDevVars();

    const first = await runScript("connect", ["kinde", "--url", bridgeUrl, "--local", "--dev-vars", devVars, "--no-check"], kindeEnv(fake));

    expect(first.code, first.stdout + first.stderr).toBe(0);
    const mine = fake.webhooks.filter((webhook) => webhook.endpoint === `${bridgeUrl}/webhooks/kinde`);
    expect(mine).toMatchObject([{ event_types: ["user.created", "user.updated", "user.deleted"] }]);
    expect(storedVars(devVars)).toEqual({ KINDE_ISSUER_URL: `https://${fake.domain}` });
    expect(first.stdout).toContain(`✓ KINDE_ISSUER_URL stored in ${devVars}`);

    const second = await runScript("connect", ["kinde", "--url", bridgeUrl, "--local", "--dev-vars", devVars, "--no-check"], kindeEnv(fake));
    expect(second.code, second.stdout).toBe(0);
    expect(second.stdout).toContain(`✓ webhook ${mine[0]!.id} updated`);
    expect(fake.webhooks).toHaveLength(2);

    const removed = await runScript("connect", ["kinde", "--url", bridgeUrl, "--remove"], kindeEnv(fake));
    expect(removed.code, removed.stdout).toBe(0);
    expect(fake.webhooks.map((webhook) => webhook.id)).toEqual(["whk_other"]);
  });

  it("end to end: after connect, the fake Kinde's signed user.created goes to the registered endpoint and lands in orq.ai with the mapped fields; another business's key is refused", async () => {
    // The business key the running bridge trusts: the Kinde dev key (public on purpose), published
    // by the issuer the bridge was started with. Signed by the fake with jose.
    const devKey: KindeSigningKey = { kid: KINDE_DEV_KID, privateJwk: { ...KINDE_DEV_PRIVATE_JWK } };
    const fake = await startFakeKindeApi({ allowHttpLoopback: true, signingKey: devKey });
    const jwks = await serveTrustedIssuer(fake.jwks);
    closeFake = async () => {
      await fake.close();
      await jwks?.close();
    };
    const devVars = tempDevVars();

    const run = await runScript("connect", ["kinde", "--url", bridgeUrl, "--local", "--dev-vars", devVars, "--no-check"], kindeEnv(fake));

    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(fake.webhooks).toMatchObject([{ endpoint: `${bridgeUrl}/webhooks/kinde`, event_types: ["user.created", "user.updated", "user.deleted"] }]);
    // What connect stores is https://<KINDE_DOMAIN>, Kinde's issuer. It cannot be the issuer the running
    // bridge trusts: that bridge was started once with TEST_BRIDGE_VARS (http://127.0.0.1:8789) and does
    // not read this .dev.vars, and there is no https://fake-business.kinde.com here (no network, no TLS
    // fake; the bridge takes plain http only for loopback). So the fake's key set is published at the
    // issuer the bridge does trust, and only the registration (endpoint, events) comes from connect.
    expect(storedVars(devVars)).toEqual({ KINDE_ISSUER_URL: `https://${fake.domain}` });
    expect(storedVars(devVars).KINDE_ISSUER_URL).not.toBe(TEST_BRIDGE_VARS.KINDE_ISSUER_URL);

    const userId = uniqueId("kp_connect");
    const sent = await fake.deliver("user.created", userId);

    expect(sent).toMatchObject([{ url: `${bridgeUrl}/webhooks/kinde`, status: 200, answer: { status: "recorded" } }]);
    expect(await waitForIdentity(orqUrl, userId)).toMatchObject({
      external_id: userId,
      email: "user@example.com",
      display_name: "Test",
      tags: expect.arrayContaining(["kinde"]),
      metadata: expect.objectContaining({ provider: "kinde" }),
    });

    // The same delivery signed with a key the issuer does not publish is refused and syncs nothing.
    const stranger = await startFakeKindeApi({ allowHttpLoopback: true });
    try {
      stranger.webhooks = fake.webhooks.map((webhook) => ({ ...webhook }));
      const strangerId = uniqueId("kp_stranger");
      const [refused] = await stranger.deliver("user.created", strangerId);
      expect(refused?.status).toBe(401);
      await sleep(500);
      expect(await orqIdentity(orqUrl, strangerId)).toBeNull();
    } finally {
      await stranger.close();
    }
  });

  it("an app without create:webhooks is refused, exit 1", async () => {
    const fake = await kinde(["read:webhooks"]);
    const run = await runScript("connect", ["kinde", "--url", bridgeUrl, "--local", "--dev-vars", tempDevVars(), "--no-check"], kindeEnv(fake));
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("✗ Kinde POST /api/v1/webhooks answered 403: Missing required scope: create:webhooks");
    expect(fake.webhooks).toEqual([]);
  });
});

describe("npm run connect -- supabase", () => {
  async function supabase(): Promise<FakeSupabaseApi> {
    const fake = await startFakeSupabaseApi();
    closeFake = () => fake.close();
    return fake;
  }

  it("end to end: creates the auth.users trigger with the bridge's bearer secret, and the trigger's delivery lands in orq.ai; a re-run replaces it, --remove drops it", async () => {
    const fake = await supabase();
    fake.triggers = [{ name: "audit_users", url: "https://audit.example/users", headers: {}, timeoutMs: 1000 }];
    const env = { SUPABASE_PROJECT_REF: fake.projectRef, SUPABASE_ACCESS_TOKEN: fake.issueToken(), SUPABASE_API_URL: fake.url, SUPABASE_WEBHOOK_SECRET: DEV_SECRETS.SUPABASE_WEBHOOK_SECRET, ORQ_API_URL: orqUrl, ORQ_API_KEY: DEV_SECRETS.ORQ_API_KEY };

    const run = await runScript("connect", ["supabase", "--url", bridgeUrl, "--local", "--dev-vars", tempDevVars()], env);

    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(fake.triggers).toEqual([
      { name: "audit_users", url: "https://audit.example/users", headers: {}, timeoutMs: 1000 },
      { name: "orq_identity_bridge", url: `${bridgeUrl}/webhooks/supabase`, headers: { "Content-Type": "application/json", Authorization: `Bearer ${DEV_SECRETS.SUPABASE_WEBHOOK_SECRET}` }, timeoutMs: 5000 },
    ]);
    expect(run.stdout).not.toContain(DEV_SECRETS.SUPABASE_WEBHOOK_SECRET);
    expect(run.stdout).toMatch(/✓ the test user appears in orq\.ai: bridge-doctor-/);
    const userId = uniqueId("supabase-connect-");
    const sent = await fake.deliver("user.created", userId);
    expect(sent.find((delivery) => delivery.url.startsWith(bridgeUrl))).toMatchObject({ status: 200, answer: { status: "recorded" } });
    expect(await waitForIdentity(orqUrl, userId)).toMatchObject({ tags: expect.arrayContaining(["supabase"]) });

    const again = await runScript("connect", ["supabase", "--url", bridgeUrl, "--local", "--dev-vars", tempDevVars(), "--no-check"], env);
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toContain("✓ webhook trigger orq_identity_bridge on auth.users updated");
    expect(fake.triggers).toHaveLength(2);

    const removed = await runScript("connect", ["supabase", "--url", bridgeUrl, "--remove"], env);
    expect(removed.code, removed.stdout).toBe(0);
    expect(fake.triggers.map((trigger) => trigger.name)).toEqual(["audit_users"]);
  });

  it("--dry-run prints the SQL with the secret masked and runs only the read-only listing", async () => {
    const fake = await supabase();
    const run = await runScript("connect", ["supabase", "--url", bridgeUrl, "--dry-run"], { SUPABASE_PROJECT_REF: fake.projectRef, SUPABASE_ACCESS_TOKEN: fake.issueToken(["database:read"]), SUPABASE_API_URL: fake.url });
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toContain("create trigger \\\"orq_identity_bridge\\\" after insert or update or delete on auth.users");
    expect(run.stdout).toContain('\\"Authorization\\":\\"Bearer ••••\\"');
    expect(fake.triggers).toEqual([]);
    expect(fake.requests().map((request) => request.status)).toEqual([201]);
  });
});
