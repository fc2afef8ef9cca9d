/**
 * A local stand-in for an issuer's JSON Web Key Set endpoint (Kinde: `<issuer>/.well-known/jwks`),
 * for the worker tests and `npm run dev`. One server holds any number of issuers: the issuer is the
 * path before `/.well-known/jwks` (`http://127.0.0.1:<port>/t1` → `/t1/.well-known/jwks`; `""` for
 * the root), so parallel tests each use their own.
 *
 * Control API (no auth): PUT /__jwks/keys?issuer=/t1 {keys} sets the key set;
 * GET /__jwks/fetches?issuer=/t1 → {count} of key-set fetches so far;
 * POST /__jwks/fail?issuer=/t1 {times} answers the next `times` fetches with 503.
 *
 * Node-only (node:http): never import it from src/ or test/worker/.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface JwksServer {
  /** Base URL, no trailing slash; an issuer URL is this plus its path. */
  url: string;
  close(): Promise<void>;
}

interface Issuer {
  keys: unknown[];
  fetches: number;
  failNext: number;
}

const JWKS_SUFFIX = "/.well-known/jwks";

export async function startJwksServer(options: { port?: number; host?: string; issuers?: Record<string, { keys: unknown[] }> } = {}): Promise<JwksServer> {
  const issuers = new Map<string, Issuer>();
  const issuer = (path: string): Issuer => {
    let entry = issuers.get(path);
    if (!entry) {
      entry = { keys: [], fetches: 0, failNext: 0 };
      issuers.set(path, entry);
    }
    return entry;
  };
  for (const [path, set] of Object.entries(options.issuers ?? {})) issuer(path).keys = set.keys;

  const server = createServer((request, response) => {
    handle(request, response).catch(() => send(response, 500, { error: "jwks server error" }));
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://jwks.local");
    if (request.method === "GET" && url.pathname.endsWith(JWKS_SUFFIX)) {
      const entry = issuer(url.pathname.slice(0, -JWKS_SUFFIX.length));
      entry.fetches++;
      if (entry.failNext > 0) {
        entry.failNext--;
        return send(response, 503, { error: "unavailable (injected)" });
      }
      return send(response, 200, { keys: entry.keys });
    }
    const target = issuer(url.searchParams.get("issuer") ?? "");
    if (request.method === "PUT" && url.pathname === "/__jwks/keys") {
      const body = (await readJson(request)) as { keys?: unknown[] };
      target.keys = Array.isArray(body?.keys) ? body.keys : [];
      return send(response, 204);
    }
    if (request.method === "GET" && url.pathname === "/__jwks/fetches") return send(response, 200, { count: target.fetches });
    if (request.method === "POST" && url.pathname === "/__jwks/fail") {
      const body = (await readJson(request)) as { times?: number };
      target.failNext += typeof body?.times === "number" ? body.times : 1;
      return send(response, 204);
    }
    send(response, 404, { error: "not found" });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? "127.0.0.1"}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(response: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    response.writeHead(status).end();
    return;
  }
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    return undefined;
  }
}
