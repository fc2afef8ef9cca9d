import { describe, expect, it } from "vitest";
import { clerkEvent, deliverNow, orqIdentity, orqWrites, postClerk, uniqueId } from "./harness";

describe("Clerk users land in orq.ai", () => {
  it("a signed user.created (Clerk's documented example) becomes an orq identity", async () => {
    const userId = uniqueId("user");
    const payload = clerkEvent("user.created", userId, (p) => {
      p.data.email_addresses = [
        { id: "idn_other", email_address: "secondary@example.com", verification: null, linked_to: [] },
        { id: p.data.primary_email_address_id, email_address: "john.doe@example.com", verification: null, linked_to: [] },
      ];
    });

    const response = await postClerk(payload);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "recorded" });

    const status = await deliverNow("clerk", userId);
    expect(status).toMatchObject({ delivery: "delivered", pending: false, existsInOrq: true });
    expect(await orqIdentity(userId)).toMatchObject({
      external_id: userId,
      display_name: "John Doe",
      email: "john.doe@example.com",
      avatar_url: "https://img.clerk.com/xxxxxx",
      tags: ["clerk", "test-suite"],
      metadata: { provider: "clerk", provider_created_at: "2024-05-28T08:00:00.000Z" },
    });
  });

  it("user.updated replaces the profile, tags and metadata; user.deleted removes the identity", async () => {
    const userId = uniqueId("user");
    await postClerk(clerkEvent("user.created", userId));
    await deliverNow("clerk", userId);

    const updated = clerkEvent("user.updated", userId, (p) => {
      p.data.first_name = null;
      p.data.last_name = null;
    });
    expect((await postClerk(updated)).status).toBe(200);
    await deliverNow("clerk", userId);
    const identity = await orqIdentity(userId);
    // No first/last name: the username is the display name.
    expect(identity).toMatchObject({ display_name: "johndoe", avatar_url: "https://img.clerk.com/yyyyy" });

    const deleted = clerkEvent("user.deleted", userId, (p) => {
      p.timestamp = Math.floor(updated.data.updated_at / 1000) + 60;
    });
    expect((await postClerk(deleted)).status).toBe(200);
    expect(await deliverNow("clerk", userId)).toMatchObject({ delivery: "delivered", tombstone: true });
    expect(await orqIdentity(userId)).toBeNull();
    expect((await orqWrites(userId)).map((w) => w.method)).toEqual(["POST", "PATCH", "DELETE"]);
  });

  it("never forwards private_metadata or unsafe_metadata, and no null fields", async () => {
    const userId = uniqueId("user");
    const payload = clerkEvent("user.created", userId, (p) => {
      p.data.private_metadata = { stripe_secret: "sk_live_dont_leak" };
      p.data.unsafe_metadata = { role: "admin" };
      p.data.public_metadata = { plan: "pro" };
      p.data.image_url = null;
      p.data.profile_image_url = null;
    });
    await postClerk(payload);
    await deliverNow("clerk", userId);

    const [create] = await orqWrites(userId);
    expect(create.body).toEqual({
      external_id: userId,
      display_name: "John Doe",
      tags: ["clerk", "test-suite"],
      metadata: { provider: "clerk", provider_created_at: "2024-05-28T08:00:00.000Z" },
    });
    expect(JSON.stringify(create.body)).not.toMatch(/sk_live|admin|null/);
  });

  it("an update for a user orq.ai does not know yet creates it", async () => {
    const userId = uniqueId("user");
    await postClerk(clerkEvent("user.updated", userId));
    expect(await deliverNow("clerk", userId)).toMatchObject({ delivery: "delivered" });
    expect((await orqWrites(userId)).map((w) => `${w.method} ${w.status}`)).toEqual(["PATCH 404", "POST 201"]);
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "John Doe Updated" });
  });

  it("a creation of an identity orq.ai already holds updates it", async () => {
    const userId = uniqueId("user");
    await postClerk(clerkEvent("user.created", userId));
    await deliverNow("clerk", userId);
    // The same user created again later (e.g. re-sent after a bridge reinstall): orq answers 409.
    const again = clerkEvent("user.created", userId, (p) => {
      p.data.updated_at += 1000;
      p.data.first_name = "Jane";
    });
    await postClerk(again);
    // A fresh Durable Object would not know the identity exists; this one does and PATCHes directly.
    await deliverNow("clerk", userId);
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "Jane Doe" });
  });
});
