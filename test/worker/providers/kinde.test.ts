import { env } from "cloudflare:workers";
import { SignJWT, base64url, exportJWK, generateKeyPair } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import authenticated from "../../fixtures/kinde/user.authenticated.json";
import created from "../../fixtures/kinde/user.created.json";
import deleted from "../../fixtures/kinde/user.deleted.json";
import updated from "../../fixtures/kinde/user.updated.json";
import { callBridge, callBridgeWith, deliverNow, inspectIdentity, orqWrites, uniqueId, type Json } from "../harness";

/**
 * Kinde signs each webhook as an RS256 JWT with the business's key. Here the key is generated
 * locally with jose, its public half served by the local JWKS server (test/support/jwks.global.ts)
 * at `<KINDE_ISSUER_URL>/.well-known/jwks`, and every request is signed with jose, not the bridge.
 */
const fixtures = { "user.created": created, "user.updated": updated, "user.deleted": deleted, "user.authenticated": authenticated };

const suiteIssuer = env.KINDE_ISSUER_URL!;
const jwksServer = new URL(suiteIssuer).origin;

interface TestKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: Record<string, unknown>;
}

async function newKey(kid: string = uniqueId("kid")): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

/** Sets the key set the JWKS server publishes for `issuer`. */
async function publish(issuer: string, keys: TestKey[]): Promise<void> {
  const response = await fetch(`${jwksServer}/__jwks/keys?issuer=${encodeURIComponent(new URL(issuer).pathname)}`, {
    method: "PUT",
    body: JSON.stringify({ keys: keys.map((key) => key.jwk) }),
  });
  expect(response.status).toBe(204);
}

async function jwksFetches(issuer: string): Promise<number> {
  const response = await fetch(`${jwksServer}/__jwks/fetches?issuer=${encodeURIComponent(new URL(issuer).pathname)}`);
  return ((await response.json()) as { count: number }).count;
}

/** A fresh issuer (its own key set and fetch count), published with `keys`. */
async function freshIssuer(...keys: TestKey[]): Promise<string> {
  const issuer = `${jwksServer}/${uniqueId("kinde")}`;
  await publish(issuer, keys);
  return issuer;
}

/** A fresh copy of the documented payload for `userId`, sent now, at `offsetMs` from now. */
function kindeEvent(type: keyof typeof fixtures, userId: string, patch: (payload: Json) => void = () => {}, offsetMs = 0): Json {
  const payload = structuredClone(fixtures[type]) as Json;
  payload.data.user.id = userId;
  payload.event_id = `event_${crypto.randomUUID().replaceAll("-", "")}`;
  payload.timestamp = payload.event_timestamp = new Date(Date.now() + offsetMs).toISOString();
  patch(payload);
  return payload;
}

function sign(payload: Json, key: TestKey, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "JWT", ...header }).sign(key.privateKey);
}

interface PostOptions {
  webhookId?: string | null;
  issuer?: string;
}

/** POSTs a JWT body as Kinde does: `Content-Type: application/jwt` and a `webhook-id` header. */
function postKinde(jwt: string, { webhookId = `msg_${crypto.randomUUID()}`, issuer }: PostOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/jwt" };
  if (webhookId) headers["webhook-id"] = webhookId;
  const init = { method: "POST", headers, body: jwt };
  return issuer ? callBridgeWith({ KINDE_ISSUER_URL: issuer }, "/webhooks/kinde", init) : callBridge("/webhooks/kinde", init);
}

let suiteKey: TestKey;
beforeAll(async () => {
  suiteKey = await newKey();
  await publish(suiteIssuer, [suiteKey]);
});

describe("Kinde users land in orq.ai", () => {
  it("without a webhook-id header, the payload's event_id is the idempotency key", async () => {
    const userId = uniqueId("kp");
    const payload = kindeEvent("user.created", userId);
    expect(await (await postKinde(await sign(payload, suiteKey), { webhookId: null })).json()).toMatchObject({ event_id: payload.event_id });
    // Re-signed (another JWT), same event: still one write.
    expect(await (await postKinde(await sign(payload, suiteKey), { webhookId: null })).json()).toMatchObject({ status: "duplicate" });
    await deliverNow("kinde", userId);
    expect(await orqWrites(userId)).toHaveLength(1);
  });
});

describe("Kinde forged, replayed and malformed webhooks", () => {
  it("answers 401 to a genuine JWT whose payload was altered", async () => {
    const userId = uniqueId("kp");
    const [header, , signature] = (await sign(kindeEvent("user.created", uniqueId("kp")), suiteKey)).split(".");
    const forgedPayload = base64url.encode(JSON.stringify(kindeEvent("user.created", userId)));
    expect((await postKinde(`${header}.${forgedPayload}.${signature}`)).status).toBe(401);
    expect(await inspectIdentity("kinde", userId)).toBeNull();
  });

  it("never accepts alg none or HS256, whatever the body says", async () => {
    const userId = uniqueId("kp");
    const payload = base64url.encode(JSON.stringify(kindeEvent("user.created", userId)));
    const none = `${base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }))}.${payload}.`;
    expect((await postKinde(none)).status).toBe(401);
    const noneWithSignature = `${base64url.encode(JSON.stringify({ alg: "none", kid: suiteKey.kid }))}.${payload}.AAAA`;
    expect((await postKinde(noneWithSignature)).status).toBe(401);
    // HS256 "signed" with the public key's bytes: the classic algorithm-confusion forgery.
    const hmacKey = new TextEncoder().encode(JSON.stringify(suiteKey.jwk));
    const hs256 = await new SignJWT(kindeEvent("user.created", userId)).setProtectedHeader({ alg: "HS256", kid: suiteKey.kid }).sign(hmacKey);
    const response = await postKinde(hs256);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ message: "JWT alg must be RS256" });
    expect(await inspectIdentity("kinde", userId)).toBeNull();
  });

  it("answers 401 to a body that is not a JWT (a JSON payload, as Kinde sent before application/jwt)", async () => {
    const userId = uniqueId("kp");
    const response = await callBridge("/webhooks/kinde", {
      method: "POST",
      headers: { "content-type": "application/json", "webhook-id": "msg_json" },
      body: JSON.stringify(kindeEvent("user.created", userId)),
    });
    expect(response.status).toBe(401);
    expect(await inspectIdentity("kinde", userId)).toBeNull();
  });

  it("answers 401 when the payload timestamp is more than 5 minutes old or ahead (a replay)", async () => {
    for (const offsetMs of [-6 * 60_000, 6 * 60_000]) {
      const userId = uniqueId("kp");
      const response = await postKinde(await sign(kindeEvent("user.created", userId, () => {}, offsetMs), suiteKey));
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ message: "timestamp is outside the 5 minute window" });
      expect(await inspectIdentity("kinde", userId)).toBeNull();
    }
    // Within the window it is fine.
    const userId = uniqueId("kp");
    expect((await postKinde(await sign(kindeEvent("user.created", userId, () => {}, -4 * 60_000), suiteKey))).status).toBe(200);
  });

  it("answers 400 naming timestamp when a genuine JWT's payload carries no time", async () => {
    const payload = kindeEvent("user.created", uniqueId("kp"), (p) => {
      delete p.timestamp;
      delete p.event_timestamp;
    });
    const response = await postKinde(await sign(payload, suiteKey));
    expect(response.status).toBe(400);
    expect((await response.json<{ message: string }>()).message).toMatch(/^timestamp: /);
  });

  it("honours exp when Kinde adds one", async () => {
    const userId = uniqueId("kp");
    const jwt = await new SignJWT(kindeEvent("user.created", userId)).setProtectedHeader({ alg: "RS256", kid: suiteKey.kid }).setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(suiteKey.privateKey);
    expect((await postKinde(jwt)).status).toBe(401);
  });
});

describe("Kinde's key set (JWKS)", () => {
  it("is fetched once and reused by later requests", async () => {
    const key = await newKey();
    const issuer = await freshIssuer(key);
    for (let i = 0; i < 3; i++) {
      expect((await postKinde(await sign(kindeEvent("user.created", uniqueId("kp")), key), { issuer })).status).toBe(200);
    }
    expect(await jwksFetches(issuer)).toBe(1);
  });

  it("is fetched again for a new kid (key rotation), but not for every unknown kid", async () => {
    const oldKey = await newKey();
    const newKeyAfterRotation = await newKey();
    const issuer = await freshIssuer(oldKey);
    expect((await postKinde(await sign(kindeEvent("user.created", uniqueId("kp")), oldKey), { issuer })).status).toBe(200);
    expect(await jwksFetches(issuer)).toBe(1);

    await publish(issuer, [oldKey, newKeyAfterRotation]);
    const rotatedUser = uniqueId("kp");
    expect((await postKinde(await sign(kindeEvent("user.created", rotatedUser), newKeyAfterRotation), { issuer })).status).toBe(200);
    expect(await jwksFetches(issuer)).toBe(2);

    // Forged tokens with made-up kids right after: refused without hammering Kinde's endpoint.
    for (let i = 0; i < 3; i++) {
      const response = await postKinde(await sign(kindeEvent("user.created", uniqueId("kp")), await newKey()), { issuer });
      expect(response.status).toBe(401);
    }
    expect(await jwksFetches(issuer)).toBe(2);
    // The old key still works from the cache.
    expect((await postKinde(await sign(kindeEvent("user.created", uniqueId("kp")), oldKey), { issuer })).status).toBe(200);
    expect(await jwksFetches(issuer)).toBe(2);
  });

  it("answers 5xx while the key set cannot be fetched (Kinde retries), then accepts the retry", async () => {
    const key = await newKey();
    const issuer = await freshIssuer(key);
    await fetch(`${jwksServer}/__jwks/fail?issuer=${encodeURIComponent(new URL(issuer).pathname)}`, { method: "POST", body: JSON.stringify({ times: 1 }) });
    const userId = uniqueId("kp");
    const jwt = await sign(kindeEvent("user.created", userId), key);
    const failed = await postKinde(jwt, { issuer, webhookId: `msg_${userId}` });
    expect(failed.status).toBe(503);
    expect(await failed.json()).toMatchObject({ error: "temporarily_unavailable" });
    expect(await inspectIdentity("kinde", userId)).toBeNull();

    const retried = await postKinde(jwt, { issuer, webhookId: `msg_${userId}` });
    expect(retried.status).toBe(200);
    expect(await retried.json()).toMatchObject({ status: "recorded" });
  });

  it("does not trust keys published for another algorithm or use", async () => {
    const key = await newKey();
    const issuer = await freshIssuer({ ...key, jwk: { ...key.jwk, use: "enc" } });
    expect((await postKinde(await sign(kindeEvent("user.created", uniqueId("kp")), key), { issuer })).status).toBe(401);
    const other = await newKey();
    const issuer2 = await freshIssuer({ ...other, jwk: { ...other.jwk, alg: "RS512" } });
    expect((await postKinde(await sign(kindeEvent("user.created", uniqueId("kp")), other), { issuer: issuer2 })).status).toBe(401);
  });

  it("an issuer URL that is not https (except on this machine) is a configuration problem, not a fetch", async () => {
    const response = await callBridgeWith({ KINDE_ISSUER_URL: "http://example.kinde.com" }, "/webhooks/kinde", {
      method: "POST",
      headers: { "content-type": "application/jwt" },
      body: await sign(kindeEvent("user.created", uniqueId("kp")), suiteKey),
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: "provider_not_configured", message: "KINDE_ISSUER_URL is invalid (see /health)" });
  });
});
