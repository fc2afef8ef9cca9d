import { describe, expect, it } from "vitest";
import { DEV_SECRETS } from "../../support/secrets";
import created from "../../fixtures/okta/user.created.json";
import deleted from "../../fixtures/okta/user.deleted.json";
import updated from "../../fixtures/okta/user.updated.json";
import { callBridge, deliverNow, inspectIdentity, orqIdentity, orqWrites, uniqueId, type Json } from "../harness";

const fixtures = { "user.created": created, "user.updated": updated, "user.deleted": deleted };
type OktaSample = keyof typeof fixtures;

/** Okta user ids look like `00u3m90rxKjGQ0G6L1d6`. */
const oktaId = () => uniqueId("00u");

/** One LogEvent of a documented delivery, for `userId`, with a fresh uuid, published `at`. */
function logEvent(sample: OktaSample, userId: string, at: string, patch: (event: Json) => void = () => {}): Json {
  const event = structuredClone(fixtures[sample].data.events[0]) as Json;
  event.uuid = crypto.randomUUID();
  event.published = at;
  event.target[0].id = userId;
  patch(event);
  return event;
}

/** A delivery as Okta batches it: the documented envelope around `events`. */
function delivery(...events: Json[]): Json {
  const envelope = structuredClone(created) as Json;
  envelope.eventId = crypto.randomUUID();
  envelope.eventTime = new Date().toISOString();
  envelope.data.events = events;
  return envelope;
}

function postOkta(payload: Json, authorization: string | null = DEV_SECRETS.OKTA_WEBHOOK_SECRET): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  if (authorization !== null) headers.authorization = authorization;
  return callBridge("/webhooks/okta", { method: "POST", headers, body: typeof payload === "string" ? payload : JSON.stringify(payload) });
}

describe("Okta Event Hooks users land in orq.ai", () => {
  it("a login that is not an email is not used as the email", async () => {
    const userId = oktaId();
    await postOkta(delivery(logEvent("user.created", userId, "2020-11-16T18:15:12.862Z", (e) => (e.target[0].alternateId = "jdoe"))));
    await deliverNow("okta", userId);
    const identity = await orqIdentity(userId);
    expect(identity).toMatchObject({ display_name: "John Doe" });
    expect(identity).not.toHaveProperty("email");
  });

  it("uses the User target, not the admin actor who made the change", async () => {
    const userId = oktaId();
    const event = logEvent("user.created", userId, "2020-11-16T18:15:12.862Z", (e) => {
      e.target.unshift({ id: "0oa1appabc", type: "AppInstance", alternateId: "App", displayName: "App" });
    });
    await postOkta(delivery(event));
    await deliverNow("okta", userId);
    expect(await orqIdentity(userId)).toMatchObject({ email: "john.doe@example.com" });
    expect(await inspectIdentity("okta", event.actor.id)).toBeNull();
  });

  it("the same delivery twice (Okta's one retry) writes once: dedupe on data.events[].uuid", async () => {
    const userId = oktaId();
    const payload = delivery(logEvent("user.created", userId, "2020-11-16T18:15:12.862Z"));
    await postOkta(payload);
    // Okta may also re-batch: the same event in a different delivery is still a duplicate.
    const rebatched = delivery(payload.data.events[0]);
    expect(await (await postOkta(rebatched)).json()).toMatchObject({ status: "duplicate" });
    await deliverNow("okta", userId);
    expect(await orqWrites(userId)).toHaveLength(1);
  });

  it("a lifecycle event whose outcome is not SUCCESS changes nothing", async () => {
    const userId = oktaId();
    const response = await postOkta(delivery(logEvent("user.created", userId, "2020-11-16T18:15:12.862Z", (e) => (e.outcome.result = "FAILURE"))));
    expect(await response.json()).toMatchObject({ status: "ignored" });
    expect(await inspectIdentity("okta", userId)).toBeNull();
  });
});

describe("Okta one-time verification (GET)", () => {
  const challenge = "OKTA_VERIFICATION_VALUE_123";

  it("answers the X-Okta-Verification-Challenge with {verification} when the Authorization header is right", async () => {
    const response = await callBridge("/webhooks/okta", {
      headers: { "x-okta-verification-challenge": challenge, authorization: DEV_SECRETS.OKTA_WEBHOOK_SECRET },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ verification: challenge });
  });

  it("answers 401 without the Authorization header or with a wrong one, and never echoes the challenge", async () => {
    for (const headers of [{}, { authorization: "not-the-okta-event-hook-secret" }] as Array<Record<string, string>>) {
      const response = await callBridge("/webhooks/okta", { headers: { "x-okta-verification-challenge": challenge, ...headers } });
      expect(response.status).toBe(401);
      expect(await response.text()).not.toContain(challenge);
    }
  });

  it("answers 400 to an authenticated GET without a challenge", async () => {
    const response = await callBridge("/webhooks/okta", { headers: { authorization: DEV_SECRETS.OKTA_WEBHOOK_SECRET } });
    expect(response.status).toBe(400);
  });
});

describe("Okta bad input", () => {
  const wrong: Array<[string, string | null]> = [
    ["no Authorization header", null],
    ["a wrong secret", "not-the-okta-event-hook-secret"],
    ["the secret as a Bearer token (Okta sends the header value as configured)", `Bearer ${DEV_SECRETS.OKTA_WEBHOOK_SECRET}`],
    ["a prefix of the secret", DEV_SECRETS.OKTA_WEBHOOK_SECRET.slice(0, 12)],
  ];
  for (const [name, authorization] of wrong) {
    it(`answers 401 to ${name}, and records nothing`, async () => {
      const userId = oktaId();
      const response = await postOkta(delivery(logEvent("user.created", userId, "2020-11-16T18:15:12.862Z")), authorization);
      expect(response.status).toBe(401);
      expect(await response.text()).not.toContain(DEV_SECRETS.OKTA_WEBHOOK_SECRET);
      expect(await inspectIdentity("okta", userId)).toBeNull();
    });
  }

  it("answers 400 naming data.events when the body is not an event hook delivery", async () => {
    const response = await postOkta({ eventType: "com.okta.event_hook", data: {} });
    expect(response.status).toBe(400);
    expect((await response.json<{ message: string }>()).message).toMatch(/^data\.events: /);
  });

  it("answers 400 naming the event's target when a handled event has no User target, and records none of the batch", async () => {
    const good = oktaId();
    const response = await postOkta(
      delivery(
        logEvent("user.created", good, "2020-11-16T18:15:12.862Z"),
        logEvent("user.created", oktaId(), "2020-11-16T18:15:12.862Z", (e) => (e.target = [{ id: "00g1", type: "UserGroup" }])),
      ),
    );
    expect(response.status).toBe(400);
    expect((await response.json<{ message: string }>()).message).toMatch(/^data\.events\.1\.target: /);
    expect(await inspectIdentity("okta", good)).toBeNull();
  });

  it("answers 400 to a body that is not JSON", async () => {
    expect((await postOkta("{ not json")).status).toBe(400);
  });
});
