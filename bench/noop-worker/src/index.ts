import { Hono } from "hono";

/**
 * The runtime's ceiling for `npm run bench`: the same framework as the bridge, the same route, and
 * no work. The body is read (a real receiver cannot avoid receiving it), then 200.
 */
const app = new Hono();

app.get("/health", (c) => c.json({ status: "ok" }));

app.post("/webhooks/clerk", async (c) => {
  await c.req.arrayBuffer();
  return c.json({ status: "ok" }, 200);
});

export default app;
