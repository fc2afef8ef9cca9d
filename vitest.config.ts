import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { DEV_SECRETS } from "./test/support/secrets";

/**
 * Two projects: `worker` runs the bridge inside workerd (the real Durable Objects and alarms) via
 * the Workers Vitest integration; `node` drives it over HTTP under `wrangler dev`, runs the
 * Auth0 Action examples and checks the emulator and scripts. Both talk to the same local orq.ai
 * emulator, started once in globalSetup.
 */
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: { ...DEV_SECRETS, ORQ_API_URL: inject("orqUrl"), ORQ_TIMEOUT_MS: "2000", ORQ_MAX_CONCURRENCY: "10", ORQ_TAGS: "test-suite", KINDE_ISSUER_URL: inject("kindeIssuerUrl") },
            },
          })),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          globalSetup: ["test/support/orq-emulator.global.ts", "test/support/jwks.global.ts"],
          testTimeout: 20_000,
          silent: "passed-only",
        },
      },
      {
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/support/orq-emulator.global.ts", "test/support/wrangler-dev.global.ts"],
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
