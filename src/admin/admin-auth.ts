import type { MiddlewareHandler } from "hono";
import { getConfig } from "../config";
import { logLine } from "../log";
import { createBearerTokenVerifier } from "../verify/bearer-token";

/** Context of every /admin route: the token is read once, by `adminEnabled`. */
export type AdminEnv = { Bindings: Cloudflare.Env; Variables: { adminToken: string } };

const noBody = new Uint8Array();

/**
 * Without `ADMIN_TOKEN` the admin surface does not exist: every /admin path answers the app's
 * plain 404, so a scan cannot even tell that the feature is there.
 */
export const adminEnabled: MiddlewareHandler<AdminEnv> = async (c, next) => {
  const token = getConfig(c.env).admin.token;
  if (!token) return c.json({ error: "not_found" }, 404);
  c.set("adminToken", token);
  await next();
};

/**
 * API requests need `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. It runs
 * before routing, so a missing or wrong token gets the same 401 for every path: it tells nothing
 * about which identities, or even which routes, exist.
 */
export const requireAdminToken: MiddlewareHandler<AdminEnv> = async (c, next) => {
  const verified = await createBearerTokenVerifier(c.var.adminToken)({ headers: c.req.raw.headers, body: noBody }, Date.now());
  if (!verified.ok) {
    logLine({ msg: "admin_unauthorized", method: c.req.method });
    c.header("WWW-Authenticate", 'Bearer realm="admin"');
    return c.json({ error: "unauthorized", message: "admin requests need Authorization: Bearer <ADMIN_TOKEN>" }, 401);
  }
  await next();
};
