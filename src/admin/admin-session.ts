import type { Context } from "hono";
import { constantTimeEqual } from "../verify/constant-time";
import type { AdminEnv } from "./admin-auth";

/** `__Host-`: the browser keeps it only if Secure, for path / and this host (no subdomain can set or read it). */
const COOKIE_NAME = "__Host-bridge_admin";
const COOKIE_ATTRIBUTES = "Path=/; Secure; HttpOnly; SameSite=Strict";
export const SESSION_TTL_SECONDS = 12 * 60 * 60;
const encoder = new TextEncoder();

/**
 * The status page's login: the cookie holds `<expiry>.<HMAC-SHA256 keyed with ADMIN_TOKEN>`, never
 * the token itself, so a leaked cookie stops working when it expires and rotating `ADMIN_TOKEN`
 * ends every session at once. Logging out only drops the browser's copy.
 */
async function sessionValue(token: string, expiresAt: number): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(token), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`orq-identity-bridge admin session until ${expiresAt}`));
  return `${expiresAt}.${btoa(String.fromCharCode(...new Uint8Array(mac))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
}

export async function startSession(c: Context<AdminEnv>): Promise<void> {
  const expiresAt = Math.floor(Date.now() / 1000) + SESSION_TTL_SECONDS;
  const value = await sessionValue(c.var.adminToken, expiresAt);
  c.header("Set-Cookie", `${COOKIE_NAME}=${value}; Max-Age=${SESSION_TTL_SECONDS}; ${COOKIE_ATTRIBUTES}`);
}

export function endSession(c: Context<AdminEnv>): void {
  c.header("Set-Cookie", `${COOKIE_NAME}=; Max-Age=0; ${COOKIE_ATTRIBUTES}`);
}

export async function hasSession(c: Context<AdminEnv>): Promise<boolean> {
  const presented = readCookie(c.req.header("Cookie"));
  if (!presented) return false;
  const expiresAt = Number(presented.slice(0, presented.indexOf(".")));
  if (!Number.isSafeInteger(expiresAt) || expiresAt * 1000 <= Date.now()) return false;
  return constantTimeEqual(presented, await sessionValue(c.var.adminToken, expiresAt));
}

/** The session cookie's value (base64url and digits only, so no decoding is needed). */
function readCookie(header: string | undefined): string | undefined {
  for (const pair of header?.split(";") ?? []) {
    const [name, value] = pair.split("=", 2);
    if (name?.trim() === COOKIE_NAME) return value?.trim();
  }
  return undefined;
}
