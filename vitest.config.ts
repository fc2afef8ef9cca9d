import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { hideExpectedRuntimeNoise } from "./test/support/quiet-runtime.ts";
import { DEV_SECRETS } from "./scripts/lib/sign/dev-secrets.ts";

hideExpectedRuntimeNoise();

/**
 * Two projects: `worker` runs the bridge inside workerd (the real Durable Objects and alarms) via
 * the Workers Vitest integration; `node` drives it over HTTP under `wrangler dev`, runs the
 * Auth0 Action examples and checks the emulator and scripts. Both talk to the same local orq.ai
 * emulator, started once in globalSetup.
 */
export default defineConfig({
  test: {
    // A passing run prints one line per file and the summary; the bridge's log lines (and any
    // other console output) are shown only for failing tests, next to the assertion.
    silent: "passed-only",
    // Only tests slower than this are listed under their file (the load test, the hung-orq.ai ones).
    slowTestThreshold: 10_000,
    // Most test files wait (on wrangler dev, the emulator, orq.ai timeouts, a scenario's outage)
    // rather than compute: three at a time on 2 cores, instead of Vitest's default of one per
    // spare core, brings the whole run under 4 minutes.
    maxWorkers: 3,
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
        },
      },
      {
        // The workspace as a whole (rate-limited, in an outage, key rejected) in a runtime of its
        // own: those states pause every identity, so they must not share a scheduler with the
        // `worker` project's files running in parallel. One file at a time, its tests in order.
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: { ...DEV_SECRETS, ORQ_API_URL: inject("orqUrl"), ORQ_TIMEOUT_MS: "2000", ORQ_TAGS: "test-suite", KINDE_ISSUER_URL: inject("kindeIssuerUrl") },
            },
          })),
        ],
        test: {
          name: "workspace",
          include: ["test/workspace/**/*.test.ts"],
          globalSetup: ["test/support/orq-emulator.global.ts", "test/support/jwks.global.ts"],
          fileParallelism: false,
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          exclude: ["test/node/scenario.test.ts"],
          environment: "node",
          globalSetup: ["test/support/orq-emulator.global.ts", "test/support/wrangler-dev.global.ts"],
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
      {
        // The rate-limit and outage scenarios measure time against a floor: they run last, on a
        // machine the other projects have finished with, each with its own wrangler dev and emulator.
        test: {
          name: "scenario",
          include: ["test/node/scenario.test.ts"],
          environment: "node",
          sequence: { groupOrder: 1 },
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
