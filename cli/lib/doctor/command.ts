/** The `doctor` command (cli/doctor.ts): see there for what it does. */
import { parseCommandLine, requireBridgeUrl, usageError, type CommandIo } from "../args";
import { formatResult, runDoctor } from "./doctor-checks";
import { resolveDoctorSettings } from "./doctor-settings";
import { SAMPLE_PROVIDERS, isSampleProvider } from "../../../signing/sample-webhooks";

const USAGE = `Usage: npm run doctor -- --url <bridge base URL> [--provider clerk] [--wait 30] [--alert-test]
  provider:     ${Object.keys(SAMPLE_PROVIDERS).join(" | ")}
  --wait:       seconds to wait for the test user to appear in (and leave) orq.ai
  --alert-test: have the bridge send a test alert to its ALERT_WEBHOOK_URL (needs ADMIN_TOKEN)

Reads ORQ_API_KEY, ORQ_API_URL (default https://api.orq.ai) and the provider's secret (e.g.
CLERK_WEBHOOK_SIGNING_SECRET) from the environment, else .dev.vars. For a bridge on 127.0.0.1
(npm run dev) the public dev secrets and the emulator (http://127.0.0.1:8788) fill in the rest.
Exit codes: 0 all checks passed, 1 a check failed, 2 usage.`;

/** `npm run doctor`, as a function (cli/doctor.ts runs it as a process; the tests call it directly). */
export async function doctorCommand(args: string[], env: NodeJS.ProcessEnv, io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandLine(USAGE, {
    args,
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: "string" },
      provider: { type: "string", default: "clerk" },
      wait: { type: "string", default: "30" },
      "alert-test": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  }, io);
  if (positionals.length > 0) usageError(USAGE, `unexpected argument: ${positionals.join(" ")}`, io);
  const url = requireBridgeUrl(USAGE, values.url, io);
  if (!isSampleProvider(values.provider)) usageError(USAGE, `unknown provider "${values.provider}"`, io);

  const waitSeconds = Number(values.wait);
  if (!Number.isFinite(waitSeconds) || waitSeconds <= 0 || waitSeconds > 600) usageError(USAGE, "--wait must be a number of seconds (up to 600)", io);
  const settings = resolveDoctorSettings(url, values.provider, env);
  io.out(`doctor: ${settings.provider} at ${settings.bridgeUrl}`);
  const { ok, results } = await runDoctor(settings, { landTimeoutMs: waitSeconds * 1000, alertTest: values["alert-test"], onResult: (result) => io.out(formatResult(result)) });
  const checks = results.filter((result) => !result.info);
  const failed = checks.filter((result) => !result.ok && !result.skipped).length;
  io.out(ok ? `all ${checks.length} checks passed` : `${failed} check${failed === 1 ? "" : "s"} failed`);
  return ok ? 0 : 1;
}
