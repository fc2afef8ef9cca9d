/**
 * "2xx only after storage; 503 when storage fails": the webhook route answered by a bridge whose
 * identity objects fail to record (for every user, for one user of a batch, or a binding that
 * throws before any call). The other bindings are the real ones.
 */
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { identityObjectName } from "../../src/record/identity-change";
import { conformanceRows } from "./providers/conformance-table";
import { clerkEvent, inspectIdentity, svixHeaders, uniqueId, type Json } from "./harness";

type Namespace = typeof env.IDENTITY_SYNC;

/** IDENTITY_SYNC with `failing(name)` deciding how each object fails: a rejected record(), or getByName throwing. */
function failingNamespace(failing: (name: string) => "reject" | "throw" | undefined): Namespace {
  return new Proxy(env.IDENTITY_SYNC, {
    get(target, property) {
      if (property !== "getByName") return Reflect.get(target, property);
      return (name: string) => {
        const how = failing(name);
        if (how === "throw") throw new Error("getByName failed synchronously");
        const stub = target.getByName(name);
        if (how !== "reject") return stub;
        return { record: () => Promise.reject(new Error("storage unavailable")) };
      };
    },
  }) as Namespace;
}

async function post(identitySync: Namespace, path: string, init: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await app.fetch(new Request(`https://bridge.test${path}`, init), { ...env, IDENTITY_SYNC: identitySync }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

function clerkRequest(userId: string, eventId = `msg_${crypto.randomUUID()}`): RequestInit {
  const body = JSON.stringify(clerkEvent("user.created", userId));
  return { method: "POST", headers: svixHeaders(body, { id: eventId }), body };
}

describe("the answer waits for storage", () => {
  it("an event whose identity object cannot record it gets 503, so the provider delivers it again", async () => {
    const userId = uniqueId("nostore");
    const response = await post(failingNamespace(() => "reject"), "/webhooks/clerk", clerkRequest(userId));
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: "temporarily_unavailable" });
    expect(await inspectIdentity("clerk", userId)).toBeNull();
  });

  it("a binding that throws before the call (getByName) is a 503 too, not a 500", async () => {
    const userId = uniqueId("nobinding");
    const response = await post(failingNamespace(() => "throw"), "/webhooks/clerk", clerkRequest(userId));
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: "temporarily_unavailable" });
  });

  it("the provider's redelivery after a 503 is recorded once storage works again", async () => {
    const userId = uniqueId("retried");
    const eventId = `msg_${crypto.randomUUID()}`;
    expect((await post(failingNamespace(() => "reject"), "/webhooks/clerk", clerkRequest(userId, eventId))).status).toBe(503);
    const again = await post(env.IDENTITY_SYNC, "/webhooks/clerk", clerkRequest(userId, eventId));
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: "recorded" });
  });

  for (const row of conformanceRows.filter((candidate) => candidate.batch)) {
    it(`${row.label}: a batch in which one user's event cannot be recorded gets 503; the others are stored and dedupe on redelivery`, async () => {
      const [stored, lost] = [row.newUserId(), row.newUserId()];
      const init = await row.batch!([
        { kind: "created", userId: stored },
        { kind: "created", userId: lost },
      ]);
      const lostName = identityObjectName(row.name, lost);
      const response = await post(failingNamespace((name) => (name === lostName ? "reject" : undefined)), `/webhooks/${row.name}`, init);
      expect(response.status).toBe(503);
      expect(await inspectIdentity(row.name, stored)).toMatchObject({ lastEvent: { type: "created" } });
      expect(await inspectIdentity(row.name, lost)).toBeNull();

      // The sender delivers the same batch again: the stored event is a duplicate, the lost one lands.
      const again = await post(env.IDENTITY_SYNC, `/webhooks/${row.name}`, init);
      expect(again.status).toBe(200);
      const { events } = (await again.json()) as { events: Json[] };
      expect(events.map((event: Json) => event.status).sort()).toEqual(["duplicate", "recorded"]);
      expect(await inspectIdentity(row.name, lost)).toMatchObject({ lastEvent: { type: "created" } });
    });
  }
});
