import { describe, expect, it } from "vitest";
import { DEV_SECRETS } from "../support/secrets";
import { callBridge, callBridgeWith } from "./harness";

describe("GET /health", () => {
  it("reports version and configured providers, and never a secret", async () => {
    const response = await callBridge("/health");
    expect(response.status).toBe(200);
    const text = await response.text();
    const health = JSON.parse(text);
    expect(health).toMatchObject({
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      providers: { clerk: "configured", auth0: "configured" },
      orq: { api_key: "set" },
      deliveries: { retrying: expect.any(Number), failed: expect.any(Number) },
      scheduler: {
        state: expect.stringMatching(/^(flowing|rate_limited|outage|key_rejected)$/),
        pace_per_minute: null,
        pace_source: null,
        in_flight: expect.any(Number),
        max_concurrency: 10,
        backlog: expect.any(Number),
      },
      problems: [],
    });
    for (const secret of Object.values(DEV_SECRETS)) expect(text).not.toContain(secret);
  });

  it("names missing and invalid configuration once, clearly", async () => {
    const response = await callBridgeWith(
      { ORQ_API_KEY: undefined, AUTH0_WEBHOOK_TOKEN: undefined, CLERK_WEBHOOK_SIGNING_SECRET: "whsec_***" },
      "/health",
    );
    const health = await response.json<{ status: string; providers: Record<string, string>; problems: Array<{ variable: string }>; orq: { api_key: string } }>();
    expect(health.status).toBe("degraded");
    expect(health.providers).toMatchObject({ clerk: "invalid", auth0: "not_configured" });
    expect(health.orq.api_key).toBe("missing");
    const variables = health.problems.map((p) => p.variable);
    expect(variables).toEqual(expect.arrayContaining(["CLERK_WEBHOOK_SIGNING_SECRET", "ORQ_API_KEY"]));
    expect(variables).not.toContain("AUTH0_WEBHOOK_TOKEN"); // unset is not a problem, just closed
  });
});
