/**
 * Registers the bridge's webhook with a provider through its management API, stores the secret
 * the bridge verifies with, and checks the result end to end.
 *
 *   npm run connect -- <provider> --url <bridge base URL> [--dry-run] [--remove] [--local] [--show-secret] [--log-stream]
 *
 * Exit codes: 0 done, 1 a step or the check failed, 2 not started (usage, missing credentials).
 */
import { fileURLToPath } from "node:url";
import { parseCommandLine, requireBridgeUrl, usageError } from "./lib/args";
import { runConnect } from "./lib/connect/run-connect";
import { CONNECTORS, DASHBOARD_ONLY } from "./lib/connect/providers";

const DEFAULT_DEV_VARS = fileURLToPath(new URL("../.dev.vars", import.meta.url));
const PROVIDERS = [...Object.keys(CONNECTORS).filter((name) => name !== "auth0-logs"), ...Object.keys(DASHBOARD_ONLY)];

const USAGE = `Usage: npm run connect -- <provider> --url <bridge base URL> [options]
  provider: ${PROVIDERS.join(" | ")}

Options:
  --dry-run          print the calls it would make (secrets masked); change nothing
  --remove           delete the webhook(s) pointing at the bridge
  --local            store the secret in .dev.vars instead of \`wrangler secret put\`
  --dev-vars FILE    with --local: the file to write (default .dev.vars)
  --show-secret      print the secret once stored
  --log-stream       auth0: a Log Stream (/webhooks/auth0-logs) instead of an Event Stream
  --no-check         do not send a test user through the bridge afterwards
  -h, --help

Environment (management credentials), per provider:
${Object.entries(CONNECTORS).map(([name, connector]) => `  ${name === "auth0-logs" ? "auth0 --log-stream" : name}:\n${connector.envHelp.map((line) => `    ${line}`).join("\n")}`).join("\n")}
  clerk: CLERK_SECRET_KEY (optional): also print a one-time link to Clerk's webhook portal
The end-to-end check reads ORQ_API_KEY and ORQ_API_URL like \`npm run doctor\`.`;

async function main(): Promise<number> {
  const { values, positionals } = parseCommandLine(USAGE, {
    args: process.argv.slice(2),
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      remove: { type: "boolean", default: false },
      local: { type: "boolean", default: false },
      "dev-vars": { type: "string", default: DEFAULT_DEV_VARS },
      "show-secret": { type: "boolean", default: false },
      "log-stream": { type: "boolean", default: false },
      "no-check": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [provider, ...extra] = positionals;
  if (!provider) usageError(USAGE, "name a provider");
  if (extra.length > 0) usageError(USAGE, `unexpected argument: ${extra.join(" ")}`);
  if (!PROVIDERS.includes(provider)) usageError(USAGE, `unknown provider "${provider}"`);
  if (values["log-stream"] && provider !== "auth0") usageError(USAGE, "--log-stream is for auth0 only");
  const url = requireBridgeUrl(USAGE, values.url);

  return runConnect({
    provider,
    bridgeUrl: url,
    dryRun: values["dry-run"],
    remove: values.remove,
    local: values.local,
    logStream: values["log-stream"],
    showSecret: values["show-secret"],
    check: !values["no-check"],
    devVarsFile: values["dev-vars"],
    env: process.env,
    print: (line) => console.log(line),
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`connect: unexpected error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
