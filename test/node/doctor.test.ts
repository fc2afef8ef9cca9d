/**
 * `npm run doctor` against the bridge under `wrangler dev` and the orq.ai emulator: a working
 * setup passes and leaves nothing behind; a wrong provider secret, a wrong orq.ai key and a bridge
 * that is down each fail the check that names the cause, with exit code 1.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startOrqEmulator, type OrqEmulator } from "../../emulator/orq-emulator";
import { DEV_SECRETS } from "../../signing/dev-secrets";
import { TEST_BRIDGE_VARS, freePort, orqIdentity, orqWrites, startDevServer, type DevServer } from "./dev-server";
import { runScript, type CliRun } from "./doctor-harness";

const bridgeUrl = inject("bridgeUrl");
const orqUrl = inject("orqUrl");

const workingEnv = { ORQ_API_URL: orqUrl, ORQ_API_KEY: DEV_SECRETS.ORQ_API_KEY, CLERK_WEBHOOK_SIGNING_SECRET: DEV_SECRETS.CLERK_WEBHOOK_SIGNING_SECRET };

function lines(run: CliRun): string[] {
  return run.stdout.split("\n").filter((line) => /^[✓✗–] /.test(line));
}

function testUserOf(run: CliRun): string {
  const id = /bridge-doctor-[0-9a-f]{12}/.exec(run.stdout)?.[0];
  if (!id) throw new Error(`no test user in the output:\n${run.stdout}`);
  return id;
}

function expectNoSecret(run: CliRun): void {
  const clerkKey = DEV_SECRETS.CLERK_WEBHOOK_SIGNING_SECRET.replace(/^whsec_/, "");
  for (const secret of [...Object.values(DEV_SECRETS).filter((value) => !value.startsWith("http")), clerkKey, "whsec_d3JvbmctY2xlcmstc2VjcmV0LWZvci10aGUtZG9jdG9y", "a-wrong-orq-key"]) {
    expect(run.stdout + run.stderr).not.toContain(secret);
  }
}

describe("npm run doctor", () => {
  it("passes every check against a working bridge, with a test user that lands with its mapped fields and is cleaned up", async () => {
    const run = await runScript("doctor", ["--url", bridgeUrl], workingEnv);

    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(lines(run).map((line) => line.slice(0, 2))).toEqual(Array(8).fill("✓ "));
    expect(run.stdout).toContain("✓ clerk is configured on the bridge: CLERK_WEBHOOK_SIGNING_SECRET is set there");
    expect(run.stdout).toMatch(/✓ orq\.ai accepts ORQ_API_KEY: GET \/v2\/identities at .* answered 200 with ORQ_API_KEY \(from environment\)/);
    expect(run.stdout).toMatch(/✓ the test user appears in orq\.ai: bridge-doctor-[0-9a-f]{12} after [\d.]+ s, with the mapped fields \(display_name, avatar_url, tags, metadata\.provider\)/);
    expect(run.stdout).toContain("all 8 checks passed");
    expectNoSecret(run);

    const userId = testUserOf(run);
    expect(await orqIdentity(orqUrl, userId)).toBeNull();
    const writes = await orqWrites(orqUrl, userId);
    expect(writes.filter((write) => write.status < 300).map((write) => write.method)).toEqual(["POST", "DELETE"]);
    expect(writes[0].body).toMatchObject({ external_id: userId, display_name: "John Doe", tags: expect.arrayContaining(["clerk"]) });
  });

  it("a provider secret that differs from the bridge's fails with 401 and names the variable", async () => {
    const run = await runScript("doctor", ["--url", bridgeUrl, "--provider", "clerk"], { ...workingEnv, CLERK_WEBHOOK_SIGNING_SECRET: "whsec_d3JvbmctY2xlcmstc2VjcmV0LWZvci10aGUtZG9jdG9y" });

    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/✗ signed clerk user\.created is accepted: bridge-doctor-[0-9a-f]{12}: 401, the bridge rejected the signature made with CLERK_WEBHOOK_SIGNING_SECRET \(from environment\)/);
    expect(run.stdout).toMatch(/fix: CLERK_WEBHOOK_SIGNING_SECRET here does not match the bridge's/);
    // The bridge's own view is still fine: only the end-to-end check fails.
    expect(run.stdout).toContain("✓ clerk is configured on the bridge");
    expect(run.stdout).toContain("✓ orq.ai accepts ORQ_API_KEY");
    expectNoSecret(run);
    expect(await orqWrites(orqUrl, testUserOf(run))).toEqual([]);
  });

  describe("with an orq.ai that knows only another key", () => {
    let strictOrq: OrqEmulator;
    beforeAll(async () => {
      strictOrq = await startOrqEmulator({ port: 0, quiet: true, apiKeys: ["the-right-orq-key"] });
    });
    afterAll(() => strictOrq.close());

    it("a rejected orq.ai key fails the key check, names ORQ_API_KEY and sends no test user", async () => {
      const run = await runScript("doctor", ["--url", bridgeUrl], { ...workingEnv, ORQ_API_URL: strictOrq.url, ORQ_API_KEY: "a-wrong-orq-key" });

      expect(run.code).toBe(1);
      expect(run.stdout).toContain(`✗ orq.ai accepts ORQ_API_KEY: orq.ai at ${strictOrq.url} (ORQ_API_URL (from environment)) rejected ORQ_API_KEY (from environment) (401)`);
      expect(run.stdout).toContain("fix: set ORQ_API_KEY to a valid orq.ai API key");
      expect(run.stdout).toContain("– end-to-end with a test user: skipped (it needs a working ORQ_API_KEY to read orq.ai)");
      expect(strictOrq.requests().map((request) => `${request.method} ${request.status}`)).toEqual(["GET 401"]);
      expectNoSecret(run);
    });
  });

  describe("with a bridge that keeps deleted users (ORQ_ON_DELETE=tag)", () => {
    let tagging: DevServer;
    beforeAll(async () => {
      tagging = await startDevServer({ orqUrl, vars: { ...TEST_BRIDGE_VARS, ORQ_ON_DELETE: "tag" } });
    });
    afterAll(() => tagging.close());

    it("waits for the bridge's deleted tag, then deletes the test identity itself with the key", async () => {
      const run = await runScript("doctor", ["--url", tagging.url], { ...workingEnv, ORQ_ON_DELETE: "tag" });

      expect(run.code, run.stdout + run.stderr).toBe(0);
      const userId = testUserOf(run);
      expect(run.stdout).toContain(`✓ the test user is gone from orq.ai: ORQ_ON_DELETE=tag keeps deleted users, so ${userId} was deleted with ORQ_API_KEY`);
      expect(await orqIdentity(orqUrl, userId)).toBeNull();
      const writes = (await orqWrites(orqUrl, userId)).filter((write) => write.status < 300);
      expect(writes.map((write) => write.method)).toEqual(["POST", "PATCH", "DELETE"]);
      expect(writes[1].body.tags).toContain("deleted");
    });
  });

  describe("with a bridge whose own orq.ai key is rejected", () => {
    let workspace: OrqEmulator;
    let bridge: DevServer;
    beforeAll(async () => {
      workspace = await startOrqEmulator({ port: 0, quiet: true, apiKeys: ["the-workspace-key"] });
      bridge = await startDevServer({ orqUrl: workspace.url, vars: { ...TEST_BRIDGE_VARS, ORQ_API_KEY: "a-revoked-bridge-key" } });
    });
    afterAll(async () => {
      await bridge.close();
      await workspace.close();
    });

    it("the test user never lands and the doctor says the bridge's key is the cause; the next run flags the bridge's key up front", async () => {
      const env = { ...workingEnv, ORQ_API_URL: workspace.url, ORQ_API_KEY: "the-workspace-key" };
      const first = await runScript("doctor", ["--url", bridge.url, "--wait", "5"], env);

      expect(first.code).toBe(1);
      expect(first.stdout).toContain("✓ orq.ai accepts ORQ_API_KEY");
      expect(first.stdout).toMatch(/✗ the test user appears in orq\.ai: bridge-doctor-[0-9a-f]{12} is not in orq\.ai after 5 s; \/health says orq\.ai rejects the bridge's ORQ_API_KEY/);
      expect(first.stdout).toContain("fix: put a valid key in the bridge's ORQ_API_KEY (.dev.vars) and restart `npm run dev`");

      const second = await runScript("doctor", ["--url", bridge.url, "--wait", "2"], env);
      expect(second.code).toBe(1);
      expect(second.stdout).toMatch(/✗ the bridge has an orq\.ai key: orq\.ai rejects the bridge's ORQ_API_KEY since \d{4}-\d\d-\d\dT/);
      expectNoSecret(second);
      expect(second.stdout + first.stdout).not.toContain("a-revoked-bridge-key");
      expect(second.stdout + first.stdout).not.toContain("the-workspace-key");
    });
  });

  it("a 503 the bridge answers once (wrangler dev reloading the Worker) is retried after its Retry-After, as providers do, and the check says so", async () => {
    // In front of the bridge: the first webhook POST gets wrangler dev's own answer when the Worker
    // restarts mid-request; everything else goes through.
    let refused = 0;
    const proxy = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      if (request.method === "POST" && request.url?.startsWith("/webhooks/") && refused === 0) {
        refused++;
        response.writeHead(503, { "Retry-After": "0", "Content-Type": "text/plain" }).end("Your worker restarted mid-request. Please try sending the request again.");
        return;
      }
      const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => name !== "host" && name !== "content-length").map(([name, value]) => [name, String(value)]));
      const answer = await fetch(`${bridgeUrl}${request.url}`, { method: request.method, headers, ...(chunks.length > 0 && { body: Buffer.concat(chunks) }) });
      response.writeHead(answer.status, { "Content-Type": answer.headers.get("content-type") ?? "text/plain" }).end(Buffer.from(await answer.arrayBuffer()));
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const run = await runScript("doctor", ["--url", `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`], workingEnv);

      expect(refused).toBe(1);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(/✓ signed clerk user\.created is accepted: bridge-doctor-[0-9a-f]{12}: 200 recorded \(after 503, retried as the provider would\)/);
      expect(await orqIdentity(orqUrl, testUserOf(run))).toBeNull();
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it("a bridge that is down fails the first check, says how to start it and skips the rest", async () => {
    const downUrl = `http://127.0.0.1:${await freePort()}`;
    const run = await runScript("doctor", ["--url", downUrl], workingEnv);

    expect(run.code).toBe(1);
    expect(lines(run)).toEqual([
      `✗ bridge answers /health: no answer from ${downUrl}/health (ECONNREFUSED)`,
      "– orq.ai accepts ORQ_API_KEY: skipped (the bridge did not answer /health)",
      "– end-to-end with a test user: skipped (the bridge did not answer /health)",
    ]);
    expect(run.stdout).toContain("fix: start it with `npm run dev`, or check --url");
  });

  it("a usage error exits 2 with the usage", async () => {
    const missing = await runScript("doctor", [], workingEnv);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--url is required");
    const unknown = await runScript("doctor", ["--url", bridgeUrl, "--provider", "nope"], workingEnv);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown provider "nope"');
  });
});
