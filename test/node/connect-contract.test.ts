/**
 * What holds for `npm run connect` whatever the provider: it subscribes exactly the events the
 * bridge's plug-in handles (read from src/providers through the plug-in itself, not from a copy),
 * a deployed bridge's secret goes through `wrangler secret put` on stdin, and the providers without
 * a webhook API get their dashboard steps (Clerk also its portal link).
 */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, inject, it } from "vitest";
import { CONNECTORS } from "../../cli/lib/connect/providers";
import { loadFixture, type Json } from "../../signing/sample-webhooks";
import { providers } from "../../src/providers/registry";
import { startFakeServer, bearerToken, type FakeServer } from "../support/fake-http";
import { startFakeWorkosApi } from "../support/fake-workos-api";
import { fakeWrangler, runScript, runScriptProcess } from "./doctor-harness";

const bridgeUrl = inject("bridgeUrl");

/** A payload of the provider's documented shape whose event type is `type`. */
const WITH_TYPE: Record<string, (type: string) => Json> = {
  auth0: (type) => ({ ...loadFixture("auth0", "user.created"), type }),
  workos: (type) => ({ ...loadFixture("workos", "user.created"), event: type }),
  // Logto payloads older than 5 minutes are refused before the type is looked at.
  logto: (type) => ({ ...loadFixture("logto", "user.created"), event: type, createdAt: new Date().toISOString() }),
  zitadel: (type) => ({ ...loadFixture("zitadel", "user.created"), event_type: type }),
  kinde: (type) => ({ ...loadFixture("kinde", "user.created"), type }),
  supabase: (type) => ({ ...loadFixture("supabase", "user.created"), type }),
  okta: (type) => {
    const payload = loadFixture("okta", "user.created");
    payload.data.events[0].eventType = type;
    return payload;
  },
};

/** Every event type any of these providers can send that we know of: handled or not. */
const CANDIDATES = [
  ...new Set([
    ...Object.values(CONNECTORS).flatMap((connector) => connector.events),
    "user.authenticated", "session.created", "organization.created", "dsync.user.created", "user.password_reset",
    "PostSignIn", "PostResetPassword", "User.SuspensionStatus.Updated", "Role.Created",
    "user.lifecycle.activate", "user.lifecycle.deactivate", "user.lifecycle.delete.completed", "user.session.start", "user.account.lock",
    "user.human.initialized", "user.human.password.changed", "user.machine.added", "user.human.phone.changed",
    "TRUNCATE",
  ]),
];

describe("npm run connect subscribes exactly what the bridge handles", () => {
  for (const [name, build] of Object.entries(WITH_TYPE)) {
    it(`${name}: the subscription equals the event types the ${name} plug-in does not ignore`, () => {
      const plugin = providers.find((provider) => provider.name === name)!;
      const handled = CANDIDATES.filter((type) => plugin.normalise(build(type), { deliveryId: "probe", receivedAt: Date.now() }).kind !== "ignored");
      expect([...CONNECTORS[name]!.events].sort()).toEqual(handled.sort());
    });
  }
});

describe("storing the secret for a deployed bridge", () => {
  let fake: Awaited<ReturnType<typeof startFakeWorkosApi>> | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it("runs `wrangler secret put <NAME>` with the secret on stdin, never on the command line", async () => {
    fake = await startFakeWorkosApi({ allowHttpLoopback: true });
    const wrangler = fakeWrangler(0);
    const run = await runScript("connect", ["workos", "--url", bridgeUrl, "--no-check"], { WORKOS_API_KEY: fake.apiKey, WORKOS_BASE_URL: fake.url, CONNECT_WRANGLER: wrangler.bin });

    expect(run.code, run.stdout + run.stderr).toBe(0);
    const call = JSON.parse(readFileSync(wrangler.record, "utf8"));
    expect(call).toEqual({ args: ["secret", "put", "WORKOS_WEBHOOK_SECRET"], input: `${fake.endpoints[0]!.secret}\n` });
    expect(run.stdout).toContain("✓ WORKOS_WEBHOOK_SECRET stored with `wrangler secret put WORKOS_WEBHOOK_SECRET`");
    expect(run.stdout).not.toContain(fake.endpoints[0]!.secret);
  });

  it("--show-secret prints it once stored; a failing wrangler is reported with the fix, exit 1", async () => {
    fake = await startFakeWorkosApi({ allowHttpLoopback: true });
    const shown = await runScript("connect", ["workos", "--url", bridgeUrl, "--no-check", "--show-secret"], { WORKOS_API_KEY: fake.apiKey, WORKOS_BASE_URL: fake.url, CONNECT_WRANGLER: fakeWrangler(0).bin });
    expect(shown.stdout).toContain(`WORKOS_WEBHOOK_SECRET=${fake.endpoints[0]!.secret}`);

    const failing = await runScript("connect", ["workos", "--url", bridgeUrl, "--no-check"], { WORKOS_API_KEY: fake.apiKey, WORKOS_BASE_URL: fake.url, CONNECT_WRANGLER: fakeWrangler(1).bin });
    expect(failing.code).toBe(1);
    expect(failing.stdout).toContain("✗ could not store WORKOS_WEBHOOK_SECRET: wrangler secret put exited 1: Authentication error: not logged in");
    expect(failing.stdout).toContain("fix: run `npx wrangler login`");
  });
});

describe("providers without a webhook API", () => {
  let clerk: FakeServer | undefined;
  afterEach(async () => {
    await clerk?.close();
    clerk = undefined;
  });

  it("stack-auth: prints the dashboard steps for this URL", async () => {
    const run = await runScript("connect", ["stack-auth", "--url", bridgeUrl], {});
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`URL: ${bridgeUrl}/webhooks/stack-auth`);
    expect(run.stdout).toContain("npx wrangler secret put STACK_AUTH_WEBHOOK_SECRET");
  });

  it("clerk: prints the dashboard steps, and with CLERK_SECRET_KEY the one-time portal link (creating the Svix app when there is none)", async () => {
    const secretKey = "sk_test_fakeclerkkey0123456789";
    let appCreated = false;
    clerk = await startFakeServer((request) => {
      if (bearerToken(request) !== secretKey) return { status: 401, body: { errors: [{ code: "authentication_invalid", message: "Invalid authentication" }] } };
      if (request.method === "POST" && request.path === "/v1/webhooks/svix_url") return appCreated ? { status: 200, body: { svix_url: "https://app.svix.com/login#key=again" } } : { status: 404, body: { errors: [{ code: "resource_not_found", message: "svix app not found" }] } };
      if (request.method === "POST" && request.path === "/v1/webhooks/svix") {
        appCreated = true;
        return { status: 200, body: { svix_url: "https://app.svix.com/login#key=first" } };
      }
      return { status: 404, body: { errors: [{ code: "resource_not_found", message: "not found" }] } };
    });

    const plain = await runScript("connect", ["clerk", "--url", bridgeUrl], {});
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain(`Endpoint URL: ${bridgeUrl}/webhooks/clerk`);
    expect(plain.stdout).not.toContain("svix");

    const first = await runScript("connect", ["clerk", "--url", bridgeUrl], { CLERK_SECRET_KEY: secretKey, CLERK_API_URL: clerk.url });
    expect(first.code, first.stdout).toBe(0);
    expect(first.stdout).toContain("one-time link to Clerk's webhook portal (instead of steps 1-4 in the dashboard): https://app.svix.com/login#key=first");
    expect(first.stdout).not.toContain(secretKey);
    const second = await runScript("connect", ["clerk", "--url", bridgeUrl], { CLERK_SECRET_KEY: secretKey, CLERK_API_URL: clerk.url });
    expect(second.stdout).toContain("https://app.svix.com/login#key=again");
  });
});

describe("the entry files", () => {
  // The tests above call the commands in-process; `npm run connect` and `npm run doctor` start these files.
  it("cli/connect.ts and cli/doctor.ts run as processes: --help prints the usage (exit 0), a wrong command line names the problem (exit 2)", async () => {
    const [connectHelp, connectWrong, doctorHelp, doctorWrong] = await Promise.all([
      runScriptProcess("connect", ["--help"], {}),
      runScriptProcess("connect", ["auth0", "--url", bridgeUrl, "--bogus"], {}),
      runScriptProcess("doctor", ["--help"], {}),
      runScriptProcess("doctor", [], {}),
    ]);
    expect(connectHelp).toMatchObject({ code: 0, stderr: "" });
    expect(connectHelp.stdout).toMatch(/^Usage: npm run connect -- <provider>/);
    expect(connectWrong.code).toBe(2);
    expect(connectWrong.stderr).toMatch(/Unknown option '--bogus'[\s\S]*Usage: npm run connect/);
    expect(doctorHelp).toMatchObject({ code: 0, stderr: "" });
    expect(doctorHelp.stdout).toMatch(/^Usage: npm run doctor -- --url/);
    expect(doctorWrong).toMatchObject({ code: 2, stdout: "" });
    expect(doctorWrong.stderr).toMatch(/^--url is required\nUsage: npm run doctor/);
  });
});
