/**
 * Which Chromium the browser tests drive, in this order:
 * 1. `PLAYWRIGHT_CHROMIUM_EXECUTABLE_PATH`, when set (it must exist: a typo is an error, not a fallback);
 * 2. a Chromium that Playwright downloaded earlier (`~/.cache/ms-playwright`, or `PLAYWRIGHT_BROWSERS_PATH`);
 * 3. a system Chrome or Chromium at the usual paths;
 * 4. otherwise the Chromium shipped inside the `@sparticuz/chromium` dev dependency, unpacked to the
 *    temp folder on first use, so `npm install && npm test` needs no browser install on any Linux x64 machine.
 * The test never skips for want of a browser: if none can start, it fails and says why.
 */
import { existsSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";

export interface BrowserChoice {
  executablePath: string;
  /** Where it came from, for the test's output. */
  source: string;
  args: string[];
}

/** The flags this machine's closed network needs (no background connections, no sandbox as root). */
const QUIET_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const SYSTEM_PATHS = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
  "/snap/bin/chromium",
  "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
  "/Applications/Chromium.app/Contents/MacOS/Chromium",
];

function playwrightCacheChromium(): string | undefined {
  const root = process.env.PLAYWRIGHT_BROWSERS_PATH || join(homedir(), ".cache", "ms-playwright");
  if (!existsSync(root)) return undefined;
  const candidates = readdirSync(root)
    .filter((name) => /^chromium(_headless_shell)?-\d+$/.test(name))
    .sort()
    .reverse();
  for (const folder of candidates) {
    for (const binary of ["chrome-linux/chrome", "chrome-linux/headless_shell", "chrome-headless-shell-linux64/chrome-headless-shell", "chrome-linux64/chrome"]) {
      const path = join(root, folder, binary);
      if (existsSync(path)) return path;
    }
  }
  return undefined;
}

export async function chooseBrowser(): Promise<BrowserChoice> {
  const configured = process.env.PLAYWRIGHT_CHROMIUM_EXECUTABLE_PATH;
  if (configured) {
    if (!existsSync(configured)) throw new Error(`PLAYWRIGHT_CHROMIUM_EXECUTABLE_PATH=${configured} does not exist`);
    return { executablePath: configured, source: "PLAYWRIGHT_CHROMIUM_EXECUTABLE_PATH", args: QUIET_FLAGS };
  }
  const cached = playwrightCacheChromium();
  if (cached) return { executablePath: cached, source: "Playwright's browser cache", args: QUIET_FLAGS };
  const system = SYSTEM_PATHS.find((path) => existsSync(path));
  if (system) return { executablePath: system, source: "system browser", args: QUIET_FLAGS };
  const { default: packaged } = await import("@sparticuz/chromium");
  return {
    executablePath: await packaged.executablePath(),
    source: "@sparticuz/chromium (npm dev dependency)",
    args: [...new Set([...packaged.args, ...QUIET_FLAGS])],
  };
}

export async function launchBrowser(): Promise<{ browser: Browser; choice: BrowserChoice }> {
  const choice = await chooseBrowser();
  try {
    return { browser: await chromium.launch({ executablePath: choice.executablePath, args: choice.args }), choice };
  } catch (error) {
    throw new Error(
      `could not start Chromium from ${choice.source} (${choice.executablePath}); set PLAYWRIGHT_CHROMIUM_EXECUTABLE_PATH to another Chrome/Chromium: ${(error as Error).message}`,
    );
  }
}
