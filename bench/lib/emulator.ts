/**
 * Starts the orq.ai emulator (emulator/orq-emulator.ts, quiet) in a child process, behind a
 * proxy that can add latency (emulator-process.ts), and talks to its control API.
 */
import { spawn } from "node:child_process";
import { killGroup } from "../../tools/lib/dev-server";
import { trackProcessGroup, untrackProcessGroup } from "./cleanup";
import { PROJECT_DIR, TSX } from "./paths";

export interface LoggedWrite {
  at: number;
  method: string;
  externalId?: string;
  status: number | string;
}

export interface EmulatorHandle {
  url: string;
  /** Latency added in front of the API (`/v2/…`), as a remote orq.ai would have. */
  setLatency(ms: number): Promise<void>;
  reset(): Promise<void>;
  stats(): Promise<{ requests: number; identities: number }>;
  requests(): Promise<LoggedWrite[]>;
  close(): Promise<void>;
}

export async function startEmulator(): Promise<EmulatorHandle> {
  const child = spawn(TSX, [new URL("./emulator-process.ts", import.meta.url).pathname], {
    cwd: PROJECT_DIR,
    detached: true,
    stdio: ["pipe", "pipe", "inherit"],
  });
  trackProcessGroup(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error("the orq.ai emulator did not start within 60 s")), 60_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const line = buffered.split("\n").find((candidate) => candidate.startsWith("{"));
      if (!line) return;
      clearTimeout(timer);
      resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once("exit", (code) => reject(new Error(`the orq.ai emulator exited (${code}) before it listened`)));
  });

  const control = async <T>(method: string, path: string): Promise<T> => {
    const response = await fetch(`${url}/__emulator${path}`, { method, signal: AbortSignal.timeout(30_000) });
    if (!response.ok) throw new Error(`emulator ${method} ${path}: ${response.status}`);
    return (await response.json()) as T;
  };

  return {
    url,
    setLatency: async (ms) => {
      const response = await fetch(`${url}/__bench/latency/${Math.round(ms)}`, { method: "PUT", signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`setting the emulator's latency: ${response.status}`);
      await response.body?.cancel();
    },
    reset: async () => {
      await control("POST", "/reset");
    },
    stats: () => control("GET", "/stats"),
    requests: async () => (await control<{ requests: LoggedWrite[] }>("GET", "/requests")).requests,
    close: async () => {
      child.stdin?.end();
      const timer = setTimeout(() => killGroup(child, "SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
      killGroup(child, "SIGKILL");
      untrackProcessGroup(child);
    },
  };
}
