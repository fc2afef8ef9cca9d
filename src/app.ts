import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { adminApp } from "./admin/admin-app";
import { logLine } from "./log";
import { providers } from "./providers/registry";
import { healthRoute } from "./receive/health-route";
import { verificationRoute, webhookRoute } from "./receive/webhook-route";

export const app = new Hono<{ Bindings: Cloudflare.Env }>();

app.get("/health", healthRoute);
app.route("/admin", adminApp);

for (const provider of providers) {
  app.post(`/webhooks/${provider.name}`, ...webhookRoute(provider));
  if (provider.answerGet) app.get(`/webhooks/${provider.name}`, verificationRoute(provider));
  app.all(`/webhooks/${provider.name}`, (c) => {
    c.header("Allow", "POST");
    return c.json({ error: "method_not_allowed", message: "webhooks are delivered with POST" }, 405);
  });
}

app.notFound((c) => c.json({ error: "not_found" }, 404));

app.onError((error, c) => {
  if (error instanceof HTTPException) return error.getResponse();
  // Never a stack trace or a message in the answer: they may carry request data.
  logLine({ msg: "unhandled_error", path: c.req.path, error: error.name });
  return c.json({ error: "internal_error" }, 500);
});
