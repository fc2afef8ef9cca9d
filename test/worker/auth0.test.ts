import { describe, expect, it } from "vitest";
import {
  auth0Event,
  callBridge,
  callBridgeWith,
  deliverNow,
  inspectIdentity,
  orqIdentity,
  orqWrites,
  postAuth0,
  uniqueId,
} from "./harness";

const auth0Id = () => `auth0|${uniqueId("u")}`;

describe("Auth0 Event Streams users land in orq.ai", () => {
  it("user.created (Auth0's documented example) becomes an identity, with an id containing |", async () => {
    const userId = auth0Id();
    const response = await postAuth0(auth0Event("user.created", userId));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "recorded" });
    expect(await deliverNow("auth0", userId)).toMatchObject({ delivery: "delivered" });

    expect(await orqIdentity(userId)).toMatchObject({
      external_id: userId,
      email: "john.doe@gmail.com",
      display_name: "John Doe",
      avatar_url: expect.stringMatching(/^https:\/\/secure\.gravatar\.com\/avatar\//),
      tags: ["auth0", "test-suite"],
      metadata: { provider: "auth0", provider_created_at: "2025-02-01T12:34:56.000Z" },
    });
  });

  it("user.updated then user.deleted: PATCH and DELETE use the percent-encoded id", async () => {
    const userId = auth0Id();
    await postAuth0(auth0Event("user.created", userId));
    await deliverNow("auth0", userId);
    await postAuth0(
      auth0Event("user.updated", userId, (p) => {
        p.time = "2025-02-01T13:00:00Z";
        p.data.object.given_name = "Johnny";
      }),
    );
    await deliverNow("auth0", userId);
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "Johnny Doe" });

    await postAuth0(auth0Event("user.deleted", userId, (p) => (p.time = "2025-02-01T14:00:00Z")));
    await deliverNow("auth0", userId);
    expect(await orqIdentity(userId)).toBeNull();
    const writes = await orqWrites(userId);
    expect(writes.map((w) => `${w.method} ${w.path}`)).toEqual([
      "POST /v2/identities",
      `PATCH /v2/identities/${encodeURIComponent(userId)}`,
      `DELETE /v2/identities/${encodeURIComponent(userId)}`,
    ]);
  });

  it("display name falls back to name (unless it is the email address Auth0 puts there), then username, then nickname", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ given_name: null, family_name: null, name: "j+test@example.com" }, "johndoe"],
      [{ given_name: null, family_name: null, name: "J. Doe" }, "J. Doe"],
      [{ given_name: null, family_name: null, username: null, name: "J. Doe" }, "J. Doe"],
      [{ given_name: null, family_name: null, username: null, name: null, nickname: "jd" }, "jd"],
    ];
    for (const [fields, expected] of cases) {
      const userId = auth0Id();
      await postAuth0(auth0Event("user.created", userId, (p) => Object.assign(p.data.object, fields)));
      await deliverNow("auth0", userId);
      expect((await orqIdentity(userId))?.display_name).toBe(expected);
    }
  });

  it("copies only the app_metadata keys listed in ORQ_METADATA_KEYS, never user_metadata", async () => {
    const userId = auth0Id();
    const event = auth0Event("user.created", userId, (p) => {
      p.data.object.app_metadata = { plan: "pro", internal_flag: true };
    });
    const response = await callBridgeWith({ ORQ_METADATA_KEYS: "plan, hobby", ORQ_TAGS: "beta,beta, eu" }, "/webhooks/auth0", {
      method: "POST",
      headers: { authorization: "Bearer dev-only-auth0-event-stream-token", "content-type": "application/json" },
      body: JSON.stringify(event),
    });
    expect(response.status).toBe(200);
    await deliverNow("auth0", userId);
    const identity = await orqIdentity(userId);
    expect(identity.tags).toEqual(["auth0", "beta", "eu"]);
    expect(identity.metadata).toEqual({ plan: "pro", provider: "auth0", provider_created_at: "2025-02-01T12:34:56.000Z" });
  });

  it("the same CloudEvent id delivered twice (Auth0 retries) writes once", async () => {
    const userId = auth0Id();
    const event = auth0Event("user.created", userId);
    await postAuth0(event);
    expect(await (await postAuth0(event)).json()).toMatchObject({ status: "duplicate" });
    await deliverNow("auth0", userId);
    expect(await orqWrites(userId)).toHaveLength(1);
  });

  it("orders by the event time: a late, older update does not overwrite", async () => {
    const userId = auth0Id();
    await postAuth0(auth0Event("user.updated", userId, (p) => ((p.time = "2025-03-01T10:00:00Z"), (p.data.object.given_name = "New"))));
    await deliverNow("auth0", userId);
    const stale = await postAuth0(auth0Event("user.updated", userId, (p) => ((p.time = "2025-03-01T09:00:00Z"), (p.data.object.given_name = "Old"), (p.data.object.updated_at = "2025-03-01T09:00:00Z"))));
    expect(await stale.json()).toMatchObject({ status: "stale" });
    expect((await orqIdentity(userId))?.display_name).toBe("New Doe");
  });
});

describe("Auth0 bad input", () => {
  const tokens: Array<[string, Record<string, string>]> = [
    ["no Authorization header", {}],
    ["a wrong token", { authorization: "Bearer not-the-configured-token-000" }],
    ["the right token with another scheme", { authorization: "Basic dev-only-auth0-event-stream-token" }],
    ["the bare token without Bearer", { authorization: "dev-only-auth0-event-stream-token" }],
    ["a prefix of the token", { authorization: "Bearer dev-only-auth0" }],
  ];
  for (const [name, headers] of tokens) {
    it(`answers 401 to ${name}, and records nothing`, async () => {
      const userId = auth0Id();
      const response = await callBridge("/webhooks/auth0", {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(auth0Event("user.created", userId)),
      });
      expect(response.status).toBe(401);
      expect(await response.text()).not.toContain("dev-only-auth0-event-stream-token");
      expect(await inspectIdentity("auth0", userId)).toBeNull();
    });
  }

  it("answers 400 naming data.object.user_id when it is missing", async () => {
    const response = await postAuth0(auth0Event("user.created", "x", (p) => delete p.data.object.user_id));
    expect(response.status).toBe(400);
    expect((await response.json<{ message: string }>()).message).toMatch(/^data\.object\.user_id: /);
  });

  it("answers 400 when the CloudEvent has no id or an unparseable time", async () => {
    expect((await postAuth0(auth0Event("user.created", auth0Id(), (p) => delete p.id))).status).toBe(400);
    expect((await postAuth0(auth0Event("user.created", auth0Id(), (p) => (p.time = "last tuesday")))).status).toBe(400);
  });

  it("acknowledges other Auth0 event types without doing anything", async () => {
    const userId = auth0Id();
    const response = await postAuth0(auth0Event("user.created", userId, (p) => (p.type = "organization.created")));
    expect(response.status).toBe(200);
    expect(await inspectIdentity("auth0", userId)).toBeNull();
  });
});
