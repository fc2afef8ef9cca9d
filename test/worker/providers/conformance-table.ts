import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { env } from "cloudflare:workers";
import { DEV_SECRETS } from "../../support/secrets";
import auth0Created from "../../fixtures/auth0/user.created.json";
import auth0Deleted from "../../fixtures/auth0/user.deleted.json";
import auth0Updated from "../../fixtures/auth0/user.updated.json";
import auth0LogsCreated from "../../fixtures/auth0-logs/user.created.json";
import auth0LogsDeleted from "../../fixtures/auth0-logs/user.deleted.json";
import auth0LogsLogin from "../../fixtures/auth0-logs/login.json";
import auth0LogsUpdated from "../../fixtures/auth0-logs/user.updated.json";
import clerkCreated from "../../fixtures/clerk/user.created.json";
import clerkDeleted from "../../fixtures/clerk/user.deleted.json";
import clerkUpdated from "../../fixtures/clerk/user.updated.json";
import kindeAuthenticated from "../../fixtures/kinde/user.authenticated.json";
import kindeCreated from "../../fixtures/kinde/user.created.json";
import kindeDeleted from "../../fixtures/kinde/user.deleted.json";
import kindeUpdated from "../../fixtures/kinde/user.updated.json";
import logtoCreated from "../../fixtures/logto/user.created.json";
import logtoDeleted from "../../fixtures/logto/user.deleted.json";
import logtoUpdated from "../../fixtures/logto/user.updated.json";
import oktaCreated from "../../fixtures/okta/user.created.json";
import oktaDeleted from "../../fixtures/okta/user.deleted.json";
import oktaSessionStart from "../../fixtures/okta/user.session.start.json";
import oktaUpdated from "../../fixtures/okta/user.updated.json";
import stackCreated from "../../fixtures/stack-auth/user.created.json";
import stackDeleted from "../../fixtures/stack-auth/user.deleted.json";
import stackUpdated from "../../fixtures/stack-auth/user.updated.json";
import standardCreated from "../../fixtures/standard/user.created.json";
import standardDeleted from "../../fixtures/standard/user.deleted.json";
import standardUpdated from "../../fixtures/standard/user.updated.json";
import supabaseCreated from "../../fixtures/supabase/user.created.json";
import supabaseDeleted from "../../fixtures/supabase/user.deleted.json";
import supabaseUpdated from "../../fixtures/supabase/user.updated.json";
import workosCreated from "../../fixtures/workos/user.created.json";
import workosDeleted from "../../fixtures/workos/user.deleted.json";
import workosUpdated from "../../fixtures/workos/user.updated.json";
import zitadelCreated from "../../fixtures/zitadel/user.created.json";
import zitadelDeleted from "../../fixtures/zitadel/user.deleted.json";
import zitadelEmailChanged from "../../fixtures/zitadel/user.human.email.changed.json";
import zitadelUpdated from "../../fixtures/zitadel/user.updated.json";
import { callBridge, callBridgeWith, svixHeaders, uniqueId, type Json } from "../harness";
import { logtoSignatureHeaders, svixMessageId, workosSignatureHeaders, zitadelSignatureHeaders } from "./sign";

/**
 * One row per provider plug-in: its documented examples (test/fixtures, copied from
 * ../shared/reference), how it signs (with the providers' own libraries: svix, standardwebhooks,
 * jose; HMAC schemes from their documented algorithms in ./sign.ts) and what its fields become.
 * conformance.test.ts runs the same guarantees against every row. Adding a provider = its
 * plug-in, its fixtures and one row here.
 */

export type Kind = "created" | "updated" | "deleted";

export interface EventSpec {
  kind: Kind;
  userId: string;
  /** When the change happened, epoch ms (the provider's own ordering time). Default: now. */
  at?: number;
  patch?: (payload: Json) => void;
}

/** `forged`: signed with a secret, key or token the bridge does not trust. `expired`: outside the replay window. */
export type Signing = "genuine" | "forged" | "expired";

export interface ConformanceRow {
  /** Registry name: route `/webhooks/<name>`, tag, metadata.provider. */
  name: string;
  /** As the provider tables (docs/providers.md, docs/mapping.md) name it. */
  label: string;
  newUserId(): string;
  /** Runs once before the suite (Kinde publishes its signing key). */
  setup?(): Promise<void>;
  /** A documented example of `kind` about the user, as the provider sends it, signed. */
  request(spec: EventSpec, signing?: Signing): Promise<RequestInit>;
  /** Posts a request to the provider's route. */
  post(init: RequestInit): Promise<Response>;
  /** What the documented created and updated examples become in orq.ai (beyond external_id, tags, metadata.provider). */
  mapped: { created: Json; updated: Json };
  /** Sets the name the provider's display name is made of (for ordering and merging tests). */
  named(name: string): (payload: Json) => void;
  /** A documented payload with one required field broken, and the field the 400 must name. */
  malformed: { patch: (payload: Json) => void; field: RegExp };
  /** A request of an event type the bridge does not handle (a documented one where the fixtures have it). */
  unhandled(userId: string): Promise<RequestInit>;
  /** Why there is no replay window to test, for schemes without one (static tokens over TLS). */
  noReplayWindow?: string;
  /** Senders that batch several users into one request. */
  batch?(specs: EventSpec[]): Promise<RequestInit>;
  /**
   * Senders whose update events carry only the changed fields: a documented partial event, what
   * it carries, and which mapped field of the documented created example it does not carry.
   */
  partial?: { base: Kind; spec: (userId: string, at: number) => EventSpec; carries: Json; keeps: Json };
  /** Each entry of the provider's row in docs/mapping.md's display-name table, in order: the fields set, and the name expected. */
  displayNames: Array<{ from: string; patch: (payload: Json) => void; expected: string }>;
}

const iso = (ms: number) => new Date(ms).toISOString();
const copy = (value: unknown): Json => structuredClone(value);
const jsonBody = (payload: Json) => JSON.stringify(payload);
const path = (name: string) => `/webhooks/${name}`;
const WRONG = "not-the-configured-secret-0123456789";
const WRONG_WHSEC = `whsec_${btoa("another-secret-another-secret-32")}`;
/** Beyond every provider's replay window (the widest is 5 minutes). */
const TOO_OLD_MS = 10 * 60_000;

function staticTokenRow(name: string, token: string, bearer: boolean) {
  return {
    post: (init: RequestInit) => callBridge(path(name), init),
    headers(signing: Signing = "genuine"): Record<string, string> {
      const value = signing === "forged" ? WRONG : token;
      return { "content-type": "application/json", authorization: bearer ? `Bearer ${value}` : value };
    },
    noReplayWindow: "a static token over TLS: the sender has no timestamp to check",
  };
}

// ---- Clerk (Svix) ----

const clerkFixtures = { created: clerkCreated, updated: clerkUpdated, deleted: clerkDeleted };
const clerk: ConformanceRow = {
  name: "clerk",
  label: "Clerk",
  newUserId: () => uniqueId("user"),
  async request({ kind, userId, at = Date.now(), patch }, signing = "genuine") {
    const payload = copy(clerkFixtures[kind]);
    payload.data.id = userId;
    payload.timestamp = Math.floor(at / 1000);
    if (kind !== "deleted") {
      payload.data.updated_at = at;
      payload.data.email_addresses = [{ id: payload.data.primary_email_address_id, object: "email_address", email_address: "john.doe@example.com", verification: null, linked_to: [] }];
    }
    patch?.(payload);
    const body = jsonBody(payload);
    const timestamp = signing === "expired" ? Math.floor((Date.now() - TOO_OLD_MS) / 1000) : undefined;
    return { method: "POST", headers: svixHeaders(body, { timestamp, secret: signing === "forged" ? WRONG_WHSEC : undefined }), body };
  },
  post: (init) => callBridge(path("clerk"), init),
  mapped: {
    created: { email: "john.doe@example.com", display_name: "John Doe", avatar_url: "https://img.clerk.com/xxxxxx", metadata: { provider_created_at: "2024-05-28T08:00:00.000Z" } },
    updated: { email: "john.doe@example.com", display_name: "John Doe Updated", avatar_url: "https://img.clerk.com/yyyyy" },
  },
  named: (name) => (p) => Object.assign(p.data, { first_name: name, last_name: null }),
  malformed: { patch: (p) => delete p.data.id, field: /^data\.id: / },
  unhandled: (userId) => clerk.request({ kind: "created", userId, patch: (p) => (p.type = "session.created") }),
  displayNames: [
    { from: "`first_name` + `last_name`", patch: (p) => Object.assign(p.data, { first_name: "Ada", last_name: "Lovelace", username: "ada_l" }), expected: "Ada Lovelace" },
    { from: "`username`", patch: (p) => Object.assign(p.data, { first_name: null, last_name: " ", username: "ada_l" }), expected: "ada_l" },
  ],
};

// ---- Auth0 Event Streams (bearer token) ----

const auth0Fixtures = { created: auth0Created, updated: auth0Updated, deleted: auth0Deleted };
const auth0Token = staticTokenRow("auth0", DEV_SECRETS.AUTH0_WEBHOOK_TOKEN, true);
const auth0: ConformanceRow = {
  name: "auth0",
  label: "Auth0",
  newUserId: () => `auth0|${uniqueId("u")}`,
  async request({ kind, userId, at = Date.now(), patch }, signing) {
    const payload = copy(auth0Fixtures[kind]);
    payload.id = `evt_${crypto.randomUUID()}`;
    payload.time = iso(at);
    payload.data.object.user_id = userId;
    if (kind === "deleted") payload.data.object.deleted_at = iso(at);
    else payload.data.object.updated_at = iso(at);
    patch?.(payload);
    return { method: "POST", headers: auth0Token.headers(signing), body: jsonBody(payload) };
  },
  post: auth0Token.post,
  noReplayWindow: auth0Token.noReplayWindow,
  mapped: {
    created: { email: "john.doe@gmail.com", display_name: "John Doe", metadata: { provider_created_at: "2025-02-01T12:34:56.000Z" } },
    updated: { email: "john.doe@gmail.com", display_name: "John Doe" },
  },
  named: (name) => (p) => Object.assign(p.data.object, { given_name: name, family_name: null }),
  malformed: { patch: (p) => delete p.data.object.user_id, field: /^data\.object\.user_id: / },
  unhandled: (userId) => auth0.request({ kind: "created", userId, patch: (p) => (p.type = "user.password.changed") }),
  displayNames: [
    { from: "`given_name` + `family_name`", patch: (p) => Object.assign(p.data.object, { given_name: "Ada", family_name: "Lovelace", username: "ada_l", name: "ada@example.com", nickname: "ada" }), expected: "Ada Lovelace" },
    { from: "`name` (not an email address)", patch: (p) => Object.assign(p.data.object, { given_name: null, family_name: null, username: "ada_l", name: "Ada Lovelace", nickname: "ada" }), expected: "Ada Lovelace" },
    { from: "`username`", patch: (p) => Object.assign(p.data.object, { given_name: null, family_name: null, username: "ada_l", name: "ada@example.com", nickname: "ada" }), expected: "ada_l" },
    { from: "`nickname`", patch: (p) => Object.assign(p.data.object, { given_name: null, family_name: null, username: null, name: "ada@example.com", nickname: "ada" }), expected: "ada" },
    { from: "`name` (an email address)", patch: (p) => Object.assign(p.data.object, { given_name: null, family_name: null, username: null, name: "ada@example.com", nickname: null }), expected: "ada@example.com" },
  ],
};

// ---- WorkOS (t=…,v1=… HMAC, ms) ----

const workosFixtures = { created: workosCreated, updated: workosUpdated, deleted: workosDeleted };
const workos: ConformanceRow = {
  name: "workos",
  label: "WorkOS",
  newUserId: () => uniqueId("user"),
  async request({ kind, userId, at = Date.now(), patch }, signing = "genuine") {
    const payload = copy(workosFixtures[kind]);
    payload.id = `event_${crypto.randomUUID().replaceAll("-", "").toUpperCase()}`;
    payload.data.id = userId;
    payload.created_at = payload.data.updated_at = iso(at);
    patch?.(payload);
    const body = jsonBody(payload);
    const secret = signing === "forged" ? WRONG : DEV_SECRETS.WORKOS_WEBHOOK_SECRET;
    return { method: "POST", headers: await workosSignatureHeaders(body, secret, signing === "expired" ? Date.now() - TOO_OLD_MS : undefined), body };
  },
  post: (init) => callBridge(path("workos"), init),
  mapped: {
    created: { email: "marcelina.davis@example.com", display_name: "Marcelina Davis", avatar_url: "https://workoscdn.com/images/v1/123abc", metadata: { provider_created_at: "2021-06-25T19:07:33.155Z" } },
    updated: { display_name: "Marcelina Davis-Lee" },
  },
  named: (name) => (p) => Object.assign(p.data, { first_name: name, last_name: null }),
  malformed: { patch: (p) => delete p.data.id, field: /^data\.id: / },
  unhandled: (userId) => workos.request({ kind: "created", userId, patch: (p) => (p.event = "session.created") }),
  displayNames: [{ from: "`first_name` + `last_name`", patch: (p) => Object.assign(p.data, { first_name: "Ada", last_name: "Lovelace" }), expected: "Ada Lovelace" }],
};

// ---- ZITADEL (t=…,v1=… HMAC, s) ----

const zitadelFixtures = { created: zitadelCreated, updated: zitadelUpdated, deleted: zitadelDeleted };
let zitadelSequence = 10;
const zitadel: ConformanceRow = {
  name: "zitadel",
  label: "ZITADEL",
  newUserId: () => `3${crypto.getRandomValues(new Uint32Array(2)).join("").padEnd(17, "0").slice(0, 17)}`,
  async request({ kind, userId, at = Date.now(), patch }, signing = "genuine") {
    const payload = copy(zitadelFixtures[kind]);
    payload.aggregateID = userId;
    payload.sequence = zitadelSequence++;
    payload.created_at = iso(at);
    patch?.(payload);
    const body = jsonBody(payload);
    const keys = [signing === "forged" ? WRONG : DEV_SECRETS.ZITADEL_WEBHOOK_SIGNING_KEY];
    return { method: "POST", headers: await zitadelSignatureHeaders(body, keys, signing === "expired" ? Math.floor((Date.now() - TOO_OLD_MS) / 1000) : undefined), body };
  },
  post: (init) => callBridge(path("zitadel"), init),
  mapped: {
    created: { email: "example@test.com", display_name: "test test" },
    updated: { email: "example@test.com", display_name: "Example_given Example_family" },
  },
  named: (name) => (p) => (p.event_payload = { displayName: name }),
  malformed: { patch: (p) => delete p.aggregateID, field: /^aggregateID: / },
  unhandled: (userId) => zitadel.request({ kind: "created", userId, patch: (p) => (p.event_type = "user.human.password.changed") }),
  partial: {
    // ZITADEL's documented email change: only the new address.
    base: "created",
    spec: (userId, at) => ({ kind: "updated", userId, at, patch: (p) => ((p.event_type = zitadelEmailChanged.event_type), (p.event_payload = zitadelEmailChanged.event_payload)) }),
    carries: { email: "example.new@test.com" },
    keeps: { display_name: "test test" },
  },
  displayNames: [
    { from: "`firstName` + `lastName`", patch: (p) => (p.event_payload = { firstName: "Ada", lastName: "Lovelace", displayName: "Countess", userName: "ada_l", nickName: "ada" }), expected: "Ada Lovelace" },
    { from: "`displayName`", patch: (p) => (p.event_payload = { firstName: "Ada", displayName: "Countess", userName: "ada_l", nickName: "ada" }), expected: "Countess" },
    { from: "`userName`", patch: (p) => (p.event_payload = { userName: "ada_l", nickName: "ada" }), expected: "ada_l" },
    { from: "`nickName`", patch: (p) => (p.event_payload = { nickName: "ada" }), expected: "ada" },
  ],
};

// ---- Logto (body HMAC; payload createdAt within 5 minutes) ----

const logtoFixtures = { created: logtoCreated, updated: logtoUpdated, deleted: logtoDeleted };
const logto: ConformanceRow = {
  name: "logto",
  label: "Logto",
  newUserId: () => uniqueId("logto"),
  async request({ kind, userId, at = Date.now(), patch }, signing = "genuine") {
    const payload = copy(logtoFixtures[kind]);
    payload.createdAt = iso(signing === "expired" ? Date.now() - TOO_OLD_MS : at);
    if (payload.data) Object.assign(payload.data, { id: userId, updatedAt: at });
    if (payload.params?.userId) payload.params.userId = userId;
    patch?.(payload);
    const body = jsonBody(payload);
    return { method: "POST", headers: await logtoSignatureHeaders(body, signing === "forged" ? WRONG : DEV_SECRETS.LOGTO_WEBHOOK_SIGNING_KEY), body };
  },
  post: (init) => callBridge(path("logto"), init),
  mapped: {
    created: { email: "fake-user@fake-service.com", display_name: "Fake User", avatar_url: "https://fake-service.com/avatars/fake-user.png", metadata: { provider_created_at: "2024-07-01T00:00:00.000Z" } },
    updated: { email: "fake-user@fake-service.com", display_name: "Fake User" },
  },
  named: (name) => (p) => Object.assign(p.data, { name, profile: {} }),
  malformed: { patch: (p) => delete p.data.id, field: /^data\.id: / },
  unhandled: (userId) => logto.request({ kind: "created", userId, patch: (p) => (p.event = "PostSignIn") }),
  displayNames: [
    { from: "`profile.givenName` + `profile.familyName`", patch: (p) => Object.assign(p.data, { profile: { givenName: "Ada", familyName: "Lovelace" }, name: "Countess", username: "ada_l" }), expected: "Ada Lovelace" },
    { from: "`name`", patch: (p) => Object.assign(p.data, { profile: {}, name: "Real Name", username: "handle_42" }), expected: "Real Name" },
    { from: "`username`", patch: (p) => Object.assign(p.data, { profile: { givenName: " " }, name: null, username: "handle_42" }), expected: "handle_42" },
  ],
};

// ---- Stack Auth (Svix; ordered by the Svix message id's time) ----

const stackFixtures = { created: stackCreated, updated: stackUpdated, deleted: stackDeleted };
const stackAuth: ConformanceRow = {
  name: "stack-auth",
  label: "Stack Auth",
  newUserId: () => crypto.randomUUID(),
  async request({ kind, userId, at = Date.now(), patch }, signing = "genuine") {
    const payload = copy(stackFixtures[kind]);
    payload.data.id = userId;
    patch?.(payload);
    const body = jsonBody(payload);
    const headers = svixHeaders(body, {
      id: svixMessageId(at),
      secret: signing === "forged" ? WRONG_WHSEC : DEV_SECRETS.STACK_AUTH_WEBHOOK_SECRET,
      timestamp: signing === "expired" ? Math.floor((Date.now() - TOO_OLD_MS) / 1000) : undefined,
    });
    return { method: "POST", headers, body };
  },
  post: (init) => callBridge(path("stack-auth"), init),
  mapped: {
    created: { email: "johndoe@example.com", display_name: "John Doe", avatar_url: "https://example.com/image.jpg", metadata: { provider_created_at: "2021-08-26T17:46:40.000Z" } },
    updated: { email: "johndoe@example.com", display_name: "John Doe" },
  },
  named: (name) => (p) => (p.data.display_name = name),
  malformed: { patch: (p) => delete p.data.id, field: /^data\.id: / },
  unhandled: (userId) => stackAuth.request({ kind: "created", userId, patch: (p) => (p.type = "team.created") }),
  displayNames: [{ from: "`display_name`", patch: (p) => (p.data.display_name = "Ada Lovelace"), expected: "Ada Lovelace" }],
};

// ---- Standard Webhooks (standardwebhooks library) ----

const standardFixtures = { created: standardCreated, updated: standardUpdated, deleted: standardDeleted };
const standard: ConformanceRow = {
  name: "standard",
  label: "Standard Webhooks",
  newUserId: () => uniqueId("usr"),
  async request({ kind, userId, at = Date.now(), patch }, signing = "genuine") {
    const payload = copy(standardFixtures[kind]);
    payload.data.id = userId;
    payload.timestamp = payload.data.updated_at = iso(at);
    patch?.(payload);
    const body = jsonBody(payload);
    const id = `msg_${crypto.randomUUID()}`;
    const signedAt = new Date(signing === "expired" ? Date.now() - TOO_OLD_MS : Date.now());
    const signature = new StandardWebhook(signing === "forged" ? WRONG_WHSEC : DEV_SECRETS.STANDARD_WEBHOOK_SECRET).sign(id, signedAt, body);
    const headers = { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(Math.floor(signedAt.getTime() / 1000)), "webhook-signature": signature };
    return { method: "POST", headers, body };
  },
  post: (init) => callBridge(path("standard"), init),
  mapped: {
    created: { email: "ada@example.com", display_name: "Ada Lovelace", avatar_url: "https://example.com/avatars/ada.png", metadata: { provider_created_at: "2025-06-01T12:00:00.000Z" } },
    updated: { email: "ada@example.com", display_name: "Ada King" },
  },
  named: (name) => (p) => Object.assign(p.data, { first_name: name, last_name: null }),
  malformed: { patch: (p) => delete p.data.id, field: /^data\.id: / },
  unhandled: (userId) => standard.request({ kind: "created", userId, patch: (p) => (p.type = "session.created") }),
  displayNames: [
    { from: "`first_name` + `last_name`", patch: (p) => Object.assign(p.data, { first_name: "Ada", last_name: "Lovelace", name: "Countess", username: "ada_l" }), expected: "Ada Lovelace" },
    { from: "`name`", patch: (p) => Object.assign(p.data, { first_name: null, last_name: null, name: "Real Name", username: "handle_42" }), expected: "Real Name" },
    { from: "`username`", patch: (p) => Object.assign(p.data, { first_name: null, last_name: null, name: null, username: "handle_42" }), expected: "handle_42" },
  ],
};

// ---- Kinde (RS256 JWT body, signed with jose; JWKS served locally) ----

const kindeFixtures = { created: kindeCreated, updated: kindeUpdated, deleted: kindeDeleted };
/** Its own issuer on the local JWKS server, so this suite's key set never races kinde.test.ts's. */
const kindeIssuer = `${new URL(env.KINDE_ISSUER_URL!).origin}/${uniqueId("kinde-conformance")}`;
let kindeKey: { kid: string; privateKey: CryptoKey } | undefined;
async function newKindeKey() {
  const kid = uniqueId("kid");
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}
async function signKinde(payload: Json, signing: Signing): Promise<RequestInit> {
  const key = signing === "forged" ? { ...(await newKindeKey()), kid: kindeKey!.kid } : kindeKey!;
  const jwt = await new SignJWT(payload).setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "JWT" }).sign(key.privateKey);
  return { method: "POST", headers: { "content-type": "application/jwt", "webhook-id": `msg_${crypto.randomUUID()}` }, body: jwt };
}
const kinde: ConformanceRow = {
  name: "kinde",
  label: "Kinde",
  newUserId: () => uniqueId("kp"),
  async setup() {
    const key = await newKindeKey();
    const response = await fetch(`${new URL(kindeIssuer).origin}/__jwks/keys?issuer=${encodeURIComponent(new URL(kindeIssuer).pathname)}`, {
      method: "PUT",
      body: JSON.stringify({ keys: [key.jwk] }),
    });
    if (response.status !== 204) throw new Error(`could not publish the Kinde key: ${response.status}`);
    kindeKey = key;
  },
  request({ kind, userId, at = Date.now(), patch }, signing = "genuine") {
    const payload = copy(kindeFixtures[kind]);
    payload.data.user.id = userId;
    payload.event_id = `event_${crypto.randomUUID().replaceAll("-", "")}`;
    // `timestamp`: when the request was made (the replay window); `event_timestamp`: when the change happened.
    payload.timestamp = iso(signing === "expired" ? Date.now() - TOO_OLD_MS : Date.now());
    payload.event_timestamp = iso(at);
    patch?.(payload);
    return signKinde(payload, signing);
  },
  post: (init) => callBridgeWith({ KINDE_ISSUER_URL: kindeIssuer }, path("kinde"), init),
  mapped: {
    // last_name is "" in Kinde's example: the display name is the first name alone.
    created: { email: "user@example.com", display_name: "Test" },
    updated: { email: "user@example.com", display_name: "Test User" },
  },
  named: (name) => (p) => Object.assign(p.data.user, { first_name: name, last_name: "" }),
  malformed: { patch: (p) => delete p.data.user.id, field: /^data\.user\.id: / },
  unhandled: (userId) => {
    const payload = copy(kindeAuthenticated);
    payload.data.user.id = userId;
    payload.timestamp = payload.event_timestamp = iso(Date.now());
    return signKinde(payload, "genuine");
  },
  displayNames: [
    { from: "`first_name` + `last_name`", patch: (p) => Object.assign(p.data.user, { first_name: "Ada", last_name: "Lovelace", username: "ada_l" }), expected: "Ada Lovelace" },
    { from: "`username`", patch: (p) => Object.assign(p.data.user, { first_name: null, last_name: "", username: "ada_l" }), expected: "ada_l" },
  ],
};

// ---- Okta Event Hooks (Authorization header as configured; batched) ----

const oktaFixtures = { created: oktaCreated, updated: oktaUpdated, deleted: oktaDeleted };
const oktaToken = staticTokenRow("okta", DEV_SECRETS.OKTA_WEBHOOK_SECRET, false);
function oktaEvent({ kind, userId, at = Date.now(), patch }: EventSpec): Json {
  const event = copy(oktaFixtures[kind].data.events[0]);
  event.uuid = crypto.randomUUID();
  event.published = iso(at);
  event.target[0].id = userId;
  patch?.(event);
  return event;
}
function oktaDelivery(events: Json[], signing?: Signing): RequestInit {
  const envelope = copy(oktaCreated);
  envelope.eventId = crypto.randomUUID();
  envelope.eventTime = iso(Date.now());
  envelope.data.events = events;
  return { method: "POST", headers: oktaToken.headers(signing), body: jsonBody(envelope) };
}
const okta: ConformanceRow = {
  name: "okta",
  label: "Okta",
  newUserId: () => uniqueId("00u"),
  request: async (spec, signing) => oktaDelivery([oktaEvent(spec)], signing),
  post: oktaToken.post,
  noReplayWindow: oktaToken.noReplayWindow,
  mapped: {
    created: { email: "john.doe@example.com", display_name: "John Doe" },
    updated: { email: "john.doe@example.com", display_name: "John Doe" },
  },
  // The patch applies to the LogEvent (Okta batches them in data.events).
  named: (name) => (event) => (event.target[0].displayName = name),
  malformed: { patch: (event) => (event.published = "yesterday"), field: /^data\.events\.0\.published: / },
  unhandled: async () => ({ method: "POST", headers: oktaToken.headers(), body: jsonBody(oktaSessionStart) }),
  batch: async (specs) => oktaDelivery([...specs.map(oktaEvent), copy(oktaSessionStart.data.events[0])]),
  displayNames: [{ from: "`displayName`", patch: (event) => (event.target[0].displayName = "Ada Lovelace"), expected: "Ada Lovelace" }],
};

// ---- Supabase Database Webhooks (Authorization: Bearer) ----

const supabaseFixtures = { created: supabaseCreated, updated: supabaseUpdated, deleted: supabaseDeleted };
const supabaseToken = staticTokenRow("supabase", DEV_SECRETS.SUPABASE_WEBHOOK_SECRET, true);
const supabase: ConformanceRow = {
  name: "supabase",
  label: "Supabase",
  newUserId: () => crypto.randomUUID(),
  async request({ kind, userId, at = Date.now(), patch }, signing) {
    const payload = copy(supabaseFixtures[kind]);
    for (const row of [payload.record, payload.old_record]) {
      if (!row) continue;
      row.id = row.raw_user_meta_data.sub = userId;
      row.updated_at = iso(at);
      if (kind === "deleted") row.deleted_at = iso(at);
    }
    patch?.(payload);
    return { method: "POST", headers: supabaseToken.headers(signing), body: jsonBody(payload) };
  },
  post: supabaseToken.post,
  noReplayWindow: supabaseToken.noReplayWindow,
  mapped: {
    created: { email: "jane.doe@example.com", display_name: "Jane Doe", avatar_url: "https://example.com/avatars/jane.png", metadata: { provider_created_at: "2024-05-28T08:00:00.401Z" } },
    updated: { email: "jane.doe@example.com", display_name: "Jane Q. Doe" },
  },
  named: (name) => (p) => (p.record.raw_user_meta_data = { full_name: name }),
  malformed: { patch: (p) => delete p.record.id, field: /^record\.id: / },
  unhandled: (userId) => supabase.request({ kind: "created", userId, patch: (p) => (p.type = "TRUNCATE") }),
  displayNames: [
    { from: "`raw_user_meta_data.full_name`", patch: (p) => (p.record.raw_user_meta_data = { full_name: "Ada Lovelace", name: "ada" }), expected: "Ada Lovelace" },
    { from: "`raw_user_meta_data.name`", patch: (p) => (p.record.raw_user_meta_data = { full_name: null, name: "ada" }), expected: "ada" },
  ],
};

// ---- Auth0 Log Streams (Authorization header as configured; batched) ----

const auth0LogsFixtures = { created: auth0LogsCreated[0], updated: auth0LogsUpdated[0], deleted: auth0LogsDeleted[0] };
const auth0LogsToken = staticTokenRow("auth0-logs", DEV_SECRETS.AUTH0_LOG_STREAM_TOKEN, false);
function auth0LogRecord({ kind, userId, at = Date.now(), patch }: EventSpec): Json {
  const record = copy(auth0LogsFixtures[kind]);
  record.log_id = record.data.log_id = `900${crypto.randomUUID().replaceAll("-", "")}`;
  record.data.date = iso(at);
  if (kind === "updated") {
    // A Management API update (sapi) is about the user in the path; data.user_id is the admin who made it.
    record.data.details.request.path = `/api/v2/users/${encodeURIComponent(userId)}`;
    record.data.details.response.body.user_id = userId;
  } else {
    record.data.user_id = userId;
  }
  patch?.(record);
  return record;
}
const auth0Logs: ConformanceRow = {
  name: "auth0-logs",
  label: "Auth0 Log Streams",
  newUserId: () => `auth0|${uniqueId("u")}`,
  request: async (spec, signing) => ({ method: "POST", headers: auth0LogsToken.headers(signing), body: jsonBody([auth0LogRecord(spec)]) }),
  post: auth0LogsToken.post,
  noReplayWindow: auth0LogsToken.noReplayWindow,
  mapped: {
    // A signup log carries the login and the signup form, not a profile.
    created: { email: "neo@test.com" },
    updated: { email: "neo@test.com", display_name: "Neo Anderson", avatar_url: "https://example.com/avatars/neo.png" },
  },
  named: (name) => (record) => {
    if (record.data.type === "sapi") record.data.details.response.body.name = name;
    else record.data.details.body.name = name;
  },
  malformed: { patch: (record) => (record.data.date = "last week"), field: /^0\.data\.date: / },
  unhandled: async (userId) => {
    const login = copy(auth0LogsLogin[0]);
    login.data.user_id = userId;
    return { method: "POST", headers: auth0LogsToken.headers(), body: jsonBody([login]) };
  },
  batch: async (specs) => ({ method: "POST", headers: auth0LogsToken.headers(), body: jsonBody([...specs.map(auth0LogRecord), copy(auth0LogsLogin[0])]) }),
  partial: {
    // An email change (sce) names only the new login.
    base: "updated",
    spec: (userId, at) => ({ kind: "created", userId, at, patch: (r) => ((r.data.type = "sce"), (r.data.user_name = "neo@matrix.test")) }),
    carries: { email: "neo@matrix.test" },
    keeps: { display_name: "Neo Anderson" },
  },
  displayNames: [
    { from: "`given_name` + `family_name`", patch: (r) => Object.assign(r.data.details.response.body, { given_name: "Ada", family_name: "Lovelace", name: "Countess", username: "ada_l", nickname: "ada" }), expected: "Ada Lovelace" },
    { from: "`name`", patch: (r) => Object.assign(r.data.details.response.body, { name: "Countess", username: "ada_l", nickname: "ada" }), expected: "Countess" },
    { from: "`username`", patch: (r) => Object.assign(r.data.details.response.body, { name: null, username: "ada_l", nickname: "ada" }), expected: "ada_l" },
    { from: "`nickname`", patch: (r) => Object.assign(r.data.details.response.body, { name: null, nickname: "ada" }), expected: "ada" },
  ],
};

/** Every provider plug-in in the registry, in the order of docs/mapping.md's display-name table. */
export const conformanceRows: readonly ConformanceRow[] = [clerk, auth0, workos, zitadel, logto, stackAuth, standard, kinde, okta, supabase, auth0Logs];
