import { describe, expect, it } from "vitest";
import { Webhook } from "svix";
import { DEV_SECRETS } from "../support/secrets";
import { MAX_BODY_BYTES } from "../../src/receive/webhook-route";
import {
  callBridge,
  callBridgeWith,
  clerkEvent,
  inspectIdentity,
  orqWrites,
  postClerk,
  svixHeaders,
  uniqueId,
  type Json,
} from "./harness";

/** Nothing was recorded for this user, and orq.ai never heard of it. */
async function expectNothingHappened(userId: string) {
  expect(await inspectIdentity("clerk", userId)).toBeNull();
  expect(await orqWrites(userId)).toEqual([]);
}

async function expectError(response: Response, status: number, error: string) {
  expect(response.status).toBe(status);
  const text = await response.text();
  expect(JSON.parse(text)).toMatchObject({ error });
  expect(text).not.toMatch(/at .*\.ts:\d+|stack/i);
  for (const secret of Object.values(DEV_SECRETS)) expect(text).not.toContain(secret);
  return JSON.parse(text) as { error: string; message: string };
}

describe("oversized bodies: 413 before anything else", () => {
  it("refuses a body over 1 MiB announced by Content-Length", async () => {
    const userId = uniqueId("user");
    const body = JSON.stringify(clerkEvent("user.created", userId, (p) => (p.data.username = "x".repeat(MAX_BODY_BYTES))));
    await expectError(await callBridge("/webhooks/clerk", { method: "POST", headers: svixHeaders(body), body }), 413, "payload_too_large");
    await expectNothingHappened(userId);
  });

  it("refuses a streamed body without Content-Length once it passes 1 MiB", async () => {
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > MAX_BODY_BYTES * 2) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const response = await callBridge("/webhooks/clerk", { method: "POST", headers: svixHeaders("{}"), body: stream });
    await expectError(response, 413, "payload_too_large");
    // It stopped reading shortly after the limit instead of buffering everything.
    expect(sent).toBeLessThan(MAX_BODY_BYTES * 2);
  });
});

describe("signatures: 401, nothing recorded", () => {
  const userId = uniqueId("user");
  const body = JSON.stringify(clerkEvent("user.created", userId));
  const now = Math.floor(Date.now() / 1000);

  const cases: Array<[string, Record<string, string>, string?]> = [
    ["no Svix headers", { "content-type": "application/json" }],
    ["a signature made with another secret", svixHeaders(body, { secret: "whsec_" + btoa("some-other-secret-entirely-000") })],
    ["a signature for a different body", svixHeaders(body.replace("John", "Jane"))],
    ["a timestamp 6 minutes old", svixHeaders(body, { timestamp: now - 360 })],
    ["a timestamp 6 minutes in the future", svixHeaders(body, { timestamp: now + 360 })],
    ["a malformed timestamp", { ...svixHeaders(body), "svix-timestamp": "soon" }],
    ["a signature list with only unknown versions", { ...svixHeaders(body), "svix-signature": "v2,abc v1a,def" }],
    ["a signature that is not base64", { ...svixHeaders(body), "svix-signature": "v1,!!!not-base64!!!" }],
    ["a different svix-id than the one signed", { ...svixHeaders(body), "svix-id": "msg_other" }],
  ];

  for (const [name, headers] of cases) {
    it(`rejects ${name}`, async () => {
      const response = await callBridge("/webhooks/clerk", { method: "POST", headers, body });
      await expectError(response, 401, "unauthorized");
      await expectNothingHappened(userId);
    });
  }

  it("accepts a message whose signature list holds one valid entry among others", async () => {
    const payload = clerkEvent("user.created", uniqueId("user"));
    const text = JSON.stringify(payload);
    const headers = svixHeaders(text);
    headers["svix-signature"] = `v1,${btoa("x".repeat(32))} ${headers["svix-signature"]} v1a,ignored`;
    expect((await callBridge("/webhooks/clerk", { method: "POST", headers, body: text })).status).toBe(200);
  });
});

describe("secret rotation", () => {
  const oldSecret = "whsec_" + btoa("the-old-clerk-signing-secret-32b");
  const rotated = `${oldSecret}, ${DEV_SECRETS.CLERK_WEBHOOK_SIGNING_SECRET}`;

  for (const [name, secret] of [["old", oldSecret], ["new", DEV_SECRETS.CLERK_WEBHOOK_SIGNING_SECRET]] as const) {
    it(`accepts messages signed with the ${name} secret while both are configured`, async () => {
      const body = JSON.stringify(clerkEvent("user.created", uniqueId("user")));
      const response = await callBridgeWith({ CLERK_WEBHOOK_SIGNING_SECRET: rotated }, "/webhooks/clerk", {
        method: "POST",
        headers: svixHeaders(body, { secret }),
        body,
      });
      expect(response.status).toBe(200);
    });
  }

  it("rejects the old secret once it is removed", async () => {
    const body = JSON.stringify(clerkEvent("user.created", uniqueId("user")));
    const response = await callBridge("/webhooks/clerk", { method: "POST", headers: svixHeaders(body, { secret: oldSecret }), body });
    expect(response.status).toBe(401);
  });
});

describe("malformed bodies with a valid signature: 400", () => {
  it("rejects a body that is not JSON", async () => {
    const userId = uniqueId("user");
    const body = `{"type":"user.created","data":{"id":"${userId}"`;
    await expectError(await callBridge("/webhooks/clerk", { method: "POST", headers: svixHeaders(body), body }), 400, "invalid_json");
    await expectNothingHappened(userId);
  });

  it("rejects a body that is not UTF-8", async () => {
    const body = new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    const id = "msg_binary";
    const timestamp = Math.floor(Date.now() / 1000);
    // svix signs strings; sign the raw bytes the way Svix defines it (HMAC of id.timestamp.body).
    const key = await crypto.subtle.importKey(
      "raw",
      Uint8Array.from(atob(DEV_SECRETS.CLERK_WEBHOOK_SIGNING_SECRET.slice(6)), (c) => c.charCodeAt(0)),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const signed = new Uint8Array([...new TextEncoder().encode(`${id}.${timestamp}.`), ...body]);
    const signature = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.sign("HMAC", key, signed))));
    const response = await callBridge("/webhooks/clerk", {
      method: "POST",
      headers: { "svix-id": id, "svix-timestamp": String(timestamp), "svix-signature": `v1,${signature}` },
      body,
    });
    await expectError(response, 400, "invalid_json");
  });

  const shapes: Array<[string, (p: Json) => void, RegExp]> = [
    ["data.id missing", (p) => delete p.data.id, /^data\.id: /],
    ["data.id a number", (p) => (p.data.id = 42), /^data\.id: /],
    ["data.id empty", (p) => (p.data.id = ""), /^data\.id: /],
    ["data missing", (p) => delete p.data, /^data: /],
    ["timestamp a string", (p) => (p.timestamp = "yesterday"), /^timestamp: /],
    ["email_addresses not a list", (p) => (p.data.email_addresses = "a@b.c"), /^data\.email_addresses: /],
    ["type missing", (p) => delete p.type, /^type: /],
  ];
  for (const [name, breakIt, field] of shapes) {
    it(`rejects a user.created with ${name}, naming the field`, async () => {
      const userId = uniqueId("user");
      const payload = clerkEvent("user.created", userId, breakIt);
      const { message } = await expectError(await postClerk(payload), 400, "invalid_payload");
      expect(message).toMatch(field);
      await expectNothingHappened(userId);
    });
  }

  it("rejects a JSON array or a bare string", async () => {
    for (const body of ["[]", '"user.created"', "null", "42"]) {
      await expectError(await callBridge("/webhooks/clerk", { method: "POST", headers: svixHeaders(body), body }), 400, "invalid_payload");
    }
  });

  it("rejects a user id longer than orq.ai's 120 characters as a permanent, clear failure", async () => {
    const userId = `user_${"a".repeat(120)}`;
    const { message } = await expectError(await postClerk(clerkEvent("user.created", userId)), 400, "invalid_payload");
    expect(message).toMatch(/external_id: is longer than 120 characters/);
    await expectNothingHappened(userId);
  });
});

describe("events the bridge does not handle: 2xx, ignored", () => {
  for (const type of ["session.created", "organization.created", "email.created", "user.banned"]) {
    it(`acknowledges ${type} and does nothing`, async () => {
      const userId = uniqueId("user");
      const response = await postClerk(clerkEvent("user.created", userId, (p) => (p.type = type)));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: "ignored", event_type: type });
      await expectNothingHappened(userId);
    });
  }
});

describe("routes and methods", () => {
  it("answers GET on a webhook route with 405 and Allow: POST", async () => {
    const response = await callBridge("/webhooks/clerk");
    await expectError(response, 405, "method_not_allowed");
    expect(response.headers.get("allow")).toBe("POST");
  });

  it("answers unknown paths and providers with a JSON 404", async () => {
    await expectError(await callBridge("/webhooks/unknown", { method: "POST", body: "{}" }), 404, "not_found");
    await expectError(await callBridge("/nope"), 404, "not_found");
  });

  it("a provider whose secret is not set accepts nothing, even a correctly signed event", async () => {
    const userId = uniqueId("user");
    const body = JSON.stringify(clerkEvent("user.created", userId));
    const response = await callBridgeWith({ CLERK_WEBHOOK_SIGNING_SECRET: undefined }, "/webhooks/clerk", {
      method: "POST",
      headers: svixHeaders(body),
      body,
    });
    const { message } = await expectError(response, 404, "provider_not_configured");
    expect(message).toBe("CLERK_WEBHOOK_SIGNING_SECRET is not set");
    await expectNothingHappened(userId);
  });

  it("a provider with an invalid secret accepts nothing and says which variable is wrong", async () => {
    const body = JSON.stringify(clerkEvent("user.created", uniqueId("user")));
    const response = await callBridgeWith({ CLERK_WEBHOOK_SIGNING_SECRET: "not a whsec secret!" }, "/webhooks/clerk", {
      method: "POST",
      headers: svixHeaders(body),
      body,
    });
    const { message } = await expectError(response, 404, "provider_not_configured");
    expect(message).toMatch(/CLERK_WEBHOOK_SIGNING_SECRET is invalid/);
  });

  it("signs with svix exactly as Clerk does (sanity check of the test helper itself)", () => {
    const headers = svixHeaders("{}", { id: "msg_1", timestamp: 1_700_000_000 });
    const expected = new Webhook(DEV_SECRETS.CLERK_WEBHOOK_SIGNING_SECRET).sign("msg_1", new Date(1_700_000_000_000), "{}");
    expect(headers["svix-signature"]).toBe(expected);
    expect(() =>
      new Webhook(DEV_SECRETS.CLERK_WEBHOOK_SIGNING_SECRET).verify("{}", headers),
    ).toThrow(/timestamp/i); // too old for svix itself: proof that the header set is complete and real
  });
});
