import { describe, expect, it, vi } from "vitest";
import { callBridgeWith, clerkEvent, deliverNow, orqIdentity, orqWrites, svixHeaders, uniqueId } from "../harness";

/**
 * orq.ai's stricter published contract wants `email` to be an address and `avatar_url` a URI: a
 * field that breaks it is left out before the request is sent, and the rest of the identity lands.
 */
describe("a field orq.ai could refuse is left out, and the rest lands", () => {
  it("a signed Clerk user.created with a javascript: image and a primary email that is not an address", async () => {
    const userId = uniqueId("user");
    const event = clerkEvent("user.created", userId, (p) => {
      p.data.image_url = "javascript:alert(1)";
      p.data.email_addresses = [{ id: p.data.primary_email_address_id, object: "email_address", email_address: "john.doe(at)example", verification: null, linked_to: [] }];
    });
    const lines: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    try {
      // With a prefix, the orq external_id differs from the user id the log must name.
      const body = JSON.stringify(event);
      expect((await callBridgeWith({ ORQ_EXTERNAL_ID_PREFIX: "acme:" }, "/webhooks/clerk", { method: "POST", headers: svixHeaders(body), body })).status).toBe(200);
      expect(await deliverNow("clerk", userId)).toMatchObject({ delivery: "delivered" });
    } finally {
      spy.mockRestore();
    }

    const identity = await orqIdentity(`acme:${userId}`);
    expect(identity).toMatchObject({ external_id: `acme:${userId}`, display_name: "John Doe", tags: ["clerk", "test-suite"] });
    expect(identity).not.toHaveProperty("email");
    expect(identity).not.toHaveProperty("avatar_url");
    const [create] = await orqWrites(`acme:${userId}`);
    expect(create.body).not.toHaveProperty("avatar_url");

    const dropped = lines.filter((line) => line.includes('"orq_field_dropped"')).map((line) => JSON.parse(line));
    expect(dropped.map(({ provider, user_id, field }) => ({ provider, user_id, field })).sort((a, b) => a.field.localeCompare(b.field))).toEqual([
      { provider: "clerk", user_id: userId, field: "avatar_url" },
      { provider: "clerk", user_id: userId, field: "email" },
    ]);
    for (const line of dropped) expect(line.reason).toEqual(expect.any(String));
    const all = lines.join("\n");
    expect(all).not.toContain("javascript:alert(1)");
    expect(all).not.toContain("john.doe(at)example");
  });
});
