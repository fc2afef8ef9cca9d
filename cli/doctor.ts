/**
 * Says whether a bridge works, end to end, one line per check.
 *
 *   npm run doctor -- --url <bridge base URL> [--provider clerk] [--alert-test]
 *
 * Reads ORQ_API_KEY, ORQ_API_URL (default https://api.orq.ai) and the provider's secret (e.g.
 * CLERK_WEBHOOK_SIGNING_SECRET) from the environment, else from .dev.vars; for a bridge on this
 * machine (`npm run dev`) the public dev secrets and the emulator on :8788 fill in what is unset.
 * Exit codes: 0 every check passed, 1 one failed, 2 usage. Never prints a secret.
 */
import { parseCommandLine, requireBridgeUrl, usageError } from "./lib/args";
import { formatResult, runDoctor } from "./lib/doctor/doctor-checks";
import { resolveDoctorSettings } from "./lib/doctor/doctor-settings";
import { SAMPLE_PROVIDERS, isSampleProvider } from "../signing/sample-webhooks";

const USAGE = `Usage: npm run doctor -- --url <bridge base URL> [--provider clerk] [--wait 30] [--alert-test]
  provider:     ${Object.keys(SAMPLE_PROVIDERS).join(" | ")}
  --wait:       seconds to wait for the test user to appear in (and leave) orq.ai
  --alert-test: have the bridge send a test alert to its ALERT_WEBHOOK_URL (needs ADMIN_TOKEN)

Reads ORQ_API_KEY, ORQ_API_URL (default https://api.orq.ai) and the provider's secret (e.g.
CLERK_WEBHOOK_SIGNING_SECRET) from the environment, else .dev.vars. For a bridge on 127.0.0.1
(npm run dev) the public dev secrets and the emulator (http://127.0.0.1:8788) fill in the rest.
Exit codes: 0 all checks passed, 1 a check failed, 2 usage.`;

async function main(): Promise<number> {
  const { values, positionals } = parseCommandLine(USAGE, {
    args: process.argv.slice(2),
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: "string" },
      provider: { type: "string", default: "clerk" },
      wait: { type: "string", default: "30" },
      "alert-test": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (positionals.length > 0) usageError(USAGE, `unexpected argument: ${positionals.join(" ")}`);
  const url = requireBridgeUrl(USAGE, values.url);
  if (!isSampleProvider(values.provider)) usageError(USAGE, `unknown provider "${values.provider}"`);

  const waitSeconds = Number(values.wait);
  if (!Number.isFinite(waitSeconds) || waitSeconds <= 0 || waitSeconds > 600) usageError(USAGE, "--wait must be a number of seconds (up to 600)");
  const settings = resolveDoctorSettings(url, values.provider);
  console.log(`doctor: ${settings.provider} at ${settings.bridgeUrl}`);
  const { ok, results } = await runDoctor(settings, { landTimeoutMs: waitSeconds * 1000, alertTest: values["alert-test"], onResult: (result) => console.log(formatResult(result)) });
  const checks = results.filter((result) => !result.info);
  const failed = checks.filter((result) => !result.ok && !result.skipped).length;
  console.log(ok ? `all ${checks.length} checks passed` : `${failed} check${failed === 1 ? "" : "s"} failed`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`doctor: unexpected error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
