/**
 * The drift scenario of `npm run scenario` (issue 20, self-healing): the bridge under a real `wrangler dev`, a fake
 * Clerk Backend API (emulator/fake-clerk-api.ts) and the orq.ai emulator. Some users sign up by webhook; then the
 * copy drifts the ways it does in the wild, without a single webhook: users who never sent one, updates missed,
 * identities edited and deleted by hand in orq.ai, users deleted at Clerk, and finally a mapping change
 * (`ORQ_TAGS`). The Cron Trigger is fired by hand (`/cdn-cgi/handler/scheduled`), and the scenario reports what one
 * cycle healed, what it cost (Clerk reads, orq.ai reads and writes, time) and whether orq.ai then equals Clerk.
 *
 * Node-only: never import it from src/.
 */
import { randomBytes } from "node:crypto";
import { startOrqEmulator, type OrqEmulator } from "../../emulator/orq-emulator";
import { clerkUser, startFakeClerkApi, type ClerkUser, type FakeClerkApi } from "../../emulator/fake-clerk-api";
import { startDevServer, type DevServer } from "./dev-server";
import { DEV_SECRETS } from "../../signing/dev-secrets";
import { signNow, sleep } from "./local-bridge";

export interface DriftSpec {
  kind: "drift";
  /** Users at Clerk; 70 % sign up by webhook, the rest never send one. */
  users: number;
  timeoutMs: number;
}

export interface CycleReport {
  name: string;
  counts: Record<string, number>;
  clerkReads: number;
  orqReads: number;
  orqWrites: number;
  /** Cron fired → cycle complete. */
  cycleMs: number;
  /** Cron fired → orq.ai equals what Clerk says (every identity delivered). */
  healedMs: number | null;
  /** Users whose identity still differs when the wait ended. */
  mismatched: number;
}

export interface DriftResult {
  kind: "drift";
  users: number;
  drift: { neverSent: number; missedUpdates: number; editedByHand: number; deletedByHand: number; deletedAtClerk: number };
  cycles: CycleReport[];
}

const ADMIN_TOKEN = `drift-scenario-${randomBytes(8).toString("hex")}`;
const CRON = "0 * * * *";

export async function runDriftScenario(spec: DriftSpec, log: (line: string) => void = () => {}): Promise<DriftResult> {
  const emulator = await startOrqEmulator({ port: 0, quiet: true });
  const clerk = await startFakeClerkApi();
  const vars = (tags: string) => ({
    ...DEV_SECRETS,
    ADMIN_TOKEN,
    ORQ_TAGS: tags,
    CLERK_SECRET_KEY: clerk.secretKey,
    CLERK_API_URL: clerk.url,
  });
  let server: DevServer | undefined;
  try {
    server = await startDevServer({ orqUrl: emulator.url, vars: vars("scenario"), startTimeoutMs: 180_000 });
    const run = randomBytes(4).toString("hex");
    const t0 = Date.now() - 3_600_000;
    const users: ClerkUser[] = Array.from({ length: spec.users }, (_, i) =>
      clerkUser(`user_drift_${run}_${i}`, { first_name: `User${i}`, last_name: "Drift", created_at: t0 + i, updated_at: t0 + i }),
    );
    const bySignup = users.slice(0, Math.round(spec.users * 0.7));
    log(`drift: ${bySignup.length} of ${spec.users} users sign up by webhook`);
    for (const user of bySignup) await sendCreated(server.url, user);
    await waitUntil(() => bySignup.every((user) => identityOf(emulator, user.id) !== undefined), spec.timeoutMs, "the signups landed");

    // The drift, none of it by webhook.
    const tenth = Math.max(1, Math.round(spec.users / 10));
    const missed = bySignup.slice(0, tenth);
    for (const user of missed) Object.assign(user, { first_name: `${user.first_name}-renamed`, updated_at: Date.now() });
    const edited = bySignup.slice(tenth, 2 * tenth);
    for (const user of edited) await orqByHand(emulator, "PATCH", user.id, { display_name: "Edited by hand" });
    const deletedByHand = bySignup.slice(2 * tenth, 2 * tenth + Math.ceil(tenth / 2));
    for (const user of deletedByHand) await orqByHand(emulator, "DELETE", user.id);
    // Deleted at Clerk without a webhook: within the default limit of deletions per cycle (5, or 2 %).
    const gone = bySignup.slice(bySignup.length - Math.min(5, Math.max(1, Math.floor(spec.users * 0.02))));
    const present = users.filter((user) => !gone.includes(user));
    clerk.users = present;
    const drift = {
      neverSent: spec.users - bySignup.length,
      missedUpdates: missed.length,
      editedByHand: edited.length,
      deletedByHand: deletedByHand.length,
      deletedAtClerk: gone.length,
    };
    log(`drift: ${JSON.stringify(drift)}`);

    const expected = (tag: string) => () =>
      present.every((user) => {
        const identity = identityOf(emulator, user.id);
        return identity?.display_name === `${user.first_name} ${user.last_name}` && (identity.tags ?? []).includes(tag);
      }) && gone.every((user) => identityOf(emulator, user.id) === undefined);

    const cycles: CycleReport[] = [];
    cycles.push(await cycle("one cycle after the drift", server.url, clerk, emulator, present, expected("scenario"), spec.timeoutMs));
    cycles.push(await cycle("the next cycle (nothing to do)", server.url, clerk, emulator, present, expected("scenario"), spec.timeoutMs));

    // A mapping change: the operator adds a tag and redeploys (a new wrangler dev; orq.ai keeps its identities).
    await server.close();
    server = await startDevServer({ orqUrl: emulator.url, vars: vars("scenario,v2"), startTimeoutMs: 180_000 });
    cycles.push(await cycle("after a mapping change (ORQ_TAGS)", server.url, clerk, emulator, present, expected("v2"), spec.timeoutMs));
    return { kind: "drift", users: spec.users, drift, cycles };
  } finally {
    await server?.close();
    await clerk.close();
    await emulator.close();
  }
}

async function cycle(
  name: string,
  bridgeUrl: string,
  clerk: FakeClerkApi,
  emulator: OrqEmulator,
  present: readonly ClerkUser[],
  healed: () => boolean,
  timeoutMs: number,
): Promise<CycleReport> {
  const clerkBefore = clerk.requests().length;
  const orqBefore = emulator.requests().length;
  const fired = Date.now();
  const response = await fetch(`${bridgeUrl}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(CRON)}`);
  await response.body?.cancel();
  let status: Record<string, unknown> | undefined;
  await waitUntil(async () => {
    status = await reconcileStatus(bridgeUrl);
    const last = status?.last_cycle as { started_at?: string } | null;
    return status?.state === "idle" && last !== null && last !== undefined && Date.parse(last.started_at ?? "") >= fired - 1_000;
  }, timeoutMs, `the ${name} cycle ended`);
  const cycleMs = Date.now() - fired;
  let healedMs: number | null = null;
  try {
    await waitUntil(healed, timeoutMs, "orq.ai equals Clerk");
    healedMs = Date.now() - fired;
  } catch {
    // reported as mismatched below
  }
  const last = status!.last_cycle as Record<string, unknown>;
  const orqCalls = emulator.requests().slice(orqBefore);
  const counts: Record<string, number> = {};
  for (const key of ["users_seen", "owned_seen", "created", "updated", "deleted", "unchanged", "deletions_held_back", "failed"]) counts[key] = Number(last[key] ?? 0);
  return {
    name,
    counts,
    clerkReads: clerk.requests().length - clerkBefore,
    orqReads: orqCalls.filter((request) => request.method === "GET").length,
    orqWrites: orqCalls.filter((request) => request.method !== "GET").length,
    cycleMs,
    healedMs,
    mismatched: present.filter((user) => identityOf(emulator, user.id)?.display_name !== `${user.first_name} ${user.last_name}`).length,
  };
}

async function reconcileStatus(bridgeUrl: string): Promise<Record<string, unknown> | undefined> {
  const response = await fetch(`${bridgeUrl}/admin/reconcile`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (!response.ok) return undefined;
  const body = (await response.json()) as { providers: Array<Record<string, unknown>> };
  return body.providers.find((entry) => entry.provider === "clerk");
}

async function sendCreated(bridgeUrl: string, user: ClerkUser): Promise<void> {
  const eventId = `msg_${randomBytes(12).toString("hex")}`;
  const body = JSON.stringify({ object: "event", type: "user.created", timestamp: user.updated_at, data: user });
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(`${bridgeUrl}/webhooks/clerk`, { method: "POST", headers: signNow("clerk", body, eventId), body });
    await response.body?.cancel();
    if (response.ok) return;
    if (attempt >= 3) throw new Error(`the bridge answered ${response.status} to a signup`);
    await sleep(500);
  }
}

function identityOf(emulator: OrqEmulator, externalId: string) {
  return emulator.identities().find((identity) => identity.external_id === externalId);
}

async function orqByHand(emulator: OrqEmulator, method: "PATCH" | "DELETE", externalId: string, body?: unknown): Promise<void> {
  const response = await fetch(`${emulator.url}/v2/identities/${encodeURIComponent(externalId)}`, {
    method,
    headers: { authorization: `Bearer ${DEV_SECRETS.ORQ_API_KEY}`, "content-type": "application/json" },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`orq.ai answered ${response.status} to ${method} by hand`);
}

async function waitUntil(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(200);
  }
}

export function formatDriftTable(result: DriftResult): string {
  const lines = [
    `drift scenario: ${result.users} Clerk users; ${Object.entries(result.drift).map(([key, value]) => `${key} ${value}`).join(", ")}`,
    "| cycle | users seen | owned | created | updated | deleted | unchanged | held back | Clerk reads | orq.ai reads | orq.ai writes | cycle | healed | still wrong |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const c of result.cycles) {
    const n = c.counts;
    lines.push(
      `| ${c.name} | ${n.users_seen} | ${n.owned_seen} | ${n.created} | ${n.updated} | ${n.deleted} | ${n.unchanged} | ${n.deletions_held_back} | ${c.clerkReads} | ${c.orqReads} | ${c.orqWrites} | ${(c.cycleMs / 1000).toFixed(1)} s | ${c.healedMs === null ? "no" : `${(c.healedMs / 1000).toFixed(1)} s`} | ${c.mismatched} |`,
    );
  }
  return lines.join("\n");
}
