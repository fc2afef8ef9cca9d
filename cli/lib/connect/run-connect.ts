/**
 * `npm run connect`: register the bridge with a provider, store the secret, then check it end to
 * end. Providers without a management API for webhooks (Clerk, Stack Auth) get the dashboard steps.
 */
import { SAMPLE_PROVIDERS, parseDevVars, readDevVarsFile } from "../../../signing/sample-webhooks";
import { checkEndToEnd, describeError, formatResult, type CheckResult } from "../doctor/doctor-checks";
import { resolveDoctorSettings } from "../doctor/doctor-settings";
import { existsSync, readFileSync } from "node:fs";
import { generateSecret, type Connector, type ConnectContext } from "./connector";
import { ManagementApi, ManagementApiError, SecretMask, managementApi, type Json } from "./management-api";
import { CONNECTORS, DASHBOARD_ONLY } from "./providers";
import { wranglerSecretPut, writeDevVar } from "./secret-store";

export interface ConnectOptions {
  provider: string;
  bridgeUrl: string;
  dryRun: boolean;
  remove: boolean;
  local: boolean;
  logStream: boolean;
  showSecret: boolean;
  /** Skip the end-to-end check after registering. */
  check: boolean;
  /** With `local`: the dotenv file to write (default: the project's .dev.vars). */
  devVarsFile: string;
  env: NodeJS.ProcessEnv;
  print(line: string): void;
  fetch?: typeof fetch;
}

/** 0 done (and checked), 1 a step or the check failed, 2 not started (unknown provider, missing credentials). */
export async function runConnect(options: ConnectOptions): Promise<number> {
  const bridgeUrl = options.bridgeUrl.replace(/\/+$/, "");
  const { print } = options;
  if (options.provider in DASHBOARD_ONLY) return printDashboardSteps(options.provider as keyof typeof DASHBOARD_ONLY, bridgeUrl, options);
  const connector = options.provider === "auth0" && options.logStream ? CONNECTORS["auth0-logs"] : CONNECTORS[options.provider];
  if (!connector) {
    print(`connect: unknown provider "${options.provider}"`);
    return 2;
  }
  const webhookUrl = `${bridgeUrl}${SAMPLE_PROVIDERS[connector.route].route}`;
  const mask = new SecretMask();
  let api: ManagementApi | { problem: string };
  try {
    api = await connector.client(options.env, { dryRun: options.dryRun, mask, print, ...(options.fetch && { fetch: options.fetch }) });
  } catch (error) {
    print(`✗ ${connector.name}: ${error instanceof ManagementApiError ? error.message : describeError(error)}`);
    return error instanceof ManagementApiError && (error.status === 401 || error.status === 403) ? 2 : 1;
  }
  if (!(api instanceof ManagementApi)) {
    print(`connect ${connector.name}: not started: ${api.problem}`);
    return 2;
  }
  const devVars = options.local ? readDevVars(options.devVarsFile) : {};
  /** What the bridge is known to hold for a variable: the environment says so, or (with --local) .dev.vars does. */
  const knownValue = (name: string) => {
    const fromEnv = options.env[name]?.trim();
    if (fromEnv) return { value: fromEnv, source: "environment" };
    const fromFile = devVars[name]?.trim();
    return fromFile ? { value: fromFile, source: options.devVarsFile } : undefined;
  };
  const knownSecret = () => knownValue(connector.secretBinding ?? "");
  const knownBridgeSecret = () => {
    const known = knownSecret();
    if (known) {
      mask.add(known.value);
      print(`  keeping the bridge's ${connector.secretBinding} (from ${known.source})`);
    }
    return known?.value;
  };
  const bridgeSecret = () => {
    const known = knownBridgeSecret();
    if (known) return known;
    const secret = generateSecret();
    mask.add(secret);
    print(`  generated a new ${connector.secretBinding} (32 random bytes)`);
    return secret;
  };
  const context: ConnectContext = { api, webhookUrl, dryRun: options.dryRun, mask, print, bridgeSecret, knownBridgeSecret };
  print(`connect ${connector.name} → ${webhookUrl}${options.dryRun ? " (dry run: nothing is changed)" : ""}`);

  try {
    if (options.remove) {
      const removed = await connector.remove(context);
      print(removed.length === 0 ? `✓ no ${connector.name} webhook points at ${webhookUrl}` : `✓ ${options.dryRun ? "would remove" : "removed"} ${removed.join(", ")}`);
      return 0;
    }
    const registration = await connector.register(context);
    const verb = options.dryRun ? `would be ${registration.action}` : registration.action;
    print(`✓ webhook ${registration.id} ${verb}: ${connector.events.join(", ")}`);
    for (const note of registration.notes ?? []) print(`✓ ${note}`);

    for (const [name, value] of Object.entries(registration.vars ?? {})) {
      const stored = await storeSecret(name, value, options, value);
      print(stored.line);
      if (!stored.ok) return 1;
    }
    const secret = registration.secret;
    if (secret && connector.secretBinding) {
      mask.add(secret);
      const stored = await storeSecret(connector.secretBinding, secret, options);
      print(stored.line);
      if (!stored.ok) return 1;
      if (options.showSecret) print(`${connector.secretBinding}=${secret}`);
    }
    // `wrangler dev` reads .dev.vars only when it starts: a value it does not have yet needs a restart first.
    const changed = [...Object.entries(registration.vars ?? {}), ...(secret && connector.secretBinding ? [[connector.secretBinding, secret] as const] : [])].filter(([name, value]) => knownValue(name)?.value !== value);
    if (options.local && !options.dryRun && changed.length > 0) {
      const next = [connector.activate && "verify the webhook", connector.sendTest && "ask for a test event", options.check && "check end to end"].filter(Boolean).join(", ");
      print(`– ${changed.map(([name]) => name).join(", ")} changed in ${options.devVarsFile}: restart \`npm run dev\`, then run this command again (it keeps what is stored)${next ? ` to ${next}` : ""}`);
      return 0;
    }
    if (connector.activate) {
      const steps = await connector.activate(context, registration);
      for (const step of steps) print(`✓ ${step}`);
    }
    if (options.dryRun) return 0;

    const results: CheckResult[] = [];
    const report = (result: CheckResult) => {
      results.push(result);
      print(formatResult(result));
    };
    if (connector.sendTest) {
      const test = await connector.sendTest(context, registration);
      report({ ok: test.ok, title: `${connector.name} test event`, found: test.found, fix: "see the bridge's logs and GET /health" });
    }
    if (options.check) await endToEnd(connector, bridgeUrl, secret, options, options.local ? { path: ".dev.vars", vars: readDevVars(options.devVarsFile) } : readDevVarsFile(), report);
    return results.every((result) => result.ok) ? 0 : 1;
  } catch (error) {
    print(`✗ ${error instanceof ManagementApiError ? error.message : describeError(error)}`);
    if (error instanceof ManagementApiError && error.status === 403) print("    fix: give the credentials the scopes listed in `npm run connect -- --help`");
    return 1;
  }
}

async function storeSecret(binding: string, secret: string, options: ConnectOptions, shown = "••••"): Promise<{ ok: boolean; line: string }> {
  if (options.dryRun) return { ok: true, line: `  would store ${binding}=${shown} ${options.local ? `in ${options.devVarsFile}` : "with `wrangler secret put`"}` };
  if (options.local) {
    writeDevVar(options.devVarsFile, binding, secret);
    return { ok: true, line: `✓ ${binding} stored in ${options.devVarsFile}` };
  }
  const put = await wranglerSecretPut(binding, secret, options.env);
  return put.ok ? { ok: true, line: `✓ ${binding} stored with \`wrangler secret put ${binding}\`` } : { ok: false, line: `✗ could not store ${binding}: ${put.problem}\n    fix: run \`npx wrangler login\`, then connect again` };
}

/** The doctor's end-to-end check with the secret just stored (needs ORQ_API_KEY to read orq.ai). */
async function endToEnd(
  connector: Connector,
  bridgeUrl: string,
  secret: string | undefined,
  options: ConnectOptions,
  file: { path: string; vars: Record<string, string> } | undefined,
  report: (result: CheckResult) => void,
): Promise<void> {
  const env = { ...options.env, ...(secret && connector.secretBinding && { [connector.secretBinding]: secret }) };
  const settings = resolveDoctorSettings(bridgeUrl, connector.route, env, file);
  if (!settings.orqKey.value) {
    report({ ok: true, skipped: true, title: "end-to-end check", found: "skipped: set ORQ_API_KEY to have a test user sent through the bridge (or run `npm run doctor` later)" });
    return;
  }
  await checkEndToEnd(settings, { onResult: report, ...(options.fetch && { fetch: options.fetch }) });
}

function printDashboardSteps(provider: keyof typeof DASHBOARD_ONLY, bridgeUrl: string, options: ConnectOptions): Promise<number> | number {
  const { print } = options;
  const steps = DASHBOARD_ONLY[provider];
  const url = `${bridgeUrl}${SAMPLE_PROVIDERS[provider].route}`;
  print(`${steps.title} has no API to register webhooks; in its dashboard:`);
  steps.steps(url).forEach((step, index) => print(`  ${index + 1}. ${step}`));
  if (provider !== "clerk" || !options.env.CLERK_SECRET_KEY?.trim()) return 0;
  return clerkPortalLink(options);
}

/** Clerk's one-time link to its webhook portal (Backend API `POST /v1/webhooks/svix_url`). */
async function clerkPortalLink(options: ConnectOptions): Promise<number> {
  const key = options.env.CLERK_SECRET_KEY?.trim() ?? "";
  const baseUrl = (options.env.CLERK_API_URL?.trim() || "https://api.clerk.com").replace(/\/+$/, "");
  const api = managementApi({ dryRun: options.dryRun, mask: new SecretMask(), print: options.print, ...(options.fetch && { fetch: options.fetch }) }, { label: "Clerk", baseUrl, authorization: `Bearer ${key}`, credential: key });
  try {
    let answer: Json;
    try {
      answer = await api.write<Json>("POST", "/v1/webhooks/svix_url");
    } catch (error) {
      // No Svix app for the instance yet: creating it answers the same link.
      if (!(error instanceof ManagementApiError) || (error.status !== 400 && error.status !== 404)) throw error;
      answer = await api.write<Json>("POST", "/v1/webhooks/svix");
    }
    if (answer?.svix_url) options.print(`✓ one-time link to Clerk's webhook portal (instead of steps 1-4 in the dashboard): ${answer.svix_url}`);
    return 0;
  } catch (error) {
    options.print(`✗ ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

function readDevVars(file: string): Record<string, string> {
  return existsSync(file) ? parseDevVars(readFileSync(file, "utf8")) : {};
}
