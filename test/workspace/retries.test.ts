/**
 * One identity's retryable failures (5xx, dropped connections, a hung call): it backs off, retries,
 * lands, coalesces, gives up after the retry window, and the admin API lists it as retrying.
 *
 * These live in a `workspace/<file>` project, not `worker`: a retryable failure is what the
 * workspace's scheduler counts towards an outage (three in a row from two identities), and the
 * `worker` project's files run in parallel against one scheduler. Here the file has a runtime and a
 * scheduler of its own and each test starts from a quiet workspace, so no other file's or test's
 * failures can turn these into an outage.
 * test/worker/harness.ts refuses retryable faults in the `worker` project to keep it that way.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { RETRY_WINDOW_MS } from "../../src/deliver/backoff";
import {
  addFaults,
  ageFailure,
  allFailures,
  clearFaults,
  clerkAt,
  clerkEvent,
  deliverNow,
  orqIdentity,
  orqWrites,
  postClerk,
  uniqueId,
  waitForState,
} from "../worker/harness";
import { quietWorkspace } from "./workspace-harness";

const at = (iso: string) => Date.parse(iso);

beforeEach(quietWorkspace);

describe("one identity's retryable failures", () => {
  it("rides out 5xx, a dropped connection and another 5xx, and lands with exactly those four calls", async () => {
    const userId = uniqueId("outage");
    await addFaults({ externalIdPrefix: userId, times: 3, faults: [{ status: 503 }, { drop: true }, { status: 502 }] });
    await postClerk(clerkEvent("user.created", userId));

    const status = await deliverNow("clerk", userId, 20);
    expect(status).toMatchObject({ delivery: "delivered", pending: false });
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "John Doe" });
    const statuses = (await orqWrites(userId)).map((w) => w.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.length).toBe(4);
  });

  it("after an update finds no identity in orq.ai, the retry creates it without asking again", async () => {
    const userId = uniqueId("learned404");
    await addFaults({ externalIdPrefix: userId, method: "POST", times: 1, faults: [{ status: 503 }] });
    await postClerk(clerkEvent("user.updated", userId));
    expect(await deliverNow("clerk", userId)).toMatchObject({ delivery: "delivered" });
    const calls = (await orqWrites(userId)).map((w) => `${w.method} ${w.status}`);
    expect(calls).toEqual(["PATCH 404", "POST 503", "POST 201"]);
  });

  it("an orq call that hangs past the timeout is retried", async () => {
    const userId = uniqueId("hang");
    await addFaults({ externalIdPrefix: userId, times: 1, faults: [{ hang: true }] });
    await postClerk(clerkEvent("user.created", userId));
    // ORQ_TIMEOUT_MS is 2000 in the test config.
    expect(await deliverNow("clerk", userId)).toMatchObject({ delivery: "delivered" });
    expect(await orqIdentity(userId)).not.toBeNull();
    expect((await orqWrites(userId)).length).toBe(2);
  });

  it("coalesces the updates that piled up while its calls failed into one write of the newest state", async () => {
    const userId = uniqueId("coalesce");
    await postClerk(clerkAt("user.created", userId, at("2026-02-01T10:00:00Z"), "V0"));
    await deliverNow("clerk", userId);

    await addFaults({ externalIdPrefix: userId, faults: [{ status: 503 }] });
    const newest = at("2026-02-01T10:03:00Z");
    for (const [minute, name] of [[1, "V1"], [2, "V2"], [3, "V3"]] as const) {
      await postClerk(clerkAt("user.updated", userId, at("2026-02-01T10:00:00Z") + minute * 60_000, name));
    }
    // Retrying with the newest event recorded: the last failed attempt carried V3.
    await waitForState("clerk", userId, (s) => s.delivery === "retrying" && s.lastEvent.occurredAt === newest);
    await clearFaults(userId);
    await deliverNow("clerk", userId);

    const successfulWrites = (await orqWrites(userId)).filter((w) => w.status === 200 || w.status === 201);
    expect(successfulWrites.map((w) => w.body?.display_name)).toEqual(["V0 Doe", "V3 Doe Updated"]);
  });

  it("gives up on a delivery failing for longer than the retry window, and keeps it", async () => {
    const userId = uniqueId("giveup");
    await addFaults({ externalIdPrefix: userId, faults: [{ status: 500 }] });
    await postClerk(clerkEvent("user.created", userId));
    await waitForState("clerk", userId, (s) => s.delivery === "retrying");
    await ageFailure("clerk", userId, RETRY_WINDOW_MS + 1);
    const status = await deliverNow("clerk", userId, 1);
    expect(status).toMatchObject({ delivery: "failed", pending: true });
    expect(status!.lastError).toMatch(/^gave up after \d+ attempts: orq.ai answered 500$/);
    await clearFaults(userId);
  });

  it("the admin API lists an identity still being retried under state=retrying, not under state=failed", async () => {
    const userId = uniqueId("admin_retry");
    await addFaults({ externalIdPrefix: userId, faults: [{ status: 503, retryAfter: 600 }] });
    await postClerk(clerkEvent("user.created", userId));
    await waitForState("clerk", userId, (s) => s.delivery === "retrying");

    const failureOf = (rows: Array<{ user_id: string }>) => rows.find((row) => row.user_id === userId);
    expect(failureOf(await allFailures("state=retrying"))).toMatchObject({ state: "retrying", last_orq_status: 503 });
    expect(failureOf(await allFailures("state=failed"))).toBeUndefined();
    await clearFaults(userId);
  });
});
