/**
 * `npm run connect -- auth0` against a strict fake of Auth0's Event Streams / Log Streams API,
 * with the bridge under `wrangler dev` and the orq.ai emulator.
 */
import { afterEach, describe, expect, inject, it } from "vitest";
import { DEV_SECRETS } from "../../signing/dev-secrets";
import { AUTH0_STREAM_SCOPES, startFakeAuth0StreamsApi, type EventStream, type FakeAuth0StreamsApi } from "../support/fake-auth0-streams-api";
import { orqIdentity, waitForIdentity } from "./dev-server";
import { runScript, storedVars, tempDevVars } from "./doctor-harness";

const bridgeUrl = inject("bridgeUrl");
const orqUrl = inject("orqUrl");
const webhookUrl = `${bridgeUrl}/webhooks/auth0`;

let fake: FakeAuth0StreamsApi | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

function auth0Env(api: FakeAuth0StreamsApi, extra: Record<string, string> = {}): Record<string, string> {
  return { AUTH0_DOMAIN: api.domain, AUTH0_BASE_URL: api.url, AUTH0_CLIENT_ID: api.clientId, AUTH0_CLIENT_SECRET: api.clientSecret, ...extra };
}

/** Unrelated streams, so finding the bridge's takes three pages of 50. */
function otherStreams(count: number): EventStream[] {
  return Array.from({ length: count }, (_, index) => ({
    id: `est_other${String(index).padStart(4, "0")}`,
    name: `other-${index}`,
    subscriptions: [{ event_type: "organization.created" }],
    destination: { type: "webhook", configuration: { webhook_endpoint: `https://other.example/${index}`, webhook_authorization: { method: "bearer", token: "x".repeat(32) } } },
    status: "enabled",
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
  }));
}

describe("npm run connect -- auth0 (Event Streams)", () => {
  it("creates one enabled stream with exactly the handled events and a generated token stored in .dev.vars; a re-run updates the same stream, found past the first pages", async () => {
    fake = await startFakeAuth0StreamsApi({ allowHttpLoopback: true });
    fake.eventStreams = otherStreams(120);
    const devVars = tempDevVars();

    const first = await runScript("connect", ["auth0", "--url", bridgeUrl, "--local", "--dev-vars", devVars, "--no-check"], auth0Env(fake));

    expect(first.code, first.stdout + first.stderr).toBe(0);
    const mine = fake.eventStreams.filter((stream) => stream.destination.configuration.webhook_endpoint === webhookUrl);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ status: "enabled", subscriptions: [{ event_type: "user.created" }, { event_type: "user.updated" }, { event_type: "user.deleted" }] });
    const token = mine[0]!.destination.configuration.webhook_authorization.token ?? "";
    expect(Buffer.from(token, "hex")).toHaveLength(32);
    expect(storedVars(devVars).AUTH0_WEBHOOK_TOKEN).toBe(token);
    expect(first.stdout).toContain("generated a new AUTH0_WEBHOOK_TOKEN (32 random bytes)");
    expect(first.stdout).toMatch(/✓ webhook est_[0-9a-f]{16} created: user\.created, user\.updated, user\.deleted/);
    expect(first.stdout + first.stderr).not.toContain(token);

    const second = await runScript("connect", ["auth0", "--url", bridgeUrl, "--local", "--dev-vars", devVars, "--no-check"], auth0Env(fake));

    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toContain(`✓ webhook ${mine[0]!.id} updated`);
    expect(second.stdout).toContain(`keeping the bridge's AUTH0_WEBHOOK_TOKEN (from ${devVars})`);
    expect(fake.eventStreams.filter((stream) => stream.destination.configuration.webhook_endpoint === webhookUrl)).toHaveLength(1);
    expect(fake.eventStreams).toHaveLength(121);
    const listCalls = fake.requests().filter((request) => request.method === "GET" && request.path === "/api/v2/event-streams");
    expect(listCalls.map((request) => request.query.from ?? "")).toEqual(["", "est_other0050", "est_other0100", "", "est_other0050", "est_other0100"]);
  });

  it("--dry-run lists, prints the write it would make with the token masked, and changes nothing", async () => {
    fake = await startFakeAuth0StreamsApi({ allowHttpLoopback: true });
    const run = await runScript("connect", ["auth0", "--url", bridgeUrl, "--dry-run"], auth0Env(fake, { AUTH0_WEBHOOK_TOKEN: DEV_SECRETS.AUTH0_WEBHOOK_TOKEN }));

    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`would call POST ${fake.url}/api/v2/event-streams {"name":"orq-identity-bridge"`);
    expect(run.stdout).toContain('"webhook_authorization":{"method":"bearer","token":"••••"}');
    expect(run.stdout).toContain("would store AUTH0_WEBHOOK_TOKEN=•••• with `wrangler secret put`");
    expect(run.stdout).not.toContain(DEV_SECRETS.AUTH0_WEBHOOK_TOKEN);
    expect(fake.eventStreams).toEqual([]);
    expect(fake.requests().filter((request) => request.method !== "GET" && request.path !== "/oauth/token")).toEqual([]);
  });

  it("end to end: Auth0's test event, sent by the fake with the stored bearer token, lands in orq.ai through the bridge; then the doctor's check passes", async () => {
    fake = await startFakeAuth0StreamsApi({ allowHttpLoopback: true });
    const run = await runScript(
      "connect",
      ["auth0", "--url", bridgeUrl, "--local", "--dev-vars", tempDevVars()],
      // The bridge under test already has the dev token: connect keeps a token it is given.
      auth0Env(fake, { AUTH0_WEBHOOK_TOKEN: DEV_SECRETS.AUTH0_WEBHOOK_TOKEN, ORQ_API_URL: orqUrl, ORQ_API_KEY: DEV_SECRETS.ORQ_API_KEY }),
    );

    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain("✓ auth0 test event: Auth0 sent its test user.created: pending");
    expect(run.stdout).toMatch(/✓ the test user appears in orq\.ai: bridge-doctor-[0-9a-f]{12}/);
    expect(run.stdout).toMatch(/✓ the test user is gone from orq\.ai/);
    const [delivery] = await fake.deliveries();
    expect(delivery).toMatchObject({ url: webhookUrl, status: 200, answer: { status: "recorded" } });
    const identity = await waitForIdentity(orqUrl, delivery!.userId);
    expect(identity).toMatchObject({ external_id: delivery!.userId, tags: expect.arrayContaining(["auth0"]) });
    expect(await orqIdentity(orqUrl, delivery!.userId)).not.toBeNull();
  });

  it("--remove deletes the bridge's stream and leaves the others", async () => {
    fake = await startFakeAuth0StreamsApi({ allowHttpLoopback: true });
    fake.eventStreams = otherStreams(3);
    await runScript("connect", ["auth0", "--url", bridgeUrl, "--dry-run"], auth0Env(fake));
    const created = await runScript("connect", ["auth0", "--url", bridgeUrl, "--local", "--dev-vars", tempDevVars(), "--no-check"], auth0Env(fake));
    expect(created.code).toBe(0);
    const id = fake.eventStreams.find((stream) => stream.destination.configuration.webhook_endpoint === webhookUrl)?.id;

    const removed = await runScript("connect", ["auth0", "--url", bridgeUrl, "--remove"], auth0Env(fake));

    expect(removed.code, removed.stdout).toBe(0);
    expect(removed.stdout).toContain(`✓ removed ${id}`);
    expect(fake.eventStreams.map((stream) => stream.id)).toEqual(["est_other0000", "est_other0001", "est_other0002"]);
  });

  it("credentials without the event-stream scopes are refused by the API and reported with the fix", async () => {
    fake = await startFakeAuth0StreamsApi({ allowHttpLoopback: true, grantedScopes: ["read:event_streams"] });
    const run = await runScript("connect", ["auth0", "--url", bridgeUrl, "--local", "--dev-vars", tempDevVars(), "--no-check"], auth0Env(fake));

    expect(run.code).toBe(1);
    expect(run.stdout).toContain("✗ Auth0 POST /api/v2/event-streams answered 403: Insufficient scope, expected any of: create:event_streams");
    expect(run.stdout).toContain("fix: give the credentials the scopes");
    expect(fake.eventStreams).toEqual([]);
    expect(AUTH0_STREAM_SCOPES).toContain("create:event_streams");
  });

  it("--log-stream registers a Custom Webhook Log Stream for /webhooks/auth0-logs with the token as the whole Authorization header", async () => {
    fake = await startFakeAuth0StreamsApi({ allowHttpLoopback: true });
    const devVars = tempDevVars();
    const run = await runScript("connect", ["auth0", "--log-stream", "--url", bridgeUrl, "--local", "--dev-vars", devVars, "--no-check"], auth0Env(fake));

    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(fake.logStreams).toHaveLength(1);
    const token = storedVars(devVars).AUTH0_LOG_STREAM_TOKEN;
    expect(fake.logStreams[0]).toMatchObject({ type: "http", status: "active", sink: { httpEndpoint: `${bridgeUrl}/webhooks/auth0-logs`, httpAuthorization: token, httpContentFormat: "JSONARRAY" } });
  });

  it("a missing AUTH0_DOMAIN stops before any call, exit 2", async () => {
    const run = await runScript("connect", ["auth0", "--url", bridgeUrl], {});
    expect(run.code).toBe(2);
    expect(run.stdout).toContain("AUTH0_DOMAIN is not set");
  });
});
