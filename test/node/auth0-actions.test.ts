/**
 * The Auth0 Action examples (examples/auth0/*.js), run as Auth0 would (a fake `event` and `api`,
 * only global fetch) against the bridge under `wrangler dev`, deliveries observed in the orq.ai emulator.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { loadFixture } from "../../signing/sample-webhooks";
import { DEV_SECRETS } from "../support/secrets";
import { freePort, orqIdentity, orqWrites, uniqueId, waitForIdentity, type Json } from "./dev-server";

const require = createRequire(import.meta.url);
const { onExecutePostUserRegistration } = require("../../examples/auth0/post-user-registration.js") as {
  onExecutePostUserRegistration: (event: Json, api: Json) => Promise<void>;
};
const { onExecutePostLogin } = require("../../examples/auth0/post-login.js") as {
  onExecutePostLogin: (event: Json, api: Json) => Promise<void>;
};

const bridgeUrl = inject("bridgeUrl");
const orqUrl = inject("orqUrl");

/** `event.user` as Auth0 passes it to Actions: the documented user object, with a unique id. */
function auth0User(userId: string): Json {
  const user = loadFixture("auth0", "user.created").data.object;
  user.user_id = userId;
  return user;
}

function actionEvent(user: Json, overrides: { loginsCount?: number; secrets?: Record<string, string> } = {}): Json {
  return {
    user,
    secrets: { BRIDGE_URL: bridgeUrl, AUTH0_WEBHOOK_TOKEN: DEV_SECRETS.AUTH0_WEBHOOK_TOKEN, ...overrides.secrets },
    tenant: { id: "my-tenant" },
    stats: { logins_count: overrides.loginsCount ?? 1 },
    connection: { id: "con_kFOHQUeaCSC1Kjqz", name: "Username-Password-Authentication", strategy: "auth0" },
    transaction: { protocol: "oidc-basic-profile" },
    request: { ip: "10.0.0.1", hostname: "my-tenant.auth0.com" },
  };
}

/** A fake `api` that records every method called on it, at any depth (api.access.deny, api.user.setAppMetadata, …). */
function fakeApi(): { api: Json; calls: string[] } {
  const calls: string[] = [];
  const node = (path: string): Json =>
    new Proxy(function () {}, {
      get: (_target, key) => (typeof key === "string" ? node(path ? `${path}.${key}` : key) : undefined),
      apply: (_target, _this, args) => {
        calls.push(`${path}(${args.map((arg) => JSON.stringify(arg)).join(", ")})`);
        return node(path);
      },
    });
  return { api: node(""), calls };
}

interface RecordedCall {
  url: string;
  headers: Record<string, string>;
  body: Json;
  status?: number;
  answer?: Json;
}

/** Wraps global fetch (what the Actions use) to record each call and the bridge's answer. */
function recordFetch(): RecordedCall[] {
  const calls: RecordedCall[] = [];
  const original = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const call: RecordedCall = {
      url: String(input),
      headers: Object.fromEntries(new Headers(init?.headers).entries()),
      body: typeof init?.body === "string" ? JSON.parse(init.body) : init?.body,
    };
    calls.push(call);
    const response = await original(input, init);
    call.status = response.status;
    call.answer = await response
      .clone()
      .json()
      .catch(() => undefined);
    return response;
  });
  return calls;
}

beforeEach(() => {
  // The Actions log each outcome (Auth0 shows it in the Action logs); keep the test output quiet.
  vi.spyOn(console, "log").mockImplementation(() => {});
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("examples/auth0/post-user-registration.js", () => {
  it("posts an Event-Streams user.created; orq.ai gets the mapped identity", async () => {
    const userId = uniqueId("auth0|action");
    const user = auth0User(userId);
    const fetches = recordFetch();
    const { api, calls } = fakeApi();

    await onExecutePostUserRegistration(actionEvent(user), api);

    expect(calls).toEqual([]);
    expect(fetches).toHaveLength(1);
    const [call] = fetches as [RecordedCall];
    expect(call.url).toBe(`${bridgeUrl}/webhooks/auth0`);
    expect(call.headers.authorization).toBe(`Bearer ${DEV_SECRETS.AUTH0_WEBHOOK_TOKEN}`);
    expect(call.body).toMatchObject({
      specversion: "1.0",
      type: "user.created",
      source: "urn:auth0:my-tenant",
      id: `evt_action_created_${userId}_${Date.parse(user.created_at)}`,
      data: {
        object: {
          user_id: userId,
          email: user.email,
          username: user.username,
          name: user.name,
          given_name: user.given_name,
          family_name: user.family_name,
          nickname: user.nickname,
          picture: user.picture,
          app_metadata: user.app_metadata,
          created_at: user.created_at,
          updated_at: user.updated_at,
        },
      },
    });
    expect(Date.parse(call.body.time)).not.toBeNaN();
    expect(call.body.data.object).not.toHaveProperty("user_metadata");
    expect(call).toMatchObject({ status: 200, answer: { status: "recorded" } });

    const identity = await waitForIdentity(orqUrl, userId);
    expect(identity).toMatchObject({
      external_id: userId,
      email: "john.doe@gmail.com",
      display_name: "John Doe",
      avatar_url: user.picture,
      tags: ["auth0", "node-e2e"],
      metadata: { provider: "auth0", plan: "pro", provider_created_at: new Date(user.created_at).toISOString() },
    });
  });

  it("running it again (Auth0 re-run, or post-login for the same user) is a duplicate: one orq create", async () => {
    const userId = uniqueId("auth0|action_twice");
    const user = auth0User(userId);
    const fetches = recordFetch();
    const { api, calls } = fakeApi();

    await onExecutePostUserRegistration(actionEvent(user), api);
    await onExecutePostUserRegistration(actionEvent(user), api);
    await onExecutePostLogin(actionEvent(user, { loginsCount: 1 }), api);

    expect(calls).toEqual([]);
    expect(fetches.map((call) => call.answer?.status)).toEqual(["recorded", "duplicate", "duplicate"]);
    expect(new Set(fetches.map((call) => call.body.id)).size).toBe(1);
    // The later runs were answered "duplicate", so the first run's delivery is the only one there will be.
    await waitForIdentity(orqUrl, userId);
    const writes = await orqWrites(orqUrl, userId);
    expect(writes.filter((write) => write.method === "POST")).toHaveLength(1);
  });

  it("throws (for the Action logs) when the bridge rejects it, without retrying a 4xx", async () => {
    const user = auth0User(uniqueId("auth0|action_badtoken"));
    const fetches = recordFetch();
    const { api, calls } = fakeApi();

    await expect(onExecutePostUserRegistration(actionEvent(user, { secrets: { AUTH0_WEBHOOK_TOKEN: "not-the-bridge-token" } }), api)).rejects.toThrow(/401/);
    expect(fetches.map((call) => call.status)).toEqual([401]);
    expect(calls).toEqual([]);
  });

  it("retries a bridge it cannot reach a couple of times, then throws", async () => {
    const port = await freePort();
    const fetches = recordFetch();
    const user = auth0User(uniqueId("auth0|action_down"));
    await expect(onExecutePostUserRegistration(actionEvent(user, { secrets: { BRIDGE_URL: `http://127.0.0.1:${port}` } }), fakeApi().api)).rejects.toThrow(/failed/);
    expect(fetches).toHaveLength(3);
  });
});

describe("examples/auth0/post-login.js", () => {
  it("on the first login (a social user) posts user.created; orq.ai gets the identity", async () => {
    const userId = uniqueId("google-oauth2|");
    const user = auth0User(userId);
    const fetches = recordFetch();
    const { api, calls } = fakeApi();
    const event = { ...actionEvent(user, { loginsCount: 1 }), connection: { name: "google-oauth2", strategy: "google-oauth2" } };

    await onExecutePostLogin(event, api);

    expect(calls).toEqual([]);
    expect(fetches).toHaveLength(1);
    expect(fetches[0]).toMatchObject({ status: 200, answer: { status: "recorded" }, body: { type: "user.created", data: { object: { user_id: userId } } } });
    expect(await waitForIdentity(orqUrl, userId)).toMatchObject({ external_id: userId, email: "john.doe@gmail.com", display_name: "John Doe" });
  });

  it("does nothing when it is not the first login", async () => {
    const userId = uniqueId("google-oauth2|");
    const fetches = recordFetch();
    const { api, calls } = fakeApi();

    await onExecutePostLogin(actionEvent(auth0User(userId), { loginsCount: 2 }), api);
    await onExecutePostLogin(actionEvent(auth0User(userId), { loginsCount: 42 }), api);

    expect(fetches).toEqual([]);
    expect(calls).toEqual([]);
    // No request was made, so there is nothing to wait for.
    expect(await orqIdentity(orqUrl, userId)).toBeNull();
    expect(await orqWrites(orqUrl, userId)).toEqual([]);
  });

  it("never fails or denies the login: a rejected call is logged, not thrown", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const fetches = recordFetch();
    const { api, calls } = fakeApi();
    const event = actionEvent(auth0User(uniqueId("auth0|login_badtoken")), { secrets: { AUTH0_WEBHOOK_TOKEN: "not-the-bridge-token" } });

    await expect(onExecutePostLogin(event, api)).resolves.toBeUndefined();
    expect(fetches.map((call) => call.status)).toEqual([401]);
    expect(calls).toEqual([]);
    expect(errors).toHaveBeenCalledWith(expect.stringContaining("401"));

    const missing = actionEvent(auth0User(uniqueId("auth0|login_nosecrets")), { secrets: { BRIDGE_URL: "" } });
    await expect(onExecutePostLogin(missing, api)).resolves.toBeUndefined();
    await expect(onExecutePostLogin({ stats: { logins_count: 1 } }, api)).resolves.toBeUndefined();
    expect(calls).toEqual([]);
  });

  it("gives up within about 5 s when the bridge hangs, and lets the login continue", async () => {
    const hanging: Server = createServer(() => {
      // never answers
    });
    await new Promise<void>((resolve) => hanging.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = hanging.address() as AddressInfo;
      const errors = vi.spyOn(console, "error").mockImplementation(() => {});
      const fetches = recordFetch();
      const { api, calls } = fakeApi();
      const event = actionEvent(auth0User(uniqueId("auth0|login_hang")), { secrets: { BRIDGE_URL: `http://127.0.0.1:${port}` } });

      const started = Date.now();
      await expect(onExecutePostLogin(event, api)).resolves.toBeUndefined();
      const elapsed = Date.now() - started;

      expect(elapsed).toBeLessThan(5_000 + 1_500); // the Action's 4.5 s budget, plus scheduling slack on a busy machine
      expect(fetches.length).toBeGreaterThanOrEqual(2);
      expect(fetches.length).toBeLessThanOrEqual(3);
      expect(errors).toHaveBeenCalledWith(expect.stringContaining("timed out"));
      expect(calls).toEqual([]);
    } finally {
      hanging.closeAllConnections();
      await new Promise((resolve) => hanging.close(resolve));
    }
  });
});
