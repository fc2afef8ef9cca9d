/**
 * What every fake provider management API (fake-<provider>-api.ts) shares: tokens that carry
 * scopes (a call without its scope is refused, as the real APIs do), strict request bodies (zod
 * strict objects: an unknown field is refused), and a webhook sender that posts a provider's
 * signed sample event (signing/sample-webhooks.ts, signed by signing/) to a
 * registered URL and keeps the bridge's answers. Node-only.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import * as z from "zod";
import { buildSampleRequest, sendSampleRequest, type SampleEvent, type SampleProviderName } from "../../signing/sample-webhooks";
import { bearerToken, jsonBody, type FakeReply, type FakeRequest } from "./fake-http";

export class ScopedTokens {
  private readonly tokens = new Map<string, ReadonlySet<string>>();
  issue(scopes: readonly string[], prefix = "fake-token"): string {
    const token = `${prefix}-${randomBytes(12).toString("hex")}`;
    this.tokens.set(token, new Set(scopes));
    return token;
  }
  /** The token's scopes, or undefined when the request carries no known bearer token. */
  scopesOf(request: FakeRequest, scheme: RegExp = /^Bearer\s+(\S+)\s*$/i): ReadonlySet<string> | undefined {
    const token = scheme.source === /^Bearer\s+(\S+)\s*$/i.source ? bearerToken(request) : scheme.exec(request.headers.authorization ?? "")?.[1];
    return token === undefined ? undefined : this.tokens.get(token);
  }
}

/** Parses a JSON body against a strict schema: the issues (unknown keys included) as text, or the value. */
export function parseBody<T>(schema: z.ZodType<T>, request: FakeRequest): { ok: true; value: T } | { ok: false; message: string } {
  const body = jsonBody(request);
  if (body === undefined) return { ok: false, message: "Invalid JSON body" };
  const result = schema.safeParse(body);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, message: result.error.issues.map((issue) => `${issue.path.join(".") || "(body)"}: ${issue.message}${issue.code === "unrecognized_keys" ? ` (${issue.keys.join(", ")})` : ""}`).join("; ") };
}

/** An http(s) URL; http only for loopback when the fake allows it (real providers want https). */
export function endpointUrl(allowHttpLoopback: boolean) {
  return z.string().refine((value) => {
    try {
      const url = new URL(value);
      if (url.protocol === "https:") return true;
      return allowHttpLoopback && url.protocol === "http:" && ["127.0.0.1", "localhost"].includes(url.hostname);
    } catch {
      return false;
    }
  }, "must be an https URL");
}

export interface SentWebhook {
  url: string;
  event: SampleEvent;
  userId: string;
  status: number;
  answer: unknown;
}

/** Posts the provider's documented sample `event` for `userId`, signed with `secret` the provider's way, to `url`. */
export async function sendProviderWebhook(provider: SampleProviderName, event: SampleEvent, url: string, userId: string, secrets: Record<string, string>): Promise<SentWebhook> {
  const request = buildSampleRequest(provider, event, { bridgeUrl: "http://placeholder.invalid", userId, secrets });
  try {
    const answer = await sendSampleRequest({ ...request, url }, AbortSignal.timeout(15_000));
    return { url, event, userId, status: answer.status, answer: answer.answer };
  } catch (error) {
    return { url, event, userId, status: 0, answer: (error as Error).message };
  }
}

export function json(status: number, body?: unknown, headers?: Record<string, string>): FakeReply {
  return { status, ...(body !== undefined && { body }), ...(headers && { headers }) };
}

export function fakeId(prefix: string): string {
  return `${prefix}${randomBytes(8).toString("hex")}`;
}

export interface AsyncFakeServer {
  url: string;
  requests(): Array<{ method: string; path: string; query: Record<string, string>; status: number }>;
  close(): Promise<void>;
}

/**
 * For fakes whose answer waits on a call of their own (Okta's verify, which makes the one-time
 * challenge GET to the webhook before it answers): the handler is async. Same request shape as fake-http.
 */
export async function startAsyncFakeServer(handle: (request: FakeRequest) => Promise<FakeReply>): Promise<AsyncFakeServer> {
  const log: Array<{ method: string; path: string; query: Record<string, string>; status: number }> = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    const request: FakeRequest = { method: req.method ?? "GET", path: url.pathname, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
    const reply = await handle(request).catch((error: Error): FakeReply => ({ status: 500, body: { error: `fake internal error: ${error.message}` } }));
    log.push({ method: request.method, path: request.path, query: Object.fromEntries(url.searchParams), status: reply.status });
    res.writeHead(reply.status, { ...(reply.body !== undefined && { "content-type": "application/json" }), ...reply.headers });
    res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => log.map((entry) => ({ ...entry })),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
