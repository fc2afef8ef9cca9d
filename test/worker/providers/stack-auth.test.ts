import { describe, expect, it } from "vitest";
import { DEV_SECRETS } from "../../support/secrets";
import created from "../../fixtures/stack-auth/user.created.json";
import deleted from "../../fixtures/stack-auth/user.deleted.json";
import updated from "../../fixtures/stack-auth/user.updated.json";
import { svixMessageTime } from "../../../src/providers/stack-auth";
import { callBridge, callBridgeWith, deliverNow, exampleForUser, orqWrites, svixHeaders, type Json, type SignOptions } from "../harness";
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

  it("reads the creation time of a Svix message id to the millisecond's 1/256 s step", () => {
    const at = Date.UTC(2025, 4, 6, 7, 8, 9, 500);
    expect(svixMessageTime(svixMessageId(at), at)).toBe(at);
    expect(svixMessageTime(svixMessageId(at + 3), at)).toBeGreaterThanOrEqual(at - 4);
    expect(svixMessageTime("msg_not-a-ksuid", at)).toBeUndefined();
    expect(svixMessageTime("msg_000000000000000000000000000", at)).toBeUndefined();
  });
});

