/**
 * `npm run backfill`: existing Clerk and Auth0 users imported into orq.ai (the emulator) from local
 * fakes of their management APIs, which paginate and rate-limit as documented. Where the mapping
 * matters, the backfilled identity is compared with what the real bridge (under `wrangler dev`)
 * makes of a signed webhook carrying the same user.
 *
 * The backfill runs the reconcile engine: it reads orq.ai with the identities list filtered by the
 * provider's tag (shared by every file of this project, so it sees other tests' identities too),
 * never with a GET per user, and writes only the users that differ.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import type { EmulatedIdentity, LoggedRequest } from "../../emulator/orq-emulator";
import { runBackfill, type BackfillOptions, type BackfillResult } from "../../cli/lib/backfill/run-backfill";
import { buildSampleRequest, sendSampleRequest, type Json } from "../../signing/sample-webhooks";
import { auth0User, startFakeAuth0Api, type Auth0User, type FakeAuth0Api } from "../support/fake-auth0-api";
import { clerkUser, startFakeClerkApi, type ClerkUser, type FakeClerkApi } from "../support/fake-clerk-api";
import { DEV_SECRETS } from "../support/secrets";
import { TEST_BRIDGE_VARS, uniqueId, waitForIdentity } from "./dev-server";
import { runEntryFile } from "./doctor-harness";

const orqUrl = inject("orqUrl");
const bridgeUrl = inject("bridgeUrl");

/** Short backoff so tests of retries stay quick; waits an API asks for are honoured regardless. */
const TEST_RETRY = { attempts: 3, baseDelayMs: 50, maxWaitMs: 10_000 };

const fakes: Array<{ close(): Promise<void> }> = [];
const tempDirs: string[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh checkpoint folder, removed after the test. */
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "backfill-test-"));
  tempDirs.push(dir);
  return dir;
}

async function clerkApi(users: ClerkUser[]): Promise<FakeClerkApi> {
  const fake = await startFakeClerkApi({ users });
  fakes.push(fake);
  return fake;
}

async function auth0Api(users: Auth0User[], options: { exportPendingPolls?: number } = {}): Promise<FakeAuth0Api> {
  const fake = await startFakeAuth0Api({ users, ...options });
  fakes.push(fake);
  return fake;
}

const clerkEnv = (fake: FakeClerkApi) => ({ CLERK_SECRET_KEY: fake.secretKey, CLERK_API_URL: fake.url });
const auth0Env = (fake: FakeAuth0Api) => ({ AUTH0_DOMAIN: fake.domain, AUTH0_BASE_URL: fake.url, AUTH0_CLIENT_ID: fake.clientId, AUTH0_CLIENT_SECRET: fake.clientSecret });

interface Run {
  result: BackfillResult & { status: Exclude<BackfillResult["status"], "not_started"> };
  /** Report lines (stdout in the CLI). */
  printed: string[];
  /** Everything written to the progress display (stderr in the CLI). */
  progress: string;
}

/**
 * Runs the backfill with the same mapping variables as the test bridge (TEST_BRIDGE_VARS), so
 * its identities can be compared with the bridge's.
 */
async function backfill(provider: string, env: Record<string, string>, options: Partial<BackfillOptions> = {}): Promise<Run> {
  const printed: string[] = [];
  let progress = "";
  const result = await runBackfill({
    provider,
    env: { ...TEST_BRIDGE_VARS, ORQ_API_URL: orqUrl, ...env },
    checkpointDir: tempDir(),
    retry: TEST_RETRY,
    progress: { write: (text) => (progress += text), isTTY: false },
    progressIntervalMs: 100,
    print: (line) => printed.push(line),
    ...options,
    choices: { "auth0-export-poll-ms": "20", ...options.choices },
  });
  if (result.status === "not_started") throw new Error(`backfill did not start: ${result.problem}`);
  return { result, printed, progress };
}

async function emulatorJson(path: string): Promise<Json> {
  const response = await fetch(`${orqUrl}${path}`);
  expect(response.status).toBe(200);
  return response.json();
}

async function identitiesStartingWith(prefix: string): Promise<EmulatedIdentity[]> {
  const { identities } = (await emulatorJson("/__emulator/identities")) as { identities: EmulatedIdentity[] };
  return identities.filter((identity) => identity.external_id.startsWith(prefix));
}

async function requestsStartingWith(prefix: string, since = 0): Promise<LoggedRequest[]> {
  const { requests } = (await emulatorJson("/__emulator/requests")) as { requests: LoggedRequest[] };
  return requests.filter((request) => request.externalId?.startsWith(prefix) && request.at >= since);
}

const writesOf = (requests: LoggedRequest[]) => requests.filter((request) => request.method !== "GET");

/** The identities-list requests (`GET /v2/identities?…`) since `since`. */
async function listingsSince(since: number): Promise<LoggedRequest[]> {
  const { requests } = (await emulatorJson("/__emulator/requests")) as { requests: LoggedRequest[] };
  return requests.filter((request) => request.method === "GET" && request.path.startsWith("/v2/identities?") && request.at >= since);
}

/**
 * Narrows the backfill's listing of the identities it owns to those whose external id contains
 * `prefix` (the emulator's `search`): the emulator is shared, and a test of deletions must not
 * count other tests' users as gone.
 */
function ownedOnly(prefix: string): typeof fetch {
  return (input, init) => {
    const url = new URL(String(input));
    if (url.pathname === "/v2/identities" && url.searchParams.has("filter_by.tags")) url.searchParams.set("search", prefix);
    return fetch(url, init);
  };
}

async function identityOf(externalId: string): Promise<EmulatedIdentity> {
  const response = await fetch(`${orqUrl}/__emulator/identities/${encodeURIComponent(externalId)}`);
  expect(response.status, `orq.ai holds ${externalId}`).toBe(200);
  return response.json() as Promise<EmulatedIdentity>;
}

/** The identity's profile: what a user sees in orq.ai, without the ids and times that differ per identity. */
function profileOf(identity: EmulatedIdentity): Omit<EmulatedIdentity, "_id" | "external_id" | "workspace_id" | "created" | "updated"> {
  const { _id, external_id, workspace_id, created, updated, ...profile } = identity;
  return profile;
}

/** What the bridge makes of a signed webhook about a twin of `user` (same data, another id). */
async function webhookTwin(provider: "clerk" | "auth0", user: Json, twinId: string): Promise<EmulatedIdentity> {
  const request = buildSampleRequest(provider, "user.created", {
    bridgeUrl,
    userId: twinId,
    secrets: DEV_SECRETS,
    patch: (payload) => {
      if (provider === "clerk") payload.data = { ...user, id: twinId };
      else payload.data.object = { ...user, user_id: twinId };
    },
  });
  expect(await sendSampleRequest(request)).toMatchObject({ status: 200 });
  return waitForIdentity(orqUrl, twinId);
}

describe("backfill from Clerk", () => {
  it("lands every user, page after page, with the identity a webhook about the same user gives", async () => {
    const prefix = uniqueId("user_bfc");
    const primaryLast = clerkUser(`${prefix}_primary_last`, {
      email_addresses: [
        { id: "idn_other", object: "email_address", email_address: "old-address@example.com", verification: null, linked_to: [] },
        { id: "idn_main", object: "email_address", email_address: "main-address@example.com", verification: null, linked_to: [] },
      ],
      primary_email_address_id: "idn_main",
    });
    const usernameOnly = clerkUser(`${prefix}_username`, { first_name: null, last_name: null, username: "ada_l" });
    const legacyImage = clerkUser(`${prefix}_legacy_image`, { image_url: null, profile_image_url: "https://img.clerk.com/legacy" });
    const withMetadata = clerkUser(`${prefix}_metadata`, { public_metadata: { plan: "pro", department: "research", internal_note: "not copied" } });
    const noEmail = clerkUser(`${prefix}_no_email`, { email_addresses: [], primary_email_address_id: null });
    const specials = [primaryLast, usernameOnly, legacyImage, withMetadata, noEmail];
    const users = [...Array.from({ length: 226 }, (_, index) => clerkUser(`${prefix}_${String(index).padStart(4, "0")}`)), ...specials];
    const fake = await clerkApi(users);

    const { result } = await backfill("clerk", clerkEnv(fake), { pageSize: 100 });

    expect(result).toMatchObject({ status: "completed", total: 231, counts: { created: 231, updated: 0, unchanged: 0, failed: 0 } });
    expect(await identitiesStartingWith(prefix)).toHaveLength(231);
    const listed = fake.requests().filter((request) => request.path === "/v1/users");
    expect(listed.map((request) => request.query)).toEqual([0, 100, 200].map((offset) => ({ limit: "100", offset: String(offset), order_by: "+created_at" })));

    for (const user of specials) {
      const backfilled = await identityOf(user.id);
      const twin = await webhookTwin("clerk", user, uniqueId("user_bfc_twin"));
      expect(profileOf(backfilled), user.id).toEqual(profileOf(twin));
    }
    expect(await identityOf(primaryLast.id)).toMatchObject({ email: "main-address@example.com", display_name: "John Doe" });
    expect(await identityOf(usernameOnly.id)).toMatchObject({ display_name: "ada_l" });
    expect(await identityOf(legacyImage.id)).toMatchObject({ avatar_url: "https://img.clerk.com/legacy" });
    expect((await identityOf(withMetadata.id)).metadata).toEqual({ plan: "pro", department: "research", provider: "clerk", provider_created_at: new Date(withMetadata.created_at).toISOString() });
    expect(await identityOf(noEmail.id)).not.toHaveProperty("email");
    expect(await identityOf(`${prefix}_0000`)).toMatchObject({ display_name: "John Doe", email: `${prefix}_0000`.toLowerCase() + "@example.com", tags: ["clerk", "node-e2e"] });
  });

  it("gives each user the budget of its plan (ORQ_BUDGETS), as the Worker does, and a re-run writes nothing", async () => {
    const prefix = uniqueId("user_bfbudget");
    const budgets = JSON.stringify({ by: "plan", plans: { pro: { amount: 20, period: "monthly", requests_per_minute: 60 } } });
    const users = [
      clerkUser(`${prefix}_pro`, { public_metadata: { plan: "pro" } }),
      clerkUser(`${prefix}_none`, { public_metadata: { plan: "hobby" } }),
    ];
    const fake = await clerkApi(users);
    const { result } = await backfill("clerk", { ...clerkEnv(fake), ORQ_BUDGETS: budgets });
    expect(result).toMatchObject({ status: "completed", counts: { created: 2, failed: 0 } });
    const budgetOf = async (externalId: string) => {
      const response = await fetch(`${orqUrl}/__emulator/budgets?external_id=${encodeURIComponent(externalId)}`);
      return response.status === 404 ? null : response.json();
    };
    expect(await budgetOf(`${prefix}_pro`)).toMatchObject({ limits: { period: "BUDGET_PERIOD_MONTHLY", amount: 20 }, rate_limit: { requests_per_minute: 60 } });
    expect(await budgetOf(`${prefix}_none`)).toBeNull();
    const again = await backfill("clerk", { ...clerkEnv(fake), ORQ_BUDGETS: budgets });
    expect(again.result).toMatchObject({ status: "completed", counts: { created: 0, updated: 0, unchanged: 2 } });
  });

  it("a re-run writes nothing: every identity is already right", async () => {
    const prefix = uniqueId("user_bfrerun");
    const fake = await clerkApi(Array.from({ length: 120 }, (_, index) => clerkUser(`${prefix}_${index}`)));
    const first = await backfill("clerk", clerkEnv(fake));
    expect(first.result.counts).toEqual({ created: 120, updated: 0, unchanged: 0, failed: 0 });

    const secondStartedAt = Date.now();
    const second = await backfill("clerk", clerkEnv(fake));

    expect(second.result).toMatchObject({ status: "completed", counts: { created: 0, updated: 0, unchanged: 120, failed: 0 } });
    // orq.ai is read with the tag listing, not one GET per user, and nobody is written.
    expect(await requestsStartingWith(prefix, secondStartedAt)).toEqual([]);
    expect((await listingsSince(secondStartedAt)).some((request) => request.path.includes("filter_by.tags=clerk"))).toBe(true);
    expect(second.printed.at(-1)).toMatch(/completed · create 0 · update 0 · unchanged 120 · failed 0/);
  });

  it("reads orq.ai with the tag listing and writes only the users that differ (renamed at Clerk, edited or deleted by hand in orq.ai)", async () => {
    const prefix = uniqueId("user_bfdiff");
    const users = Array.from({ length: 30 }, (_, index) => clerkUser(`${prefix}_${String(index).padStart(2, "0")}`));
    const fake = await clerkApi(users);
    await backfill("clerk", clerkEnv(fake));
    // Two renamed at Clerk; one identity edited by hand in orq.ai, one deleted there.
    const renamed = [1, 2].map((index) => ({ ...users[index]!, last_name: `Renamed${index}` }));
    users.splice(1, 2, ...renamed);
    fake.users = users;
    const orqApi = (path: string, init: RequestInit) => fetch(`${orqUrl}/v2/identities/${encodeURIComponent(path)}`, { ...init, headers: { authorization: `Bearer ${DEV_SECRETS.ORQ_API_KEY}`, "content-type": "application/json" } });
    expect((await orqApi(users[3]!.id, { method: "PATCH", body: JSON.stringify({ display_name: "Edited by hand" }) })).status).toBe(200);
    expect((await orqApi(users[4]!.id, { method: "DELETE" })).status).toBeLessThan(300);

    // The emulator logs in milliseconds: let the hand edits' millisecond pass.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const rerunStartedAt = Date.now();
    const { result } = await backfill("clerk", clerkEnv(fake), { pageSize: 10 });

    expect(result).toMatchObject({ status: "completed", counts: { created: 1, updated: 3, unchanged: 26, failed: 0 } });
    // Only the four that differ are written (no GET per user), each once.
    const requests = await requestsStartingWith(prefix, rerunStartedAt);
    expect(requests.map((request) => `${request.method} ${request.externalId}`).sort()).toEqual(
      [`PATCH ${users[1]!.id}`, `PATCH ${users[2]!.id}`, `PATCH ${users[3]!.id}`, `POST ${users[4]!.id}`].sort(),
    );
    const listings = await listingsSince(rerunStartedAt);
    expect(listings.length).toBeGreaterThanOrEqual(1);
    for (const listing of listings.filter((request) => request.path.includes("filter_by.tags=clerk"))) {
      expect(new URL(listing.path, orqUrl).searchParams.get("limit")).toBe("200");
    }
    expect(listings.some((request) => request.path.includes("filter_by.tags=clerk"))).toBe(true);
    expect(await identityOf(users[3]!.id)).toMatchObject({ display_name: "John Doe" });
    expect(await identityOf(users[1]!.id)).toMatchObject({ display_name: "John Renamed1" });
    expect(await identityOf(users[4]!.id)).toMatchObject({ tags: ["clerk", "node-e2e"] });
  });

  it("deletes nothing unless --delete; with it, users gone from Clerk are deleted (each confirmed by a 404), beyond RECONCILE_MAX_DELETES only with --confirm-deletes", async () => {
    const prefix = uniqueId("user_bfdel");
    const users = Array.from({ length: 20 }, (_, index) => clerkUser(`${prefix}_${String(index).padStart(2, "0")}`));
    const fake = await clerkApi(users);
    const fetchOwn = ownedOnly(prefix);
    await backfill("clerk", clerkEnv(fake), { fetch: fetchOwn });
    const [gone, ...rest] = users;
    fake.users = rest;

    const kept = await backfill("clerk", clerkEnv(fake), { fetch: fetchOwn });
    expect(kept.result).toMatchObject({ status: "completed", counts: { unchanged: 19 }, cycle: { counts: { deleted: 0, deletions_held_back: 1 } } });
    expect(kept.progress).toContain("1 identities tagged clerk in orq.ai belong to no listed user; none was deleted (a backfill deletes only with --delete)");
    expect(kept.printed.at(-1)).not.toMatch(/delete/);
    await identityOf(gone!.id);

    const deletedAt = Date.now();
    const deleting = await backfill("clerk", clerkEnv(fake), { fetch: fetchOwn, delete: true });
    expect(deleting.result).toMatchObject({ status: "completed", counts: { unchanged: 19 }, cycle: { counts: { deleted: 1, deletions_held_back: 0 } } });
    expect(deleting.printed.map((line) => line.replace(/\s+/g, " "))).toContain(`deleted ${gone!.id}`);
    expect(deleting.printed.at(-1)).toMatch(/completed · create 0 · update 0 · unchanged 19 · failed 0 · delete 1 · /);
    expect(fake.requests().filter((request) => request.path === `/v1/users/${gone!.id}`).map((request) => request.status)).toEqual([404]);
    expect(writesOf(await requestsStartingWith(prefix, deletedAt)).map((request) => `${request.method} ${request.externalId} ${request.status}`)).toEqual([`DELETE ${gone!.id} 200`]);
    expect((await fetch(`${orqUrl}/__emulator/identities/${encodeURIComponent(gone!.id)}`)).status).toBe(404);

    // Six more gone: more than RECONCILE_MAX_DELETES (default 5 here), so none is deleted until confirmed.
    fake.users = rest.slice(6);
    const held = await backfill("clerk", clerkEnv(fake), { fetch: fetchOwn, delete: true });
    expect(held.result).toMatchObject({ status: "completed", cycle: { counts: { deleted: 0, deletions_held_back: 6 } } });
    expect(held.progress).toMatch(/Deletions held back: 6 deletions exceed RECONCILE_MAX_DELETES \(5\); run again with --delete --confirm-deletes to go ahead/);
    expect(held.printed.at(-1)).toMatch(/ · delete 0 · deletions held back 6 · /);
    expect(await identitiesStartingWith(prefix)).toHaveLength(19);

    const confirmed = await backfill("clerk", clerkEnv(fake), { fetch: fetchOwn, delete: true, confirmDeletes: true });
    expect(confirmed.result).toMatchObject({ status: "completed", cycle: { counts: { deleted: 6, deletions_held_back: 0 } } });
    expect((await identitiesStartingWith(prefix)).map((identity) => identity.external_id).sort()).toEqual(rest.slice(6).map((user) => user.id).sort());
  });

  it("--dry-run reports what would be created, updated or left alone, and writes nothing", async () => {
    const prefix = uniqueId("user_bfdry");
    const users = Array.from({ length: 12 }, (_, index) => clerkUser(`${prefix}_${String(index).padStart(2, "0")}`));
    const fake = await clerkApi(users.slice(0, 8));
    await backfill("clerk", clerkEnv(fake));
    // At Clerk, meanwhile: two renamed, one with a new plan, four new users.
    const grace: ClerkUser = { ...users[1], first_name: "Grace", last_name: "Hopper" };
    const renamed: ClerkUser = { ...users[2], last_name: "Renamed" };
    const upgraded: ClerkUser = { ...users[3], public_metadata: { plan: "enterprise" } };
    users.splice(1, 3, grace, renamed, upgraded);
    fake.users = users;

    const dryRunStartedAt = Date.now();
    const checkpointDir = tempDir();
    const dry = await backfill("clerk", clerkEnv(fake), { dryRun: true, checkpointDir });

    expect(dry.result).toMatchObject({ status: "completed", dryRun: true, counts: { created: 4, updated: 3, unchanged: 5, failed: 0 } });
    expect(writesOf(await requestsStartingWith(prefix, dryRunStartedAt))).toEqual([]);
    expect(existsSync(join(checkpointDir, "clerk.json"))).toBe(false);
    const plan = dry.printed.slice(0, -1).map((line) => line.replace(/\s+/g, " "));
    expect(plan).toEqual(
      expect.arrayContaining([
        `would update ${grace.id} (display_name)`,
        `would update ${renamed.id} (display_name)`,
        `would update ${upgraded.id} (metadata)`,
        ...users.slice(8).map((user) => `would create ${user.id}`),
      ]),
    );
    expect(plan).toHaveLength(7);
    expect(dry.printed.at(-1)).toMatch(/\(dry run\): completed · would create 4 · would update 3 · unchanged 5 · failed 0 .* nothing was written$/);
    expect(await identitiesStartingWith(prefix)).toHaveLength(8);

    const real = await backfill("clerk", clerkEnv(fake));
    expect(real.result.counts).toEqual({ created: 4, updated: 3, unchanged: 5, failed: 0 });
    expect(await identityOf(grace.id)).toMatchObject({ display_name: "Grace Hopper" });
    expect((await identityOf(upgraded.id)).metadata).toMatchObject({ plan: "enterprise" });
  });

  it("resumes after the listing failed mid-way, from the checkpoint, without listing done pages again", async () => {
    const prefix = uniqueId("user_bfresume");
    const fake = await clerkApi(Array.from({ length: 250 }, (_, index) => clerkUser(`${prefix}_${String(index).padStart(3, "0")}`)));
    fake.addFault({ matches: (request) => request.path === "/v1/users" && Number(request.query.get("offset")) >= 150, reply: { status: 500, body: { errors: [{ message: "down" }] } } });
    const checkpointDir = tempDir();

    const first = await backfill("clerk", clerkEnv(fake), { pageSize: 50, checkpointDir });

    expect(first.result).toMatchObject({ status: "stopped", counts: { created: 150, failed: 0 }, checkpointFile: join(checkpointDir, "clerk.json") });
    expect(first.result.reason).toMatch(/Clerk GET \/v1\/users: answered 500 after 3 attempts/);
    expect(JSON.parse(readFileSync(join(checkpointDir, "clerk.json"), "utf8"))).toMatchObject({ cycle: { phase: "users", usersCursor: { offset: 150 }, counts: { created: 150 } }, work: [] });
    expect(first.progress).toMatch(/Checkpoint saved to .*clerk\.json: run the same command again to resume/);

    fake.clearFaults();
    const resumedAt = Date.now();
    const second = await backfill("clerk", clerkEnv(fake), { pageSize: 50, checkpointDir });

    expect(second.result).toMatchObject({ status: "completed", doneThisRun: 100, counts: { created: 250, updated: 0, unchanged: 0, failed: 0 } });
    const offsetsListed = fake.requests().filter((request) => request.path === "/v1/users" && request.at >= resumedAt).map((request) => Number(request.query.offset));
    expect(offsetsListed).toEqual([150, 200, 250]);
    const writes = writesOf(await requestsStartingWith(prefix));
    expect(writes.filter((write) => write.method === "POST" && write.status === 201)).toHaveLength(250);
    expect(writes.filter((write) => write.method !== "POST")).toEqual([]);
    expect(existsSync(join(checkpointDir, "clerk.json"))).toBe(false);
  });

  it("Ctrl-C mid-page saves where it stopped; the next run finishes without writing anyone twice", async () => {
    const prefix = uniqueId("user_bfint");
    const fake = await clerkApi(Array.from({ length: 200 }, (_, index) => clerkUser(`${prefix}_${String(index).padStart(3, "0")}`)));
    const checkpointDir = tempDir();
    const controller = new AbortController();
    let posts = 0;
    const countingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (init?.method === "POST" && ++posts === 60) controller.abort();
      return response;
    };

    const first = await backfill("clerk", clerkEnv(fake), { checkpointDir, signal: controller.signal, fetch: countingFetch });

    expect(first.result.status).toBe("interrupted");
    const saved = JSON.parse(readFileSync(join(checkpointDir, "clerk.json"), "utf8"));
    // The engine's cycle: the one page is listed; what is not written yet is its pending work.
    expect(saved.cycle).toMatchObject({ phase: "deletions", usersPages: 1 });
    expect(saved.cycle.counts.created).toBeGreaterThanOrEqual(56);
    expect(saved.cycle.counts.created + saved.work.length).toBe(200);
    expect(posts).toBeLessThan(200);

    const second = await backfill("clerk", clerkEnv(fake), { checkpointDir });

    expect(second.result.status).toBe("completed");
    const { created, unchanged, updated, failed } = second.result.counts;
    expect({ done: created + unchanged, updated, failed }).toEqual({ done: 200, updated: 0, failed: 0 });
    const successfulPosts = writesOf(await requestsStartingWith(prefix)).filter((write) => write.method === "POST" && write.status === 201);
    expect(new Set(successfulPosts.map((write) => write.externalId)).size).toBe(200);
    expect(successfulPosts).toHaveLength(200);
  });

  it("waits out Clerk's Retry-After, and one orq.ai 429 pauses every worker for its Retry-After", async () => {
    const prefix = uniqueId("user_bfrate");
    const fake = await clerkApi(Array.from({ length: 40 }, (_, index) => clerkUser(`${prefix}_${String(index).padStart(2, "0")}`)));
    fake.rateLimitOnce((request) => request.path === "/v1/users" && request.query.get("offset") === "20", 1);
    const faultRule = { externalIdPrefix: prefix, method: "POST", times: 1, faults: [{ status: 429, retryAfter: 1 }] };
    expect((await fetch(`${orqUrl}/__emulator/faults`, { method: "POST", body: JSON.stringify({ rules: [faultRule] }) })).status).toBe(200);

    try {
      const { result, progress } = await backfill("clerk", clerkEnv(fake), { pageSize: 20 });

      expect(result).toMatchObject({ status: "completed", counts: { created: 40, failed: 0 } });
      const pageTwo = fake.requests().filter((request) => request.path === "/v1/users" && request.query.offset === "20");
      expect(pageTwo.map((request) => request.status)).toEqual([429, 200]);
      expect((pageTwo[1]?.at ?? 0) - (pageTwo[0]?.at ?? 0)).toBeGreaterThanOrEqual(990);
      expect(progress).toMatch(/Clerk GET \/v1\/users: rate limited \(429\): waiting 1\.\d s/);

      const requests = await requestsStartingWith(prefix);
      const limited = requests.find((request) => request.status === 429);
      expect(limited).toBeDefined();
      const limitedAt = limited?.at ?? 0;
      const retried = requests.find((request) => request.externalId === limited?.externalId && request.method === "POST" && request.status === 201);
      expect((retried?.at ?? 0) - limitedAt).toBeGreaterThanOrEqual(990);
      // Without the shared pause the other three workers would go through ~35 requests in that second;
      // with it, only what was already on its way (or sent before the 429 was read) arrives.
      const duringPause = requests.filter((request) => request.at > limitedAt && request.at < limitedAt + 950);
      expect(duringPause.length).toBeLessThanOrEqual(8);
      expect(await identitiesStartingWith(prefix)).toHaveLength(40);
    } finally {
      await fetch(`${orqUrl}/__emulator/faults?externalIdPrefix=${encodeURIComponent(prefix)}`, { method: "DELETE" });
    }
  });

  it("reports users orq.ai cannot take as failed, with the reason, and lands the others", async () => {
    const prefix = uniqueId("user_bffail");
    const tooLong = clerkUser(`${prefix}_${"x".repeat(120)}`);
    const rejected = clerkUser(`${prefix}_rejected`);
    const fake = await clerkApi([...Array.from({ length: 10 }, (_, index) => clerkUser(`${prefix}_${index}`)), tooLong, rejected]);
    const faultRule = { externalIdPrefix: rejected.id, method: "POST", faults: [{ status: 422 }] };
    expect((await fetch(`${orqUrl}/__emulator/faults`, { method: "POST", body: JSON.stringify({ rules: [faultRule] }) })).status).toBe(200);

    try {
      const { result, progress } = await backfill("clerk", clerkEnv(fake));

      expect(result).toMatchObject({ status: "completed", counts: { created: 10, failed: 2 } });
      expect(result.failures).toEqual([
        { userId: tooLong.id, reason: expect.stringMatching(/^invalid identity: external_id: is longer than 120 characters/) },
        { userId: rejected.id, reason: expect.stringMatching(/^orq\.ai answered 422/) },
      ]);
      expect(progress).toContain(`failed  ${rejected.id}: orq.ai answered 422`);
      expect(await identitiesStartingWith(prefix)).toHaveLength(10);
    } finally {
      await fetch(`${orqUrl}/__emulator/faults?externalIdPrefix=${encodeURIComponent(rejected.id)}`, { method: "DELETE" });
    }
  });

  it("stops at once, keeping the checkpoint, when orq.ai rejects the API key", async () => {
    const prefix = uniqueId("user_bfkey");
    const fake = await clerkApi(Array.from({ length: 50 }, (_, index) => clerkUser(`${prefix}_${index}`)));

    // The first orq.ai request is the identities list: rejected there, nothing else is tried.
    const rejectingList: typeof fetch = async (input, init) =>
      new URL(String(input)).pathname === "/v2/identities" ? new Response(JSON.stringify({ message: "Unauthorized" }), { status: 401 }) : fetch(input, init);
    const listed = await backfill("clerk", clerkEnv(fake), { fetch: rejectingList });
    expect(listed.result).toMatchObject({ status: "stopped", counts: { created: 0, updated: 0, unchanged: 0, failed: 0 }, checkpointFile: expect.stringMatching(/clerk\.json$/) });
    expect(listed.result.reason).toMatch(/^orq\.ai identities list: orq\.ai rejected the API key \(401\): check ORQ_API_KEY/);
    expect(fake.requests().filter((request) => request.path === "/v1/users")).toHaveLength(1);

    // Rejected on the writes: each worker finds out once.
    const faultRule = { externalIdPrefix: prefix, method: "POST", faults: [{ status: 401 }] };
    expect((await fetch(`${orqUrl}/__emulator/faults`, { method: "POST", body: JSON.stringify({ rules: [faultRule] }) })).status).toBe(200);
    const checkpointDir = tempDir();

    try {
      const { result } = await backfill("clerk", clerkEnv(fake), { checkpointDir });

      expect(result).toMatchObject({ status: "stopped", counts: { created: 0, failed: 0 }, checkpointFile: join(checkpointDir, "clerk.json") });
      expect(result.reason).toMatch(/orq\.ai rejected the API key \(401\): check ORQ_API_KEY/);
      // Each worker found out once; nobody went on to the other users.
      expect((await requestsStartingWith(prefix)).length).toBeLessThanOrEqual(4);
    } finally {
      await fetch(`${orqUrl}/__emulator/faults?externalIdPrefix=${encodeURIComponent(prefix)}`, { method: "DELETE" });
    }
  });

  it("on a terminal, redraws one progress line in place and prints notes above it", async () => {
    const prefix = uniqueId("user_bftty");
    const fake = await clerkApi(Array.from({ length: 30 }, (_, index) => clerkUser(`${prefix}_${index}`)));
    fake.rateLimitOnce((request) => request.path === "/v1/users" && request.query.get("offset") === "20", 0);
    let terminal = "";

    await backfill("clerk", clerkEnv(fake), { progress: { write: (text) => (terminal += text), isTTY: true }, pageSize: 10 });

    const redraws = terminal.split("\r").filter((chunk) => chunk.startsWith("backfill clerk"));
    expect(redraws.length).toBeGreaterThanOrEqual(1);
    expect(redraws.every((chunk) => chunk.includes("\x1b[K"))).toBe(true);
    expect(terminal).toContain("\r\x1b[KClerk GET /v1/users: rate limited (429): waiting");
    expect(terminal).toMatch(/\rbackfill clerk {2}\[#{24}\] {2}30\/30 {2}100% {2}[\d.]+ users\/s {2}· create 30 · update 0 · unchanged 0 · failed 0\x1b\[K\n$/);
  });

  it("does not start, and says why, without a usable key or with an invalid mapping setting", async () => {
    const fake = await clerkApi([clerkUser(uniqueId("user_bfcfg"))]);
    const base = { ...TEST_BRIDGE_VARS, ORQ_API_URL: orqUrl };
    const quiet = { progress: { write: () => {} }, print: () => {}, retry: TEST_RETRY };

    expect(await runBackfill({ provider: "clerk", env: { ...base, CLERK_API_URL: fake.url }, ...quiet })).toEqual({
      status: "not_started",
      problem: expect.stringContaining("CLERK_SECRET_KEY is not set"),
    });
    expect(await runBackfill({ provider: "clerk", env: { ...base, ...clerkEnv(fake), CLERK_SECRET_KEY: "sk_test_wrong" }, ...quiet })).toEqual({
      status: "not_started",
      problem: expect.stringMatching(/Clerk rejected CLERK_SECRET_KEY \(401\)/),
    });
    expect(await runBackfill({ provider: "clerk", env: { ...base, ...clerkEnv(fake), ORQ_EXTERNAL_ID_SOURCE: "email" }, ...quiet })).toEqual({
      status: "not_started",
      problem: expect.stringContaining("ORQ_EXTERNAL_ID_SOURCE"),
    });
    expect(await runBackfill({ provider: "clerk", env: { ...clerkEnv(fake), ORQ_API_URL: orqUrl }, ...quiet })).toEqual({ status: "not_started", problem: "ORQ_API_KEY is not set" });
    expect(await runBackfill({ provider: "okta-nope", env: base, ...quiet })).toMatchObject({ status: "not_started", problem: expect.stringContaining("unknown provider") });
    // A checkpoint of the backfill before it ran the reconcile engine cannot be resumed.
    const checkpointDir = tempDir();
    writeFileSync(join(checkpointDir, "clerk.json"), JSON.stringify({ version: 1, provider: "clerk", settings: {}, position: { cursor: { offset: 500 }, skip: 0 }, counts: {} }));
    expect(await runBackfill({ provider: "clerk", env: { ...base, ...clerkEnv(fake) }, checkpointDir, ...quiet })).toEqual({
      status: "not_started",
      problem: expect.stringMatching(/clerk\.json was saved by an earlier version of the backfill and cannot be resumed; start over with --restart/),
    });
  });

  it("backfills 2,000 users across four 500-user pages (the measured rate is printed)", async () => {
    const prefix = uniqueId("user_bfbulk");
    const fake = await clerkApi(Array.from({ length: 2000 }, (_, index) => clerkUser(`${prefix}_${String(index).padStart(4, "0")}`)));

    const { result } = await backfill("clerk", clerkEnv(fake));

    expect(result).toMatchObject({ status: "completed", total: 2000, counts: { created: 2000, failed: 0 } });
    expect(fake.requests().filter((request) => request.path === "/v1/users").map((request) => request.query.offset)).toEqual(["0", "500", "1000", "1500", "2000"]);
    expect(await identitiesStartingWith(prefix)).toHaveLength(2000);
    console.log(`[backfill rate] 2000 Clerk users (created) in ${(result.elapsedMs / 1000).toFixed(2)} s: ${result.usersPerSecond.toFixed(0)} users/s`);

    const rerun = await backfill("clerk", clerkEnv(fake));
    expect(rerun.result.counts.unchanged).toBe(2000);
    console.log(`[backfill rate] 2000 Clerk users (unchanged re-run) in ${(rerun.result.elapsedMs / 1000).toFixed(2)} s: ${rerun.result.usersPerSecond.toFixed(0)} users/s`);
  }, 180_000);
});

describe("backfill from Auth0", () => {
  it("pages through the Management API with a client-credentials token, honours X-RateLimit-Reset, and maps like the webhook", async () => {
    const prefix = `auth0|${uniqueId("bfa")}`;
    // As Auth0 stores a database-connection user: `name` is the email address, so the username is the display name.
    const usernameOnly = auth0User(`${prefix}_username`, { given_name: undefined, family_name: undefined, name: "jane@example.com", username: "janedoe" });
    const nameOnly = auth0User(`${prefix}_name`, { given_name: undefined, family_name: undefined, username: undefined, name: "Jane Name", nickname: "jn" });
    const nicknameOnly = auth0User(`${prefix}_nickname`, { given_name: undefined, family_name: undefined, username: undefined, name: undefined, nickname: "nick" });
    const teamPlan = auth0User(`${prefix}_plan`, { app_metadata: { plan: "team", role: "admin" } });
    const specials = [usernameOnly, nameOnly, nicknameOnly, teamPlan];
    const fake = await auth0Api([...Array.from({ length: 146 }, (_, index) => auth0User(`${prefix}_${String(index).padStart(3, "0")}`)), ...specials]);
    fake.rateLimitOnce((request) => request.path === "/api/v2/users" && request.query.get("page") === "1", 1);
    // Mid-run the token stops working (it expired): a new one is fetched and the page asked again.
    fake.addFault({ matches: (request) => request.path === "/api/v2/users" && request.query.get("page") === "2", times: 1, reply: { status: 401, body: { statusCode: 401, error: "Unauthorized", message: "Expired token" } } });

    const { result, progress } = await backfill("auth0", auth0Env(fake), { pageSize: 50 });

    expect(result).toMatchObject({ status: "completed", total: 150, counts: { created: 150, failed: 0 } });
    expect(await identitiesStartingWith(prefix)).toHaveLength(150);
    const log = fake.requests();
    expect(log.filter((request) => request.path === "/oauth/token").map((request) => request.status)).toEqual([200, 200]);
    const pages = log.filter((request) => request.path === "/api/v2/users");
    // Auth0's total (150) says page 2 is the last: no empty page 3 is asked for.
    expect(pages.map((request) => `${request.query.page}:${request.status}`)).toEqual(["0:200", "1:429", "1:200", "2:401", "2:200"]);
    expect(pages[0]?.query).toMatchObject({ search_engine: "v3", per_page: "50", include_totals: "true", sort: "created_at:1" });
    expect(pages[0]?.query).not.toHaveProperty("q");
    expect((pages[2]?.at ?? 0) - (pages[1]?.at ?? 0)).toBeGreaterThanOrEqual(990);
    expect(progress).toMatch(/Auth0 GET \/api\/v2\/users: rate limited \(429\): waiting/);

    for (const user of specials) {
      const backfilled = await identityOf(user.user_id);
      const twin = await webhookTwin("auth0", user, `auth0|${uniqueId("bfa_twin")}`);
      expect(profileOf(backfilled), user.user_id).toEqual(profileOf(twin));
    }
    expect(await identityOf(usernameOnly.user_id)).toMatchObject({ display_name: "janedoe" });
    expect(await identityOf(nameOnly.user_id)).toMatchObject({ display_name: "Jane Name" });
    expect(await identityOf(nicknameOnly.user_id)).toMatchObject({ display_name: "nick" });
    expect((await identityOf(teamPlan.user_id)).metadata).toMatchObject({ plan: "team", provider: "auth0" });
    expect((await identityOf(teamPlan.user_id)).metadata).not.toHaveProperty("role");
  });

  it("beyond Auth0's 1000-user query limit, lists every user once through created_at ranges, without an export job", async () => {
    const prefix = `auth0|${uniqueId("bfrange")}`;
    const fake = await auth0Api(Array.from({ length: 1030 }, (_, index) => auth0User(`${prefix}_${String(index).padStart(4, "0")}`)));

    const { result } = await backfill("auth0", { ...auth0Env(fake), AUTH0_CLIENT_ID: "", AUTH0_CLIENT_SECRET: "", AUTH0_MANAGEMENT_TOKEN: fake.issueToken() });

    // Auth0 caps a query's total at 1000, so the tenant's size is not known up front.
    expect(result).toMatchObject({ status: "completed", total: undefined, counts: { created: 1030, updated: 0, unchanged: 0, failed: 0 } });
    expect(await identitiesStartingWith(prefix)).toHaveLength(1030);
    const log = fake.requests();
    const listed = log.filter((request) => request.path === "/api/v2/users");
    expect(listed.every((request) => request.status === 200)).toBe(true);
    expect(listed.filter((request) => request.query.q?.startsWith("created_at:[")).length).toBeGreaterThan(2);
    expect(log.filter((request) => request.path.startsWith("/api/v2/jobs"))).toEqual([]);
  });

  it("--auth0-source export reads every user through an export job", async () => {
    const prefix = `auth0|${uniqueId("bfexp")}`;
    const fake = await auth0Api(Array.from({ length: 1030 }, (_, index) => auth0User(`${prefix}_${String(index).padStart(4, "0")}`)));

    const { result, progress } = await backfill("auth0", { ...auth0Env(fake), AUTH0_CLIENT_ID: "", AUTH0_CLIENT_SECRET: "", AUTH0_MANAGEMENT_TOKEN: fake.issueToken() }, { choices: { "auth0-source": "export" } });

    expect(result).toMatchObject({ status: "completed", total: 1030, counts: { created: 1030, failed: 0 } });
    expect(await identitiesStartingWith(prefix)).toHaveLength(1030);
    const log = fake.requests();
    expect(log.filter((request) => request.path === "/api/v2/users")).toEqual([]);
    expect(log.filter((request) => request.path === "/api/v2/jobs/users-exports")).toHaveLength(1);
    expect(log.filter((request) => request.path.startsWith("/__exports/")).map((request) => request.status)).toEqual([200]);
    expect(progress).toMatch(/Auth0 export job job_\w+ created; waiting for it to finish/);
  });

  it("an interrupted export-based backfill resumes from the downloaded file, without a new export job", async () => {
    const prefix = `auth0|${uniqueId("bfexpres")}`;
    const fake = await auth0Api(Array.from({ length: 1200 }, (_, index) => auth0User(`${prefix}_${String(index).padStart(4, "0")}`)));
    const checkpointDir = tempDir();
    const controller = new AbortController();
    let posts = 0;
    const countingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (init?.method === "POST" && String(input).startsWith(orqUrl) && ++posts === 700) controller.abort();
      return response;
    };

    const first = await backfill("auth0", auth0Env(fake), { checkpointDir, signal: controller.signal, fetch: countingFetch, choices: { "auth0-source": "export" } });

    expect(first.result.status).toBe("interrupted");
    const saved = JSON.parse(readFileSync(join(checkpointDir, "auth0.json"), "utf8"));
    // The second 500-user page of the export is listed and partly written.
    expect(saved.cycle.usersCursor).toMatchObject({ kind: "export", line: 1000 });
    expect(saved.cycle.counts.created).toBeGreaterThanOrEqual(690);
    expect(saved.cycle.counts.created + saved.work.length).toBe(1000);
    const jobsBefore = fake.requests().filter((request) => request.path === "/api/v2/jobs/users-exports").length;
    expect(jobsBefore).toBe(1);

    const second = await backfill("auth0", auth0Env(fake), { checkpointDir });

    expect(second.result).toMatchObject({ status: "completed", total: 1200 });
    expect(second.progress).toMatch(/Resuming from Auth0 export job_/);
    expect(fake.requests().filter((request) => request.path === "/api/v2/jobs/users-exports")).toHaveLength(1);
    expect(fake.requests().filter((request) => request.path.startsWith("/__exports/"))).toHaveLength(1);
    const successfulPosts = writesOf(await requestsStartingWith(prefix)).filter((write) => write.method === "POST" && write.status === 201);
    expect(new Set(successfulPosts.map((write) => write.externalId)).size).toBe(1200);
    expect(successfulPosts).toHaveLength(1200);
    expect(readdirSync(checkpointDir)).toEqual([]);
  }, 120_000);

  it("--auth0-source pages with more than 1000 users reaches every one of them (a dry run)", async () => {
    const prefix = `auth0|${uniqueId("bfcap")}`;
    const fake = await auth0Api(Array.from({ length: 1010 }, (_, index) => auth0User(`${prefix}_${String(index).padStart(4, "0")}`)));

    const { result, progress } = await backfill("auth0", auth0Env(fake), { dryRun: true, choices: { "auth0-source": "pages" } });

    expect(result).toMatchObject({ status: "completed", counts: { created: 1010, updated: 0, unchanged: 0, failed: 0 } });
    expect(progress).not.toMatch(/Warning/);
    expect(fake.requests().filter((request) => request.path === "/api/v2/users").every((request) => request.status === 200)).toBe(true);
  });

  it("resumes a range listing from the checkpoint's created_at range and page", async () => {
    const prefix = `auth0|${uniqueId("bfrangeres")}`;
    const fake = await auth0Api(Array.from({ length: 1100 }, (_, index) => auth0User(`${prefix}_${String(index).padStart(4, "0")}`)));
    // From the fourth page of a narrowed range on, Auth0 is down.
    fake.addFault({ matches: (request) => request.path === "/api/v2/users" && request.query.has("q") && request.query.get("page") === "3", reply: { status: 500, body: { statusCode: 500, error: "Internal Server Error", message: "down" } } });
    const checkpointDir = tempDir();

    const first = await backfill("auth0", auth0Env(fake), { checkpointDir });

    expect(first.result).toMatchObject({ status: "stopped", counts: { created: 300, failed: 0 } });
    expect(first.result.reason).toMatch(/Auth0 GET \/api\/v2\/users: answered 500 after 3 attempts/);
    const saved = JSON.parse(readFileSync(join(checkpointDir, "auth0.json"), "utf8"));
    expect(saved).toMatchObject({ cycle: { phase: "users", usersCursor: { kind: "created_at", page: 3, perPage: 100 } }, work: [] });

    fake.clearFaults();
    const second = await backfill("auth0", auth0Env(fake), { checkpointDir });

    expect(second.result).toMatchObject({ status: "completed", doneThisRun: 800, counts: { created: 1100, updated: 0, unchanged: 0, failed: 0 } });
    const successfulPosts = writesOf(await requestsStartingWith(prefix)).filter((write) => write.method === "POST" && write.status === 201);
    expect(new Set(successfulPosts.map((write) => write.externalId)).size).toBe(1100);
    expect(successfulPosts).toHaveLength(1100);
  });
});

describe("npm run backfill (the CLI)", () => {
  const runCli = (args: string[], env: Record<string, string>) =>
    runEntryFile("cli/backfill.ts", args, { ...process.env, ...TEST_BRIDGE_VARS, ORQ_API_URL: orqUrl, ...env });

  it("backfills from the environment with a progress line on stderr, then a dry run finds nothing to do", async () => {
    const prefix = uniqueId("user_bfcli");
    const fake = await clerkApi(Array.from({ length: 30 }, (_, index) => clerkUser(`${prefix}_${index}`)));
    const checkpointDir = tempDir();

    const real = await runCli(["clerk", "--checkpoint-dir", checkpointDir, "--concurrency", "2"], clerkEnv(fake));

    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).toMatch(/^backfill clerk: completed · create 30 · update 0 · unchanged 0 · failed 0 · 30 users in \d+:\d\d \([\d.]+ users\/s\)\n$/);
    expect(real.stderr).toMatch(/backfill clerk {2}\[#{24}\] {2}30\/30 {2}100%/);
    expect(await identitiesStartingWith(prefix)).toHaveLength(30);

    const dry = await runCli(["clerk", "--dry-run", "--checkpoint-dir", checkpointDir], clerkEnv(fake));

    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^backfill clerk \(dry run\): completed · would create 0 · would update 0 · unchanged 30 · failed 0 .* nothing was written\n$/);
  }, 120_000);
});
