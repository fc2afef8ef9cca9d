import { afterEach, describe, expect, it, vi } from "vitest";
import { DEV_SECRETS } from "../support/secrets";
import { addFaults, auth0Event, clearFaults, clerkEvent, deliverNow, postAuth0, postClerk, uniqueId } from "./harness";

describe("logs", () => {
  afterEach(() => vi.restoreAllMocks());

  it("one JSON line per webhook and per orq attempt, without emails, names or secrets", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));

    const clerkUser = uniqueId("logs");
    await addFaults({ externalIdPrefix: clerkUser, times: 1, faults: [{ status: 422 }] });
    await postClerk(
      clerkEvent("user.created", clerkUser, (p) => {
        p.data.first_name = "Privatina";
        p.data.last_name = "Secretson";
        p.data.email_addresses = [{ id: p.data.primary_email_address_id, email_address: "privatina@example.com" }];
      }),
    );
    await deliverNow("clerk", clerkUser);
    const auth0User = `auth0|${uniqueId("logs")}`;
    await postAuth0(auth0Event("user.created", auth0User));
    await deliverNow("auth0", auth0User);
    await postClerk({ type: "user.created", data: { id: 1 }, timestamp: 1 });
    await postAuth0(auth0Event("user.created", auth0User), "wrong-token-wrong-token");
    await clearFaults(clerkUser);

    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.filter((r) => r.msg === "webhook").length).toBeGreaterThanOrEqual(4);
    expect(records.filter((r) => r.msg === "orq_attempt").length).toBeGreaterThanOrEqual(2);
    expect(records.find((r) => r.msg === "webhook" && r.user_id === clerkUser)).toMatchObject({
      provider: "clerk",
      event_type: "created",
      outcome: "recorded",
      status: 200,
      ms: expect.any(Number),
    });
    expect(records.find((r) => r.msg === "orq_attempt" && r.user_id === clerkUser)).toMatchObject({
      operation: "upsert",
      status: 422,
      attempt: 1,
    });

    const all = lines.join("\n");
    for (const forbidden of ["privatina", "Privatina", "Secretson", "john.doe@gmail.com", "John Doe", ...Object.values(DEV_SECRETS), "wrong-token-wrong-token"]) {
      expect(all).not.toContain(forbidden);
    }
    expect(all).not.toMatch(/[\w.+-]+@[\w-]+\.[\w.]+/);
  });
});
