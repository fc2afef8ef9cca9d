/**
 * The command-line conventions every command here shares: strict `parseArgs`, `-h/--help` prints
 * the usage and exits 0, a wrong command line prints what is wrong and the usage and exits 2.
 *
 * A command that also runs in-process (`doctor`, `connect`: its tests call it directly, with their
 * own environment and output) passes a `CommandIo`: output goes there and an exit is thrown as a
 * `CommandExit` for `runCommand` to turn into the exit code. Without one, it prints and exits.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Where a command writes its lines: stdout and stderr for a process. */
export interface CommandIo {
  out(line: string): void;
  err(line: string): void;
}

/** A command as a function: its arguments and environment in, its exit code out. */
export type Command = (args: string[], env: NodeJS.ProcessEnv, io: CommandIo) => Promise<number>;

/** Thrown instead of exiting when a command runs with a `CommandIo`. */
export class CommandExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export const PROCESS_IO: CommandIo = { out: (line) => console.log(line), err: (line) => console.error(line) };

function exit(code: number, io: CommandIo | undefined): never {
  if (io) throw new CommandExit(code);
  process.exit(code);
}

export function usageError(usage: string, message: string, io?: CommandIo): never {
  (io ?? PROCESS_IO).err(`${message}\n${usage}`);
  return exit(2, io);
}

/** `config.options` should declare `help: { type: "boolean", short: "h" }`. */
export function parseCommandLine<T extends ParseArgsConfig>(usage: string, config: T, io?: CommandIo): ReturnType<typeof parseArgs<T>> {
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs(config);
  } catch (error) {
    usageError(usage, error instanceof Error ? error.message : String(error), io);
  }
  if ((parsed.values as { help?: unknown }).help) {
    (io ?? PROCESS_IO).out(usage);
    exit(0, io);
  }
  return parsed;
}

/** The bridge's base URL from `--url`: required, http(s). */
export function requireBridgeUrl(usage: string, url: string | undefined, io?: CommandIo): string {
  if (!url) usageError(usage, "--url is required", io);
  if (!/^https?:\/\/[^/]/.test(url)) usageError(usage, `--url must be an http(s) URL, not "${url}"`, io);
  return url;
}

/** Runs a command to its exit code: a `CommandExit`'s code, or 1 (named on stderr) for anything unexpected. */
export async function runCommand(name: string, command: Command, args: string[], env: NodeJS.ProcessEnv, io: CommandIo): Promise<number> {
  try {
    return await command(args, env, io);
  } catch (error) {
    if (error instanceof CommandExit) return error.code;
    io.err(`${name}: unexpected error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

/** The entry file of a command: runs it with this process's arguments, environment and output, then exits. */
export function runAsProcess(name: string, command: Command): void {
  void runCommand(name, command, process.argv.slice(2), process.env, PROCESS_IO).then((code) => process.exit(code));
}
