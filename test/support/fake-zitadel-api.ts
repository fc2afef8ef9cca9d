/**
 * A local stand-in for ZITADEL's Actions v2 API (zitadel.action.v2.ActionService; proto
 * `action_service.proto`, `execution.proto`), strict like its gRPC gateway:
 *
 * - `Authorization: Bearer <token>`; each call needs its permission (`action.target.read|write|delete`,
 *   `action.execution.read|write`), else 403 `{code: 7}`. An unknown field is a 400 `{code: 3}`.
 * - `POST /v2/actions/targets` `{name, endpoint, timeout, restWebhook|restCall|restAsync, payloadType?}`
 *   → `{id, creationDate, signingKey}` (the key only here and on rotation); names are unique (409).
 * - `POST /v2/actions/targets/{id}` updates; `expirationSigningKey` rotates and returns the new key.
 * - `POST /v2/actions/targets/search` and `/v2/actions/executions/search` page with
 *   `pagination {offset, limit, asc}` → `{pagination: {totalResult, appliedLimit}, targets|executions}`.
 * - `PUT /v2/actions/executions {condition, targets}` replaces that condition's target list
 *   (`[]` removes it); unknown targets are refused. `DELETE /v2/actions/targets/{id}` also removes
 *   the target from every execution.
 * - `deliver(event, userId)`: ZITADEL's sample event, signed (`ZITADEL-Signature`) with each
 *   target's key, posted to the targets of the executions for that event.
 */
import { randomBytes } from "node:crypto";
import * as z from "zod";
import { loadFixture, type SampleEvent } from "../../signing/sample-webhooks";
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from "./fake-http";
import { ScopedTokens, endpointUrl, fakeId, json, parseBody, sendProviderWebhook, type SentWebhook } from "./fake-management-api";

export const ZITADEL_PERMISSIONS = ["action.target.read", "action.target.write", "action.target.delete", "action.execution.read", "action.execution.write"] as const;

export interface ZitadelTarget {
  id: string;
  name: string;
  endpoint: string;
  timeout: string;
  restAsync?: Record<string, never>;
  restWebhook?: { interruptOnError?: boolean };
  restCall?: { interruptOnError?: boolean };
  payloadType?: string;
  signingKey: string;
  creationDate: string;
  changeDate: string;
}

export interface ZitadelExecution {
  condition: { event: { event?: string; group?: string; all?: boolean } };
  targets: string[];
}

export interface FakeZitadelApi extends FakeServer {
  targets: ZitadelTarget[];
  executions: ZitadelExecution[];
  /** The signing keys the next targets (or rotations) get, in order (then random ones). */
  nextSigningKeys: string[];
  issueToken(permissions?: readonly string[]): string;
  deliver(event: SampleEvent, userId: string): Promise<SentWebhook[]>;
}

export async function startFakeZitadelApi(options: { allowHttpLoopback?: boolean } = {}): Promise<FakeZitadelApi> {
  const tokens = new ScopedTokens();
  const state = { targets: [] as ZitadelTarget[], executions: [] as ZitadelExecution[], nextSigningKeys: [] as string[] };
  const duration = z.string().regex(/^\d+(\.\d+)?s$/);
  const kind = {
    restWebhook: z.strictObject({ interruptOnError: z.boolean().optional() }).optional(),
    restCall: z.strictObject({ interruptOnError: z.boolean().optional() }).optional(),
    restAsync: z.strictObject({}).optional(),
    payloadType: z.enum(["PAYLOAD_TYPE_JSON", "PAYLOAD_TYPE_JWT", "PAYLOAD_TYPE_JWE"]).optional(),
  };
  const url = endpointUrl(options.allowHttpLoopback ?? false);
  const createTarget = z.strictObject({ name: z.string().min(1).max(1000), endpoint: url, timeout: duration, ...kind });
  const updateTarget = z.strictObject({ name: z.string().min(1).max(1000).optional(), endpoint: url.optional(), timeout: duration.optional(), expirationSigningKey: duration.optional(), ...kind });
  const pagination = z.strictObject({ offset: z.union([z.string().regex(/^\d+$/), z.number().int().min(0)]).optional(), limit: z.number().int().min(1).max(1000).optional(), asc: z.boolean().optional() });
  const search = z.strictObject({ pagination: pagination.optional(), sortingColumn: z.string().optional(), filters: z.array(z.record(z.string(), z.unknown())).optional() });
  const condition = z.strictObject({ event: z.strictObject({ event: z.string().min(1).optional(), group: z.string().min(1).optional(), all: z.boolean().optional() }) });
  const setExecution = z.strictObject({ condition, targets: z.array(z.string()) });

  const grpc = (status: number, code: number, message: string): FakeReply => json(status, { code, message, details: [] });
  const key = () => state.nextSigningKeys.shift() ?? randomBytes(24).toString("base64url");
  const view = ({ signingKey: _key, ...target }: ZitadelTarget) => target;
  const page = <T>(items: T[], body: z.infer<typeof search>) => {
    const offset = Number(body.pagination?.offset ?? 0);
    const limit = body.pagination?.limit ?? 100;
    return { pagination: { totalResult: String(items.length), appliedLimit: String(limit) }, items: items.slice(offset, offset + limit) };
  };

  const server = await startFakeServer((request) => {
    const scopes = tokens.scopesOf(request);
    if (!scopes) return grpc(401, 16, "Errors.Token.Invalid (AUTH-7fs1e)");
    const need = (permission: string) => (scopes.has(permission) ? undefined : grpc(403, 7, `No matching permissions found: ${permission} (AUTH-5mWD2)`));
    const invalid = (message: string) => grpc(400, 3, `proto: ${message}`);
    return route(request, need, invalid) ?? grpc(404, 5, "Not Found");
  });

  function route(request: FakeRequest, need: (permission: string) => FakeReply | undefined, invalid: (message: string) => FakeReply): FakeReply | undefined {
    const now = new Date().toISOString();
    if (request.method === "POST" && request.path === "/v2/actions/targets") {
      const body = parseBody(createTarget, request);
      const denied = need("action.target.write");
      if (denied) return denied;
      if (!body.ok) return invalid(body.message);
      if ([body.value.restWebhook, body.value.restCall, body.value.restAsync].filter(Boolean).length !== 1) return invalid("exactly one of restWebhook, restCall, restAsync");
      if (state.targets.some((target) => target.name === body.value.name)) return grpc(409, 6, "Errors.Target.AlreadyExists (COMMAND-9xh1D)");
      const target = { id: fakeId("3"), creationDate: now, changeDate: now, ...body.value, signingKey: key() } as ZitadelTarget;
      state.targets.push(target);
      return json(200, { id: target.id, creationDate: now, signingKey: target.signingKey });
    }
    if (request.method === "POST" && request.path === "/v2/actions/targets/search") {
      const denied = need("action.target.read");
      if (denied) return denied;
      const body = parseBody(search, request);
      if (!body.ok) return invalid(body.message);
      const { pagination: p, items } = page(state.targets, body.value);
      return json(200, { pagination: p, targets: items.map(view) });
    }
    const item = /^\/v2\/actions\/targets\/([^/]+)$/.exec(request.path);
    const target = item ? state.targets.find((candidate) => candidate.id === item[1]) : undefined;
    if (item && request.method === "POST") {
      const denied = need("action.target.write");
      if (denied) return denied;
      const body = parseBody(updateTarget, request);
      if (!body.ok) return invalid(body.message);
      if (!target) return grpc(404, 5, "Errors.Target.NotFound (COMMAND-1r2k6)");
      const { expirationSigningKey, ...fields } = body.value;
      Object.assign(target, fields, { changeDate: now });
      if (expirationSigningKey !== undefined) target.signingKey = key();
      return json(200, { changeDate: now, ...(expirationSigningKey !== undefined && { signingKey: target.signingKey }) });
    }
    if (item && request.method === "DELETE") {
      const denied = need("action.target.delete");
      if (denied) return denied;
      state.targets = state.targets.filter((candidate) => candidate.id !== item[1]);
      for (const execution of state.executions) execution.targets = execution.targets.filter((id) => id !== item[1]);
      state.executions = state.executions.filter((execution) => execution.targets.length > 0);
      return json(200, { deletionDate: now });
    }
    if (request.method === "POST" && request.path === "/v2/actions/executions/search") {
      const denied = need("action.execution.read");
      if (denied) return denied;
      const body = parseBody(search, request);
      if (!body.ok) return invalid(body.message);
      const { pagination: p, items } = page(state.executions, body.value);
      return json(200, { pagination: p, executions: items });
    }
    if (request.method === "PUT" && request.path === "/v2/actions/executions") {
      const denied = need("action.execution.write");
      if (denied) return denied;
      const body = parseBody(setExecution, request);
      if (!body.ok) return invalid(body.message);
      const missing = body.value.targets.find((id) => !state.targets.some((candidate) => candidate.id === id));
      if (missing) return grpc(404, 5, `Errors.Target.NotFound: ${missing} (COMMAND-17e8f)`);
      const key_ = JSON.stringify(body.value.condition);
      state.executions = state.executions.filter((execution) => JSON.stringify(execution.condition) !== key_);
      if (body.value.targets.length > 0) state.executions.push(body.value as ZitadelExecution);
      return json(200, { setDate: now });
    }
    return undefined;
  }

  for (const name of ["targets", "executions", "nextSigningKeys"] as const) {
    Object.defineProperty(server, name, { get: () => state[name], set: (value) => (state[name] = value), enumerable: true });
  }
  return Object.assign(server as FakeServer & Pick<FakeZitadelApi, "targets" | "executions" | "nextSigningKeys">, {
    issueToken: (permissions: readonly string[] = ZITADEL_PERMISSIONS) => tokens.issue(permissions, "zitadel"),
    deliver(event: SampleEvent, userId: string) {
      const type = String(loadFixture("zitadel", event).event_type);
      const ids = new Set(state.executions.filter((execution) => execution.condition.event.event === type || execution.condition.event.all || (execution.condition.event.group && type.startsWith(`${execution.condition.event.group}.`))).flatMap((execution) => execution.targets));
      return Promise.all(state.targets.filter((target) => ids.has(target.id)).map((target) => sendProviderWebhook("zitadel", event, target.endpoint, userId, { ZITADEL_WEBHOOK_SIGNING_KEY: target.signingKey })));
    },
  });
}
