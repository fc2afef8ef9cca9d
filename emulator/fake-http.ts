/**
 * The small HTTP server under the fake provider APIs (fake-clerk-api.ts, fake-auth0-api.ts): a
 * request log with timestamps, and fault rules that answer instead of the API (a 429 with its
 * rate-limit headers, a 500 from some offset on) so tests can check waits and resumption.
 * Node-only; never import it from src/.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: string;
}

export interface FakeReply {
  status: number;
  headers?: Record<string, string>;
  /** JSON unless a Buffer (sent as is). */
  body?: unknown;
}

export interface LoggedFakeRequest {
  at: number;
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  /** Answered by a fault rule. */
  fault?: true;
}

export interface FaultRule {
  /** Which requests it applies to. */
  matches(request: FakeRequest): boolean;
  /** Fires this many times, then is spent; default: every matching request. */
  times?: number;
  /** The answer; a function so headers such as `X-RateLimit-Reset` are computed when it fires. */
  reply: FakeReply | (() => FakeReply);
}

export interface FakeServer {
  url: string;
  requests(): LoggedFakeRequest[];
  addFault(rule: FaultRule): void;
  clearFaults(): void;
  close(): Promise<void>;
}

export async function startFakeServer(handle: (request: FakeRequest, baseUrl: string) => FakeReply): Promise<FakeServer> {
  const log: LoggedFakeRequest[] = [];
  let faults: Array<FaultRule & { fired: number }> = [];
  let baseUrl = "";

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    const request: FakeRequest = { method: req.method ?? "GET", path: url.pathname, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
    const fault = faults.find((rule) => (rule.times === undefined || rule.fired < rule.times) && rule.matches(request));
    let reply: FakeReply;
    if (fault) {
      fault.fired++;
      reply = typeof fault.reply === "function" ? fault.reply() : fault.reply;
    } else {
      try {
        reply = handle(request, baseUrl);
      } catch (error) {
        reply = { status: 500, body: { error: `fake internal error: ${(error as Error).message}` } };
      }
    }
    log.push({ at: Date.now(), method: request.method, path: request.path, query: Object.fromEntries(url.searchParams), status: reply.status, ...(fault && { fault: true as const }) });
    const isBuffer = Buffer.isBuffer(reply.body);
    res.writeHead(reply.status, { ...(!isBuffer && { "content-type": "application/json; charset=utf-8" }), ...reply.headers });
    res.end(isBuffer ? reply.body : reply.body === undefined ? undefined : JSON.stringify(reply.body));
  });
  // Idle connections stay open as a hosted API keeps them (see the orq.ai emulator).
  server.keepAliveTimeout = 10 * 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: baseUrl,
    requests: () => log.map((entry) => ({ ...entry })),
    addFault: (rule) => {
      faults.push({ ...rule, fired: 0 });
    },
    clearFaults: () => {
      faults = [];
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** The bearer token of a request, or undefined. */
export function bearerToken(request: FakeRequest): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? "")?.[1];
}

/** Parses a JSON body; undefined when it is not JSON. */
export function jsonBody(request: FakeRequest): unknown {
  try {
    return JSON.parse(request.body);
  } catch {
    return undefined;
  }
}
