/**
 * The call paths of src/deliver/sync-identity.ts that only orq.ai's answers take, end to end
 * through the bridge and the emulator: create → 409 → PATCH, create → other 4xx → GET probe →
 * PATCH, and what a refusal's message may carry (never an email address).
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { addFaults, clerkEvent, deliverNow, emulator, orqIdentity, postClerk, uniqueId, type Json } from "./harness";

/** An identity orq.ai already holds (made by someone else: an earlier backfill, another bridge). */
async function existingInOrq(externalId: string): Promise<void> {
  const response = await fetch(`${env.ORQ_API_URL}/v2/identities`, {
    method: "POST",
    headers: { authorization: `Bearer ${env.ORQ_API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ external_id: externalId, display_name: "Made Elsewhere" }),
  });
  expect(response.status).toBe(201);
}

/** Every call orq.ai received for this identity, GETs included, as "METHOD status". */
async function calls(externalId: string): Promise<string[]> {
  const { requests } = await emulator<{ requests: Json[] }>(`/__emulator/requests?external_id=${encodeURIComponent(externalId)}`);
  return requests.map((request: Json) => `${request.method} ${request.status}`);
}

afterEach(() => vi.restoreAllMocks());

describe("orq.ai already holds the identity a creation event is about", () => {
  it("create → 409 → PATCH: the identity gets the event's data", async () => {
    const userId = uniqueId("conflict");
    await existingInOrq(userId);
    await postClerk(clerkEvent("user.created", userId));
    expect(await deliverNow("clerk", userId)).toMatchObject({ delivery: "delivered", existsInOrq: true });
    expect(await calls(userId)).toEqual(["POST 201", "POST 409", "PATCH 200"]);
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "John Doe" });
  });

  it("create → another 4xx → GET probe finds it → PATCH: the identity gets the event's data", async () => {
    const userId = uniqueId("probe");
    await existingInOrq(userId);
    // An "already exists" answer orq.ai does not document: any permanent 4xx on the creation.
    await addFaults({ externalIdPrefix: userId, method: "POST", times: 1, faults: [{ status: 422 }] });
    await postClerk(clerkEvent("user.created", userId));
    expect(await deliverNow("clerk", userId)).toMatchObject({ delivery: "delivered", existsInOrq: true });
    expect(await calls(userId)).toEqual(["POST 201", "POST 422", "GET 200", "PATCH 200"]);
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "John Doe" });
  });

  it("create → 4xx → GET probe finds nothing: a permanent failure with orq's reason", async () => {
    const userId = uniqueId("probe404");
    await addFaults({ externalIdPrefix: userId, method: "POST", faults: [{ status: 422 }] });
    await postClerk(clerkEvent("user.created", userId));
    expect(await deliverNow("clerk", userId)).toMatchObject({ delivery: "failed", lastStatus: 422 });
    expect(await calls(userId)).toEqual(["POST 422", "GET 404"]);
  });
});

describe("orq.ai's refusal messages", () => {
  it("an email address quoted in orq's error never reaches the identity's state or the logs", async () => {
    const userId = uniqueId("redact");
    const quoted = `leaked.${userId.toLowerCase()}@mail.example.org`;
    const logged: string[] = [];
    const log = console.log;
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      logged.push(args.map(String).join(" "));
      log(...args);
    });
    await addFaults({ externalIdPrefix: userId, faults: [{ status: 422, message: `value '${quoted}' is not accepted; contact ${quoted} first` }] });
    await postClerk(clerkEvent("user.created", userId));
    const status = await deliverNow("clerk", userId);
    expect(status).toMatchObject({ delivery: "failed", lastStatus: 422 });
    expect(status!.lastError).toBe("orq.ai answered 422: value '<redacted>' is not accepted; contact <redacted> first");
    expect(logged.some((line) => line.includes(userId))).toBe(true);
    expect(logged.filter((line) => line.includes(quoted))).toEqual([]);
  });
});
