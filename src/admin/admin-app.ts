import { Hono } from "hono";
import { adminApi } from "./admin-api";
import { adminEnabled, requireAdminToken, type AdminEnv } from "./admin-auth";
import { statusPage } from "./status-page";

/**
 * Everything under /admin (docs/operations.md "Admin API and status page"). Order matters: the status page
 * (its own cookie login) answers first; every other path, known or not, needs the bearer token.
 */
export const adminApp = new Hono<AdminEnv>();

adminApp.use(adminEnabled, async (c, next) => {
  await next();
  c.header("Cache-Control", "no-store");
});
adminApp.route("/", statusPage);
adminApp.use(requireAdminToken);
adminApp.route("/", adminApi);
