/**
 * The deliberate breakages `npm run mutate` applies to src/, one at a time, each with the test
 * files that must notice it. An edit is an exact text that must occur once in its file (a
 * mutation whose text is gone is reported `stale`, so the list is kept in step with the code).
 */
export interface Edit {
  file: string;
  find: string;
  replace: string;
}

export interface TestRun {
  project: "worker" | "workspace" | "node" | "reconcile";
  files: string[];
}

export interface Mutation {
  name: string;
  /** What the breakage means for a user of the bridge. */
  breaks: string;
  edits: Edit[];
  tests: TestRun[];
}

const IDENTITY_SYNC = "src/record/identity-sync.ts";
const WEBHOOK_ROUTE = "src/receive/webhook-route.ts";
const ORQ_CLIENT = "src/deliver/orq-client.ts";
const SYNC_IDENTITY = "src/deliver/sync-identity.ts";
const SCHEDULER = "src/deliver/delivery-scheduler.ts";

const worker = (...files: string[]): TestRun => ({ project: "worker", files: files.map((file) => `test/worker/${file}`) });
const workspace = (...files: string[]): TestRun => ({ project: "workspace", files: files.map((file) => `test/workspace/${file}`) });
const reconcile = (...files: string[]): TestRun => ({ project: "reconcile", files: files.map((file) => `test/reconcile/${file}`) });
const ENGINE = "src/reconcile/engine.ts";
const ORQ_LISTING = "src/reconcile/orq-listing.ts";

export const MUTATIONS: readonly Mutation[] = [
  {
    name: "no dedupe",
    breaks: "a webhook delivered twice is recorded (and written to orq.ai) twice",
    edits: [{ file: IDENTITY_SYNC, find: `if (this.sql.exec("SELECT 1 FROM seen_events WHERE event_id = ?", change.eventId).toArray().length > 0) {`, replace: "if (false) {" }],
    tests: [worker("delivery.test.ts")],
  },
  {
    name: "older event wins",
    breaks: "every event counts as the newest, so a late older event overwrites newer data",
    edits: [{ file: IDENTITY_SYNC, find: "const newest = !current || happenedAfter(", replace: "const newest = !current || true || happenedAfter(" }],
    tests: [worker("delivery.test.ts")],
  },
  {
    name: "no tombstone",
    breaks: "a deletion is forgotten: an older update arriving late brings the user back",
    edits: [{ file: IDENTITY_SYNC, find: `const tombstone = current?.event_type === "deleted";`, replace: "const tombstone = false;" }],
    tests: [worker("delivery.test.ts")],
  },
  {
    name: "2xx before storage",
    breaks: "the provider gets 200 before the event is stored (and never again if storing fails)",
    edits: [
      {
        file: WEBHOOK_ROUTE,
        find: "const recorded = await env.IDENTITY_SYNC.getByName(name).record(changes[index]!);",
        replace: 'const recorded = "recorded" as const; void Promise.resolve().then(() => env.IDENTITY_SYNC.getByName(name).record(changes[index]!)).catch(() => {});',
      },
    ],
    tests: [worker("record-failure.test.ts")],
  },
  {
    name: "storage failure answered 2xx",
    breaks: "an event that could not be stored is answered 200: the provider never delivers it again",
    edits: [{ file: WEBHOOK_ROUTE, find: "if (failed) return c.json(", replace: "if (failed && false) return c.json(" }],
    tests: [worker("record-failure.test.ts")],
  },
  {
    name: "getByName throw gives 500",
    breaks: "a binding that throws synchronously (or a failed record) escapes as 500 instead of 503",
    edits: [{ file: WEBHOOK_ROUTE, find: "        } catch (reason) {\n          outcomes[index] = { status: \"rejected\", reason };\n        }", replace: "        } finally {\n        }" }],
    tests: [worker("record-failure.test.ts")],
  },
  {
    name: "signature check skipped",
    breaks: "a forged or unsigned webhook is recorded",
    edits: [{ file: WEBHOOK_ROUTE, find: "    if (!verified.ok) {\n", replace: "    if (!verified.ok && false) {\n" }],
    tests: [worker("webhook.error.test.ts")],
  },
  {
    name: "body-size limit off",
    breaks: "bodies of any size are buffered and processed",
    edits: [{ file: WEBHOOK_ROUTE, find: "maxSize: MAX_BODY_BYTES,", replace: "maxSize: Number.MAX_SAFE_INTEGER," }],
    tests: [worker("webhook.error.test.ts")],
  },
  {
    name: "Retry-After ignored",
    breaks: "orq.ai's Retry-After is not read: identities call again before orq.ai asked",
    edits: [{ file: ORQ_CLIENT, find: `failure.retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));`, replace: "failure.retryAfterMs = undefined;" }],
    tests: [workspace("workspace.test.ts", "waits.test.ts")],
  },
  {
    name: "new event skips Retry-After",
    breaks: "a new event for an identity orq.ai asked to wait makes it call at once",
    edits: [
      { file: IDENTITY_SYNC, find: "const waitUntil = current?.not_before != null && current.not_before > now ? current.not_before : null;", replace: "const waitUntil = null;" },
      { file: IDENTITY_SYNC, find: "if (state.not_before !== null && state.not_before > Date.now()) {", replace: "if (false) {" },
    ],
    tests: [workspace("waits.test.ts")],
  },
  {
    name: "auth failure gives up",
    breaks: "an identity whose key is rejected gives up after the retry window instead of waiting for the key",
    edits: [{ file: IDENTITY_SYNC, find: "(!result.authProblem && now - firstFailureAt > RETRY_WINDOW_MS)", replace: "(now - firstFailureAt > RETRY_WINDOW_MS)" }],
    tests: [workspace("waits.test.ts")],
  },
  {
    name: "403 not the key's problem",
    breaks: "orq.ai's 403 is taken for a refusal of one identity: given up at once instead of waiting for the key",
    edits: [{ file: ORQ_CLIENT, find: "if (status === 401 || status === 403) {", replace: "if (status === 401) {" }],
    tests: [workspace("waits.test.ts")],
  },
  {
    name: "missing key not the key's problem",
    breaks: "without ORQ_API_KEY each identity fails on its own instead of the workspace waiting for the key",
    edits: [{ file: ORQ_CLIENT, find: `retryable: true, authProblem: true, reason: "ORQ_API_KEY is not set"`, replace: `retryable: true, authProblem: false, reason: "ORQ_API_KEY is not set"` }],
    tests: [workspace("waits.test.ts")],
  },
  {
    name: "permanent failure retried",
    breaks: "a 4xx orq.ai will always refuse is retried for days",
    edits: [{ file: IDENTITY_SYNC, find: "const givingUp = !result.retryable || (", replace: "const givingUp = false && (" }],
    tests: [worker("delivery.test.ts")],
  },
  {
    name: "failed identity still delivered",
    breaks: "an identity marked failed is sent again by any alarm that runs (a stray one, one set before the failure)",
    edits: [{ file: IDENTITY_SYNC, find: `return state !== undefined && state.delivered_version < state.version && state.delivery !== "failed";`, replace: "return state !== undefined && state.delivered_version < state.version;" }],
    tests: [worker("delivery.test.ts")],
  },
  {
    name: "email logged",
    breaks: "an email address quoted in orq.ai's error reaches the logs and the admin view",
    edits: [{ file: ORQ_CLIENT, find: `.replace(/[^\\s@"'<>]+@[^\\s@"'<>]+/g, "<redacted>")`, replace: "" }],
    tests: [worker("orq-paths.test.ts")],
  },
  {
    name: "409 not handled",
    breaks: "a creation for an identity orq.ai already holds fails instead of updating it",
    edits: [{ file: SYNC_IDENTITY, find: `if (outcome.kind === "conflict") {`, replace: "if (false) {" }],
    tests: [worker("orq-paths.test.ts")],
  },
  {
    name: "4xx probe skipped",
    breaks: "an undocumented 'already exists' 4xx fails the identity instead of asking orq.ai and updating it",
    edits: [{ file: SYNC_IDENTITY, find: `if (probe.kind === "ok") {`, replace: "if (false) {" }],
    tests: [worker("orq-paths.test.ts")],
  },
  {
    name: "scheduler ignores outage",
    breaks: "during an orq.ai outage every identity keeps calling (no pause, no probe)",
    edits: [{ file: SCHEDULER, find: "if (this.streak.failures >= OUTAGE_FAILURES && this.streak.names.size >= 2) {", replace: "if (false) {" }],
    tests: [worker("delivery-scheduler.test.ts"), workspace("workspace.test.ts")],
  },
  {
    name: "scheduler ignores pace",
    breaks: "calls go out beyond the workspace's rate limit",
    edits: [{ file: SCHEDULER, find: "return this.pausedUntil <= now && this.room(now) > 0;", replace: "return this.pausedUntil <= now;" }],
    tests: [worker("delivery-scheduler.test.ts")],
  },
  {
    name: "remaining counted from the answer",
    breaks: "X-RateLimit-Remaining is taken as of the answer, not of its call: a late answer's older figure lets calls out beyond the limit",
    edits: [{ file: SCHEDULER, find: "room = told.remaining - this.sentSince(told.grantedAt) - unanswered;", replace: "room = told.remaining - this.sentSince(told.at) - unanswered;" }],
    tests: [worker("delivery-scheduler.test.ts")],
  },
  {
    name: "reset forgets the calls since",
    breaks: "past X-RateLimit-Reset, a figure's calls let out since it are forgotten: a late answer lets calls out beyond the limit",
    edits: [{ file: SCHEDULER, find: "if (now >= told.resetAt) room = Math.max(room, 1 - this.sentSince(told.resetAt));", replace: "if (now >= told.resetAt) room = Math.max(1, told.remaining) - this.sentSince(told.resetAt);" }],
    tests: [worker("delivery-scheduler.test.ts")],
  },
  {
    name: "stall",
    breaks: "a woken identity in its own Retry-After says it will call and keeps its place for 30 s: the backlog behind it waits while nothing is sent",
    edits: [
      { file: SCHEDULER, find: "const RESERVATION_MS = 2_000;", replace: "const RESERVATION_MS = 30_000;" },
      { file: IDENTITY_SYNC, find: "    if (state!.not_before !== null && state!.not_before > Date.now()) return false;\n    this.wakes++;", replace: "    this.wakes++;" },
    ],
    tests: [workspace("liveness.test.ts")],
  },
  {
    name: "stray 429 teaches a pace",
    breaks: "scattered 429s with only Retry-After (a budget, one identity's) are taken for the workspace's limit and throttle everyone for minutes",
    edits: [{ file: SCHEDULER, find: "const aRun = this.refusals.count >= RUN_429 && this.refusals.names.size >= 2;", replace: "const aRun = true;" }],
    tests: [worker("delivery-scheduler.test.ts")],
  },
  {
    name: "older listing wins",
    breaks: "a reconcile listing older than the newest webhook counts as newer and undoes it",
    edits: [{ file: IDENTITY_SYNC, find: "const newer = recorded !== null ? listed > recorded : listed > current.occurred_at;", replace: "const newer = true;" }],
    tests: [reconcile("reconcile.test.ts")],
  },
  {
    name: "same version skipped",
    breaks: "a listing of the version already recorded changes nothing: an identity edited by hand in orq.ai, or a mapping change, is never put right",
    edits: [{ file: IDENTITY_SYNC, find: `if (current.event_type === "deleted") return "stale";`, replace: `if (current.event_type === "deleted" || !newer) return "stale";` }],
    tests: [reconcile("reconcile.test.ts")],
  },
  {
    name: "partial listing deletes",
    breaks: "a provider listing that fails part-way is taken as complete: every user not listed yet is deleted",
    edits: [{ file: ENGINE, find: "if (!page.ok) return failed({ ...page, reason: `${context.source.name} users list: ${page.reason}` });", replace: "if (!page.ok) { planDeletions(cycle, store, context); continue; }" }],
    tests: [reconcile("reconcile.test.ts")],
  },
  {
    name: "owned filter off",
    breaks: "reconcile lists every identity in the workspace, not only those with the provider's tag: identities the bridge does not own are deleted",
    edits: [{ file: ORQ_LISTING, find: `"filter_by.tags": tag });`, replace: `});` }],
    tests: [reconcile("reconcile.test.ts")],
  },
];
