/**
 * Self-healing (issue 20) through the real Worker: a cycle started by `POST /admin/reconcile`
 * runs in the Reconciler's alarms, lists the fake provider's users and the identities the bridge
 * owns in orq.ai, and hands each difference to the user's identity object, which delivers through
 * the scheduler as for a webhook. This project has an orq.ai emulator of its own, emptied before
 * every test, so a cycle sees exactly this test's identities.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { getConfig } from "../../src/config";
import { DeliveryScheduler } from "../../src/deliver/delivery-scheduler";
import { toListedChange } from "../../src/reconcile/listed-user";
import { Reconciler } from "../../src/reconcile/reconciler";
import { clerkSource } from "../../src/reconcile/sources/clerk";
import { DEV_SECRETS } from "../support/secrets";
import { quietWorkspace } from "../workspace/workspace-harness";
import { callBridgeWith, clerkAt, emulator, postClerk, uniqueId, type Json } from "../worker/harness";
import {
  ADMIN_TOKEN,
  admin,
  auth0User,
  clearProviderFaults,
  clerkUser,
  finishCycle,
  orqByHand,
  providerFault,
  providerRequests,
  reconciler,
  runCycle,
  setAuth0Users,
  setClerkUsers,
  waitForOrq,
} from "./reconcile-harness";

const T0 = Date.parse("2026-11-01T10:00:00Z");
const nameOf = (identity: Json | null) => identity?.display_name ?? null;

async function orqRequests(): Promise<Json[]> {
  return (await emulator<{ requests: Json[] }>("/__emulator/requests")).requests;
}

/** Sends a Clerk webhook for this user version and waits until orq.ai holds it. */
async function webhook(type: "user.created" | "user.updated", userId: string, updatedAt: number, firstName: string): Promise<void> {
  expect((await postClerk(clerkAt(type, userId, updatedAt, firstName))).status).toBe(200);
  await waitForOrq([userId], (_id, identity) => nameOf(identity)?.startsWith(`${firstName} `) === true);
}

beforeEach(async () => {
  // The previous test's deliveries land first (a late one would write into this test's orq.ai).
  const scheduler = env.ORQ_SCHEDULER.getByName("orq-workspace");
  for (let waited = 0; waited < 600; waited++) {
    const stats = await scheduler.stats();
    if (stats.backlog === 0 && stats.inFlight === 0 && stats.reserved === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await emulator("/__emulator/reset", { method: "POST" });
  await clearProviderFaults("clerk");
  await clearProviderFaults("auth0");
  await setClerkUsers([]);
  await setAuth0Users([]);
});

describe("one cycle heals", () => {
  it("creates the never-sent, updates the missed, puts back hand edits and hand deletions, deletes the gone; leaves what it does not own and never undoes a newer webhook", async () => {
    const id = (name: string) => uniqueId(`heal_${name}`);
    const never = id("never");
    const twin = id("twin");
    const missed = id("missed");
    const edited = id("edited");
    const removed = id("removed");
    const gone = id("gone");
    const newer = id("newer");
    const foreign = id("foreign");

    // What happened while webhooks flowed.
    await webhook("user.created", twin, T0, "Never");
    await webhook("user.created", missed, T0, "Missed");
    await webhook("user.created", edited, T0, "Edited");
    await webhook("user.created", removed, T0, "Removed");
    await webhook("user.created", gone, T0, "Gone");
    await webhook("user.updated", newer, T0 + 120_000, "Newest");
    // Edits in orq.ai by hand, and an identity the bridge does not own.
    expect(await orqByHand("PATCH", edited, { display_name: "Edited by hand" })).toBe(200);
    expect(await orqByHand("DELETE", removed)).toBe(200);
    expect(await orqByHand("POST", null, { external_id: foreign, display_name: "Not the bridge's", tags: ["manual"] })).toBe(201);

    // The provider's users now: `never` never sent a webhook; `missed` changed without one;
    // `gone` was deleted without one; `newer` is listed at an older version than its webhook.
    await setClerkUsers([
      clerkUser(never, "Never", T0),
      clerkUser(twin, "Never", T0),
      clerkUser(missed, "Missed-Again", T0 + 60_000),
      clerkUser(edited, "Edited", T0),
      clerkUser(removed, "Removed", T0),
      clerkUser(newer, "Older", T0 + 60_000),
    ]);
    const cycle = await runCycle("clerk");
    expect(cycle.last_cycle).toMatchObject({ error: null, users_seen: 6, owned_seen: 5, created: 2, updated: 2, deleted: 1, deletions_held_back: 0 });

    await waitForOrq([never, missed, edited, removed], (userId, identity) => {
      const want = { [never]: "Never", [missed]: "Missed-Again", [edited]: "Edited", [removed]: "Removed" }[userId]!;
      return nameOf(identity)?.startsWith(`${want} `) === true;
    });
    await waitForOrq([gone], (_id, identity) => identity === null);
    // Exactly the mapping a webhook gives: the never-sent user equals its twin that came by webhook.
    const [made, byWebhook] = await Promise.all([emulator(`/__emulator/identities/${never}`), emulator(`/__emulator/identities/${twin}`)]);
    for (const field of ["display_name", "email", "avatar_url", "tags", "metadata"]) expect(made[field], field).toEqual(byWebhook[field]);
    // Never touched: what the bridge does not own; never undone: the newer webhook.
    expect(await emulator(`/__emulator/identities/${foreign}`)).toMatchObject({ display_name: "Not the bridge's", tags: ["manual"] });
    expect(nameOf(await emulator(`/__emulator/identities/${newer}`))).toMatch(/^Newest /);

    // The next cycle finds nothing to do and writes nothing.
    const before = (await orqRequests()).length;
    const again = await runCycle("clerk");
    expect(again.last_cycle).toMatchObject({ error: null, users_seen: 6, created: 0, updated: 0, deleted: 0, unchanged: 6 });
    const after = (await orqRequests()).slice(before);
    expect(after.filter((request: Json) => request.method !== "GET")).toEqual([]);
  });

  it("puts back a hand edit also when the user's latest event is already recorded (same version)", async () => {
    const userId = uniqueId("same_version");
    await webhook("user.created", userId, T0, "Same");
    await setClerkUsers([clerkUser(userId, "Same", T0)]);
    expect(await orqByHand("PATCH", userId, { display_name: "Changed in orq", tags: ["clerk"] })).toBe(200);
    const cycle = await runCycle("clerk");
    expect(cycle.last_cycle).toMatchObject({ updated: 1, created: 0 });
    await waitForOrq([userId], (_id, identity) => nameOf(identity)?.startsWith("Same ") === true && identity.tags.includes("test-suite"));
  });

  it("a mapping change rewrites every owned identity once on the next cycle, then nothing", async () => {
    const users = [uniqueId("map_a"), uniqueId("map_b"), uniqueId("map_c")];
    for (const userId of users) await webhook("user.created", userId, T0, "Mapped");
    await setClerkUsers(users.map((userId) => clerkUser(userId, "Mapped", T0)));
    const stub = reconciler("clerk");
    // The operator adds a tag (ORQ_TAGS): the Reconciler runs with the new setting.
    await runInDurableObject(stub, (instance: Reconciler, state) => {
      Object.assign(instance, new Reconciler(state, { ...env, ORQ_TAGS: "test-suite,vip" }));
    });
    try {
      const first = await runCycle("clerk");
      expect(first.last_cycle).toMatchObject({ users_seen: 3, updated: 3 });
      await waitForOrq(users, (_id, identity) => identity?.tags?.includes("vip") === true);
      const second = await runCycle("clerk");
      expect(second.last_cycle).toMatchObject({ users_seen: 3, updated: 0, unchanged: 3 });
    } finally {
      await runInDurableObject(stub, (instance: Reconciler, state) => {
        Object.assign(instance, new Reconciler(state, env));
      });
    }
  });

  it("a user gone at the provider is handled per ORQ_ON_DELETE=tag: tagged once, then left alone", async () => {
    const userId = uniqueId("tagged");
    await webhook("user.created", userId, T0, "Tagged");
    await setClerkUsers([clerkUser(uniqueId("other"), "Other", T0)]);
    const stub = reconciler("clerk");
    await runInDurableObject(stub, (instance: Reconciler, state) => {
      Object.assign(instance, new Reconciler(state, { ...env, ORQ_ON_DELETE: "tag" }));
    });
    try {
      const first = await runCycle("clerk", { dry_run: false });
      expect(first.last_cycle).toMatchObject({ deleted: 1 });
      await waitForOrq([userId], (_id, identity) => identity?.tags?.includes("deleted") === true);
      const before = (await orqRequests()).length;
      const second = await runCycle("clerk");
      expect(second.last_cycle).toMatchObject({ deleted: 0, deletions_held_back: 0 });
      expect((await orqRequests()).slice(before).filter((request: Json) => request.method !== "GET" && request.externalId === userId)).toEqual([]);
    } finally {
      await runInDurableObject(stub, (instance: Reconciler, state) => {
        Object.assign(instance, new Reconciler(state, env));
      });
    }
  });

  it("reconciles Auth0 too: a user who never sent an event is created, a missed update lands", async () => {
    const fresh = `auth0|${uniqueId("a0_fresh")}`;
    const stale = `auth0|${uniqueId("a0_stale")}`;
    await setAuth0Users([auth0User(stale, "Before", T0)]);
    await runCycle("auth0");
    await waitForOrq([stale], (_id, identity) => identity !== null);
    await setAuth0Users([auth0User(fresh, "Fresh", T0), auth0User(stale, "After", T0 + 60_000, T0)]);
    const cycle = await runCycle("auth0");
    expect(cycle.last_cycle).toMatchObject({ error: null, users_seen: 2, created: 1, updated: 1 });
    await waitForOrq([fresh, stale], (userId, identity) => (userId === fresh ? identity !== null : nameOf(identity)?.startsWith("After") === true));
  });
});

describe("Auth0 tenants beyond the 1,000-user query limit", () => {
  it("are listed completely by the Worker's cycle (a dry run over 1,200 users finds every one)", async () => {
    const users = Array.from({ length: 1_200 }, (_, i) => auth0User(`auth0|${uniqueId(`big${i}`)}`, `Big${i}`, T0 + i * 60_000));
    await setAuth0Users(users);
    const response = await admin("/admin/reconcile", { method: "POST", body: JSON.stringify({ provider: "auth0", dry_run: true }) });
    expect(response.status).toBe(202);
    const cycle = await finishCycle("auth0");
    expect(cycle.last_cycle).toMatchObject({ error: null, users_seen: 1_200, created: 1_200, failed: 0 });
  });
});

describe("providers' limits", () => {
  it("a 429 waits what the provider asks (Retry-After), then the listing resumes from its cursor and completes", async () => {
    const users = Array.from({ length: 3 }, (_, i) => clerkUser(uniqueId(`limited${i}`), `Limited${i}`, T0));
    await setClerkUsers(users);
    await providerFault("clerk", { path: "/v1/users", status: 429, times: 1, retryAfter: 4 });
    const started = await admin("/admin/reconcile", { method: "POST", body: JSON.stringify({ provider: "clerk" }) });
    expect(started.status).toBe(202);
    // The first chunk runs by its own alarm and meets the 429: the next one is set for Retry-After later, not sooner.
    for (let waited = 0; !(await providerRequests("clerk")).some((request: Json) => request.status === 429); waited++) {
      if (waited > 100) throw new Error("the listing never met the 429");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const next = await runInDurableObject(reconciler("clerk"), (_instance, state) => state.storage.getAlarm());
    expect(next).not.toBeNull();
    expect(next!).toBeGreaterThanOrEqual(Date.now() + 3_000);
    const cycle = await finishCycle("clerk");
    expect(cycle.last_cycle).toMatchObject({ error: null, users_seen: 3, created: 3 });
  });
});

describe("a broken chain of alarms", () => {
  it("a cycle whose alarm was lost is picked up again by the next start, from its cursor", async () => {
    await setClerkUsers([clerkUser(uniqueId("revived"), "Revived", T0)]);
    // A cycle starts and its alarm is gone (its retries spent on an error) before it ran: nothing else
    // may run in the object in between, so its own alarm cannot win the race.
    await runInDurableObject(reconciler("clerk"), (instance: Reconciler, state) =>
      state.blockConcurrencyWhile(async () => {
        expect(await instance.start("clerk", { trigger: "admin" })).toMatchObject({ started: true });
        await state.storage.deleteAlarm();
      }),
    );
    const again = await admin("/admin/reconcile", { method: "POST", body: JSON.stringify({ provider: "clerk" }) });
    expect(again.status).toBe(409);
    // Without the pick-up, no alarm would ever run it: finishCycle would give up.
    const cycle = await finishCycle("clerk");
    expect(cycle.last_cycle).toMatchObject({ error: null, users_seen: 1, created: 1 });
  });
});

describe("visible", () => {
  it("the status page has a tile per provider with the age of the last complete cycle and its counts", async () => {
    await setClerkUsers([clerkUser(uniqueId("tile"), "Tile", T0)]);
    const { last_cycle: last } = await runCycle("clerk");
    const login = await callBridgeWith({ ADMIN_TOKEN }, "/admin/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://bridge.test" },
      body: new URLSearchParams({ token: ADMIN_TOKEN }).toString(),
    });
    expect(login.status).toBe(303);
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const page = await callBridgeWith({ ADMIN_TOKEN }, "/admin", { headers: { cookie } });
    const html = await page.text();
    expect(html).toMatch(/data-testid="reconcile-clerk"/);
    expect(html).toMatch(/Self-healing: clerk/);
    const tile = /data-testid="reconcile-clerk">(.*?)<\/div><\/div>/s.exec(html)?.[1] ?? "(no tile)";
    expect(last.created).toBe(1);
    expect(tile).toContain(`${last.users_seen} users, ${last.owned_seen} identities: ${last.created} created, ${last.updated} updated, ${last.deleted} deleted, ${last.unchanged} unchanged`);
    expect(html).toMatch(/data-testid="reconcile-auth0"/);
  });
});

describe("deletions are safe", () => {
  async function threeOwned(): Promise<string[]> {
    const users = [uniqueId("keep_a"), uniqueId("keep_b"), uniqueId("keep_c")];
    for (const userId of users) await webhook("user.created", userId, T0, "Kept");
    return users;
  }

  it("a listing that fails (401, or 5xx until the retries run out) deletes nothing and says why", async () => {
    const users = await threeOwned();
    await setClerkUsers([]);
    await providerFault("clerk", { path: "/v1/users", status: 401 });
    const rejected = await runCycle("clerk");
    expect(rejected.last_cycle).toMatchObject({ deleted: 0 });
    expect(rejected.last_cycle.error).toMatch(/401/);
    expect(rejected.health).toBe("failed");
    await clearProviderFaults("clerk");
    await setClerkUsers([clerkUser(users[0]!, "Kept", T0)]);
    await providerFault("clerk", { path: "/v1/users", status: 503 });
    const unavailable = await runCycle("clerk");
    expect(unavailable.last_cycle.error).toMatch(/503.*after 6 attempts|after 6 attempts/);
    expect(unavailable.last_cycle.deleted).toBe(0);
    for (const userId of users) expect(await emulator(`/__emulator/identities/${userId}`)).not.toBeNull();
    const health = await (await callHealth()).json<Json>();
    expect(health.status).toBe("degraded");
    expect(health.reconcile.providers.clerk).toMatchObject({ status: "failed" });
  });

  it("a listing that fails after its first page deletes nothing, not even users the provider no longer has", async () => {
    const gone = await threeOwned();
    // 501 other users: the first page (500) lists fine, the second keeps failing.
    await setClerkUsers(Array.from({ length: 501 }, (_, i) => clerkUser(`user_page_${String(i).padStart(3, "0")}_${uniqueId("p")}`, "Paged", T0)));
    await providerFault("clerk", { path: "/v1/users", query: { offset: "500" }, status: 503 });
    const response = await admin("/admin/reconcile", { method: "POST", body: JSON.stringify({ provider: "clerk", dry_run: true }) });
    expect(response.status).toBe(202);
    const cycle = await finishCycle("clerk");
    expect(cycle.last_cycle.users_seen).toBe(500);
    expect(cycle.last_cycle.error).toMatch(/after 6 attempts/);
    expect(cycle.last_cycle.deleted).toBe(0);
    for (const userId of gone) expect(await emulator(`/__emulator/identities/${userId}`)).not.toBeNull();
  });

  it("an empty listing deletes nothing", async () => {
    const users = await threeOwned();
    const cycle = await runCycle("clerk");
    expect(cycle.last_cycle).toMatchObject({ users_seen: 0, deleted: 0, deletions_held_back: 3 });
    for (const userId of users) expect(await emulator(`/__emulator/identities/${userId}`)).not.toBeNull();
  });

  it("more deletions than RECONCILE_MAX_DELETES are held back and shown, until confirm_deletes", async () => {
    const kept = uniqueId("keep");
    await webhook("user.created", kept, T0, "Kept");
    const doomed: string[] = [];
    for (let i = 0; i < 6; i++) {
      doomed.push(uniqueId(`doomed${i}`));
      await webhook("user.created", doomed[i]!, T0, "Doomed");
    }
    await setClerkUsers([clerkUser(kept, "Kept", T0)]);
    const held = await runCycle("clerk");
    // 6 candidates of 7 owned: more than the default limit (5, or 2 % of 7).
    expect(held.last_cycle).toMatchObject({ deleted: 0, deletions_held_back: 6 });
    expect(held.last_cycle.deletions_held_back_reason).toMatch(/RECONCILE_MAX_DELETES/);
    const health = await (await callHealth()).json<Json>();
    expect(health.reconcile.providers.clerk).toMatchObject({ deletions_held_back: 6 });
    for (const userId of doomed) expect(await emulator(`/__emulator/identities/${userId}`)).not.toBeNull();

    const confirmed = await runCycle("clerk", { confirm_deletes: true });
    expect(confirmed.last_cycle).toMatchObject({ deleted: 6, deletions_held_back: 0 });
    await waitForOrq(doomed, (_id, identity) => identity === null);
    expect(await emulator(`/__emulator/identities/${kept}`)).not.toBeNull();
  });

  it("a dry run reports the drift and writes nothing", async () => {
    const fresh = uniqueId("dry");
    await setClerkUsers([clerkUser(fresh, "Dry", T0)]);
    const before = (await orqRequests()).length;
    const response = await admin("/admin/reconcile", { method: "POST", body: JSON.stringify({ provider: "clerk", dry_run: true }) });
    expect(response.status).toBe(202);
    const cycle = await finishCycle("clerk");
    expect(cycle.last_cycle).toMatchObject({ dry_run: true, created: 1, drift: [{ user_id: fresh, action: "create" }] });
    expect((await orqRequests()).slice(before).filter((request: Json) => request.method !== "GET")).toEqual([]);
    expect(await emulator(`/__emulator/identities/${fresh}`)).toBeNull();
  });
});

describe("cost", () => {
  it("1,000 unchanged users: ⌈1000/500⌉ Clerk reads + ⌈1000/200⌉ orq.ai reads + at most 2, zero orq.ai writes", async () => {
    const users = Array.from({ length: 1000 }, (_, i) => clerkUser(`user_cost${String(i).padStart(4, "0")}_${uniqueId("c")}`, `Cost${i}`, T0 + i));
    await setClerkUsers(users);
    // orq.ai already holds each of them as the mapping makes it (as after webhooks or an earlier cycle).
    const { mapping } = getConfig(env);
    for (let i = 0; i < users.length; i += 50) {
      await Promise.all(users.slice(i, i + 50).map(async (user) => {
        const listed = toListedChange(clerkSource, user, mapping, Date.now());
        if (!listed.ok) throw new Error(listed.reason);
        expect(await orqByHand("POST", null, listed.identity)).toBe(201);
      }));
    }

    const clerkBefore = (await providerRequests("clerk")).length;
    const orqBefore = (await orqRequests()).length;
    const usageBefore = await reconciler("clerk").usage();
    const workspaceScheduler = env.ORQ_SCHEDULER.getByName("orq-workspace");
    const schedulerBefore = await workspaceScheduler.usageOf("reconcile:clerk");
    const cycle = await runCycle("clerk");
    const clerkReads = (await providerRequests("clerk")).slice(clerkBefore).length;
    const orqCalls = (await orqRequests()).slice(orqBefore);
    const usage = await reconciler("clerk").usage();
    const schedulerAfter = await workspaceScheduler.usageOf("reconcile:clerk");
    const units = {
      requests: usage.requests - usageBefore.requests + schedulerAfter.requests - schedulerBefore.requests,
      rowsWritten: usage.rowsWritten - usageBefore.rowsWritten + schedulerAfter.rowsWritten - schedulerBefore.rowsWritten,
    };
    console.info(`cost of a cycle over 1,000 unchanged users: ${clerkReads} Clerk reads, ${orqCalls.length} orq.ai calls, Durable Objects ${JSON.stringify(units)} (the start, the alarms, one scheduler permit per orq.ai read)`);
    expect(cycle.last_cycle).toMatchObject({ users_seen: 1000, owned_seen: 1000, unchanged: 1000, created: 0, updated: 0, deleted: 0 });
    expect(clerkReads + orqCalls.length).toBeLessThanOrEqual(Math.ceil(1000 / 500) + Math.ceil(1000 / 200) + 2);
    expect(orqCalls.filter((request: Json) => request.method !== "GET")).toEqual([]);
  }, 60_000);
});

function callHealth(): Promise<Response> {
  return admin("/health");
}



describe("budgets are healed like identities", () => {
  const budgets = (proAmount: number) =>
    JSON.stringify({ by: "plan", plans: { free: { amount: 1, period: "monthly" }, pro: { amount: proAmount, period: "monthly", requests_per_minute: 60 } } });
  const budgetOf = (externalId: string): Promise<Json | null> => emulator(`/__emulator/budgets?external_id=${encodeURIComponent(externalId)}`);

  async function withReconcilerEnv<T>(bindings: Record<string, string>, work: () => Promise<T>): Promise<T> {
    const stub = reconciler("clerk");
    await runInDurableObject(stub, (instance: Reconciler, state) => {
      Object.assign(instance, new Reconciler(state, { ...env, ...bindings }));
    });
    try {
      return await work();
    } finally {
      await runInDurableObject(stub, (instance: Reconciler, state) => {
        Object.assign(instance, new Reconciler(state, env));
      });
    }
  }

  it("a budget changed or deleted by hand is put back on the next cycle, and a change of ORQ_BUDGETS reaches every user", async () => {
    const [edited, removed, kept] = [uniqueId("budget_edit"), uniqueId("budget_gone"), uniqueId("budget_kept")];
    const users = [edited, removed, kept];
    await setClerkUsers(users.map((userId) => clerkUser(userId, "Budget", T0, (user) => (user.public_metadata = { plan: "pro" }))));
    await withReconcilerEnv({ ORQ_BUDGETS: budgets(20) }, async () => {
      // The first cycle creates the users and their budgets.
      expect((await runCycle("clerk")).last_cycle).toMatchObject({ created: 3 });
      for (const userId of users) {
        for (let waited = 0; (await budgetOf(userId))?.limits?.amount !== 20; waited++) {
          if (waited > 200) throw new Error(`no budget for ${userId}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      // By hand in orq.ai: one budget raised, one deleted.
      const { budget_id } = await budgetOf(edited);
      expect(await orqBudgetByHand("PATCH", budget_id, { limits: { period: "BUDGET_PERIOD_MONTHLY", amount: 99 } })).toBe(200);
      expect(await orqBudgetByHand("DELETE", (await budgetOf(removed)).budget_id)).toBe(200);
      const healed = await runCycle("clerk");
      expect(healed.last_cycle).toMatchObject({ updated: 2, unchanged: 1 });
      for (const userId of [edited, removed]) {
        for (let waited = 0; (await budgetOf(userId))?.limits?.amount !== 20; waited++) {
          if (waited > 200) throw new Error(`the budget of ${userId} was not put back: ${JSON.stringify(await budgetOf(userId))}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    });
    // The operator raises the pro plan's amount: the next cycle reaches every user.
    await withReconcilerEnv({ ORQ_BUDGETS: budgets(30) }, async () => {
      expect((await runCycle("clerk")).last_cycle).toMatchObject({ updated: 3 });
      for (const userId of users) {
        for (let waited = 0; (await budgetOf(userId))?.limits?.amount !== 30; waited++) {
          if (waited > 200) throw new Error(`the budget of ${userId} did not follow ORQ_BUDGETS`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      expect((await runCycle("clerk")).last_cycle).toMatchObject({ updated: 0, unchanged: 3 });
    });
  });
});

describe("live changes first", () => {
  it("while a reconcile heals 200 users under a 120/min limit it uses at most half the pace, and a new signup lands within 5 s", async () => {
    // A scheduler as freshly deployed: the earlier tests' calls of the last minute must not count against this one's half.
    await quietWorkspace();
    await emulator("/__emulator/workspace", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ rateLimitPerMinute: 120, rateLimitHeaders: "always" }) });
    try {
      // A first signup teaches the scheduler the pace (X-RateLimit-Limit on its answer).
      await webhook("user.created", uniqueId("teacher"), T0, "Teacher");
      const users = Array.from({ length: 200 }, (_, i) => clerkUser(uniqueId(`bulk${i}`), `Bulk${i}`, T0 + i));
      await setClerkUsers(users);
      const started = Date.now();
      const cycle = await runCycle("clerk");
      expect(cycle.last_cycle).toMatchObject({ users_seen: 200, created: 200 });

      // Reconcile work is under way; a user signs up.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const signup = uniqueId("live");
      const posted = Date.now();
      expect((await postClerk(clerkAt("user.created", signup, Date.now(), "Live"))).status).toBe(200);
      await waitForOrq([signup], (_id, identity) => identity !== null, 10_000);
      const landedMs = Date.now() - posted;

      const creates = (await orqRequests()).filter((request: Json) => request.method === "POST" && users.some((user) => user.id === request.externalId));
      const elapsedMs = Date.now() - started;
      console.info(`signup landed ${landedMs} ms after it was sent, with ${creates.length} of 200 reconcile creates out after ${elapsedMs} ms`);
      expect(landedMs).toBeLessThanOrEqual(5_000);
      // Half of 120/min: within the first minute at most 60 reconcile calls (and some went out).
      expect(creates.length).toBeGreaterThan(0);
      expect(creates.length).toBeLessThanOrEqual(60);
      const stats = await env.ORQ_SCHEDULER.getByName("orq-workspace").stats();
      expect(stats.reconcileBacklog).toBeGreaterThan(0);
    } finally {
      await emulator("/__emulator/workspace", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ rateLimitPerMinute: null }) });
      // The rest of the 200 would drain at 60/min for minutes: the scheduler starts afresh (its waiting list
      // gone, those identities wait for their 10-minute safety alarm), so later tests see a quiet workspace.
      await runInDurableObject(env.ORQ_SCHEDULER.getByName("orq-workspace"), async (instance: DeliveryScheduler, state) => {
        await state.storage.deleteAlarm();
        await state.storage.deleteAll();
        Object.assign(instance, new DeliveryScheduler(state, env));
      });
    }
  });
});

async function orqBudgetByHand(method: "PATCH" | "DELETE", budgetId: string, body?: Json): Promise<number> {
  const response = await fetch(`${env.ORQ_API_URL}/v2/budgets/${budgetId}`, {
    method,
    headers: { authorization: `Bearer ${DEV_SECRETS.ORQ_API_KEY}`, "content-type": "application/json" },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  await response.body?.cancel();
  return response.status;
}
