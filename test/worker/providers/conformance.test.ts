import { beforeAll, describe, expect, it } from "vitest";
import mappingPage from "../../../docs/mapping.md?raw";
import { providers } from "../../../src/providers/registry";
import { deliverNow, inspectIdentity, orqIdentity, orqWrites, type Json } from "../harness";
import { conformanceRows, type ConformanceRow, type EventSpec } from "./conformance-table";

/**
 * The guarantees every provider plug-in meets, written once and run against each row of
 * conformance-table.ts (documented examples, signed as the provider signs). What is truly
 * provider-specific (Okta's challenge, Kinde's key rotation, Auth0's content formats, …) is
 * tested beside this file, in <provider>.test.ts.
 */

const send = async (row: ConformanceRow, spec: EventSpec) => row.post(await row.request(spec));
const status = async (response: Response) => ((await response.json()) as { status: string }).status;
const message = async (response: Response) => ((await response.json()) as { message: string }).message;

/** The display-name table of docs/mapping.md: provider label → the fields it lists, in order. */
function documentedDisplayNameRows(): Map<string, string[]> {
  const section = mappingPage.split("## Display names")[1]?.split("\n\n").find((block) => block.startsWith("| provider |"));
  if (!section) throw new Error("docs/mapping.md has no display-name table under ## Display names");
  const rows = section.split("\n").slice(2);
  return new Map(rows.map((line) => line.split("|").map((cell) => cell.trim())).map(([, provider, order]) => [provider!, order!.split(" → ")]));
}

it("every provider in the registry has a row in the conformance table", () => {
  expect(conformanceRows.map((row) => row.name).sort()).toEqual(providers.map((provider) => provider.name).sort());
});

it("the display-name table of docs/mapping.md lists every provider, each in the order its row tests", () => {
  const table = documentedDisplayNameRows();
  expect([...table.keys()].sort()).toEqual(conformanceRows.map((row) => row.label).sort());
  for (const row of conformanceRows) expect(table.get(row.label), row.label).toEqual(row.displayNames.map((entry) => entry.from));
});

for (const row of conformanceRows) {
  describe(`${row.label} (/webhooks/${row.name})`, () => {
    if (row.setup) beforeAll(() => row.setup!());
    const provider = row.name;

    it("documented created, updated and deleted events land in orq.ai with the mapped fields", async () => {
      const userId = row.newUserId();
      const now = Date.now();
      const created = await send(row, { kind: "created", userId, at: now - 30_000 });
      expect(created.status).toBe(200);
      expect(await status(created)).toBe("recorded");
      expect(await deliverNow(provider, userId)).toMatchObject({ delivery: "delivered", pending: false });
      expect(await orqIdentity(userId)).toMatchObject({ external_id: userId, tags: [provider, "test-suite"], ...row.mapped.created, metadata: { provider, ...row.mapped.created.metadata } });

      expect(await status(await send(row, { kind: "updated", userId, at: now - 20_000 }))).toBe("recorded");
      expect(await deliverNow(provider, userId)).toMatchObject({ delivery: "delivered" });
      expect(await orqIdentity(userId)).toMatchObject({ external_id: userId, ...row.mapped.updated, metadata: { provider } });

      expect(await status(await send(row, { kind: "deleted", userId, at: now - 10_000 }))).toBe("recorded");
      expect(await deliverNow(provider, userId)).toMatchObject({ delivery: "delivered", tombstone: true });
      expect(await orqIdentity(userId)).toBeNull();
      expect((await orqWrites(userId)).map((write) => write.method)).toEqual(["POST", "PATCH", "DELETE"]);
    });

    it("answers 401 to a forged request, and records nothing", async () => {
      const userId = row.newUserId();
      const response = await row.post(await row.request({ kind: "created", userId }, "forged"));
      expect(response.status).toBe(401);
      expect(await inspectIdentity(provider, userId)).toBeNull();
    });

    // Static tokens (row.noReplayWindow says so) carry no time to check.
    if (!row.noReplayWindow) {
      it("answers 401 to a genuine request outside the replay window, and records nothing", async () => {
        const userId = row.newUserId();
        const response = await row.post(await row.request({ kind: "created", userId }, "expired"));
        expect(response.status).toBe(401);
        expect(await inspectIdentity(provider, userId)).toBeNull();
      });
    }

    it("the same delivery twice (a provider retry) causes one orq.ai write", async () => {
      const userId = row.newUserId();
      const request = await row.request({ kind: "created", userId });
      expect(await status(await row.post(request))).toBe("recorded");
      expect(await status(await row.post(request))).toBe("duplicate");
      await deliverNow(provider, userId);
      expect(await orqWrites(userId)).toHaveLength(1);
    });

    it("answers 400 naming the field to a malformed handled event, and records nothing", async () => {
      const userId = row.newUserId();
      const response = await send(row, { kind: "created", userId, patch: row.malformed.patch });
      expect(response.status).toBe(400);
      expect(await message(response)).toMatch(row.malformed.field);
      expect(await inspectIdentity(provider, userId)).toBeNull();
    });

    it("answers 200 ignored to an event type it does not handle, and records nothing", async () => {
      const userId = row.newUserId();
      const response = await row.post(await row.unhandled(userId));
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: "ignored" });
      expect(await inspectIdentity(provider, userId)).toBeNull();
    });

    for (const order of ["newest first", "oldest first"] as const) {
      it(`out of order, the newest event wins (${order}; each delivered before orq.ai is read)`, async () => {
        const userId = row.newUserId();
        const now = Date.now();
        const newer: EventSpec = { kind: "updated", userId, at: now - 20_000, patch: row.named("Newer Name") };
        const older: EventSpec = { kind: "updated", userId, at: now - 60_000, patch: row.named("Older Name") };
        const [first, second] = order === "newest first" ? [newer, older] : [older, newer];
        expect(await status(await send(row, first))).toBe("recorded");
        expect(await deliverNow(provider, userId)).toMatchObject({ delivery: "delivered", pending: false });
        expect((await orqIdentity(userId))?.display_name).toBe(order === "newest first" ? "Newer Name" : "Older Name");
        expect(await status(await send(row, second))).toBe(order === "newest first" ? "stale" : "recorded");
        expect(await deliverNow(provider, userId)).toMatchObject({ delivery: "delivered", pending: false });
        expect((await orqIdentity(userId))?.display_name).toBe("Newer Name");
      });
    }

    it("a deletion is not undone by an older update arriving after it", async () => {
      const userId = row.newUserId();
      const now = Date.now();
      await send(row, { kind: "created", userId, at: now - 60_000 });
      expect(await status(await send(row, { kind: "deleted", userId, at: now - 20_000 }))).toBe("recorded");
      expect(await status(await send(row, { kind: "updated", userId, at: now - 40_000 }))).toBe("stale");
      expect(await deliverNow(provider, userId)).toMatchObject({ delivery: "delivered", tombstone: true });
      expect(await orqIdentity(userId)).toBeNull();
    });

    for (const entry of row.displayNames) {
      it(`display name: ${entry.from} → "${entry.expected}"`, async () => {
        const userId = row.newUserId();
        expect(await status(await send(row, { kind: "updated", userId, patch: entry.patch }))).toBe("recorded");
        await deliverNow(provider, userId);
        expect((await orqIdentity(userId))?.display_name).toBe(entry.expected);
      });
    }

    if (row.batch) {
      it("a batch with several users (and an unhandled event) records each user in its own identity", async () => {
        const [ada, grace] = [row.newUserId(), row.newUserId()];
        const now = Date.now();
        const response = await row.post(
          await row.batch!([
            { kind: "created", userId: ada, at: now - 30_000, patch: row.named("Ada Lovelace") },
            { kind: "created", userId: grace, at: now - 29_000, patch: row.named("Grace Hopper") },
          ]),
        );
        expect(response.status).toBe(200);
        const answer = (await response.json()) as { status: string; events: Array<{ status: string }> };
        expect(answer.events.map((event) => event.status)).toEqual(["recorded", "recorded"]);
        await Promise.all([deliverNow(provider, ada), deliverNow(provider, grace)]);
        expect((await orqIdentity(ada))?.display_name).toBe("Ada Lovelace");
        expect((await orqIdentity(grace))?.display_name).toBe("Grace Hopper");
        expect(await orqWrites(ada)).toHaveLength(1);
        expect(await orqWrites(grace)).toHaveLength(1);
      });
    }

    if (row.partial) {
      const partial = row.partial;
      for (const order of ["full event first", "partial event first"] as const) {
        it(`a partial update merges with what is known: orq.ai gets the whole profile (${order})`, async () => {
          const userId = row.newUserId();
          const now = Date.now();
          const full: EventSpec = { kind: partial.base, userId, at: now - 60_000 };
          const change = partial.spec(userId, now - 20_000);
          for (const spec of order === "full event first" ? [full, change] : [change, full]) {
            expect(await status(await send(row, spec))).toBe("recorded");
            expect(await deliverNow(provider, userId)).toMatchObject({ delivery: "delivered", pending: false });
          }
          const identity: Json = await orqIdentity(userId);
          expect(identity).toMatchObject({ ...partial.keeps, ...partial.carries });
          // The last write carried the whole known profile, not just the changed fields.
          const last = (await orqWrites(userId)).at(-1);
          expect(last.body).toMatchObject({ ...partial.keeps, ...partial.carries });
        });
      }
    }
  });
}
