import { readdirSync } from "node:fs";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { LongestFirst } from "./test/support/longest-first.ts";
import { hideExpectedRuntimeNoise } from "./test/support/quiet-runtime.ts";
import { DEV_SECRETS } from "./signing/dev-secrets.ts";

hideExpectedRuntimeNoise();

/** The bridge inside workerd, as `wrangler.toml` declares it, pointed at the project's orq.ai emulator. */
type Inject = (key: "clerkSecretKey" | "clerkApiUrl" | "auth0Domain" | "auth0BaseUrl" | "auth0Token" | "alertReceiverUrl") => string;
const bridgeInWorkerd = (extra: Record<string, string> | ((inject: Inject) => Record<string, string>) = {}) =>
  cloudflareTest(({ inject }) => ({
    wrangler: { configPath: "./wrangler.toml" },
    miniflare: {
      bindings: {
        ...DEV_SECRETS, ORQ_API_URL: inject("orqUrl"), ORQ_TIMEOUT_MS: "2000", ORQ_TAGS: "test-suite", KINDE_ISSUER_URL: inject("kindeIssuerUrl"),
        ...(typeof extra === "function" ? extra(inject) : extra),
      },
    },
  }));

/**
 * The workspace tests (rate-limited, in an outage, key rejected) pause every identity, so each file
 * gets a runtime (one scheduler) and an orq.ai emulator of its own: one project per file, so the
 * files run side by side without sharing a scheduler. Within a file, tests run in order.
 */
const workspaceFiles = readdirSync(new URL("./test/workspace/", import.meta.url)).filter((name) => name.endsWith(".test.ts")).sort();

/**
 * Every project but the rate-limit burst runs in one group, six files at a time: the files that
 * mostly wait (outages, probes, Retry-After, the Cron Trigger's minutes) overlap the CPU-bound ones.
 * The burst runs after them, alone (its drain is measured in hundredths of its floor).
 */
const MAIN = { maxWorkers: 6, sequence: { groupOrder: 2 } };

/**
 * Projects: `worker` runs the bridge inside workerd (the real Durable Objects and alarms) via the
 * Workers Vitest integration; `workspace/<file>`, `reconcile` and `alerts` likewise, each with a
 * runtime of its own; `node` drives it over HTTP under `wrangler dev`, runs the Auth0 Action
 * examples and checks the emulator, the CLI and the tools; `scenario/outage` and `scenario` are the
 * short `npm run scenario`. Each project starts its own local orq.ai emulator in globalSetup.
 */
export default defineConfig({
  test: {
    // A passing run prints one line per file and the summary; the bridge's log lines (and any
    // other console output) are shown only for failing tests, next to the assertion.
    silent: "passed-only",
    // Only tests slower than this are listed under their file (the load test, the hung-orq.ai ones).
    slowTestThreshold: 10_000,
    // Many files mostly wait (wrangler dev, the emulator, outages, Retry-After, the Cron Trigger's
    // minutes) rather than compute: six at a time on 2 cores, instead of Vitest's one per spare core.
    maxWorkers: 6,
    // The files known to take long start first, whatever their project (test/support/longest-first.ts).
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        plugins: [bridgeInWorkerd({ ORQ_MAX_CONCURRENCY: "10" })],
        test: {
          name: "worker",
          ...MAIN,
          include: ["test/worker/**/*.test.ts"],
          // One workerd runtime per pool worker, reused from file to file, instead of one per file:
          // the files use ids of their own and share nothing else, and each new runtime cost about 2 s
          // of CPU to start and import the bridge (160 s of CPU for the project, 90 s without).
          isolate: false,
          globalSetup: ["test/support/orq-emulator.global.ts", "test/support/jwks.global.ts"],
          testTimeout: 20_000,
        },
      },
      ...workspaceFiles.map((file) => ({
        // Liveness under chaos injects 5xx, 429 and dropped connections, no hung calls: it keeps the
        // production ORQ_TIMEOUT_MS (10 s), so that an emulator slowed by a busy machine (it shares
        // Vitest's process) is not cut off at the tests' 2 s and turned into extra failures and
        // backoff (the file took 154 s of its 180 s once so).
        plugins: [bridgeInWorkerd(file === "liveness.test.ts" ? { ORQ_TIMEOUT_MS: "10000" } : {})],
        test: {
          name: `workspace/${file.replace(/\.test\.ts$/, "")}`,
          include: [`test/workspace/${file}`],
          // beforeEach waits for a quiet workspace, longer on a busy machine.
          hookTimeout: 60_000,
          globalSetup: ["test/support/orq-emulator.global.ts", "test/support/jwks.global.ts"],
          testTimeout: 60_000,
          ...MAIN,
        },
      })),
      {
        // Self-healing (test/reconcile/): its own runtime and orq.ai emulator (a cycle lists every
        // identity the bridge owns there), and fake Clerk and Auth0 management APIs to list from.
        plugins: [
          bridgeInWorkerd((inject) => ({
            CLERK_SECRET_KEY: inject("clerkSecretKey"),
            CLERK_API_URL: inject("clerkApiUrl"),
            AUTH0_DOMAIN: inject("auth0Domain"),
            AUTH0_BASE_URL: inject("auth0BaseUrl"),
            AUTH0_MANAGEMENT_TOKEN: inject("auth0Token"),
          })),
        ],
        test: {
          name: "reconcile",
          include: ["test/reconcile/**/*.test.ts"],
          hookTimeout: 60_000,
          globalSetup: ["test/support/orq-emulator.global.ts", "test/support/jwks.global.ts", "test/support/fake-providers.global.ts"],
          testTimeout: 60_000,
          ...MAIN,
        },
      },
      {
        // Alerts (test/alerts/): its own runtime (conditions are the whole bridge's state), pointed at
        // a fake alert receiver that checks the Slack, Discord, Teams and JSON shapes.
        plugins: [
          bridgeInWorkerd((inject) => ({
            ALERT_WEBHOOK_URL: `${inject("alertReceiverUrl")}/slack/T000/B000/alert-token-not-secret`,
            ADMIN_TOKEN: "admin-token-for-the-alert-tests",
          })),
        ],
        test: {
          name: "alerts",
          include: ["test/alerts/**/*.test.ts"],
          // beforeEach waits for a quiet workspace, longer on a busy machine.
          hookTimeout: 60_000,
          globalSetup: ["test/support/orq-emulator.global.ts", "test/support/jwks.global.ts", "test/support/alert-receiver.global.ts"],
          testTimeout: 120_000,
          ...MAIN,
        },
      },
      {
        test: {
          name: "node",
          ...MAIN,
          include: ["test/node/**/*.test.ts"],
          exclude: ["test/node/scenario.test.ts", "test/node/scenario-outage.test.ts"],
          environment: "node",
          globalSetup: ["test/support/orq-emulator.global.ts", "test/support/wrangler-dev.global.ts"],
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
      {
        // The outage scenario waits out a 30 s outage with wide margins: beside the workspace files.
        test: {
          name: "scenario/outage",
          include: ["test/node/scenario-outage.test.ts"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 180_000,
          ...MAIN,
        },
      },
      {
        // The rate-limit scenario measures its drain against a floor, with its own wrangler dev and emulator.
        test: {
          name: "scenario",
          include: ["test/node/scenario.test.ts"],
          environment: "node",
          // Last, alone, on a quiet machine: its rate-limit drain is measured in hundredths of its
          // floor, which the other files (and, run first, the type-check and every project's
          // start-up: it missed once so) would squeeze.
          maxWorkers: 1,
          sequence: { groupOrder: 3 },
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
