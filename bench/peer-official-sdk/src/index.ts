import { verifyWebhook } from "@clerk/backend/webhooks";
import { Orq } from "@orq-ai/node";
import * as errors from "@orq-ai/node/models/errors/index.js";
import { Hono } from "hono";

/**
 * The glue a user would otherwise write, following the official guides: Clerk's "Sync data with
 * webhooks" (`verifyWebhook` from `@clerk/backend/webhooks`, signing secret passed explicitly) and
 * the `@orq-ai/node` SDK (`orq.identities.create`, and update when the identity already exists),
 * called synchronously before answering, so the answer means "orq.ai has it".
 */
type Bindings = { CLERK_WEBHOOK_SIGNING_SECRET: string; ORQ_API_KEY: string; ORQ_API_URL: string };

const app = new Hono<{ Bindings: Bindings }>();

// One SDK client per isolate, as a long-lived server would keep one.
let orq: Orq | undefined;
function orqClient(env: Bindings): Orq {
  orq ??= new Orq({ apiKey: env.ORQ_API_KEY, serverURL: env.ORQ_API_URL });
  return orq;
}

app.get("/health", (c) => c.json({ status: "ok" }));

app.post("/webhooks/clerk", async (c) => {
  let event;
  try {
    event = await verifyWebhook(c.req.raw, { signingSecret: c.env.CLERK_WEBHOOK_SIGNING_SECRET });
  } catch {
    return c.text("Webhook verification failed", 400);
  }
  if (event.type !== "user.created" && event.type !== "user.updated") return c.text("ignored", 200);

  const user = event.data;
  const email = user.email_addresses.find((entry) => entry.id === user.primary_email_address_id)?.email_address;
  const displayName = [user.first_name, user.last_name].filter(Boolean).join(" ") || user.username || undefined;
  const profile = {
    displayName,
    email,
    avatarUrl: user.image_url || undefined,
    tags: ["clerk"],
    metadata: { provider: "clerk" },
  };
  const client = orqClient(c.env);
  try {
    await client.identities.create({ externalId: user.id, ...profile });
  } catch (error) {
    if (!(error instanceof errors.OrqError && error.statusCode === 409)) throw error;
    await client.identities.update({ id: user.id, updateIdentityRequest: profile });
  }
  return c.text("ok", 200);
});

export default app;
