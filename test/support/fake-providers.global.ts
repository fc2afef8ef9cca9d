/**
 * The reconcile project's provider APIs: a fake Clerk Backend API and a fake Auth0 Management API
 * (test/support/fake-*-api.ts, as those providers document them), started for the project, and a
 * small control server the tests inside workerd use to change the providers' users (as if edited
 * at Clerk or Auth0), add faults and read the request logs:
 *
 *   PUT  /{clerk|auth0}/users        body: the users (JSON array), replacing the list
 *   POST /{clerk|auth0}/fault        body: {query?: {name: value}, path?, status, times?, retryAfter?}
 *   DELETE /{clerk|auth0}/faults
 *   GET  /{clerk|auth0}/requests     the request log (method, path, query, status, at)
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";
import { startFakeAuth0Api } from "./fake-auth0-api";
import { startFakeClerkApi } from "./fake-clerk-api";
import type { FakeReply, FakeRequest, FakeServer } from "./fake-http";

/** Clerk says when to come back with Retry-After, Auth0 with X-RateLimit-Reset (an epoch second). */
function faultHeaders(provider: string, retryAfter: number | undefined): Record<string, string> {
  if (retryAfter === undefined) return {};
  return provider === "auth0" ? { "x-ratelimit-reset": String(Math.ceil(Date.now() / 1000) + retryAfter) } : { "retry-after": String(retryAfter) };
}

declare module "vitest" {
  export interface ProvidedContext {
    clerkApiUrl: string;
    clerkSecretKey: string;
    auth0BaseUrl: string;
    auth0Domain: string;
    auth0Token: string;
    fakeProvidersControl: string;
  }
}

interface FaultSpec {
  path?: string;
  query?: Record<string, string>;
  status: number;
  times?: number;
  retryAfter?: number;
}

export default async function setup(project: TestProject) {
  const clerk = await startFakeClerkApi();
  const auth0 = await startFakeAuth0Api();
  const fakes: Record<string, FakeServer & { users: unknown[] }> = { clerk, auth0 };

  const control = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : undefined;
    const [, name, what] = (req.url ?? "").split("/");
    const fake = fakes[name ?? ""];
    const reply = (status: number, value: unknown = {}) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    if (!fake) return reply(404, { error: "no such fake" });
    if (req.method === "PUT" && what === "users") {
      fake.users = body as unknown[];
      return reply(200, { users: fake.users.length });
    }
    if (req.method === "POST" && what === "fault") {
      const spec = body as FaultSpec;
      fake.addFault({
        matches: (request: FakeRequest) =>
          (spec.path === undefined || request.path === spec.path) &&
          Object.entries(spec.query ?? {}).every(([key, value]) => request.query.get(key) === value),
        ...(spec.times !== undefined && { times: spec.times }),
        reply: (): FakeReply => ({
          status: spec.status,
          headers: faultHeaders(name ?? "", spec.retryAfter),
          body: { errors: [{ code: "fault", message: "injected" }], statusCode: spec.status, error: "injected", message: "injected" },
        }),
      });
      return reply(200);
    }
    if (req.method === "DELETE" && what === "faults") {
      fake.clearFaults();
      return reply(200);
    }
    if (req.method === "GET" && what === "requests") return reply(200, fake.requests());
    return reply(404, { error: "unknown control" });
  });
  await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));

  project.provide("clerkApiUrl", clerk.url);
  project.provide("clerkSecretKey", clerk.secretKey);
  project.provide("auth0BaseUrl", auth0.url);
  project.provide("auth0Domain", auth0.domain);
  project.provide("auth0Token", auth0.issueToken());
  project.provide("fakeProvidersControl", `http://127.0.0.1:${(control.address() as AddressInfo).port}`);
  return async () => {
    await new Promise((resolve) => control.close(resolve));
    await Promise.all([clerk.close(), auth0.close()]);
  };
}
