/** What the numbers were measured on, for the report header. */
import { execFileSync } from "node:child_process";
import { cpus, loadavg, totalmem, release, type } from "node:os";
import { PROJECT_DIR, WRANGLER } from "./paths";

export interface MachineInfo {
  date: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  wrangler: string;
  /** 1-minute load average when the run started: other work on the machine makes numbers noisy. */
  loadAtStart: number;
  git: string;
}

function run(command: string, args: string[], cwd = PROJECT_DIR): string {
  try {
    return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" } }).trim();
  } catch {
    return "";
  }
}

export function describeMachine(bridgeDir: string): MachineInfo {
  const processors = cpus();
  const wranglerOut = run(WRANGLER, ["--version"]);
  const head = run("git", ["rev-parse", "--short", "HEAD"], bridgeDir);
  const dirty = run("git", ["status", "--porcelain", "--untracked-files=no"], bridgeDir) !== "";
  return {
    date: new Date().toISOString(),
    cpuModel: processors[0]?.model.trim() || "unknown CPU",
    cores: processors.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${type()} ${release()}`,
    node: process.version,
    wrangler: /\d+\.\d+\.\d+/.exec(wranglerOut)?.[0] ?? (wranglerOut || "unknown"),
    loadAtStart: loadavg()[0] ?? 0,
    git: head ? `${head}${dirty ? " with uncommitted changes" : ""}` : "not a git checkout",
  };
}
