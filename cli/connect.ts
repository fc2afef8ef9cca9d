/**
 * Registers the bridge's webhook with a provider through its management API, stores the secret
 * the bridge verifies with, and checks the result end to end.
 *
 *   npm run connect -- <provider> --url <bridge base URL> [--dry-run] [--remove] [--local] [--show-secret] [--log-stream]
 *
 * Exit codes: 0 done, 1 a step or the check failed, 2 not started (usage, missing credentials).
 */
import { runAsProcess } from "./lib/args";
import { connectCommand } from "./lib/connect/command";

runAsProcess("connect", connectCommand);
