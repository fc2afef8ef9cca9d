import { describe, expect, it } from "vitest";
import { callBridgeWith, clerkEvent, deliverNow, orqIdentity, orqWrites, svixHeaders, uniqueId, type Json } from "./harness";

function postClerkWith(overrides: Record<string, string>, payload: Json) {
  const body = JSON.stringify(payload);
  return callBridgeWith(overrides, "/webhooks/clerk", { method: "POST", headers: svixHeaders(body), body });
}

const later = (payload: Json) => {
  payload.timestamp = Math.floor(Date.now() / 1000);
};

describe("mapping options", () => {
  it("ORQ_ON_DELETE=tag keeps the identity and adds a deleted tag", async () => {
    const userId = uniqueId("user");
    const options = { ORQ_ON_DELETE: "tag" };
    await postClerkWith(options, clerkEvent("user.created", userId));
    await deliverNow("clerk", userId);
    expect((await postClerkWith(options, clerkEvent("user.deleted", userId, later))).status).toBe(200);
    await deliverNow("clerk", userId);
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "John Doe", tags: ["clerk", "test-suite", "deleted"] });
  });

  it("ORQ_ON_DELETE=ignore leaves orq.ai alone but still stops older updates", async () => {
    const userId = uniqueId("user");
    const options = { ORQ_ON_DELETE: "ignore" };
    await postClerkWith(options, clerkEvent("user.created", userId));
    await deliverNow("clerk", userId);
    await postClerkWith(options, clerkEvent("user.deleted", userId, later));
    expect(await deliverNow("clerk", userId)).toMatchObject({ tombstone: true, pending: false });
    const stale = await postClerkWith(options, clerkEvent("user.updated", userId));
    expect(await stale.json()).toMatchObject({ status: "stale" });
    expect((await orqWrites(userId)).map((w) => w.method)).toEqual(["POST"]);
  });

  it("ORQ_EXTERNAL_ID_SOURCE=external_id with a prefix names the identity after the app's id, and deletes that one", async () => {
    const userId = uniqueId("user");
    const appId = uniqueId("app");
    const options = { ORQ_EXTERNAL_ID_SOURCE: "external_id", ORQ_EXTERNAL_ID_PREFIX: "acme:" };
    await postClerkWith(options, clerkEvent("user.created", userId, (p) => (p.data.external_id = appId)));
    await deliverNow("clerk", userId);
    expect(await orqIdentity(`acme:${appId}`)).toMatchObject({ external_id: `acme:${appId}` });

    // Clerk's documented user.deleted carries another external_id; the bridge deletes what it created.
    await postClerkWith(options, clerkEvent("user.deleted", userId, later));
    await deliverNow("clerk", userId);
    expect(await orqIdentity(`acme:${appId}`)).toBeNull();
  });
});
