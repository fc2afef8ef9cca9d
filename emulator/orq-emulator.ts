/**
 * A local stand-in for orq.ai's identities API (`/v2/identities`) and Budgets API (`/v2/budgets`), for the bridge's
 * integration tests and local dev.
 *
 * It follows ../../shared/reference/orq-identities.openapi.yaml and ORQ-BUDGETS.md, but is deliberately stricter than
 * the real API on input (unknown fields, `null`, over-long values are rejected; a budget needs its identity to exist)
 * so bridge bugs surface here instead of in production. Budgets: one per scope target, identity scopes keyed by
 * external_id, create answers 200, PATCH partial with `limits` replaced whole and an empty `rate_limit` clearing it,
 * DELETE by id, an identity's budget removed with it; answers in camelCase as current orq.ai sends them (the workspace
 * switch `budgetCasing: "snake"` gives the older spelling), while `identity.budget` (`?include_budget=true`) stays
 * snake_case.
 * It can also inject faults (error statuses, hung requests, dropped sockets, answers lost after the write) to exercise
 * the bridge's retries, and it has workspace-wide switches: a rolling 60 s rate limit over /v2 calls (429 with
 * `Retry-After` and `X-RateLimit-*`) and an outage (every /v2 call fails: 503, dropped or hung).
 *
 * Control API (no auth): GET /__emulator/identities[/<external_id>], GET /__emulator/budgets[?external_id=],
 * GET /__emulator/requests[?external_id=][&external_id_prefix=], GET /__emulator/stats, GET|PUT|POST(append) /__emulator/faults {rules},
 * DELETE /__emulator/faults[?externalIdPrefix=…], GET|PUT /__emulator/workspace {rateLimitPerMinute, rateLimitHeaders,
 * outage, budgetCasing} (PUT: the fields given), POST /__emulator/reset. A budget is edited or deleted by hand through
 * the normal /v2/budgets API.
 *
 * Node-only (node:http): never import it from src/, which runs on workerd.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

// ---------------------------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------------------------

export interface EmulatedIdentity {
  _id: string;
  external_id: string;
  workspace_id: string;
  display_name?: string;
  email?: string;
  avatar_url?: string;
  tags?: string[];
  metadata?: Record<string, unknown>;
  created: string;
  updated: string;
}

/** Exactly one key, as orq's `BudgetScope` oneof. */
export type EmulatedBudgetScope =
  | { workspace: Record<string, never> }
  | { project: { project_id: string } }
  | { identity: { identity_external_id: string } }
  | { api_key: { api_key_id: string } }
  | { provider: { provider: string } }
  | { model: { model_id: string } };

/** As stored, in snake_case (the spec's spelling); answers are camelCase unless `budgetCasing` is "snake". */
export interface EmulatedBudget {
  budget_id: string;
  scope: EmulatedBudgetScope;
  limits: { period: string; amount?: number; token_limit?: number };
  rate_limit?: { requests_per_minute: number };
  is_active: boolean;
  expires_at?: string;
  created_at: string;
  updated_at: string;
  /** Live counters; the emulator runs no gateway traffic, so they stay at 0. Only get and list answers carry them. */
  usage: { amount: number; tokens: number; requests: number };
}

export type ApiResource = "identities" | "budgets";

export interface LoggedRequest {
  at: number;
  method: string;
  /** As received: still percent-encoded, query string included. */
  path: string;
  /**
   * From the body for POST, else from the path (resolved to the external_id when the path used an `_id`). Budget
   * requests carry the external_id of the identity their budget is scoped to (a list: its `scope_target_id`).
   */
  externalId?: string;
  /** Which API the path addressed; absent for paths outside /v2/identities and /v2/budgets. */
  resource?: ApiResource;
  status: number | "hang" | "drop";
  /** The parsed JSON body (or the raw text when it was not JSON); absent when the request had no body. */
  body?: unknown;
  /** Set when a fault rule answered instead of the API, so tests can tell injected errors from real ones. */
  fault?: true;
  /** Fault `lose`: the operation ran (`status` is its answer) but the socket was destroyed before the answer went out. */
  lost?: true;
  /** Set when a workspace switch answered instead of the API: the rate limit (429) or the outage. */
  refusedBy?: "rate-limit" | "outage";
}

export type FaultStatus = 500 | 502 | 503 | 401 | 403 | 429 | 400 | 422;
export type FaultKind =
  | {
      status: FaultStatus;
      /** seconds; sent as `Retry-After` (meant for 429) */
      retryAfter?: number;
      /** Opt-in: the error body's message instead of the fixed text (an orq.ai validation message quoting a value, say). */
      message?: string;
      /** Opt-in: answer only after this many ms (a slow refusal, while other calls are answered). */
      delayMs?: number;
    }
  | { /** never answer until the client gives up or the emulator closes */ hang: true }
  | { /** destroy the socket without a response */ drop: true }
  | { /** run the operation (the write is applied), then destroy the socket: the answer is lost */ lose: true };
export type FaultMethod = "POST" | "PATCH" | "DELETE" | "GET";

export interface FaultRule {
  /** Only requests whose externalId starts with this, so parallel tests do not disturb each other. */
  externalIdPrefix?: string;
  method?: FaultMethod;
  /** Only requests to this API, e.g. "budgets" to fail budget calls while identities land. */
  resource?: ApiResource;
  /** Fire this many times, then the rule is spent (default: unlimited). */
  times?: number;
  /** 0..1, probability that the rule fires on a matching request (default 1): chaos mode. */
  rate?: number;
  /** When the rule fires it uses these in order, cycling (deterministic; randomness comes from `rate`). */
  faults: FaultKind[];
}

export interface FaultRuleState extends FaultRule {
  fired: number;
}

export type FaultLabel = `${FaultStatus}` | "hang" | "drop" | "lose";

/** Workspace-wide switches (defaults: no rate limit, headers always, no outage). */
export interface WorkspaceSettings {
  /**
   * Accepted /v2 calls allowed per rolling 60 s; null = unlimited. Calls the limit refuses (429) do not count
   * against the window, as with most real limiters; every call it lets through does (whatever the API answers).
   * Calls refused for a bad key (401) or during an outage never reach the limit.
   */
  rateLimitPerMinute: number | null;
  /**
   * How the limit refills: "rolling" (default, as orq.ai documents it): at most N accepted calls in any 60 s, a slot
   * frees when a call leaves the window; "bucket": N slots refilled continuously at N per minute (a burst of what is
   * left, then a steady N/min), the shape the floor of issue 10, (calls − what is left) ÷ N, assumes.
   */
  rateLimitMode: RateLimitMode;
  /**
   * Where `X-RateLimit-Limit`/`-Remaining`/`-Reset` go while a limit is set: "always" (every answer to a call the
   * limit let through, and the 429s), "on429" (the 429s only), "never". `Retry-After` is on every 429 regardless.
   */
  rateLimitHeaders: RateLimitHeaders;
  /** While set, every /v2 call fails this way, before auth: 503 without Retry-After, a dropped socket, or a hang. */
  outage: OutageMode | null;
  /** The spelling of Budgets API answers: "camel" (default, orq.ai since SDK 4.13.1) or "snake" (before it). */
  budgetCasing: BudgetCasing;
}
export type BudgetCasing = "camel" | "snake";
export type RateLimitHeaders = "always" | "on429" | "never";
export type RateLimitMode = "rolling" | "bucket";
export type OutageMode = "503" | "drop" | "hang";

export interface OutageRecord {
  mode: OutageMode;
  /** Epoch ms; endedAt is null while the outage lasts. */
  startedAt: number;
  endedAt: number | null;
  /** /v2 calls received during this outage. */
  calls: number;
}

export interface WorkspaceState extends WorkspaceSettings {
  /** /v2 calls the rate limit let through (with or without a limit set) since the start or the last reset. */
  accepted: number;
  /** Accepted calls in the last 60 s, and how many more the limit allows right now (null without a limit; whole slots). */
  inWindow: number;
  remaining: number | null;
  /** 429s sent by the rate limit (injected 429 faults are counted under stats().faults). */
  rateLimited: number;
  /** /v2 calls answered by the outage switch, all outages together. */
  outageCalls: number;
  /** The current outage (endedAt null) or the last one; null when there was none since the start or the last reset. */
  lastOutage: OutageRecord | null;
}

export interface EmulatorStats {
  requests: number;
  /** /v2 requests being served right now (hung ones included), and the most at any one time since the start or the last reset. */
  inFlight: number;
  maxInFlight: number;
  faults: Record<FaultLabel, number>;
  identities: number;
  budgets: number;
}

export interface OrqEmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** When given, only these bearer tokens are accepted; otherwise any non-empty bearer token is. */
  apiKeys?: string[];
  /** Do not print one line per request. */
  quiet?: boolean;
  /** The clock of the rate limit's window (epoch ms), for tests; default Date.now. */
  now?: () => number;
}

export interface OrqEmulator {
  /** `http://host:port`, no trailing slash. */
  url: string;
  port: number;
  /** Stops listening and destroys open sockets, hung requests included. */
  close(): Promise<void>;
  /** Clears identities, budgets, the request log, fault rules and fault counts. */
  reset(): void;
  identities(): EmulatedIdentity[];
  budgets(): EmulatedBudget[];
  requests(): LoggedRequest[];
  stats(): EmulatorStats;
  /** Replaces the fault rules; throws a TypeError when a rule is malformed. */
  setFaults(rules: FaultRule[]): void;
  /** The workspace switches and their counters. */
  workspace(): WorkspaceState;
  /** Changes the switches given (the others are kept); throws a TypeError when one is malformed. */
  setWorkspace(settings: Partial<WorkspaceSettings>): WorkspaceState;
}

// ---------------------------------------------------------------------------------------------------------------
// Limits (the real API documents only external_id's; the others are generous but finite so runaway values show up)
// ---------------------------------------------------------------------------------------------------------------

const MAX_EXTERNAL_ID = 120;
const MAX_TEXT = 1024;
const MAX_TAGS = 100;
const MAX_TAG = 256;
const MAX_METADATA_JSON = 16 * 1024;
const DEFAULT_PAGE = 10;
const MAX_PAGE = 200;
const DEFAULT_BUDGET_PAGE = 25;
const CONTROL_PREFIX = "/__emulator";

// ---------------------------------------------------------------------------------------------------------------
// Replies: handlers decide, `writeReply` is the only place that touches the socket
// ---------------------------------------------------------------------------------------------------------------

type Reply =
  | { kind: "respond"; status: number; body: unknown; headers?: Record<string, string>; delayMs?: number }
  | { kind: "hang" }
  | { kind: "drop" };

function respond(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return headers ? { kind: "respond", status, body, headers } : { kind: "respond", status, body };
}

const notFound = (): Reply => respond(404, { error: "Not found" });
const identityNotFound = (): Reply => respond(404, { error: "Identity not found" });
const validationError = (message: string): Reply => respond(422, { error: { code: "validation_error", message } });

function writeReply(res: ServerResponse, reply: Reply): void {
  switch (reply.kind) {
    case "hang":
      return; // left open on purpose: the client's timeout or close() ends it
    case "drop":
      res.socket?.destroy();
      return;
    case "respond": {
      if (reply.delayMs) {
        const { delayMs: _, ...now } = reply;
        setTimeout(() => {
          if (!res.destroyed && !res.writableEnded) writeReply(res, now);
        }, reply.delayMs);
        return;
      }
      // A string body is an HTML error page, the way a gateway in front of the API answers.
      const isHtml = typeof reply.body === "string";
      res.writeHead(reply.status, {
        "content-type": isHtml ? "text/html; charset=utf-8" : "application/json",
        ...reply.headers,
      });
      res.end(isHtml ? reply.body : JSON.stringify(reply.body));
    }
  }
}

function statusOf(reply: Reply): LoggedRequest["status"] {
  return reply.kind === "respond" ? reply.status : reply.kind;
}

// ---------------------------------------------------------------------------------------------------------------
// Identity store
// ---------------------------------------------------------------------------------------------------------------

interface ProfileInput {
  display_name?: string;
  email?: string;
  avatar_url?: string;
  tags?: string[];
  metadata?: Record<string, unknown>;
}

interface CreateInput extends ProfileInput {
  external_id: string;
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const RANDOM_MASK = (1n << 80n) - 1n;

function encodeCrockford(value: bigint, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++, value >>= 5n) out = CROCKFORD[Number(value & 31n)] + out;
  return out;
}

/**
 * Monotonic ULIDs: within one millisecond the random part is incremented, so `_id` order is creation order
 * and list cursors (`starting_after` / `ending_before`) can compare ids as strings, even for deleted cursors.
 */
function createUlidFactory(): () => string {
  let lastTime = -1;
  let lastRandom = 0n;
  return () => {
    const now = Date.now();
    if (now > lastTime) {
      lastTime = now;
      lastRandom = BigInt(`0x${randomBytes(10).toString("hex")}`);
    } else {
      lastRandom = (lastRandom + 1n) & RANDOM_MASK;
    }
    return encodeCrockford(BigInt(lastTime), 10) + encodeCrockford(lastRandom, 16);
  };
}

class IdentityStore {
  readonly workspaceId = randomUUID();
  /** Insertion order is creation order is `_id` order. */
  private readonly byId = new Map<string, EmulatedIdentity>();
  private readonly idByExternalId = new Map<string, string>();
  private readonly nextId = createUlidFactory();

  get size(): number {
    return this.byId.size;
  }

  /** The API's `{id}` accepts the orq `_id` or the external_id. */
  find(idOrExternalId: string): EmulatedIdentity | undefined {
    return this.byId.get(idOrExternalId) ?? this.findByExternalId(idOrExternalId);
  }

  findByExternalId(externalId: string): EmulatedIdentity | undefined {
    const id = this.idByExternalId.get(externalId);
    return id === undefined ? undefined : this.byId.get(id);
  }

  /** Undefined when the external_id is taken. */
  create(input: CreateInput): EmulatedIdentity | undefined {
    if (this.idByExternalId.has(input.external_id)) return undefined;
    const now = new Date().toISOString();
    const { external_id, ...profile } = structuredClone(input);
    const identity: EmulatedIdentity = {
      _id: this.nextId(),
      external_id,
      workspace_id: this.workspaceId,
      ...profile,
      created: now,
      updated: now,
    };
    this.byId.set(identity._id, identity);
    this.idByExternalId.set(identity.external_id, identity._id);
    return identity;
  }

  /** Present fields replace the stored ones wholesale (tags and metadata included); absent fields are kept. */
  update(identity: EmulatedIdentity, input: ProfileInput): EmulatedIdentity {
    return Object.assign(identity, structuredClone(input), { updated: new Date().toISOString() });
  }

  delete(identity: EmulatedIdentity): void {
    this.byId.delete(identity._id);
    this.idByExternalId.delete(identity.external_id);
  }

  all(): EmulatedIdentity[] {
    return [...this.byId.values()];
  }

  clear(): void {
    this.byId.clear();
    this.idByExternalId.clear();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Request body validation (mirrors CreateIdentityRequest / UpdateIdentityRequest, plus the documented quirks)
// ---------------------------------------------------------------------------------------------------------------

/** Returns the problem with a value, or undefined when it is fine. */
type Check = (value: unknown) => string | undefined;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function mustBeString(value: unknown): string | undefined {
  if (value === null) return "must be a string (omit the field instead of sending null)";
  return typeof value === "string" ? undefined : "must be a string";
}

const externalIdCheck: Check = (value) =>
  mustBeString(value) ??
  ((value as string).length < 1 || (value as string).length > MAX_EXTERNAL_ID
    ? `must be 1-${MAX_EXTERNAL_ID} characters`
    : undefined);

const textCheck: Check = (value) =>
  mustBeString(value) ?? ((value as string).length > MAX_TEXT ? `must be at most ${MAX_TEXT} characters` : undefined);

const tagsCheck: Check = (value) => {
  if (!Array.isArray(value)) return "must be an array of strings";
  if (value.length > MAX_TAGS) return `must have at most ${MAX_TAGS} tags`;
  const valid = value.every((tag) => typeof tag === "string" && tag.length >= 1 && tag.length <= MAX_TAG);
  return valid ? undefined : `must contain only strings of 1-${MAX_TAG} characters`;
};

const metadataCheck: Check = (value) => {
  if (!isPlainObject(value)) return "must be a JSON object";
  return JSON.stringify(value).length > MAX_METADATA_JSON ? `must be at most ${MAX_METADATA_JSON} bytes of JSON` : undefined;
};

const profileChecks: Record<string, Check> = {
  display_name: textCheck,
  email: textCheck,
  avatar_url: textCheck,
  tags: tagsCheck,
  metadata: metadataCheck,
};
const createChecks: Record<string, Check> = { external_id: externalIdCheck, ...profileChecks };
const updateChecks: Record<string, Check> = { ...profileChecks, external_id: () => "cannot be updated" };

/** The first problem as `"<field>: <problem>"`, or undefined. Unknown fields are rejected, not ignored. */
function validateBody(body: unknown, checks: Record<string, Check>, required: readonly string[]): string | undefined {
  if (!isPlainObject(body)) return "body: must be a JSON object";
  for (const field of required) if (!Object.hasOwn(body, field)) return `${field}: required`;
  for (const [field, value] of Object.entries(body)) {
    // hasOwn, not `checks[field]`: "constructor" and friends must count as unknown fields.
    if (!Object.hasOwn(checks, field)) return `${field}: unknown field`;
    const problem = checks[field]?.(value);
    if (problem) return `${field}: ${problem}`;
  }
  return undefined;
}

type ParsedBody = { kind: "none" } | { kind: "json"; value: unknown } | { kind: "malformed"; text: string };

function parseBody(text: string): ParsedBody {
  if (text === "") return { kind: "none" };
  try {
    return { kind: "json", value: JSON.parse(text) };
  } catch {
    return { kind: "malformed", text };
  }
}

type InputResult<T> = { ok: true; input: T } | { ok: false; reply: Reply };

/** Validates a create/update body: 400 when it is not JSON, 422 when a field is wrong. */
function readInput<T>(body: ParsedBody, checks: Record<string, Check>, required: readonly string[]): InputResult<T> {
  if (body.kind !== "json") {
    return { ok: false, reply: respond(400, { error: { code: "invalid_json", message: "body: malformed JSON" } }) };
  }
  const problem = validateBody(body.value, checks, required);
  // The cast is what validateBody just checked field by field.
  return problem ? { ok: false, reply: validationError(problem) } : { ok: true, input: body.value as T };
}

// ---------------------------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------------------------

const FAULT_STATUSES: readonly FaultStatus[] = [400, 401, 403, 422, 429, 500, 502, 503];
const FAULT_METHODS: readonly string[] = ["POST", "PATCH", "DELETE", "GET"];
const RULE_FIELDS: readonly string[] = ["externalIdPrefix", "method", "resource", "times", "rate", "faults"];
const API_RESOURCES: readonly string[] = ["identities", "budgets"];
const STATUS_FAULT_FIELDS: readonly string[] = ["status", "retryAfter", "message", "delayMs"];

function faultLabel(fault: FaultKind): FaultLabel {
  if ("hang" in fault) return "hang";
  if ("drop" in fault) return "drop";
  if ("lose" in fault) return "lose";
  return `${fault.status}`;
}

function emptyFaultCounts(): Record<FaultLabel, number> {
  const labels: FaultLabel[] = [...FAULT_STATUSES.map((status) => `${status}` as const), "hang", "drop", "lose"];
  return Object.fromEntries(labels.map((label) => [label, 0])) as Record<FaultLabel, number>;
}

/** Error bodies vary on purpose, as they do across orq's API eras: clients must depend on the status alone. */
const FAULT_BODIES: Record<FaultStatus, unknown> = {
  400: { error: { code: "bad_request", message: "injected fault" } },
  401: { error: "Unauthorized" },
  403: { message: "Forbidden" },
  422: { error: { code: "validation_error", message: "injected fault" } },
  429: { message: "Too Many Requests" },
  500: { error: "Internal Server Error" },
  502: "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
  503: { message: "Service Unavailable" },
};

/** The answer a fault gives instead of the operation (`lose` runs the operation first: see EmulatorState.answer). */
function faultReply(fault: FaultKind): Reply {
  if ("hang" in fault) return { kind: "hang" };
  if ("drop" in fault || "lose" in fault) return { kind: "drop" };
  const headers: Record<string, string> = {};
  if (fault.retryAfter !== undefined) headers["retry-after"] = String(fault.retryAfter);
  // An injected 429 is about one identity (an identity budget, say): Retry-After only. The
  // workspace's own rate limit, with its X-RateLimit-* headers, is the workspace switch.
  const body = fault.message === undefined ? FAULT_BODIES[fault.status] : { error: { code: "injected_fault", message: fault.message } };
  const reply = respond(fault.status, body, headers);
  if (fault.delayMs && reply.kind === "respond") reply.delayMs = fault.delayMs;
  return reply;
}

function validateFaultKind(value: unknown): string | undefined {
  if (!isPlainObject(value)) return "must be an object";
  const keys = Object.keys(value).sort().join(",");
  if (keys === "hang") return value.hang === true ? undefined : "hang must be true";
  if (keys === "drop") return value.drop === true ? undefined : "drop must be true";
  if (keys === "lose") return value.lose === true ? undefined : "lose must be true";
  if (!("status" in value) || Object.keys(value).some((key) => !STATUS_FAULT_FIELDS.includes(key))) {
    return "must be {status, retryAfter?, message?, delayMs?}, {hang: true}, {drop: true} or {lose: true}";
  }
  if (!FAULT_STATUSES.includes(value.status as FaultStatus)) return `status must be one of ${FAULT_STATUSES.join(", ")}`;
  const { retryAfter, message, delayMs } = value;
  if (retryAfter !== undefined && !(typeof retryAfter === "number" && Number.isFinite(retryAfter) && retryAfter >= 0)) {
    return "retryAfter must be seconds >= 0";
  }
  if (message !== undefined && typeof message !== "string") return "message must be a string";
  if (delayMs !== undefined && !(typeof delayMs === "number" && Number.isInteger(delayMs) && delayMs >= 0 && delayMs <= 60_000)) {
    return "delayMs must be an integer in 0..60000";
  }
  return undefined;
}

function validateFaultRule(value: unknown): string | undefined {
  if (!isPlainObject(value)) return "must be an object";
  const extra = Object.keys(value).find((key) => !RULE_FIELDS.includes(key));
  if (extra) return `${extra}: unknown field`;
  const { externalIdPrefix, method, resource, times, rate, faults } = value;
  if (externalIdPrefix !== undefined && typeof externalIdPrefix !== "string") return "externalIdPrefix: must be a string";
  if (method !== undefined && !FAULT_METHODS.includes(method as string)) return `method: must be one of ${FAULT_METHODS.join(", ")}`;
  if (resource !== undefined && !API_RESOURCES.includes(resource as string)) return `resource: must be one of ${API_RESOURCES.join(", ")}`;
  if (times !== undefined && !(typeof times === "number" && Number.isInteger(times) && times >= 1)) {
    return "times: must be an integer >= 1";
  }
  if (rate !== undefined && !(typeof rate === "number" && rate >= 0 && rate <= 1)) return "rate: must be a number in 0..1";
  if (!Array.isArray(faults) || faults.length === 0) return "faults: must be a non-empty array";
  for (const [i, fault] of faults.entries()) {
    const problem = validateFaultKind(fault);
    if (problem) return `faults[${i}]: ${problem}`;
  }
  return undefined;
}

/** `"rules[<i>].<problem>"` for the first malformed rule, or undefined. */
export function validateFaultRules(value: unknown): string | undefined {
  if (!Array.isArray(value)) return "rules: must be an array";
  for (const [i, rule] of value.entries()) {
    const problem = validateFaultRule(rule);
    if (problem) return `rules[${i}]: ${problem}`;
  }
  return undefined;
}

class FaultInjector {
  private rules: FaultRuleState[] = [];
  private injected = emptyFaultCounts();

  replace(rules: readonly FaultRule[]): void {
    this.rules = [];
    this.append(rules);
  }

  /** Adds rules after the existing ones, whose `fired` counts are kept. */
  append(rules: readonly FaultRule[]): void {
    this.rules.push(...rules.map((rule) => ({ ...structuredClone(rule), fired: 0 })));
  }

  /** Drops the rules scoped to one prefix: orq.ai "recovers" for those users only. */
  removePrefix(prefix: string): void {
    this.rules = this.rules.filter((rule) => rule.externalIdPrefix !== prefix);
  }

  list(): FaultRuleState[] {
    return structuredClone(this.rules);
  }

  counts(): Record<FaultLabel, number> {
    return { ...this.injected };
  }

  clear(): void {
    this.rules = [];
    this.injected = emptyFaultCounts();
  }

  /** The fault to answer with instead of serving the request: the first live matching rule that rolls under its rate. */
  pick(method: string, externalId: string | undefined, resource: ApiResource | undefined): FaultKind | undefined {
    for (const rule of this.rules) {
      if (!ruleApplies(rule, method, externalId, resource)) continue;
      if (Math.random() >= (rule.rate ?? 1)) continue;
      const fault = rule.faults[rule.fired % rule.faults.length];
      if (!fault) continue;
      rule.fired++;
      this.injected[faultLabel(fault)]++;
      return fault;
    }
    return undefined;
  }
}

function ruleApplies(rule: FaultRuleState, method: string, externalId: string | undefined, resource: ApiResource | undefined): boolean {
  if (rule.times !== undefined && rule.fired >= rule.times) return false;
  if (rule.method !== undefined && rule.method !== method) return false;
  if (rule.resource !== undefined && rule.resource !== resource) return false;
  if (rule.externalIdPrefix === undefined) return true;
  return externalId?.startsWith(rule.externalIdPrefix) ?? false;
}

// ---------------------------------------------------------------------------------------------------------------
// Workspace switches: the rate limit (rolling 60 s window) and the outage
// ---------------------------------------------------------------------------------------------------------------

const RATE_WINDOW_MS = 60_000;
const RATE_LIMIT_HEADERS: readonly string[] = ["always", "on429", "never"];
const RATE_LIMIT_MODES: readonly string[] = ["rolling", "bucket"];
const OUTAGE_MODES: readonly string[] = ["503", "drop", "hang"];
const BUDGET_CASINGS: readonly string[] = ["camel", "snake"];
const WORKSPACE_FIELDS: readonly string[] = ["rateLimitPerMinute", "rateLimitMode", "rateLimitHeaders", "outage", "budgetCasing"];
const DEFAULT_WORKSPACE: WorkspaceSettings = {
  rateLimitPerMinute: null,
  rateLimitMode: "rolling",
  rateLimitHeaders: "always",
  outage: null,
  budgetCasing: "camel",
};

/** The first problem with a (partial) settings object, or undefined. */
export function validateWorkspaceSettings(value: unknown): string | undefined {
  if (!isPlainObject(value)) return "body: must be a JSON object";
  const extra = Object.keys(value).find((key) => !WORKSPACE_FIELDS.includes(key));
  if (extra) return `${extra}: unknown field`;
  const { rateLimitPerMinute: limit, rateLimitMode: mode, rateLimitHeaders: headers, outage, budgetCasing } = value;
  if (limit !== undefined && limit !== null && !(typeof limit === "number" && Number.isInteger(limit) && limit >= 1)) {
    return "rateLimitPerMinute: must be an integer >= 1 or null";
  }
  if (mode !== undefined && !RATE_LIMIT_MODES.includes(mode as string)) return `rateLimitMode: must be one of ${RATE_LIMIT_MODES.join(", ")}`;
  if (headers !== undefined && !RATE_LIMIT_HEADERS.includes(headers as string)) return `rateLimitHeaders: must be one of ${RATE_LIMIT_HEADERS.join(", ")}`;
  if (outage !== undefined && outage !== null && !OUTAGE_MODES.includes(outage as string)) return `outage: must be null or one of ${OUTAGE_MODES.join(", ")}`;
  if (budgetCasing !== undefined && !BUDGET_CASINGS.includes(budgetCasing as string)) return `budgetCasing: must be one of ${BUDGET_CASINGS.join(", ")}`;
  return undefined;
}

/** What the rate limit decided for one call. */
type Admission = { admitted: true; headers: Record<string, string> } | { admitted: false; reply: Reply };

class Workspace {
  private settings: WorkspaceSettings = { ...DEFAULT_WORKSPACE };
  /** Times (ms) of the accepted calls of the last 60 s, oldest first, from `head` on (kept in both modes). */
  private window: number[] = [];
  private head = 0;
  /** Mode "bucket": free slots (fractional while refilling) as of `refilledAt`. */
  private tokens = 0;
  private refilledAt = 0;
  private accepted = 0;
  private rateLimited = 0;
  private outageCalls = 0;
  private lastOutage: OutageRecord | null = null;

  constructor(private readonly now: () => number) {}

  configure(change: Partial<WorkspaceSettings>): void {
    const next = { ...this.settings, ...change };
    const at = this.now();
    if (next.outage !== null && this.settings.outage === null) this.lastOutage = { mode: next.outage, startedAt: at, endedAt: null, calls: 0 };
    else if (next.outage !== null && this.lastOutage) this.lastOutage.mode = next.outage; // another way of failing, same outage
    if (next.outage === null && this.settings.outage !== null && this.lastOutage) this.lastOutage.endedAt = at;
    const limitChanged = next.rateLimitPerMinute !== this.settings.rateLimitPerMinute || next.rateLimitMode !== this.settings.rateLimitMode;
    this.settings = next;
    if (limitChanged && next.rateLimitPerMinute !== null) {
      // A new bucket starts with what a rolling window would still allow: the calls of the last minute count.
      this.prune(at);
      this.tokens = Math.max(0, next.rateLimitPerMinute - this.used());
      this.refilledAt = at;
    }
  }

  budgetCasing(): BudgetCasing {
    return this.settings.budgetCasing;
  }

  /** The outage's reply when one is on (counted), else undefined. */
  outageReply(): Reply | undefined {
    const mode = this.settings.outage;
    if (mode === null) return undefined;
    this.outageCalls++;
    if (this.lastOutage) this.lastOutage.calls++;
    if (mode === "503") return respond(503, FAULT_BODIES[503]);
    return { kind: mode };
  }

  /** Counts the call when the limit lets it through; otherwise a 429 (not counted). */
  admit(): Admission {
    const now = this.now();
    this.prune(now);
    this.refill(now);
    const limit = this.settings.rateLimitPerMinute;
    if (limit !== null && this.free() < 1) {
      this.rateLimited++;
      const wait = this.secondsUntilSlot(now, limit);
      const headers: Record<string, string> = { "retry-after": String(wait) };
      if (this.settings.rateLimitHeaders !== "never") {
        Object.assign(headers, { "x-ratelimit-limit": String(limit), "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(wait) });
      }
      return { admitted: false, reply: respond(429, { message: "Too Many Requests", error: "rate limit exceeded" }, headers) };
    }
    this.window.push(now);
    this.accepted++;
    if (limit === null) return { admitted: true, headers: {} };
    if (this.settings.rateLimitMode === "bucket") this.tokens -= 1;
    if (this.settings.rateLimitHeaders !== "always") return { admitted: true, headers: {} };
    return {
      admitted: true,
      headers: {
        "x-ratelimit-limit": String(limit),
        "x-ratelimit-remaining": String(Math.max(0, Math.floor(this.free()))),
        "x-ratelimit-reset": String(this.secondsUntilSlot(now, limit)),
      },
    };
  }

  state(): WorkspaceState {
    const now = this.now();
    this.prune(now);
    this.refill(now);
    const limit = this.settings.rateLimitPerMinute;
    return {
      ...this.settings,
      accepted: this.accepted,
      inWindow: this.used(),
      remaining: limit === null ? null : Math.max(0, Math.floor(this.free())),
      rateLimited: this.rateLimited,
      outageCalls: this.outageCalls,
      lastOutage: this.lastOutage && { ...this.lastOutage },
    };
  }

  reset(): void {
    this.settings = { ...DEFAULT_WORKSPACE };
    this.window = [];
    this.head = 0;
    this.tokens = 0;
    this.refilledAt = 0;
    this.accepted = 0;
    this.rateLimited = 0;
    this.outageCalls = 0;
    this.lastOutage = null;
  }

  private used(): number {
    return this.window.length - this.head;
  }

  /** Slots free now (call only with a limit set). */
  private free(): number {
    const limit = this.settings.rateLimitPerMinute ?? Number.POSITIVE_INFINITY;
    return this.settings.rateLimitMode === "bucket" ? this.tokens : limit - this.used();
  }

  /** Whole seconds (>= 1) until one more slot is free: the oldest call leaves the window, or the bucket refills one. */
  private secondsUntilSlot(now: number, limit: number): number {
    if (this.settings.rateLimitMode === "bucket") {
      const missing = Math.floor(this.tokens) + 1 - this.tokens;
      return Math.max(1, Math.ceil((missing * RATE_WINDOW_MS) / limit / 1000 - 1e-9)); // 1e-9: 10.000000001 s is 10 s
    }
    const oldest = this.window[this.head] ?? now;
    return Math.max(1, Math.ceil((oldest + RATE_WINDOW_MS - now) / 1000));
  }

  private refill(now: number): void {
    const limit = this.settings.rateLimitPerMinute;
    if (limit === null || this.settings.rateLimitMode !== "bucket") return;
    this.tokens = Math.min(limit, this.tokens + ((now - this.refilledAt) * limit) / RATE_WINDOW_MS);
    this.refilledAt = now;
  }

  private prune(now: number): void {
    while (this.head < this.window.length && this.window[this.head]! <= now - RATE_WINDOW_MS) this.head++;
    if (this.head > 1024 && this.head * 2 > this.window.length) {
      this.window = this.window.slice(this.head);
      this.head = 0;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The /v2 API
// ---------------------------------------------------------------------------------------------------------------

/** One request, body already read and parsed. */
interface IncomingApiRequest {
  method: string;
  /** Raw request target, for the log. */
  target: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: ParsedBody;
}

type ApiRoute =
  | { op: "unknown"; resource?: ApiResource }
  | { op: "list" | "create"; resource: ApiResource }
  | { op: "retrieve" | "update" | "delete"; resource: ApiResource; id: string };

const ITEM_OPS: Record<string, "retrieve" | "update" | "delete"> = { GET: "retrieve", PATCH: "update", DELETE: "delete" };

function matchApiRoute(method: string, pathname: string): ApiRoute {
  const resource = /^\/v2\/(identities|budgets)(?:\/|$)/.exec(pathname)?.[1] as ApiResource | undefined;
  if (resource === undefined) return { op: "unknown" };
  const rest = pathname.slice(`/v2/${resource}`.length);
  if (rest === "" || rest === "/") {
    if (method === "GET") return { op: "list", resource };
    if (method === "POST") return { op: "create", resource };
    return { op: "unknown", resource };
  }
  const segment = /^\/([^/]+)$/.exec(rest)?.[1];
  const op = ITEM_OPS[method];
  const id = segment === undefined ? undefined : decodeSegment(segment);
  return op && id !== undefined ? { op, resource, id } : { op: "unknown", resource };
}

/** External ids from auth providers contain `|` and friends; clients percent-encode them. */
function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** What the operations work on: the two stores, and the spelling of budget answers. */
interface ApiContext {
  store: IdentityStore;
  budgets: BudgetStore;
  casing: BudgetCasing;
}

function externalIdOf(api: ApiContext, route: ApiRoute, request: IncomingApiRequest): string | undefined {
  if (route.resource === "budgets") return budgetExternalIdOf(api.budgets, route, request);
  if (route.op === "create") {
    const { body } = request;
    const value = body.kind === "json" && isPlainObject(body.value) ? body.value.external_id : undefined;
    return typeof value === "string" ? value : undefined;
  }
  if ("id" in route) return api.store.find(route.id)?.external_id ?? route.id;
  return undefined;
}

function runOperation(api: ApiContext, route: ApiRoute, request: IncomingApiRequest): Reply {
  if (route.resource === "budgets") return runBudgetOperation(api, route, request);
  const { store, budgets } = api;
  const withBudgets = request.url.searchParams.get("include_budget") === "true";
  switch (route.op) {
    case "create":
      return createIdentity(store, request.body);
    case "list":
      return listIdentities(store, request.url.searchParams, withBudgets ? budgets : undefined);
    case "retrieve": {
      const identity = store.find(route.id);
      if (!identity) return identityNotFound();
      return respond(200, { identity: withBudgets ? withBudget(identity, budgets) : identity });
    }
    case "update":
      return updateIdentity(store, route.id, request.body);
    case "delete": {
      const identity = store.find(route.id);
      if (!identity) return identityNotFound();
      store.delete(identity);
      // orq.ai removes an identity's budget configuration with it.
      budgets.deleteForIdentity(identity.external_id);
      return respond(200, {});
    }
    case "unknown":
      return notFound();
  }
}

/** `?include_budget=true`: the identity's budget when it has one, snake_case and without usage, as orq.ai answers it. */
function withBudget(identity: EmulatedIdentity, budgets: BudgetStore): EmulatedIdentity & { budget?: unknown } {
  const budget = budgets.forIdentity(identity.external_id);
  return budget ? { ...identity, budget: budgetView(budget, "snake", false) } : identity;
}

function createIdentity(store: IdentityStore, body: ParsedBody): Reply {
  const result = readInput<CreateInput>(body, createChecks, ["external_id"]);
  if (!result.ok) return result.reply;
  const { input } = result;
  const identity = store.create(input);
  if (!identity) return respond(409, { error: `Identity with external_id '${input.external_id}' already exists` });
  return respond(201, { identity }, { location: `/v2/identities/${identity._id}` });
}

/** Validates before looking up, so a malformed body is a 422 whether or not the identity exists. */
function updateIdentity(store: IdentityStore, id: string, body: ParsedBody): Reply {
  const result = readInput<ProfileInput>(body, updateChecks, []);
  if (!result.ok) return result.reply;
  const identity = store.find(id);
  return identity ? respond(200, { identity: store.update(identity, result.input) }) : identityNotFound();
}

function parseLimit(raw: string | null): number | undefined {
  if (raw === null) return DEFAULT_PAGE;
  const limit = Number(raw);
  return Number.isInteger(limit) && limit >= 1 && limit <= MAX_PAGE ? limit : undefined;
}

function matchesSearch(identity: EmulatedIdentity, search: string): boolean {
  const needle = search.toLowerCase();
  return [identity.external_id, identity.display_name, identity.email].some((field) => field?.toLowerCase().includes(needle));
}

function listIdentities(store: IdentityStore, params: URLSearchParams, budgets?: BudgetStore): Reply {
  const limit = parseLimit(params.get("limit"));
  if (limit === undefined) return validationError(`limit: must be an integer between 1 and ${MAX_PAGE}`);
  const search = params.get("search");
  const tags = params.getAll("filter_by.tags");
  const matching = store
    .all()
    .filter((identity) => !search || matchesSearch(identity, search))
    .filter((identity) => tags.length === 0 || tags.some((tag) => identity.tags?.includes(tag)));

  // `_id`s sort in creation order (monotonic ULIDs), so a cursor works even after its identity was deleted.
  const before = params.get("ending_before");
  const after = params.get("starting_after");
  const shown = (page: EmulatedIdentity[]) => (budgets ? page.map((identity) => withBudget(identity, budgets)) : page);
  if (before) {
    const earlier = matching.filter((identity) => identity._id < before);
    return respond(200, { object: "list", data: shown(earlier.slice(-limit)), has_more: earlier.length > limit });
  }
  const later = after ? matching.filter((identity) => identity._id > after) : matching;
  return respond(200, { object: "list", data: shown(later.slice(0, limit)), has_more: later.length > limit });
}

// ---------------------------------------------------------------------------------------------------------------
// The Budgets API (/v2/budgets): store, validation, operations
// ---------------------------------------------------------------------------------------------------------------

/** Scope key → the list filter's kind and the field holding the scope's target id (the workspace has none). */
const BUDGET_SCOPES: Record<string, { kind: string; field?: string }> = {
  workspace: { kind: "BUDGET_SCOPE_KIND_WORKSPACE" },
  project: { kind: "BUDGET_SCOPE_KIND_PROJECT", field: "project_id" },
  identity: { kind: "BUDGET_SCOPE_KIND_IDENTITY", field: "identity_external_id" },
  api_key: { kind: "BUDGET_SCOPE_KIND_API_KEY", field: "api_key_id" },
  provider: { kind: "BUDGET_SCOPE_KIND_PROVIDER", field: "provider" },
  model: { kind: "BUDGET_SCOPE_KIND_MODEL", field: "model_id" },
};
const SCOPE_KIND_NAMES: readonly string[] = Object.values(BUDGET_SCOPES).map(({ kind }) => kind);
const BUDGET_PERIODS: readonly string[] = ["DAILY", "WEEKLY", "MONTHLY", "YEARLY", "ONE_TIME"].map((period) => `BUDGET_PERIOD_${period}`);
/** Documented fields the emulator does not implement: refused by name rather than silently dropped. */
const NOT_EMULATED: readonly string[] = ["match", "alerts", "clear_alerts"];

/** `[kind, target id]` of a stored budget's scope; the workspace's target is its (only) workspace. */
function scopeTarget(scope: EmulatedBudgetScope): [kind: string, target: string] {
  const [key, inner] = Object.entries(scope)[0] as [string, Record<string, string>];
  const spec = BUDGET_SCOPES[key]!;
  return [spec.kind, spec.field ? inner[spec.field]! : ""];
}

function identityOf(budget: EmulatedBudget): string | undefined {
  return "identity" in budget.scope ? budget.scope.identity.identity_external_id : undefined;
}

class BudgetStore {
  /** Insertion order is creation order is `budget_id` order. */
  private readonly byId = new Map<string, EmulatedBudget>();
  /** One budget per (scope kind, target): orq's uniqueness rule. */
  private readonly idByScope = new Map<string, string>();
  private readonly nextId = createUlidFactory();

  get size(): number {
    return this.byId.size;
  }

  get(budgetId: string): EmulatedBudget | undefined {
    return this.byId.get(budgetId);
  }

  forIdentity(externalId: string): EmulatedBudget | undefined {
    const id = this.idByScope.get(scopeKey("BUDGET_SCOPE_KIND_IDENTITY", externalId));
    return id === undefined ? undefined : this.byId.get(id);
  }

  /** Undefined when the scope already has a budget. */
  create(input: BudgetCreateInput): EmulatedBudget | undefined {
    const key = scopeKey(...scopeTarget(input.scope));
    if (this.idByScope.has(key)) return undefined;
    const now = new Date().toISOString();
    const { is_active, ...fields } = structuredClone(input);
    const budget: EmulatedBudget = {
      budget_id: this.nextId(),
      ...fields,
      is_active: is_active ?? true,
      created_at: now,
      updated_at: now,
      usage: { amount: 0, tokens: 0, requests: 0 },
    };
    this.byId.set(budget.budget_id, budget);
    this.idByScope.set(key, budget.budget_id);
    return budget;
  }

  /** `limits` is replaced whole; an empty `rate_limit` clears it; `clear_expires_at` removes the expiry. */
  update(budget: EmulatedBudget, input: BudgetUpdateInput): EmulatedBudget {
    const { limits, rate_limit, is_active, expires_at, clear_expires_at } = structuredClone(input);
    if (limits) budget.limits = limits;
    if (rate_limit) {
      if (rate_limit.requests_per_minute === undefined) delete budget.rate_limit;
      else budget.rate_limit = { requests_per_minute: rate_limit.requests_per_minute };
    }
    if (is_active !== undefined) budget.is_active = is_active;
    if (expires_at !== undefined) budget.expires_at = expires_at;
    if (clear_expires_at) delete budget.expires_at;
    budget.updated_at = new Date().toISOString();
    return budget;
  }

  delete(budget: EmulatedBudget): void {
    this.byId.delete(budget.budget_id);
    this.idByScope.delete(scopeKey(...scopeTarget(budget.scope)));
  }

  deleteForIdentity(externalId: string): void {
    const budget = this.forIdentity(externalId);
    if (budget) this.delete(budget);
  }

  all(): EmulatedBudget[] {
    return [...this.byId.values()];
  }

  clear(): void {
    this.byId.clear();
    this.idByScope.clear();
  }
}

function scopeKey(kind: string, target: string): string {
  return `${kind}\u0000${target}`;
}

interface BudgetCreateInput {
  scope: EmulatedBudgetScope;
  limits: EmulatedBudget["limits"];
  rate_limit?: { requests_per_minute: number };
  is_active?: boolean;
  expires_at?: string;
}

interface BudgetUpdateInput {
  limits?: EmulatedBudget["limits"];
  /** `{}` clears the rate limit. */
  rate_limit?: { requests_per_minute?: number };
  is_active?: boolean;
  expires_at?: string;
  clear_expires_at?: boolean;
}

/** Budget errors are `{"error": "<message>"}` (orq's Terraform provider reads them so); bad input is a 400. */
const budgetError = (message: string): Reply => respond(400, { error: message });
const budgetNotFound = (): Reply => respond(404, { error: "Budget not found" });

const isCount = (value: unknown, min: number) => typeof value === "number" && Number.isInteger(value) && value >= min;

function checkScope(value: unknown): string | undefined {
  if (!isPlainObject(value)) return "scope: must be an object";
  const keys = Object.keys(value);
  if (keys.length !== 1) return `scope: must set exactly one of ${Object.keys(BUDGET_SCOPES).join(", ")}`;
  const key = keys[0]!;
  if (!Object.hasOwn(BUDGET_SCOPES, key)) return `scope.${key}: unknown scope`;
  const inner = value[key];
  if (!isPlainObject(inner)) return `scope.${key}: must be an object`;
  const { field } = BUDGET_SCOPES[key]!;
  const extra = Object.keys(inner).find((name) => name !== field);
  if (extra) return `scope.${key}.${extra}: unknown field`;
  if (field === undefined) return undefined;
  const target = inner[field];
  if (typeof target !== "string" || target.length < 1) return `scope.${key}.${field}: must be a non-empty string`;
  return field === "identity_external_id" && target.length > MAX_EXTERNAL_ID ? `scope.${key}.${field}: must be 1-${MAX_EXTERNAL_ID} characters` : undefined;
}

/** Stricter than orq.ai: token_limit must be a JSON number (older docs showed a string). */
function checkLimits(value: unknown): string | undefined {
  if (!isPlainObject(value)) return "limits: must be an object";
  const extra = Object.keys(value).find((name) => !["period", "amount", "token_limit"].includes(name));
  if (extra) return `limits.${extra}: unknown field`;
  if (!Object.hasOwn(value, "period")) return "limits.period: required (the server has no default)";
  if (!BUDGET_PERIODS.includes(value.period as string)) return `limits.period: must be one of ${BUDGET_PERIODS.join(", ")}`;
  const { amount, token_limit } = value;
  if (amount !== undefined && !(typeof amount === "number" && Number.isFinite(amount) && amount >= 0)) return "limits.amount: must be a number >= 0";
  if (token_limit !== undefined && !isCount(token_limit, 0)) return "limits.token_limit: must be an integer >= 0";
  return undefined;
}

function checkRateLimit(value: unknown): string | undefined {
  if (!isPlainObject(value)) return "rate_limit: must be an object";
  const extra = Object.keys(value).find((name) => name !== "requests_per_minute");
  if (extra) return `rate_limit.${extra}: unknown field`;
  const perMinute = value.requests_per_minute;
  return perMinute === undefined || isCount(perMinute, 1) ? undefined : "rate_limit.requests_per_minute: must be an integer >= 1";
}

function checkExpiresAt(value: unknown, active: boolean): string | undefined {
  if (typeof value !== "string" || !/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(Date.parse(value))) return "expires_at: must be an RFC 3339 time";
  return active && Date.parse(value) <= Date.now() ? "expires_at: must be in the future while the budget is active" : undefined;
}

/** The first problem with a create or update body, or undefined. */
function checkBudgetBody(body: unknown, current: "create" | "update"): string | undefined {
  if (!isPlainObject(body)) return "body: must be a JSON object";
  const allowed = current === "create" ? ["scope", "limits", "rate_limit", "is_active", "expires_at"] : ["limits", "rate_limit", "is_active", "expires_at", "clear_expires_at"];
  for (const field of Object.keys(body)) {
    if (NOT_EMULATED.includes(field)) return `${field}: not emulated (identity budgets use scope and limits)`;
    if (field === "scope" && current === "update") return "scope: cannot be updated (delete the budget and create another)";
    if (!allowed.includes(field)) return `${field}: unknown field`;
  }
  if (current === "create") {
    if (!Object.hasOwn(body, "scope")) return "scope: required";
    const scopeProblem = checkScope(body.scope);
    if (scopeProblem) return scopeProblem;
    if (!Object.hasOwn(body, "limits")) return "limits: required";
  }
  if (body.limits !== undefined) {
    const problem = checkLimits(body.limits);
    if (problem) return problem;
  }
  if (body.rate_limit !== undefined) {
    const problem = checkRateLimit(body.rate_limit);
    if (problem) return problem;
  }
  if (body.is_active !== undefined && typeof body.is_active !== "boolean") return "is_active: must be a boolean";
  if (body.clear_expires_at !== undefined && typeof body.clear_expires_at !== "boolean") return "clear_expires_at: must be a boolean";
  if (body.expires_at !== undefined && body.clear_expires_at === true) return "expires_at: cannot be set together with clear_expires_at";
  if (body.expires_at !== undefined) return checkExpiresAt(body.expires_at, body.is_active !== false);
  return undefined;
}

function hasALimit(limits: EmulatedBudget["limits"], rateLimit: { requests_per_minute?: number } | undefined): boolean {
  return limits.amount !== undefined || limits.token_limit !== undefined || rateLimit?.requests_per_minute !== undefined;
}
const NO_LIMIT = "at least one of limits.amount, limits.token_limit, rate_limit.requests_per_minute must be set";

function budgetExternalIdOf(budgets: BudgetStore, route: ApiRoute, request: IncomingApiRequest): string | undefined {
  if (route.op === "create") {
    const { body } = request;
    const scope = body.kind === "json" && isPlainObject(body.value) ? body.value.scope : undefined;
    const identity = isPlainObject(scope) ? scope.identity : undefined;
    const externalId = isPlainObject(identity) ? identity.identity_external_id : undefined;
    return typeof externalId === "string" ? externalId : undefined;
  }
  if (route.op === "list") {
    const kinds = request.url.searchParams.getAll("scope_kind");
    const target = request.url.searchParams.get("scope_target_id");
    return target && (kinds.length === 0 || kinds.includes("BUDGET_SCOPE_KIND_IDENTITY")) ? target : undefined;
  }
  if ("id" in route) {
    const budget = budgets.get(route.id);
    return budget ? identityOf(budget) : undefined;
  }
  return undefined;
}

/** `created_at` → `createdAt`, recursively: the spelling current orq.ai answers in. */
function camelKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase()), camelKeys(inner)]));
}

/** A budget as an answer shows it: `usage` on reads only (orq omits it on writes), in the chosen spelling. */
function budgetView(budget: EmulatedBudget, casing: BudgetCasing, withUsage: boolean): unknown {
  const { usage, ...fields } = structuredClone(budget);
  const view = withUsage ? { ...fields, usage } : fields;
  return casing === "camel" ? camelKeys(view) : view;
}

function runBudgetOperation(api: ApiContext, route: ApiRoute, request: IncomingApiRequest): Reply {
  const { budgets, casing } = api;
  switch (route.op) {
    case "create":
      return createBudget(api, request.body);
    case "list":
      return listBudgets(budgets, request.url.searchParams, casing);
    case "retrieve": {
      const budget = budgets.get(route.id);
      return budget ? respond(200, { budget: budgetView(budget, casing, true) }) : budgetNotFound();
    }
    case "update":
      return updateBudget(api, route.id, request.body);
    case "delete": {
      const budget = budgets.get(route.id);
      if (!budget) return budgetNotFound();
      budgets.delete(budget);
      return respond(200, {});
    }
    case "unknown":
      return notFound();
  }
}

function createBudget({ store, budgets, casing }: ApiContext, body: ParsedBody): Reply {
  if (body.kind !== "json") return budgetError("body: malformed JSON");
  const problem = checkBudgetBody(body.value, "create");
  if (problem) return budgetError(problem);
  const input = body.value as unknown as BudgetCreateInput; // checked field by field just above
  if (!hasALimit(input.limits, input.rate_limit)) return budgetError(NO_LIMIT);
  // Stricter than orq.ai may be (undocumented): a budget for an identity that does not exist yet is refused,
  // so a bridge that sends the budget before the identity shows up here.
  if ("identity" in input.scope && !store.findByExternalId(input.scope.identity.identity_external_id)) {
    return respond(404, { error: "Identity not found" });
  }
  const budget = budgets.create(input);
  if (!budget) return respond(409, { error: "A budget already exists for this scope" });
  return respond(200, { budget: budgetView(budget, casing, false) });
}

/** Validates before looking up, so a malformed body is a 400 whether or not the budget exists. */
function updateBudget({ budgets, casing }: ApiContext, budgetId: string, body: ParsedBody): Reply {
  if (body.kind !== "json") return budgetError("body: malformed JSON");
  const problem = checkBudgetBody(body.value, "update");
  if (problem) return budgetError(problem);
  const input = body.value as BudgetUpdateInput;
  const budget = budgets.get(budgetId);
  if (!budget) return budgetNotFound();
  const rateLimit = input.rate_limit ?? budget.rate_limit;
  if (!hasALimit(input.limits ?? budget.limits, rateLimit)) return budgetError(NO_LIMIT);
  return respond(200, { budget: budgetView(budgets.update(budget, input), casing, false) });
}

/**
 * Newest created first (the spec's summary; its field docs say "most recently updated first"), so
 * cursors are `budget_id`s compared as strings, valid even after their budget was deleted.
 */
function listBudgets(budgets: BudgetStore, params: URLSearchParams, casing: BudgetCasing): Reply {
  const rawLimit = params.get("limit");
  const limit = rawLimit === null ? DEFAULT_BUDGET_PAGE : Number(rawLimit);
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_PAGE)) return budgetError(`limit: must be an integer between 1 and ${MAX_PAGE}`);
  const kinds = params.getAll("scope_kind");
  const badKind = kinds.find((kind) => !SCOPE_KIND_NAMES.includes(kind));
  if (badKind !== undefined) return budgetError(`scope_kind: must be one of ${SCOPE_KIND_NAMES.join(", ")}`);
  const periods = params.getAll("period");
  if (periods.some((period) => !BUDGET_PERIODS.includes(period))) return budgetError(`period: must be one of ${BUDGET_PERIODS.join(", ")}`);
  const active = params.get("is_active");
  if (active !== null && active !== "true" && active !== "false") return budgetError("is_active: must be true or false");
  const target = params.get("scope_target_id");

  const matching = budgets
    .all()
    .reverse()
    .filter((budget) => {
      const [kind, id] = scopeTarget(budget.scope);
      return (kinds.length === 0 || kinds.includes(kind)) && (target === null || id === target);
    })
    .filter((budget) => periods.length === 0 || periods.includes(budget.limits.period))
    .filter((budget) => active === null || String(budget.is_active) === active);
  const page = (items: EmulatedBudget[], more: boolean) => {
    const data = items.map((budget) => budgetView(budget, casing, true));
    return respond(200, casing === "camel" ? { object: "list", data, hasMore: more } : { object: "list", data, has_more: more });
  };
  const before = params.get("ending_before");
  const after = params.get("starting_after");
  if (before) {
    const newer = matching.filter((budget) => budget.budget_id > before);
    return page(newer.slice(-limit), newer.length > limit);
  }
  const older = after ? matching.filter((budget) => budget.budget_id < after) : matching;
  return page(older.slice(0, limit), older.length > limit);
}

// ---------------------------------------------------------------------------------------------------------------
// Emulator state and the control API (/__emulator, no auth)
// ---------------------------------------------------------------------------------------------------------------

class EmulatorState {
  readonly store = new IdentityStore();
  readonly budgets = new BudgetStore();
  readonly faults = new FaultInjector();
  readonly workspace: Workspace;
  log: LoggedRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(
    private readonly apiKeys: readonly string[] | undefined,
    now: () => number = Date.now,
  ) {
    this.workspace = new Workspace(now);
  }

  isAuthorized(header: string | undefined): boolean {
    const key = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "")?.[1];
    if (key === undefined) return false;
    return this.apiKeys === undefined || this.apiKeys.includes(key);
  }

  /** Serves one /v2 request and records it in the log. */
  serveApi(request: IncomingApiRequest): { reply: Reply; entry: LoggedRequest } {
    const route = matchApiRoute(request.method, request.url.pathname);
    const externalId = externalIdOf(this.api(), route, request);
    const { reply, fault, lostStatus, refusedBy } = this.answer(request, route, externalId);
    const entry: LoggedRequest = {
      at: Date.now(),
      method: request.method,
      path: request.target,
      ...(externalId !== undefined && { externalId }),
      ...(route.resource !== undefined && { resource: route.resource }),
      status: lostStatus ?? statusOf(reply),
      ...(request.body.kind === "json" && { body: structuredClone(request.body.value) }),
      ...(request.body.kind === "malformed" && { body: request.body.text }),
      ...(fault && { fault: true as const }),
      ...(lostStatus !== undefined && { lost: true as const }),
      ...(refusedBy && { refusedBy }),
    };
    this.log.push(entry);
    return { reply, entry };
  }

  /**
   * An outage first (the service is down for everyone), then auth (a bad key never reaches the workspace), then the
   * rate limit, then faults (instead of the operation; `lose` after it), then the operation.
   */
  private answer(
    request: IncomingApiRequest,
    route: ApiRoute,
    externalId: string | undefined,
  ): { reply: Reply; fault?: FaultKind; lostStatus?: number; refusedBy?: LoggedRequest["refusedBy"] } {
    const down = this.workspace.outageReply();
    if (down) return { reply: down, refusedBy: "outage" };
    if (!this.isAuthorized(request.headers.authorization)) return { reply: respond(401, { error: "Unauthorized" }) };
    const admission = this.workspace.admit();
    if (!admission.admitted) return { reply: admission.reply, refusedBy: "rate-limit" };
    const fault = this.faults.pick(request.method, externalId, route.resource);
    if (fault && "lose" in fault) {
      const applied = runOperation(this.api(), route, request);
      return { reply: { kind: "drop" }, fault, ...(applied.kind === "respond" && { lostStatus: applied.status }) };
    }
    const reply = fault ? faultReply(fault) : runOperation(this.api(), route, request);
    // The limit's headers go on every answer it let through; a fault's own headers (an injected 429's) win.
    if (reply.kind === "respond") reply.headers = { ...admission.headers, ...reply.headers };
    return fault ? { reply, fault } : { reply };
  }

  private api(): ApiContext {
    return { store: this.store, budgets: this.budgets, casing: this.workspace.budgetCasing() };
  }

  requests(externalId?: string | null, externalIdPrefix?: string | null): LoggedRequest[] {
    let entries = externalId ? this.log.filter((entry) => entry.externalId === externalId) : this.log;
    if (externalIdPrefix) entries = entries.filter((entry) => entry.externalId?.startsWith(externalIdPrefix));
    return structuredClone(entries);
  }

  stats(): EmulatorStats {
    return {
      requests: this.log.length,
      inFlight: this.inFlight,
      maxInFlight: this.maxInFlight,
      faults: this.faults.counts(),
      identities: this.store.size,
      budgets: this.budgets.size,
    };
  }

  reset(): void {
    this.store.clear();
    this.budgets.clear();
    this.faults.clear();
    this.workspace.reset();
    this.log = [];
    this.maxInFlight = this.inFlight;
  }

  /** Counts one /v2 request in flight until its socket answer ends (answered, dropped, or a hang cut off). */
  track(res: ServerResponse): void {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.once("close", () => this.inFlight--);
  }

  serveControl(method: string, url: URL, body: ParsedBody): Reply {
    const path = url.pathname.slice(CONTROL_PREFIX.length);
    const route = `${method} ${path}`;
    if (route === "GET /identities") return respond(200, { identities: this.store.all() });
    if (route === "GET /budgets") {
      const externalId = url.searchParams.get("external_id");
      if (externalId === null) return respond(200, { budgets: this.budgets.all() });
      const budget = this.budgets.forIdentity(externalId);
      return budget ? respond(200, budget) : budgetNotFound();
    }
    if (route === "GET /requests") return respond(200, { requests: this.requests(url.searchParams.get("external_id"), url.searchParams.get("external_id_prefix")) });
    if (route === "GET /stats") return respond(200, this.stats());
    if (route === "GET /faults") return respond(200, { rules: this.faults.list() });
    if (route === "PUT /faults") return this.installFaults(body, "replace");
    // Append exists for test files running in parallel: GET-then-PUT would race and reset other rules' counts.
    if (route === "POST /faults") return this.installFaults(body, "append");
    if (route === "DELETE /faults") {
      const prefix = url.searchParams.get("externalIdPrefix");
      if (prefix) this.faults.removePrefix(prefix);
      else this.faults.replace([]);
      return respond(200, { rules: this.faults.list() });
    }
    if (route === "GET /workspace") return respond(200, this.workspace.state());
    if (route === "PUT /workspace") {
      if (body.kind !== "json") return validationError("body: must be a JSON object");
      const problem = validateWorkspaceSettings(body.value);
      if (problem) return validationError(problem);
      this.workspace.configure(body.value as Partial<WorkspaceSettings>);
      return respond(200, this.workspace.state());
    }
    if (route === "POST /reset") {
      this.reset();
      return respond(200, {});
    }
    const segment = /^\/identities\/([^/]+)$/.exec(path)?.[1];
    const externalId = segment === undefined ? undefined : decodeSegment(segment);
    if (method === "GET" && externalId !== undefined) {
      const identity = this.store.findByExternalId(externalId);
      return identity ? respond(200, identity) : identityNotFound();
    }
    return notFound();
  }

  private installFaults(body: ParsedBody, mode: "replace" | "append"): Reply {
    if (body.kind !== "json" || !isPlainObject(body.value)) return validationError("body: must be {\"rules\": [...]}");
    const problem = validateFaultRules(body.value.rules);
    if (problem) return validationError(problem);
    this.faults[mode](body.value.rules as FaultRule[]);
    return respond(200, { rules: this.faults.list() });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP server
// ---------------------------------------------------------------------------------------------------------------

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Routes one request; `note` is what the console line adds after the status. */
function dispatch(state: EmulatorState, request: IncomingApiRequest): { reply: Reply; note: string } {
  const { pathname } = request.url;
  if (pathname === "/v2" || pathname.startsWith("/v2/")) {
    const { reply, entry } = state.serveApi(request);
    const cause = entry.lost ? ` (answer lost after ${entry.status})` : entry.fault ? " (injected fault)" : entry.refusedBy ? ` (${entry.refusedBy})` : "";
    const note = `${entry.externalId === undefined ? "" : ` ${entry.externalId}`}${cause}`;
    return { reply, note };
  }
  if (pathname.startsWith(`${CONTROL_PREFIX}/`)) return { reply: state.serveControl(request.method, request.url, request.body), note: "" };
  return { reply: notFound(), note: "" };
}

function createRequestListener(state: EmulatorState, print: (line: string) => void) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? "GET";
    const target = req.url ?? "/";
    const url = new URL(target, "http://emulator.invalid");
    if (url.pathname === "/v2" || url.pathname.startsWith("/v2/")) state.track(res);
    const body = parseBody(await readBody(req));
    const { reply, note } = dispatch(state, { method, target, url, headers: req.headers, body });
    writeReply(res, reply);
    print(`${method} ${target} ${statusOf(reply)}${note}`);
  };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // Hung requests (fault `hang`) and idle keep-alive sockets would otherwise keep close() waiting forever.
    server.closeAllConnections();
  });
}

/** A URL clients can reach: wildcard hosts become loopback, IPv6 literals get brackets. */
function reachableHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

export async function startOrqEmulator(options: OrqEmulatorOptions = {}): Promise<OrqEmulator> {
  const host = options.host ?? "127.0.0.1";
  const state = new EmulatorState(options.apiKeys, options.now);
  const print = options.quiet ? () => {} : (line: string) => console.log(`[orq-emulator] ${line}`);
  const listener = createRequestListener(state, print);
  const server = createServer((req, res) => {
    listener(req, res).catch((error: unknown) => {
      console.error("[orq-emulator] internal error", error);
      if (!res.headersSent) writeReply(res, respond(500, { error: "emulator internal error" }));
    });
  });
  // Keep idle connections open far longer than Node's 5 s default, as a hosted API's load balancer
  // does: a client that pools connections (workerd) would otherwise now and then reuse one the server
  // is just closing, and its next request fails with "Network connection lost".
  server.keepAliveTimeout = 10 * 60_000;
  const port = await listen(server, options.port ?? 0, host);
  let closing: Promise<void> | undefined;

  return {
    url: `http://${reachableHost(host)}:${port}`,
    port,
    close: () => (closing ??= closeServer(server)),
    reset: () => state.reset(),
    identities: () => structuredClone(state.store.all()),
    budgets: () => structuredClone(state.budgets.all()),
    requests: () => state.requests(),
    stats: () => state.stats(),
    setFaults: (rules) => {
      const problem = validateFaultRules(rules);
      if (problem) throw new TypeError(problem);
      state.faults.replace(rules);
    },
    workspace: () => state.workspace.state(),
    setWorkspace: (settings) => {
      const problem = validateWorkspaceSettings(settings);
      if (problem) throw new TypeError(problem);
      state.workspace.configure(settings);
      return state.workspace.state();
    },
  };
}
