/**
 * What `npm run doctor` (and `npm run connect`'s check) needs to know, and where each value came
 * from: the environment, else the project's `.dev.vars` (or `.env`), else — only for a bridge on
 * this machine, i.e. `npm run dev` — the public development defaults (the dev secrets and the
 * emulator on :8788). Values are kept to sign and call with; only their source is ever printed.
 */
import { DEV_SECRETS } from "../../../signing/dev-secrets";
import { readDevVarsFile, SAMPLE_PROVIDERS, type SampleProviderName } from "../../../signing/sample-webhooks";

export const DEFAULT_ORQ_API_URL = "https://api.orq.ai";
/** Where `npm run dev` starts the orq.ai emulator. */
export const DEV_EMULATOR_URL = "http://127.0.0.1:8788";

export type SettingSource = "environment" | ".dev.vars" | ".env" | "public dev default" | "default";

export interface Setting {
  name: string;
  value: string | undefined;
  source: SettingSource | undefined;
}

export interface DoctorSettings {
  bridgeUrl: string;
  provider: SampleProviderName;
  /** True for 127.0.0.1 / localhost / ::1: the dev defaults apply. */
  local: boolean;
  orqUrl: Setting;
  orqKey: Setting;
  /** The provider's secret binding (Kinde: its issuer URL). */
  secret: Setting;
  /** For `--alert-test` (POST /admin/alerts/test). */
  adminToken: Setting;
  /** Every variable known (environment over the file): the bridge's mapping settings are read from it. */
  vars: Record<string, string>;
}

export function isLoopbackUrl(url: string): boolean {
  try {
    return ["127.0.0.1", "localhost", "[::1]", "::1"].includes(new URL(url).hostname);
  } catch {
    return false;
  }
}

export function resolveDoctorSettings(
  bridgeUrl: string,
  provider: SampleProviderName,
  env: NodeJS.ProcessEnv = process.env,
  file: { path: string; vars: Record<string, string> } | undefined = readDevVarsFile(),
): DoctorSettings {
  const local = isLoopbackUrl(bridgeUrl);
  const fileSource = (file?.path === ".env" ? ".env" : ".dev.vars") as SettingSource;
  const vars: Record<string, string> = { ...file?.vars };
  for (const [key, value] of Object.entries(env)) if (typeof value === "string" && value.trim()) vars[key] = value;

  const read = (name: string, fallback?: { value: string; source: SettingSource }): Setting => {
    const fromEnv = env[name]?.trim();
    if (fromEnv) return { name, value: fromEnv, source: "environment" };
    const fromFile = file?.vars[name]?.trim();
    if (fromFile) return { name, value: fromFile, source: fileSource };
    return { name, value: fallback?.value, source: fallback?.source };
  };
  const binding = SAMPLE_PROVIDERS[provider].secretBinding;
  return {
    bridgeUrl: bridgeUrl.replace(/\/+$/, ""),
    provider,
    local,
    orqUrl: read("ORQ_API_URL", local ? { value: DEV_EMULATOR_URL, source: "public dev default" } : { value: DEFAULT_ORQ_API_URL, source: "default" }),
    orqKey: read("ORQ_API_KEY", local ? { value: DEV_SECRETS.ORQ_API_KEY, source: "public dev default" } : undefined),
    secret: read(binding, local ? { value: DEV_SECRETS[binding], source: "public dev default" } : undefined),
    adminToken: read("ADMIN_TOKEN"),
    vars,
  };
}

/** `ORQ_API_KEY (from .dev.vars)`: names a setting and its source, never its value. */
export function describeSetting(setting: Setting): string {
  return setting.source ? `${setting.name} (${setting.source === "default" ? "default" : `from ${setting.source}`})` : setting.name;
}
