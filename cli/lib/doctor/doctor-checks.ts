/**
 * The checks of `npm run doctor`, one result each: the bridge's own view (`/health`, alerts
 * included), the orq.ai key, and a synthetic user sent through the bridge end to end (created, seen
 * in orq.ai with the mapped fields, deleted, gone); with `--alert-test`, a test alert through the
 * bridge. `npm run connect` reuses the end-to-end part after registering.
 *
 * Results name settings and their sources, never their values.
 */
import { randomBytes } from "node:crypto";
import { parseConfig } from "../../../src/config";
import { parseRetryAfter } from "../../../src/deliver/orq-client";
import type { CreateIdentityRequest } from "../../../src/deliver/orq-schemas";
import { toDesiredIdentity } from "../../../src/identity/to-orq-identity";
import { providers } from "../../../src/providers/registry";
import { lookUpOrqIdentity, type StoredIdentity } from "../backfill/orq-identity-plan";
import { SAMPLE_PROVIDERS, buildSampleRequest, sendSampleRequest, type Json, type SampleEvent } from "../../../signing/sample-webhooks";
import { describeSetting, type DoctorSettings } from "./doctor-settings";

export interface CheckResult {
  ok: boolean;
  /** Not run because an earlier check failed. */
  skipped?: true;
  /** Said, not checked (an optional feature that is off): neither passes nor fails. */
  info?: true;
  title: string;
  found: string;
  fix?: string;
}

export interface CheckOptions {
  fetch?: typeof fetch;
  /** How long to wait for an identity to appear / disappear in orq.ai; default 30 s. */
  landTimeoutMs?: number;
  /** Called with each result as soon as it is known. */
  onResult?(result: CheckResult): void;
  /** `--alert-test`: have the bridge send a test alert (POST /admin/alerts/test, with ADMIN_TOKEN). */
  alertTest?: boolean;
}

const REQUEST_TIMEOUT_MS = 10_000;
const SEND_ATTEMPTS = 3;
const POLL_MS = 250;

/** One line per check: `✓ title: found`, and on failure the fix on the next line. */
export function formatResult(result: CheckResult): string {
  const mark = result.info ? "i" : result.skipped ? "–" : result.ok ? "✓" : "✗";
  const line = `${mark} ${result.title}: ${result.found}`;
  return result.fix && !result.ok && !result.skipped ? `${line}\n    fix: ${result.fix}` : line;
}

class Recorder {
  readonly results: CheckResult[] = [];
  constructor(private readonly onResult?: (result: CheckResult) => void) {}
  add(result: CheckResult): boolean {
    this.results.push(result);
    this.onResult?.(result);
    return result.ok;
  }
  skip(title: string, why: string): void {
    this.add({ ok: false, skipped: true, title, found: `skipped (${why})` });
  }
}

/** Every check; `ok` only when each one passed. */
export async function runDoctor(settings: DoctorSettings, options: CheckOptions = {}): Promise<{ ok: boolean; results: CheckResult[] }> {
  const recorder = new Recorder(options.onResult);
  const fetchImpl = options.fetch ?? fetch;
  const healthy = await checkBridge(settings, fetchImpl, recorder);
  if (!healthy) {
    for (const title of ["orq.ai accepts ORQ_API_KEY", "end-to-end with a test user"]) recorder.skip(title, "the bridge did not answer /health");
    return { ok: false, results: recorder.results };
  }
  if (options.alertTest) await checkAlertTest(settings, fetchImpl, recorder);
  const keyWorks = await checkOrqKey(settings, fetchImpl, recorder);
  if (!keyWorks) recorder.skip("end-to-end with a test user", "it needs a working ORQ_API_KEY to read orq.ai");
  else await checkEndToEnd(settings, { ...options, fetch: fetchImpl, onResult: (result) => recorder.add(result) });
  return { ok: recorder.results.every((result) => result.ok), results: recorder.results };
}

// ---------------------------------------------------------------------------------------------------------------
// 1. The bridge's own view: /health, the provider, its orq.ai key
// ---------------------------------------------------------------------------------------------------------------

async function checkBridge(settings: DoctorSettings, fetchImpl: typeof fetch, recorder: Recorder): Promise<boolean> {
  const url = `${settings.bridgeUrl}/health`;
  let health: Json;
  try {
    const response = await fetchImpl(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const text = await response.text();
    health = safeJson(text);
    if (response.status !== 200 || typeof health !== "object" || health === null || typeof health.providers !== "object") {
      return recorder.add({
        ok: false,
        title: "bridge answers /health",
        found: `GET ${url} answered ${response.status}${health?.providers ? "" : ", not the bridge's health JSON"}`,
        fix: "check --url: it is the bridge's base URL (https://<worker>.workers.dev), without /webhooks/…",
      });
    }
  } catch (error) {
    return recorder.add({
      ok: false,
      title: "bridge answers /health",
      found: `no answer from ${url} (${describeError(error)})`,
      fix: settings.local ? "start it with `npm run dev`, or check --url" : "check --url, and that the Worker is deployed (`npm run deploy`)",
    });
  }
  recorder.add({ ok: true, title: "bridge answers /health", found: `${settings.bridgeUrl}, version ${String(health.version ?? "?")}, status ${String(health.status ?? "?")}` });

  const binding = SAMPLE_PROVIDERS[settings.provider].secretBinding;
  const state = health.providers[settings.provider];
  const problems = Array.isArray(health.problems) ? health.problems.filter((problem: Json) => problem?.variable === binding) : [];
  recorder.add(
    state === "configured"
      ? { ok: true, title: `${settings.provider} is configured on the bridge`, found: `${binding} is set there` }
      : {
          ok: false,
          title: `${settings.provider} is configured on the bridge`,
          found: state === undefined ? `the bridge does not know the provider ${settings.provider}` : `${binding} is ${state === "invalid" ? `invalid there${problems[0]?.problem ? ` (${problems[0].problem})` : ""}` : "not set there"}`,
          fix: settings.local ? `add ${binding}=… to .dev.vars and restart \`npm run dev\` (or run \`npm run connect -- ${settings.provider} --local …\`)` : `npx wrangler secret put ${binding} (or \`npm run connect -- ${settings.provider} --url ${settings.bridgeUrl}\`)`,
        },
  );

  const orq = health.orq ?? {};
  if (orq.api_key !== "set") {
    recorder.add({ ok: false, title: "the bridge has an orq.ai key", found: "ORQ_API_KEY is not set on the bridge (events are kept until it is)", fix: settings.local ? "add ORQ_API_KEY=… to .dev.vars" : "npx wrangler secret put ORQ_API_KEY" });
  } else if (orq.auth !== "ok") {
    recorder.add({
      ok: false,
      title: "the bridge has an orq.ai key",
      found: `orq.ai rejects the bridge's ORQ_API_KEY${orq.auth_failing_since ? ` since ${orq.auth_failing_since}` : ""} (events are kept and retried)`,
      fix: settings.local ? "put a valid key in ORQ_API_KEY in .dev.vars and restart `npm run dev`" : "npx wrangler secret put ORQ_API_KEY with a valid key from orq.ai",
    });
  } else {
    recorder.add({ ok: true, title: "the bridge has an orq.ai key", found: "set, and orq.ai has not rejected it" });
  }
  recorder.add(alertsResult(settings, health));
  return true;
}

/** Alerts are optional: off is said (i), a broken setup fails. */
function alertsResult(settings: DoctorSettings, health: Json): CheckResult {
  const title = "alerts on the bridge";
  const alerts = health.alerts;
  const put = settings.local ? "add ALERT_WEBHOOK_URL=… to .dev.vars" : "npx wrangler secret put ALERT_WEBHOOK_URL";
  if (typeof alerts !== "object" || alerts === null) return { ok: true, info: true, title, found: "not reported by this bridge (deployed before alerts existed)" };
  if (alerts.webhook === "not_set") return { ok: true, info: true, title, found: `not configured: nobody is told when syncing stops (${put}; docs/operations.md "Alerts")` };
  if (alerts.webhook !== "set") {
    const problem = Array.isArray(health.problems) ? health.problems.find((entry: Json) => entry?.variable === "ALERT_WEBHOOK_URL")?.problem : undefined;
    return { ok: false, title, found: `ALERT_WEBHOOK_URL is invalid there${problem ? ` (${problem})` : ""}: no alert is sent`, fix: `${put} with an https:// URL (a Slack, Discord or Teams webhook)` };
  }
  const open = Array.isArray(alerts.open) && alerts.open.length > 0 ? alerts.open.join(", ") : "none";
  const set = `ALERT_WEBHOOK_URL is set there (format ${alerts.format})`;
  if (typeof alerts.unsent === "number" && alerts.unsent > 0) {
    return { ok: false, title, found: `${set}, but ${alerts.unsent} alert${alerts.unsent === 1 ? "" : "s"} could not be sent yet; open conditions: ${open}`, fix: "the status page (/admin) shows why; check ALERT_WEBHOOK_URL, then `npm run doctor -- --url … --alert-test`" };
  }
  return { ok: true, title, found: `${set}; open conditions: ${open}${alerts.last_sent_at ? `; last alert sent ${alerts.last_sent_at}` : ""}` };
}

/** `--alert-test`: the bridge sends a test message to its ALERT_WEBHOOK_URL and says whether it arrived. */
async function checkAlertTest(settings: DoctorSettings, fetchImpl: typeof fetch, recorder: Recorder): Promise<boolean> {
  const title = "the bridge sends a test alert";
  if (!settings.adminToken.value) {
    return recorder.add({ ok: false, title, found: "ADMIN_TOKEN is not set here (POST /admin/alerts/test needs it)", fix: "export ADMIN_TOKEN=… (the bridge's), or add it to .dev.vars" });
  }
  let response: Response;
  try {
    response = await fetchImpl(`${settings.bridgeUrl}/admin/alerts/test`, {
      method: "POST",
      headers: { authorization: `Bearer ${settings.adminToken.value}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS + 5_000),
    });
  } catch (error) {
    return recorder.add({ ok: false, title, found: `no answer from POST /admin/alerts/test (${describeError(error)})`, fix: "check --url and that the bridge is running" });
  }
  const answer = safeJson(await response.text());
  if (response.status === 200) return recorder.add({ ok: true, title, found: `the alert endpoint answered ${answer?.status} (format ${answer?.format}): look for "Test alert from the orq identity bridge" there` });
  if (response.status === 401) return recorder.add({ ok: false, title, found: `401: the bridge refused ${describeSetting(settings.adminToken)}`, fix: "ADMIN_TOKEN here does not match the bridge's" });
  if (response.status === 404) return recorder.add({ ok: false, title, found: "404: the bridge's admin API is off (ADMIN_TOKEN is not set there)", fix: settings.local ? "add ADMIN_TOKEN=… (16+ characters) to .dev.vars" : "npx wrangler secret put ADMIN_TOKEN" });
  if (response.status === 409) return recorder.add({ ok: false, title, found: String(answer?.message ?? "alerts are not configured on the bridge"), fix: settings.local ? "add ALERT_WEBHOOK_URL=… to .dev.vars" : "npx wrangler secret put ALERT_WEBHOOK_URL" });
  return recorder.add({
    ok: false,
    title,
    found: `${response.status}: ${String(answer?.message ?? "the test alert was not sent")}`,
    fix: "check ALERT_WEBHOOK_URL (a Slack incoming webhook, a Discord webhook, a Teams Workflows URL) and ALERT_FORMAT (slack, teams or json)",
  });
}

// ---------------------------------------------------------------------------------------------------------------
// 2. The operator's orq.ai key: a read-only list call
// ---------------------------------------------------------------------------------------------------------------

async function checkOrqKey(settings: DoctorSettings, fetchImpl: typeof fetch, recorder: Recorder): Promise<boolean> {
  const title = "orq.ai accepts ORQ_API_KEY";
  const where = `${settings.orqUrl.value} (${describeSetting(settings.orqUrl)})`;
  if (!settings.orqKey.value) {
    return recorder.add({ ok: false, title, found: "ORQ_API_KEY is not set here", fix: "export ORQ_API_KEY=… (the same key as the bridge's), or add it to .dev.vars" });
  }
  try {
    const response = await fetchImpl(`${settings.orqUrl.value}/v2/identities?limit=1`, {
      headers: { authorization: `Bearer ${settings.orqKey.value}`, accept: "application/json" },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await response.body?.cancel();
    if (response.ok) return recorder.add({ ok: true, title, found: `GET /v2/identities at ${where} answered ${response.status} with ${describeSetting(settings.orqKey)}` });
    if (response.status === 401 || response.status === 403) {
      return recorder.add({ ok: false, title, found: `orq.ai at ${where} rejected ${describeSetting(settings.orqKey)} (${response.status})`, fix: "set ORQ_API_KEY to a valid orq.ai API key of the bridge's workspace" });
    }
    return recorder.add({ ok: false, title, found: `GET /v2/identities at ${where} answered ${response.status}`, fix: "check ORQ_API_URL; try again if orq.ai is having trouble" });
  } catch (error) {
    return recorder.add({ ok: false, title, found: `no answer from ${where} (${describeError(error)})`, fix: settings.local ? "is `npm run dev` (and its emulator) running? Or set ORQ_API_URL" : "check ORQ_API_URL" });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 3 and 4. A synthetic user, end to end, and its cleanup
// ---------------------------------------------------------------------------------------------------------------

/** An id that is obviously a test: `bridge-doctor-<random>`. */
export function doctorUserId(): string {
  return `bridge-doctor-${randomBytes(6).toString("hex")}`;
}

/**
 * Sends a signed `user.created` for a test user, waits for orq.ai to hold it with the mapped
 * fields, then a signed `user.deleted` and waits for it to be gone (with ORQ_ON_DELETE=tag|ignore
 * the bridge keeps it, so it is deleted with the key). Returns whether every step passed.
 */
export async function checkEndToEnd(settings: DoctorSettings, options: CheckOptions & { userId?: string } = {}): Promise<boolean> {
  const recorder = new Recorder(options.onResult);
  const fetchImpl = options.fetch ?? fetch;
  const timeoutMs = options.landTimeoutMs ?? 30_000;
  const userId = options.userId ?? doctorUserId();
  const { secret, provider } = settings;
  const config = parseConfig(settings.vars);
  const read = { baseUrl: settings.orqUrl.value ?? "", apiKey: settings.orqKey.value ?? "", timeoutMs: REQUEST_TIMEOUT_MS, fetch: fetchImpl };

  if (!secret.value) {
    recorder.add({ ok: false, title: `signed ${provider} user.created is accepted`, found: `${secret.name} is not set here, so nothing can be signed`, fix: `export ${secret.name}=… (the bridge's value), or add it to .dev.vars` });
    return false;
  }
  const created = await sendSigned(settings, "user.created", userId, fetchImpl);
  const expected = expectedIdentity(settings, created, config.mapping);
  if (!recorder.add(acceptance(settings, "user.created", userId, created))) return false;

  const landed = await waitForIdentity(read, expected.external_id, (identity) => identity !== undefined, timeoutMs);
  if (landed.identity === undefined) {
    // Why not: the bridge may have learnt meanwhile that orq.ai rejects its key.
    const keyRejected = (await readHealth(settings, fetchImpl))?.orq?.auth === "failing";
    recorder.add({
      ok: false,
      title: "the test user appears in orq.ai",
      found: `${expected.external_id} is not in orq.ai after ${timeoutMs / 1000} s${landed.problem ? ` (${landed.problem})` : ""}${keyRejected ? "; /health says orq.ai rejects the bridge's ORQ_API_KEY" : ""}`,
      fix: keyRejected
        ? settings.local
          ? "put a valid key in the bridge's ORQ_API_KEY (.dev.vars) and restart `npm run dev`: the kept events are delivered then"
          : "npx wrangler secret put ORQ_API_KEY with a valid key: the kept events are delivered then"
        : "the bridge recorded it but has not delivered it: see GET /health (scheduler) and the bridge's logs; check that the bridge's ORQ_API_URL/ORQ_API_KEY point at the same workspace as yours",
    });
  } else {
    const wrong = mappedFieldDifferences(expected, landed.identity, provider);
    recorder.add(
      wrong.length === 0
        ? { ok: true, title: "the test user appears in orq.ai", found: `${expected.external_id} after ${(landed.ms / 1000).toFixed(1)} s, with the mapped fields (${mappedFieldNames(expected).join(", ")})` }
        : { ok: false, title: "the test user appears in orq.ai", found: `${expected.external_id} arrived, but ${wrong.join(", ")} differ from the mapping`, fix: "the deployed Worker runs other code or mapping settings than this checkout: deploy it again (`npm run deploy`)" },
    );
  }
  return (await cleanUp(settings, userId, expected.external_id, config.mapping.onDelete, read, fetchImpl, timeoutMs, recorder)) && recorder.results.every((result) => result.ok);
}

async function cleanUp(
  settings: DoctorSettings,
  userId: string,
  externalId: string,
  onDelete: "delete" | "tag" | "ignore",
  read: { baseUrl: string; apiKey: string; timeoutMs: number; fetch: typeof fetch },
  fetchImpl: typeof fetch,
  timeoutMs: number,
  recorder: Recorder,
): Promise<boolean> {
  const deleted = await sendSigned(settings, "user.deleted", userId, fetchImpl);
  recorder.add(acceptance(settings, "user.deleted", userId, deleted));
  const title = "the test user is gone from orq.ai";
  if (onDelete !== "delete") {
    // The bridge keeps deleted identities (tagged, or untouched): the doctor removes its own test user.
    if (onDelete === "tag") await waitForIdentity(read, externalId, (identity) => Array.isArray(identity?.tags) && identity.tags.includes("deleted"), timeoutMs);
    const removed = await deleteWithKey(read, externalId);
    return recorder.add(
      removed.ok
        ? { ok: true, title, found: `ORQ_ON_DELETE=${onDelete} keeps deleted users, so ${externalId} was deleted with ORQ_API_KEY` }
        : { ok: false, title, found: `could not delete ${externalId} with ORQ_API_KEY (${removed.problem})`, fix: `delete it by hand: DELETE ${read.baseUrl}/v2/identities/${encodeURIComponent(externalId)}` },
    );
  }
  const gone = await waitForIdentity(read, externalId, (identity) => identity === undefined, timeoutMs);
  if (gone.matched) return recorder.add({ ok: true, title, found: `${externalId} removed after ${(gone.ms / 1000).toFixed(1)} s` });
  const removed = await deleteWithKey(read, externalId);
  return recorder.add({
    ok: false,
    title,
    found: `${externalId} still in orq.ai after ${timeoutMs / 1000} s${removed.ok ? "; the doctor deleted it with ORQ_API_KEY" : ""}`,
    fix: "if the bridge sets ORQ_ON_DELETE=tag or ignore, set the same here; otherwise see GET /health and the bridge's logs",
  });
}

interface SentEvent {
  status?: number;
  answer?: unknown;
  error?: string;
  payload: Json;
  eventId: string;
  /** The temporary answers (503/429) retried before this one. */
  temporary: string[];
}

/**
 * Sends the signed sample as the provider would, retrying a 503 or 429 (temporary trouble: the
 * bridge could not record it, e.g. `wrangler dev` reloading the Worker mid-request) after its
 * `Retry-After`, as every provider does, up to SEND_ATTEMPTS times. The check reports the retries.
 */
async function sendSigned(settings: DoctorSettings, event: SampleEvent, userId: string, fetchImpl: typeof fetch): Promise<SentEvent> {
  const request = buildSampleRequest(settings.provider, event, {
    bridgeUrl: settings.bridgeUrl,
    userId,
    secrets: { [settings.secret.name]: settings.secret.value ?? "" },
  });
  const temporary: string[] = [];
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await sendSampleRequest(request, AbortSignal.timeout(REQUEST_TIMEOUT_MS), fetchImpl);
      if ((result.status === 503 || result.status === 429) && attempt < SEND_ATTEMPTS) {
        temporary.push(String(result.status));
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs(result.retryAfter)));
        continue;
      }
      return { status: result.status, answer: result.answer, payload: request.payload, eventId: request.eventId, temporary };
    } catch (error) {
      return { error: describeError(error), payload: request.payload, eventId: request.eventId, temporary };
    }
  }
}

/** `Retry-After` (seconds or a date, as the bridge's orq.ai client reads it), kept between 0.5 and 5 s (the doctor waits, it does not queue). */
function retryDelayMs(retryAfter: string | null): number {
  return Math.min(5_000, Math.max(500, parseRetryAfter(retryAfter) ?? 1_000));
}

function acceptance(settings: DoctorSettings, event: SampleEvent, userId: string, sent: SentEvent): CheckResult {
  const title = `signed ${settings.provider} ${event} is accepted`;
  const binding = settings.secret.name;
  if (sent.error !== undefined) return { ok: false, title, found: `no answer from /webhooks/${settings.provider} (${sent.error})`, fix: "check --url and that the bridge is running" };
  const status = (sent.answer as Json)?.status;
  const retried = sent.temporary.length > 0 ? ` (after ${sent.temporary.join(", ")}, retried as the provider would)` : "";
  if (sent.status === 200 && (status === "recorded" || status === "duplicate")) return { ok: true, title, found: `${userId}: 200 ${status}${retried}` };
  if (sent.status === 401) {
    return {
      ok: false,
      title,
      found: `${userId}: 401, the bridge rejected the signature made with ${describeSetting(settings.secret)}`,
      fix: settings.provider === "kinde" && !settings.local ? "Kinde signs with your business key: the doctor can sign Kinde webhooks only for a local bridge" : `${binding} here does not match the bridge's: use the same value on both sides (npx wrangler secret put ${binding}, or .dev.vars)`,
    };
  }
  if (sent.status === 404) return { ok: false, title, found: `${userId}: 404 ${JSON.stringify(sent.answer)}`, fix: `set ${binding} on the bridge` };
  return { ok: false, title, found: `${userId}: ${sent.status} ${typeof sent.answer === "string" ? sent.answer.slice(0, 200) : JSON.stringify(sent.answer)}`, fix: "see the bridge's logs (the answer says why)" };
}

/** The identity the bridge's own mapping makes of the payload (the same code the Worker runs). */
function expectedIdentity(settings: DoctorSettings, sent: SentEvent, mapping: ReturnType<typeof parseConfig>["mapping"]): CreateIdentityRequest {
  const plugin = providers.find((candidate) => candidate.name === settings.provider);
  const normalised = plugin?.normalise(sent.payload, { deliveryId: sent.eventId, receivedAt: Date.now() });
  const event = normalised?.kind === "events" ? normalised.events[0] : undefined;
  const desired = event && toDesiredIdentity(event, mapping);
  if (!desired || desired.kind !== "present") throw new Error(`the ${settings.provider} sample did not map to an identity`);
  return desired.identity;
}

function mappedFieldNames(expected: CreateIdentityRequest): string[] {
  return ["email", "display_name", "avatar_url"].filter((field) => expected[field as keyof CreateIdentityRequest] !== undefined).concat("tags", "metadata.provider");
}

/**
 * Fields whose value in orq.ai is not what the mapping makes. Tags and metadata are compared only
 * for what does not depend on the bridge's ORQ_TAGS / ORQ_METADATA_KEYS (which the doctor may not see).
 */
function mappedFieldDifferences(expected: CreateIdentityRequest, stored: StoredIdentity, provider: string): string[] {
  const wrong: string[] = [];
  for (const field of ["email", "display_name", "avatar_url"] as const) {
    if (expected[field] !== undefined && stored[field] !== expected[field]) wrong.push(field);
  }
  if (!Array.isArray(stored.tags) || !stored.tags.includes(provider)) wrong.push("tags");
  if ((stored.metadata as Json)?.provider !== provider) wrong.push("metadata.provider");
  return wrong;
}

async function waitForIdentity(
  read: Parameters<typeof lookUpOrqIdentity>[0],
  externalId: string,
  done: (identity: StoredIdentity | undefined) => boolean,
  timeoutMs: number,
): Promise<{ matched: boolean; identity: StoredIdentity | undefined; ms: number; problem?: string }> {
  const started = Date.now();
  let problem: string | undefined;
  let identity: StoredIdentity | undefined;
  for (;;) {
    const lookup = await lookUpOrqIdentity(read, externalId);
    if (lookup.ok) {
      identity = lookup.identity;
      problem = undefined;
      if (done(identity)) return { matched: true, identity, ms: Date.now() - started };
    } else {
      problem = lookup.reason;
    }
    if (Date.now() - started > timeoutMs) return { matched: false, identity: undefined, ms: Date.now() - started, ...(problem && { problem }) };
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function deleteWithKey(read: { baseUrl: string; apiKey: string; fetch: typeof fetch }, externalId: string): Promise<{ ok: true } | { ok: false; problem: string }> {
  try {
    const response = await read.fetch(`${read.baseUrl}/v2/identities/${encodeURIComponent(externalId)}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${read.apiKey}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await response.body?.cancel();
    return response.ok || response.status === 404 ? { ok: true } : { ok: false, problem: `orq.ai answered ${response.status}` };
  } catch (error) {
    return { ok: false, problem: describeError(error) };
  }
}

async function readHealth(settings: DoctorSettings, fetchImpl: typeof fetch): Promise<Json> {
  try {
    const response = await fetchImpl(`${settings.bridgeUrl}/health`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    return safeJson(await response.text());
  } catch {
    return undefined;
  }
}

function safeJson(text: string): Json {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function describeError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if ((error as Error)?.name === "TimeoutError") return "timed out";
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}
