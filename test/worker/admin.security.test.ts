import { describe, expect, it } from "vitest";
import { addFaults, callBridgeWith, clerkEvent, deliverNow, inspectIdentity, postClerk, uniqueId } from "./harness";

const ADMIN_TOKEN = "admin-token-for-the-security-tests-7f3a";

/** Every admin route, with a body where it takes one. */
function adminRoutes(userId: string): Array<[method: string, path: string, body?: string, type?: string]> {
  return [
    ["GET", "/admin"],
    ["GET", `/admin/identities/clerk/${userId}`],
    ["GET", "/admin/failures"],
    ["GET", "/admin/failures?state=failed&limit=5"],
    ["POST", "/admin/replay", JSON.stringify({ provider: "clerk", user_id: userId }), "application/json"],
    ["POST", "/admin/replay", JSON.stringify({ since: "2020-01-01T00:00:00Z" }), "application/json"],
    ["POST", "/admin/page/replay", new URLSearchParams({ provider: "clerk", user_id: userId }).toString(), "application/x-www-form-urlencoded"],
    ["POST", "/admin/logout", "", "application/x-www-form-urlencoded"],
    ["GET", "/admin/no-such-route"],
  ];
}

function call(overrides: Record<string, string | undefined>, [method, path, body, type]: [string, string, string?, string?], headers: Record<string, string> = {}) {
  return callBridgeWith(overrides, path, {
    method,
    headers: { ...(type && { "content-type": type }), origin: "https://bridge.test", ...headers },
    ...(body !== undefined && { body }),
  });
}

/** An identity whose delivery failed for good: the kind of data a probe would want to learn about. */
async function failedIdentity(): Promise<string> {
  const userId = uniqueId("adminsec");
  await addFaults({ externalIdPrefix: userId, faults: [{ status: 422 }] });
  await postClerk(clerkEvent("user.created", userId));
  expect(await deliverNow("clerk", userId)).toMatchObject({ delivery: "failed" });
  return userId;
}

describe("admin surface without ADMIN_TOKEN", () => {
  it("every /admin route answers the app's plain 404, whatever credentials are sent", async () => {
    const userId = await failedIdentity();
    const plain404 = await (await callBridgeWith({}, "/no-such-path")).text();
    for (const route of [...adminRoutes(userId), ["POST", "/admin/login", "token=anything-at-all-0123456", "application/x-www-form-urlencoded"] as [string, string, string, string]]) {
      for (const headers of [{}, { authorization: `Bearer ${ADMIN_TOKEN}` }] as Array<Record<string, string>>) {
        const response = await call({ ADMIN_TOKEN: undefined }, route, headers);
        expect(response.status, `${route[0]} ${route[1]}`).toBe(404);
        expect(await response.text()).toBe(plain404);
      }
    }
  });

  it("a token shorter than 16 characters leaves the admin surface off and is named on /health, never shown", async () => {
    const short = "short-token";
    const response = await callBridgeWith({ ADMIN_TOKEN: short }, "/admin/failures", { headers: { authorization: `Bearer ${short}` } });
    expect(response.status).toBe(404);
    const health = await (await callBridgeWith({ ADMIN_TOKEN: short }, "/health")).text();
    expect(JSON.parse(health).problems).toContainEqual({ variable: "ADMIN_TOKEN", problem: expect.stringMatching(/16/) });
    expect(health).not.toContain(short);
  });
});

describe("admin surface with ADMIN_TOKEN set", () => {
  const wrongCredentials: Array<[string, Record<string, string>]> = [
    ["no Authorization header", {}],
    ["a wrong token", { authorization: "Bearer not-the-admin-token-at-all" }],
    ["the token without the Bearer scheme", { authorization: ADMIN_TOKEN }],
    ["the token as Basic credentials", { authorization: `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}` }],
    ["a prefix of the token", { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` }],
    ["the token with a suffix", { authorization: `Bearer ${ADMIN_TOKEN}x` }],
    ["the token as a cookie", { cookie: `__Host-bridge_admin=${ADMIN_TOKEN}` }],
  ];

  it.each(wrongCredentials)("%s gets 401 on every route, with the same body whether the identity exists or not", async (_, headers) => {
    const known = await failedIdentity();
    const unknown = uniqueId("adminsec_never_seen");
    const answers = new Set<string>();
    for (const userId of [known, unknown]) {
      for (const route of adminRoutes(userId)) {
        const response = await call({ ADMIN_TOKEN }, route, headers);
        expect(response.status, `${route[0]} ${route[1]}`).toBe(401);
        const text = await response.text();
        expect(text).not.toContain(known);
        expect(text).not.toContain(unknown);
        expect(text).not.toContain(ADMIN_TOKEN);
        // The page's login form and the API's JSON error: one answer each, whatever was asked.
        answers.add(`${response.headers.get("content-type")} ${text}`);
      }
    }
    expect(answers.size).toBe(2);
    // Nothing was replayed: the identity is still given up on, untouched.
    expect(await inspectIdentity("clerk", known)).toMatchObject({ delivery: "failed", attempts: 1 });
  });

  it("the API needs the bearer token even with a valid page session, and the page ignores the bearer token", async () => {
    const cookie = await logIn();
    const api = await callBridgeWith({ ADMIN_TOKEN }, "/admin/failures", { headers: { cookie } });
    expect(api.status).toBe(401);
    const page = await callBridgeWith({ ADMIN_TOKEN }, "/admin", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('action="/admin/login"');
  });

  it("a wrong token at the login form is refused with 401 and sets no cookie", async () => {
    const response = await postForm("/admin/login", { token: "not-the-admin-token-at-all" });
    expect(response.status).toBe(401);
    expect(response.headers.get("set-cookie")).toBeNull();
    expect(await response.text()).toContain("That token is not valid");
  });

  it("logging in sets a Secure, HttpOnly, SameSite=Strict cookie that is not the token and opens the page", async () => {
    const response = await postForm("/admin/login", { token: ADMIN_TOKEN });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/admin");
    const setCookie = response.headers.get("set-cookie")!;
    expect(setCookie).toMatch(/^__Host-bridge_admin=[^;]+;/);
    expect(setCookie).toMatch(/; Secure/);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\//);
    expect(setCookie).not.toContain(ADMIN_TOKEN);

    const cookie = setCookie.split(";")[0]!;
    const page = await callBridgeWith({ ADMIN_TOKEN }, "/admin", { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(await page.text()).toContain("Recent deliveries");
  });

  it("a session cookie stops working when ADMIN_TOKEN is rotated", async () => {
    const cookie = await logIn();
    const rotated = await callBridgeWith({ ADMIN_TOKEN: `${ADMIN_TOKEN}-rotated` }, "/admin", { headers: { cookie } });
    expect(rotated.status).toBe(401);
  });

  it("an expired or tampered session cookie is refused", async () => {
    const cookie = await logIn();
    const [name, value] = cookie.split("=") as [string, string];
    const [expiresAt, mac] = value.split(".") as [string, string];
    const tampered = [
      `${name}=${Number(expiresAt) + 3600}.${mac}`,
      `${name}=${expiresAt}.${mac.slice(0, -2)}AA`,
      `${name}=${await sessionCookieValue(ADMIN_TOKEN, Math.floor(Date.now() / 1000) - 1)}`,
    ];
    // The same construction with a future expiry is accepted: the refusals above are about expiry and tampering.
    const fresh = `${name}=${await sessionCookieValue(ADMIN_TOKEN, Math.floor(Date.now() / 1000) + 60)}`;
    expect((await callBridgeWith({ ADMIN_TOKEN }, "/admin", { headers: { cookie: fresh } })).status).toBe(200);
    for (const forged of tampered) {
      const response = await callBridgeWith({ ADMIN_TOKEN }, "/admin", { headers: { cookie: forged } });
      expect(response.status, forged).toBe(401);
    }
  });

  it("form posts from another origin are refused even with a valid session", async () => {
    const userId = await failedIdentity();
    const cookie = await logIn();
    const body = new URLSearchParams({ provider: "clerk", user_id: userId }).toString();
    const response = await callBridgeWith({ ADMIN_TOKEN }, "/admin/page/replay", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example", cookie },
      body,
    });
    expect(response.status).toBe(403);
    expect(await inspectIdentity("clerk", userId)).toMatchObject({ delivery: "failed", attempts: 1 });
  });

  it("the page escapes what it shows: an id that looks like HTML is text, not markup", async () => {
    const cookie = await logIn();
    const hostile = `"><script>alert(1)</script><img src=x onerror=alert(2)>`;
    const response = await callBridgeWith({ ADMIN_TOKEN }, `/admin?provider=clerk&user_id=${encodeURIComponent(hostile)}`, { headers: { cookie } });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain("The bridge never received an event for this identity.");
    expect(text).not.toContain("<script>");
    expect(text).not.toContain("<img");
    expect(text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  });

  it("logging out clears the cookie", async () => {
    const cookie = await logIn();
    const response = await postForm("/admin/logout", {}, cookie);
    expect(response.status).toBe(303);
    expect(response.headers.get("set-cookie")).toMatch(/^__Host-bridge_admin=; Max-Age=0;/);
  });
});

function postForm(path: string, fields: Record<string, string>, cookie?: string) {
  return callBridgeWith({ ADMIN_TOKEN }, path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://bridge.test", ...(cookie && { cookie }) },
    body: new URLSearchParams(fields).toString(),
    redirect: "manual",
  });
}

async function logIn(): Promise<string> {
  const response = await postForm("/admin/login", { token: ADMIN_TOKEN });
  expect(response.status).toBe(303);
  return response.headers.get("set-cookie")!.split(";")[0]!;
}

/** A correctly signed session value (README: `<expiry>.<HMAC-SHA256(ADMIN_TOKEN, …)>`), to show expiry is enforced. */
async function sessionCookieValue(token: string, expiresAt: number): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", encoder.encode(token), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`orq-identity-bridge admin session until ${expiresAt}`));
  const base64url = btoa(String.fromCharCode(...new Uint8Array(mac))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${expiresAt}.${base64url}`;
}
