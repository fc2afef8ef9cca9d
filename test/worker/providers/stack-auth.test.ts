import { describe, expect, it } from "vitest";
import { DEV_SECRETS } from "../../support/secrets";
import created from "../../fixtures/stack-auth/user.created.json";
import deleted from "../../fixtures/stack-auth/user.deleted.json";
import updated from "../../fixtures/stack-auth/user.updated.json";
import { svixMessageTime } from "../../../src/providers/stack-auth";
import { callBridge, callBridgeWith, deliverNow, exampleForUser, inspectIdentity, orqIdentity, orqWrites, svixHeaders, type Json, type SignOptions } from "../harness";
import { svixMessageId } from "./sign";

const fixtures = { "user.created": created, "user.updated": updated, "user.deleted": deleted };

function stackEvent(type: keyof typeof fixtures, userId: string, patch?: (payload: Json) => void): Json {
  return exampleForUser(fixtures[type], userId, patch);
}

/** Signed with the svix library (the harness's `svixHeaders`), exactly as Stack Auth's Svix deliveries are. */
function stackRequest(payload: Json, options: SignOptions = {}): RequestInit {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const headers = svixHeaders(body, { ...options, id: options.id ?? svixMessageId(), secret: options.secret ?? DEV_SECRETS.STACK_AUTH_WEBHOOK_SECRET });
  return { method: "POST", headers, body };
}

function postStack(payload: Json, options: SignOptions = {}): Promise<Response> {
  return callBridge("/webhooks/stack-auth", stackRequest(payload, options));
}

const stackUserId = () => crypto.randomUUID();

describe("Stack Auth users land in orq.ai", () => {
  it("user.created (Stack Auth's documented example) becomes an identity with the mapped fields", async () => {
    const userId = stackUserId();
    const response = await postStack(stackEvent("user.created", userId));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "recorded" });
    expect(await deliverNow("stack-auth", userId)).toMatchObject({ delivery: "delivered" });
    expect(await orqIdentity(userId)).toMatchObject({
      external_id: userId,
      email: "johndoe@example.com",
      display_name: "John Doe",
      avatar_url: "https://example.com/image.jpg",
      tags: ["stack-auth", "test-suite"],
      metadata: { provider: "stack-auth", provider_created_at: "2021-08-26T17:46:40.000Z" },
    });
  });

  it("user.updated replaces the profile and user.deleted removes the identity", async () => {
    const userId = stackUserId();
    const start = Date.now() - 10_000;
    await postStack(stackEvent("user.created", userId), { id: svixMessageId(start) });
    await deliverNow("stack-auth", userId);
    await postStack(stackEvent("user.updated", userId, (p) => (p.data.display_name = "Johnny")), { id: svixMessageId(start + 1_000) });
    await deliverNow("stack-auth", userId);
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "Johnny" });
    expect((await postStack(stackEvent("user.deleted", userId), { id: svixMessageId(start + 2_000) })).status).toBe(200);
    expect(await deliverNow("stack-auth", userId)).toMatchObject({ tombstone: true, delivery: "delivered" });
    expect(await orqIdentity(userId)).toBeNull();
    expect((await orqWrites(userId)).map((write) => write.method)).toEqual(["POST", "PATCH", "DELETE"]);
  });

  it("never forwards server_metadata or client_metadata, nor a base64 image as the avatar", async () => {
    const userId = stackUserId();
    const event = stackEvent("user.created", userId, (p) => {
      p.data.server_metadata = { stripe_secret: "sk_live_dont_leak" };
      p.data.client_metadata = { role: "admin" };
      p.data.client_read_only_metadata = { plan: "pro" };
      p.data.profile_image_url = "data:image/png;base64,iVBORw0KGgo=";
    });
    const response = await callBridgeWith({ ORQ_METADATA_KEYS: "plan,role,stripe_secret" }, "/webhooks/stack-auth", stackRequest(event));
    expect(response.status).toBe(200);
    await deliverNow("stack-auth", userId);
    const [create] = await orqWrites(userId);
    expect(create.body.metadata).toEqual({ plan: "pro", provider: "stack-auth", provider_created_at: "2021-08-26T17:46:40.000Z" });
    expect(create.body).not.toHaveProperty("avatar_url");
  });

  it("the same svix-id delivered twice writes once", async () => {
    const userId = stackUserId();
    const id = svixMessageId();
    await postStack(stackEvent("user.created", userId), { id });
    expect(await (await postStack(stackEvent("user.created", userId), { id })).json()).toMatchObject({ status: "duplicate" });
    await deliverNow("stack-auth", userId);
    expect(await orqWrites(userId)).toHaveLength(1);
  });

  it("orders by when Stack Auth created the message (the Svix id), not by when a retry arrives", async () => {
    const userId = stackUserId();
    const now = Date.now();
    // The newer update arrives first; the older one is a late retry, re-signed with a fresh svix-timestamp.
    await postStack(stackEvent("user.updated", userId, (p) => (p.data.display_name = "Newer")), { id: svixMessageId(now - 30_000) });
    await deliverNow("stack-auth", userId);
    const lateRetry = await postStack(stackEvent("user.updated", userId, (p) => (p.data.display_name = "Older")), { id: svixMessageId(now - 60_000) });
    expect(await lateRetry.json()).toMatchObject({ status: "stale" });
    expect((await orqIdentity(userId))?.display_name).toBe("Newer");
  });

  it("reads the creation time of a Svix message id to the millisecond's 1/256 s step", () => {
    const at = Date.UTC(2025, 4, 6, 7, 8, 9, 500);
    expect(svixMessageTime(svixMessageId(at), at)).toBe(at);
    expect(svixMessageTime(svixMessageId(at + 3), at)).toBeGreaterThanOrEqual(at - 4);
    expect(svixMessageTime("msg_not-a-ksuid", at)).toBeUndefined();
    expect(svixMessageTime("msg_000000000000000000000000000", at)).toBeUndefined();
  });
});

describe("Stack Auth bad input", () => {
  it("answers 401 to a signature made with another secret, and records nothing", async () => {
    const userId = stackUserId();
    const other = `whsec_${btoa("another-secret-another-secret-32")}`;
    expect((await postStack(stackEvent("user.created", userId), { secret: other })).status).toBe(401);
    expect(await inspectIdentity("stack-auth", userId)).toBeNull();
  });

  it("answers 401 to a svix-timestamp more than 5 minutes off", async () => {
    const userId = stackUserId();
    const now = Math.floor(Date.now() / 1000);
    expect((await postStack(stackEvent("user.created", userId), { timestamp: now - 330 })).status).toBe(401);
    expect((await postStack(stackEvent("user.created", userId), { timestamp: now + 330 })).status).toBe(401);
    expect(await inspectIdentity("stack-auth", userId)).toBeNull();
  });

  it("answers 400 naming data.id when it is missing", async () => {
    const response = await postStack(stackEvent("user.created", "x", (p) => delete p.data.id));
    expect(response.status).toBe(400);
    expect((await response.json<{ message: string }>()).message).toMatch(/^data\.id: /);
  });

  it("acknowledges team and permission events without doing anything", async () => {
    const userId = stackUserId();
    for (const type of ["team.created", "team_membership.created", "team_permission.deleted"]) {
      const response = await postStack(stackEvent("user.created", userId, (p) => (p.type = type)));
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: "ignored", event_type: type });
    }
    expect(await inspectIdentity("stack-auth", userId)).toBeNull();
  });
});
