import * as z from "zod/mini";
import { describeIssue } from "./describe-issue";
import { parseBudgetSettings } from "./identity/budget-plan";
import { RESERVED_METADATA_KEYS, type MappingOptions } from "./identity/to-orq-identity";
import type { EnvValues, ProviderSetup } from "./providers/provider";
import { providers } from "./providers/registry";
import { logLine } from "./log";

/**
 * All configuration comes from Worker env bindings (so `--var`, `.dev.vars` and
 * `wrangler secret put` all work). It is parsed once per isolate; what is wrong is logged once
 * and shown on /health, naming the variable and never its value.
 */
export interface ConfigProblem {
  variable: string;
  problem: string;
}

export interface BridgeConfig {
  orq: {
    baseUrl: string;
    apiKey: string | undefined;
    timeoutMs: number;
    maxConcurrency: number;
    /** `ORQ_RATE_LIMIT_PER_MINUTE`: the operator's ceiling; undefined = learn it from orq.ai's answers. */
    ratePerMinute: number | undefined;
  };
  mapping: MappingOptions;
  /** The admin API and status page exist only when `ADMIN_TOKEN` is set (and long enough to resist guessing). */
  admin: { token?: string };
  /** Self-healing (src/reconcile/): how often the Cron Trigger runs, the deletion limit, the per-chunk request budget. */
  reconcile: { intervalMinutes: number; maxDeletes: number | undefined; subrequests: number };
  /** Alerts (src/alert/): where they go (`ALERT_WEBHOOK_URL`, a secret) and in which shape; no URL, no alerts. */
  alerts: AlertSettings;
  providers: ReadonlyMap<string, ProviderSetup>;
  problems: readonly ConfigProblem[];
}

export type AlertFormat = "slack" | "teams" | "json";

export interface AlertSettings {
  url: string | undefined;
  format: AlertFormat;
}

const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"];

/** HTTPS, or plain HTTP to this machine only (tests, a local relay). The value is a secret: problems never echo it. */
const alertUrl = z.url({ protocol: /^https?$/ }).check(
  z.refine((url) => url.startsWith("https:") || LOOPBACK_HOSTS.includes(new URL(url).hostname), "must be https:// (http:// only for localhost)"),
);

/**
 * A Discord webhook takes Slack's payload at its `/slack` form
 * (discord.com/developers/docs/resources/webhook#execute-slackcompatible-webhook): the plain
 * Discord URL, pasted as is, is sent there.
 */
function alertTarget(url: string | undefined, format: AlertFormat): string | undefined {
  if (!url || format !== "slack") return url;
  const parsed = new URL(url);
  if (!/^(www\.|ptb\.|canary\.)?discord(app)?\.com$/.test(parsed.hostname) || !/^\/api\/(v\d+\/)?webhooks\/[^/]+\/[^/]+\/?$/.test(parsed.pathname)) return url;
  parsed.pathname = `${parsed.pathname.replace(/\/$/, "")}/slack`;
  return parsed.toString();
}

const commaList = z.pipe(
  z.optional(z.string()),
  z.transform((value) => [...new Set((value ?? "").split(",").map((item) => item.trim()).filter(Boolean))]),
);

const forbiddenKeys = [...RESERVED_METADATA_KEYS, "__proto__", "constructor", "prototype"];
const metadataKeys = commaList.check(
  z.refine((keys) => keys.every((key) => !forbiddenKeys.includes(key)), `must not name ${forbiddenKeys.join(", ")}`),
);

/** Each variable with its default; a bad value falls back to the default and is reported. */
const settings = {
  ORQ_API_URL: z.pipe(
    z._default(z.url({ protocol: /^https?$/ }), "https://api.orq.ai"),
    z.transform((url) => url.replace(/\/+$/, "")),
  ),
  ORQ_API_KEY: z.optional(z.string()),
  ORQ_TIMEOUT_MS: z._default(z.pipe(z.coerce.number(), z.int().check(z.gte(100), z.lte(60_000))), 10_000),
  ORQ_MAX_CONCURRENCY: z._default(z.pipe(z.coerce.number(), z.int().check(z.gte(1), z.lte(1000))), 50),
  ORQ_RATE_LIMIT_PER_MINUTE: z.optional(z.pipe(z.coerce.number(), z.int().check(z.gte(1), z.lte(1_000_000)))),
  ORQ_TAGS: commaList,
  ORQ_METADATA_KEYS: metadataKeys,
  ORQ_EXTERNAL_ID_SOURCE: z._default(z.enum(["provider_id", "external_id"]), "provider_id"),
  ORQ_EXTERNAL_ID_PREFIX: z._default(z.string().check(z.maxLength(40)), ""),
  ORQ_ON_DELETE: z._default(z.enum(["delete", "tag", "ignore"]), "delete"),
  ADMIN_TOKEN: z.optional(z.string().check(z.minLength(16))),
  RECONCILE_INTERVAL_MINUTES: z._default(z.pipe(z.coerce.number(), z.int().check(z.gte(1), z.lte(7 * 24 * 60))), 60),
  RECONCILE_MAX_DELETES: z.optional(z.pipe(z.coerce.number(), z.int().check(z.gte(0), z.lte(10_000_000)))),
  RECONCILE_SUBREQUESTS: z._default(z.pipe(z.coerce.number(), z.int().check(z.gte(5), z.lte(10_000))), 40),
  ALERT_WEBHOOK_URL: z.optional(alertUrl),
  ALERT_FORMAT: z._default(z.enum(["slack", "teams", "json"]), "slack"),
};

type Settings = { [K in keyof typeof settings]: z.output<(typeof settings)[K]> };

const cache = new WeakMap<object, BridgeConfig>();
const reported = new Set<string>();

export function getConfig(env: object): BridgeConfig {
  let config = cache.get(env);
  if (!config) {
    config = parseConfig(env as EnvValues);
    cache.set(env, config);
    reportOnce(config.problems);
  }
  return config;
}

export function parseConfig(env: EnvValues): BridgeConfig {
  const problems: ConfigProblem[] = [];
  const values = {} as Record<string, unknown>;
  for (const [variable, schema] of Object.entries(settings)) {
    const raw = typeof env[variable] === "string" && (env[variable] as string).trim() === "" ? undefined : env[variable];
    const parsed = (schema as z.ZodMiniType).safeParse(raw);
    if (parsed.success) {
      values[variable] = parsed.data;
    } else {
      problems.push({ variable, problem: describeIssue(parsed.error) });
      values[variable] = (schema as z.ZodMiniType).parse(undefined);
    }
  }
  const read = values as Settings;
  // ORQ_BUDGETS is JSON: a string (--var, secrets) or a table in wrangler.toml's [vars].
  const budgets = parseBudgetSettings(env.ORQ_BUDGETS);
  if (!budgets.ok) problems.push({ variable: "ORQ_BUDGETS", problem: `${budgets.problem}: no budget is changed in orq.ai` });
  if (!read.ORQ_API_KEY) problems.push({ variable: "ORQ_API_KEY", problem: "is not set: events are recorded but not delivered" });

  const setups = new Map<string, ProviderSetup>();
  for (const provider of providers) {
    const setup = provider.configure(env);
    if (setup.status === "invalid") problems.push({ variable: provider.secretBinding, problem: setup.problem });
    setups.set(provider.name, setup);
  }

  return {
    orq: { baseUrl: read.ORQ_API_URL, apiKey: read.ORQ_API_KEY, timeoutMs: read.ORQ_TIMEOUT_MS, maxConcurrency: read.ORQ_MAX_CONCURRENCY,
      ratePerMinute: read.ORQ_RATE_LIMIT_PER_MINUTE,
    },
    mapping: {
      tags: read.ORQ_TAGS,
      metadataKeys: read.ORQ_METADATA_KEYS,
      externalIdSource: read.ORQ_EXTERNAL_ID_SOURCE,
      externalIdPrefix: read.ORQ_EXTERNAL_ID_PREFIX,
      onDelete: read.ORQ_ON_DELETE,
      ...(budgets.ok && budgets.settings && { budgets: budgets.settings }),
    },
    admin: { token: read.ADMIN_TOKEN },
    reconcile: { intervalMinutes: read.RECONCILE_INTERVAL_MINUTES, maxDeletes: read.RECONCILE_MAX_DELETES, subrequests: read.RECONCILE_SUBREQUESTS },
    alerts: { url: alertTarget(read.ALERT_WEBHOOK_URL, read.ALERT_FORMAT), format: read.ALERT_FORMAT },
    providers: setups,
    problems,
  };
}

function reportOnce(problems: readonly ConfigProblem[]): void {
  for (const { variable, problem } of problems) {
    const key = `${variable}: ${problem}`;
    if (reported.has(key)) continue;
    reported.add(key);
    logLine({ msg: "config_problem", variable, problem });
  }
}
