/** The `connect` command (cli/connect.ts): see there for what it does. */
import { fileURLToPath } from "node:url";
import { parseCommandLine, requireBridgeUrl, usageError, type CommandIo } from "../args";
import { runConnect } from "./run-connect";
import { CONNECTORS, DASHBOARD_ONLY } from "./providers";

const DEFAULT_DEV_VARS = fileURLToPath(new URL("../../../.dev.vars", import.meta.url));
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

/** `npm run connect`, as a function (cli/connect.ts runs it as a process; the tests call it directly). */
export async function connectCommand(args: string[], env: NodeJS.ProcessEnv, io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandLine(USAGE, {
    args,
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
  }, io);
  const [provider, ...extra] = positionals;
  if (!provider) usageError(USAGE, "name a provider", io);
  if (extra.length > 0) usageError(USAGE, `unexpected argument: ${extra.join(" ")}`, io);
  if (!PROVIDERS.includes(provider)) usageError(USAGE, `unknown provider "${provider}"`, io);
  if (values["log-stream"] && provider !== "auth0") usageError(USAGE, "--log-stream is for auth0 only", io);
  const url = requireBridgeUrl(USAGE, values.url, io);

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
    env,
    print: (line) => io.out(line),
  });
}
