/**
 * The command-line conventions every script here shares: strict `parseArgs`, `-h/--help` prints
 * the usage and exits 0, a wrong command line prints what is wrong and the usage and exits 2.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

export function usageError(usage: string, message: string): never {
  console.error(`${message}\n${usage}`);
  process.exit(2);
}

/** `config.options` should declare `help: { type: "boolean", short: "h" }`. */
export function parseCommandLine<T extends ParseArgsConfig>(usage: string, config: T): ReturnType<typeof parseArgs<T>> {
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs(config);
  } catch (error) {
    usageError(usage, error instanceof Error ? error.message : String(error));
  }
  if ((parsed.values as { help?: unknown }).help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed;
}

/** The bridge's base URL from `--url`: required, http(s). */
export function requireBridgeUrl(usage: string, url: string | undefined): string {
  if (!url) usageError(usage, "--url is required");
  if (!/^https?:\/\/[^/]/.test(url)) usageError(usage, `--url must be an http(s) URL, not "${url}"`);
  return url;
}
