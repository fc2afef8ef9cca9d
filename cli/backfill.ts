/**
 * Imports the users a provider already has into orq.ai, with the same mapping as the webhooks: one
 * cycle of the bridge's reconcile engine (src/reconcile/engine.ts), run from the command line and
 * writing to orq.ai directly.
 *
 *   npm run backfill -- <clerk|auth0> [--dry-run] [--restart] [--concurrency 4] [--checkpoint-dir .backfill]
 *                                     [--page-size N] [--auth0-source auto|pages|export] [--verbose]
 *                                     [--delete [--confirm-deletes]]
 *
 * Reads the bridge's variables (ORQ_API_URL, ORQ_API_KEY, ORQ_TAGS, ORQ_METADATA_KEYS,
 * ORQ_EXTERNAL_ID_SOURCE, ORQ_EXTERNAL_ID_PREFIX; with --delete also ORQ_ON_DELETE and
 * RECONCILE_MAX_DELETES) and the provider's credentials from the environment. Progress goes to stderr; the dry-run plan and the summary to stdout.
 * Exit codes: 0 done, 1 done with failed users or stopped by an error (resumable), 2 not started
 * (usage or configuration), 130 interrupted (resumable).
 */
import { parseArgs } from "node:util";
import { backfillProviders } from "./lib/backfill/providers";
import { runBackfill } from "./lib/backfill/run-backfill";

const USAGE = `Usage: npm run backfill -- <provider> [options]
  provider: ${backfillProviders.map((provider) => provider.name).join(" | ")}

Options:
  --dry-run                 compare with orq.ai and print what would be created or updated; write nothing
  --restart                 ignore the checkpoint and start from the first user
  --concurrency N           users synced at once (default 4, max 32)
  --checkpoint-dir DIR      where the checkpoint is kept (default .backfill)
  --page-size N             users per listing request (default: the API's maximum)
  --auth0-source MODE       auto (default) or pages: page through created_at ranges (every user); export: an export job
  --verbose                 also list unchanged users and every write
  --delete                  also handle identities tagged with the provider in orq.ai whose user is gone (per
                            ORQ_ON_DELETE; each confirmed by the provider's 404); off by default
  --confirm-deletes         with --delete: go ahead even beyond RECONCILE_MAX_DELETES
  -h, --help

Environment: ORQ_API_KEY, ORQ_API_URL and the mapping variables of the bridge (ORQ_TAGS, ORQ_METADATA_KEYS,
ORQ_EXTERNAL_ID_SOURCE, ORQ_EXTERNAL_ID_PREFIX; with --delete ORQ_ON_DELETE, RECONCILE_MAX_DELETES), and per provider:
${backfillProviders.map((provider) => `  ${provider.name}:\n${provider.envHelp.map((line) => `    ${line}`).join("\n")}`).join("\n")}`;

function usageError(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function positiveInteger(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) usageError(`${flag} must be a positive integer`);
  return number;
}

function parseCli(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        "dry-run": { type: "boolean", default: false },
        restart: { type: "boolean", default: false },
        concurrency: { type: "string" },
        "checkpoint-dir": { type: "string", default: ".backfill" },
        "page-size": { type: "string" },
        "auth0-source": { type: "string" },
        verbose: { type: "boolean", default: false },
        delete: { type: "boolean", default: false },
        "confirm-deletes": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    usageError((error as Error).message);
  }
}

async function main(): Promise<number> {
  const { values, positionals } = parseCli(process.argv.slice(2));
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [provider, ...extra] = positionals;
  if (!provider || extra.length > 0) usageError(provider ? `unexpected arguments: ${extra.join(" ")}` : "name a provider");
  if (values["confirm-deletes"] && !values.delete) usageError("--confirm-deletes goes with --delete");

  // First Ctrl-C: finish what is in flight and save the checkpoint. Second: leave now (the last
  // saved checkpoint, at most a few seconds old, still resumes).
  const controller = new AbortController();
  process.on("SIGINT", () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write("\nStopping after the requests in flight and saving the checkpoint… (Ctrl-C again to quit now)\n");
    controller.abort();
  });

  const result = await runBackfill({
    provider,
    env: process.env,
    dryRun: values["dry-run"],
    restart: values.restart,
    concurrency: positiveInteger(values.concurrency, "--concurrency"),
    checkpointDir: values["checkpoint-dir"],
    pageSize: positiveInteger(values["page-size"], "--page-size"),
    choices: { "auth0-source": values["auth0-source"] },
    verbose: values.verbose,
    delete: values.delete,
    confirmDeletes: values["confirm-deletes"],
    signal: controller.signal,
  });

  if (result.status === "not_started") {
    process.stderr.write(`backfill ${provider}: not started: ${result.problem}\n`);
    return 2;
  }
  if (result.status === "interrupted") return 130;
  return result.status === "completed" && result.counts.failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`backfill: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
