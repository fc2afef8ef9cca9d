/**
 * End to end over real HTTP: the bridge under `wrangler dev` (test/support/wrangler-dev.global.ts),
 * signed requests built from the documented sample payloads, deliveries observed in the orq.ai emulator.
 */
import { describe, expect, inject, it } from "vitest";
import { buildSampleRequest, sendSampleRequest, type SampleEvent, type SampleProviderName } from "../../signing/sample-webhooks";
import { DEV_SECRETS } from "../support/secrets";
import { orqWrites, uniqueId, waitForIdentity, waitForNoIdentity, type Json } from "./dev-server";

const bridgeUrl = inject("bridgeUrl");
const orqUrl = inject("orqUrl");

function send(provider: SampleProviderName, event: SampleEvent, userId: string, options: { patch?: (payload: Json) => void; secrets?: Partial<Record<keyof typeof DEV_SECRETS, string>> } = {}) {
  const request = buildSampleRequest(provider, event, { bridgeUrl, userId, secrets: { ...DEV_SECRETS, ...options.secrets }, ...(options.patch && { patch: options.patch }) });
  return sendSampleRequest(request);
}

/** Successful writes orq.ai received for a user, as "METHOD status". */
async function successfulWrites(externalId: string): Promise<string[]> {
  const writes = await orqWrites(orqUrl, externalId);
  return writes.filter((write) => typeof write.status === "number" && write.status < 300).map((write) => write.method);
}

describe("wrangler dev bridge", () => {
  it("GET /health lists both providers as configured and shows no secret", async () => {
    const response = await fetch(`${bridgeUrl}/health`);
    expect(response.status).toBe(200);
    const text = await response.text();
    const health = JSON.parse(text);
    expect(health).toMatchObject({
      providers: { clerk: "configured", auth0: "configured" },
      orq: { api_key: "set", auth: "ok" },
      problems: [],
    });
    expect(["ok", "degraded"]).toContain(health.status);
    const clerkKey = DEV_SECRETS.CLERK_WEBHOOK_SIGNING_SECRET.replace(/^whsec_/, "");
    for (const secret of [...Object.values(DEV_SECRETS), clerkKey, Buffer.from(clerkKey, "base64").toString("utf8")]) {
      expect(text).not.toContain(secret);
    }
  });

  it("Clerk user.created → user.updated → user.deleted, signed with svix, drive the orq.ai identity", async () => {
    const userId = uniqueId("user_e2e");

    const created = await send("clerk", "user.created", userId);
    expect(created).toMatchObject({ status: 200, answer: { status: "recorded" } });
    const identity = await waitForIdentity(orqUrl, userId);
    expect(identity).toMatchObject({
      external_id: userId,
      display_name: "John Doe",
      avatar_url: "https://img.clerk.com/xxxxxx",
      tags: ["clerk", "node-e2e"],
      metadata: { provider: "clerk" },
    });

    const updated = await send("clerk", "user.updated", userId);
    expect(updated).toMatchObject({ status: 200, answer: { status: "recorded" } });
    const changed = await waitForIdentity(orqUrl, userId, (current) => current.display_name === "John Doe Updated");
    expect(changed).toMatchObject({
      avatar_url: "https://img.clerk.com/yyyyy",
      tags: ["clerk", "node-e2e"],
      metadata: { provider: "clerk", department: "engineering" },
    });

    const deleted = await send("clerk", "user.deleted", userId);
    expect(deleted).toMatchObject({ status: 200, answer: { status: "recorded" } });
    await waitForNoIdentity(orqUrl, userId);
    expect(await successfulWrites(userId)).toEqual(["POST", "PATCH", "DELETE"]);
  });

  it("a redelivered Clerk event (same svix-id) is answered duplicate and not sent again", async () => {
    const userId = uniqueId("user_e2e_dup");
    const request = buildSampleRequest("clerk", "user.created", { bridgeUrl, userId, secrets: DEV_SECRETS });
    expect(await sendSampleRequest(request)).toMatchObject({ status: 200, answer: { status: "recorded" } });
    expect(await sendSampleRequest(request)).toMatchObject({ status: 200, answer: { status: "duplicate" } });
    await waitForIdentity(orqUrl, userId);
    expect(await successfulWrites(userId)).toEqual(["POST"]);
  });

  it("Auth0 Event Streams user.created and user.deleted (bearer token) drive the orq.ai identity", async () => {
    const userId = uniqueId("auth0|e2e");

    const created = await send("auth0", "user.created", userId);
    expect(created).toMatchObject({ status: 200, answer: { status: "recorded" } });
    const identity = await waitForIdentity(orqUrl, userId);
    expect(identity).toMatchObject({
      external_id: userId,
      email: "john.doe@gmail.com",
      display_name: "John Doe",
      tags: ["auth0", "node-e2e"],
      metadata: { provider: "auth0", plan: "pro" },
    });
    expect(identity.avatar_url).toMatch(/^https:\/\/secure\.gravatar\.com\/avatar\//);

    const deleted = await send("auth0", "user.deleted", userId);
    expect(deleted).toMatchObject({ status: 200, answer: { status: "recorded" } });
    await waitForNoIdentity(orqUrl, userId);
    expect(await successfulWrites(userId)).toEqual(["POST", "DELETE"]);
  });

  it("a Clerk request with a bad signature gets 401 and nothing of it reaches orq.ai", async () => {
    const userId = uniqueId("user_e2e_forged");
    const forgedPatch = (payload: Json) => {
      payload.data.first_name = "Mallory";
      // Newer than the genuine event below: had the bridge stored it, the genuine one would be "stale".
      payload.data.updated_at = Date.now() + 60_000;
    };
    const wrongSecret = `whsec_${Buffer.from("not-the-bridge-signing-secret-32").toString("base64")}`;
    const forged = await send("clerk", "user.created", userId, { patch: forgedPatch, secrets: { CLERK_WEBHOOK_SIGNING_SECRET: wrongSecret } });
    expect(forged).toMatchObject({ status: 401, answer: { error: "unauthorized" } });

    // Signed correctly, then altered in transit.
    const tampered = buildSampleRequest("clerk", "user.created", { bridgeUrl, userId, secrets: DEV_SECRETS });
    const altered = await sendSampleRequest({ ...tampered, body: tampered.body.replace('"first_name":"John"', '"first_name":"Mallory"') });
    expect(altered).toMatchObject({ status: 401 });

    const unsigned = await fetch(`${bridgeUrl}/webhooks/clerk`, { method: "POST", headers: { "content-type": "application/json" }, body: tampered.body });
    expect(unsigned.status).toBe(401);

    // The genuine event for the same user is the first thing the bridge stores for it…
    const genuine = await send("clerk", "user.created", userId);
    expect(genuine).toMatchObject({ status: 200, answer: { status: "recorded" } });
    await waitForIdentity(orqUrl, userId);
    // …and the only thing orq.ai ever received for it.
    const writes = await orqWrites(orqUrl, userId);
    expect(writes.map((write) => write.method)).toEqual(["POST"]);
    expect(JSON.stringify(writes)).not.toContain("Mallory");
  });

  it("an Auth0 request with a wrong or missing bearer token gets 401 and nothing of it reaches orq.ai", async () => {
    const userId = uniqueId("auth0|e2e_forged");
    const forgedPatch = (payload: Json) => {
      payload.data.object.given_name = "Mallory";
      payload.time = new Date(Date.now() + 60_000).toISOString();
    };
    const wrong = await send("auth0", "user.created", userId, { patch: forgedPatch, secrets: { AUTH0_WEBHOOK_TOKEN: "wrong-token-but-long-enough" } });
    expect(wrong).toMatchObject({ status: 401, answer: { error: "unauthorized" } });

    const request = buildSampleRequest("auth0", "user.created", { bridgeUrl, userId, secrets: DEV_SECRETS, patch: forgedPatch });
    const missing = await fetch(request.url, { method: "POST", headers: { "content-type": "application/json" }, body: request.body });
    expect(missing.status).toBe(401);

    const genuine = await send("auth0", "user.created", userId);
    expect(genuine).toMatchObject({ status: 200, answer: { status: "recorded" } });
    await waitForIdentity(orqUrl, userId);
    const writes = await orqWrites(orqUrl, userId);
    expect(writes.map((write) => write.method)).toEqual(["POST"]);
    expect(JSON.stringify(writes)).not.toContain("Mallory");
  });
});
