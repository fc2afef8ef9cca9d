/**
 * Auth0's users for the backfill. `--auth0-source auto` (the default) and `pages` list them with the
 * bridge's own source (src/reconcile/sources/auth0.ts: created_at ranges split until each fits
 * Auth0's 1,000-user query limit, so every user is reached). `--auth0-source export` reads them
 * from a bulk export job instead, which only a CLI can wait for and store:
 * `POST /api/v2/jobs/users-exports` (format `json`: a gzipped NDJSON file, one user a line), polled
 * with `GET /api/v2/jobs/{id}` until it is `completed`, then its `location` downloaded and read.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { createGunzip } from "node:zlib";
import { AUTH0_USER_FIELDS, auth0Source, configureAuth0, type Auth0Client } from "../../../src/reconcile/sources/auth0";
import { requestProvider } from "../../../src/reconcile/sources/provider-request";
import { sleep } from "./rate-limit";
import { backfillFrom, withRetries } from "./source-listing";
import type { BackfillProvider, ListingFailure, OpenedSource, SourceContext, UserPage } from "./user-source";

/** Users read from the export file per page (no API limit applies to a local file). */
const EXPORT_PAGE = 500;
const EXPORT_JOB_TIMEOUT_MS = 2 * 60 * 60_000;

export type Auth0SourceChoice = "auto" | "pages" | "export";

const listed = backfillFrom(auth0Source);

export const auth0Backfill: BackfillProvider = {
  ...listed,
  async open(context) {
    const choice = (context.choices["auth0-source"] ?? "auto") as Auth0SourceChoice;
    if (!["auto", "pages", "export"].includes(choice)) return { ok: false, problem: "--auth0-source must be auto, pages or export" };
    const resume = context.resumeFrom;
    // A checkpoint continues the way it started, whatever the flag says now.
    const resumeJobId = resume?.kind === "export" && typeof resume.jobId === "string" ? resume.jobId : undefined;
    if (choice === "export" && resume && !resumeJobId) context.note("Resuming the listing the checkpoint started; --auth0-source export applies after --restart.");
    if (!resumeJobId && (choice !== "export" || resume)) return listed.open(context);
    const configured = configureAuth0(context.env);
    if (!configured.ok) return { ok: false, problem: configured.problem };
    return openExport(configured.client, context, resumeJobId);
  },
};

// ---------------------------------------------------------------------------------------------------------------
// The export job (any number of users)
// ---------------------------------------------------------------------------------------------------------------

interface ExportJob {
  id?: unknown;
  status?: unknown;
  location?: unknown;
  percentage_done?: unknown;
  time_left_seconds?: unknown;
}

async function openExport(client: Auth0Client, context: SourceContext, resumeJobId: string | undefined): Promise<OpenedSource> {
  const { api } = context;
  await mkdir(context.stateDir, { recursive: true });
  let jobId = resumeJobId;
  if (jobId && (await fileExists(exportFile(context.stateDir, jobId)))) {
    context.note(`Resuming from Auth0 export ${jobId} (file kept in ${context.stateDir}).`);
  } else {
    if (!jobId) {
      const created = await withRetries(
        (ctx) =>
          client.management<ExportJob>(
            {
              url: `${client.baseUrl}/api/v2/jobs/users-exports`,
              method: "POST",
              json: { format: "json", fields: AUTH0_USER_FIELDS.map((name) => ({ name })) },
              label: "Auth0 POST /api/v2/jobs/users-exports",
            },
            ctx,
          ),
        api,
      );
      if (!created.ok) return { ok: false, problem: created.reason, interrupted: created.interrupted };
      if (typeof created.body.id !== "string") return { ok: false, problem: "Auth0 created an export job without an id" };
      jobId = created.body.id;
      context.note(`Auth0 export job ${jobId} created; waiting for it to finish.`);
    }
    const location = await waitForExport(client, context, jobId);
    if (!location.ok) {
      const problem = resumeJobId ? `${location.problem}; the checkpoint's export cannot be read again: run with --restart` : location.problem;
      return { ok: false, problem, interrupted: location.interrupted ?? false };
    }
    const downloaded = await downloadExport(context, location.url, exportFile(context.stateDir, jobId));
    if (!downloaded.ok) return { ok: false, problem: downloaded.reason, interrupted: downloaded.interrupted };
  }
  const file = exportFile(context.stateDir, jobId);
  const total = await countRecords(file);
  const id = jobId;
  const pageSize = context.pageSize ?? EXPORT_PAGE;
  // Pages are read in order: a request for where the reader stands continues it, any other opens the file again.
  let reader: { line: number; pages: AsyncGenerator<UserPage> } | undefined;
  return {
    ok: true,
    source: {
      total,
      identity: await client.account(),
      start: { kind: "export", jobId: id, line: 0 },
      async listPage(cursor) {
        const line = cursor === undefined ? 0 : cursor.kind === "export" && cursor.jobId === id && typeof cursor.line === "number" ? cursor.line : undefined;
        if (line === undefined) return { ok: false, reason: `cannot continue from ${JSON.stringify(cursor)} in Auth0 export ${id}; start over with --restart`, interrupted: false };
        if (reader?.line !== line) {
          void reader?.pages.return(undefined);
          reader = { line, pages: readExportPages(file, id, line, pageSize, total) };
        }
        try {
          const step = await reader.pages.next();
          const page: UserPage = step.done ? { ok: true, users: [], cursor: { kind: "export", jobId: id, line }, next: null, requests: 0 } : step.value;
          reader.line = typeof page.next?.line === "number" ? page.next.line : -1;
          return page;
        } catch (error) {
          reader = undefined;
          return { ok: false, reason: `cannot read the Auth0 export ${file}: ${(error as Error).message}`, interrupted: false };
        }
      },
      confirmGone: (userId) => withRetries((ctx) => client.confirmGone(userId, ctx), api),
      cleanUp: () => rm(file, { force: true }),
    },
  };
}

function exportFile(stateDir: string, jobId: string): string {
  return join(stateDir, `auth0-export-${jobId.replace(/[^\w-]/g, "_")}.ndjson`);
}

async function waitForExport(client: Auth0Client, context: SourceContext, jobId: string): Promise<{ ok: true; url: string } | { ok: false; problem: string; interrupted?: boolean }> {
  const pollMs = Number(context.choices["auth0-export-poll-ms"] ?? 2_000);
  const deadline = context.now() + EXPORT_JOB_TIMEOUT_MS;
  let lastNote = 0;
  for (;;) {
    const job = await withRetries((ctx) => client.management<ExportJob>({ url: `${client.baseUrl}/api/v2/jobs/${encodeURIComponent(jobId)}`, label: "Auth0 GET /api/v2/jobs/{id}" }, ctx), context.api);
    if (!job.ok) return { ok: false, problem: job.reason, interrupted: job.interrupted };
    const { status, location } = job.body;
    if (status === "completed") {
      if (typeof location !== "string" || !location) return { ok: false, problem: `Auth0 export ${jobId} completed without a location` };
      return { ok: true, url: new URL(location, client.baseUrl).toString() };
    }
    if (status === "failed" || status === "expired") return { ok: false, problem: `Auth0 export ${jobId} is ${status}` };
    if (context.now() > deadline) return { ok: false, problem: `Auth0 export ${jobId} did not finish within ${EXPORT_JOB_TIMEOUT_MS / 60_000} minutes` };
    if (context.now() - lastNote >= 10_000) {
      lastNote = context.now();
      const done = typeof job.body.percentage_done === "number" ? ` ${job.body.percentage_done}%` : "";
      context.note(`Auth0 export ${jobId}: ${String(status)}${done}…`);
    }
    if (!(await sleep(pollMs, context.api.signal))) return { ok: false, problem: "interrupted while waiting for the Auth0 export", interrupted: true };
  }
}

/** Downloads the export to `file` as plain NDJSON (Auth0 serves it gzipped). */
async function downloadExport(context: SourceContext, url: string, file: string): Promise<{ ok: true } | ListingFailure> {
  // `location` is a pre-signed link: it carries its own authorisation, and storage services
  // refuse a request that also brings an Authorization header.
  const answer = await withRetries((ctx) => requestProvider({ url, label: "Auth0 export download" }, ctx), context.api);
  if (!answer.ok) return answer;
  if (!answer.response.body) return { ok: false, reason: "Auth0 export download had no body", interrupted: false };
  const raw = `${file}.download`;
  const plain = `${file}.partial`;
  try {
    await pipeline(Readable.fromWeb(answer.response.body as WebReadableStream<Uint8Array>), createWriteStream(raw));
    const gzipped = await startsWithGzipMagic(raw);
    await pipeline(gzipped ? [createReadStream(raw), createGunzip(), createWriteStream(plain)] : [createReadStream(raw), createWriteStream(plain)]);
    await rename(plain, file);
    context.note(`Auth0 export downloaded (${((await stat(file)).size / 1e6).toFixed(1)} MB).`);
    return { ok: true };
  } catch (error) {
    const interrupted = context.api.signal?.aborted ?? false;
    return { ok: false, reason: `Auth0 export download failed: ${(error as Error).message}`, interrupted };
  } finally {
    await rm(raw, { force: true });
    await rm(plain, { force: true });
  }
}

async function startsWithGzipMagic(file: string): Promise<boolean> {
  const handle = await open(file, "r");
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

async function fileExists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function countRecords(file: string): Promise<number> {
  let count = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) if (line.trim()) count++;
  return count;
}

/** NDJSON records `from` on, in pages; the cursor is the record number, and the page reaching `total` is the last. */
async function* readExportPages(file: string, jobId: string, from: number, pageSize: number, total: number): AsyncGenerator<UserPage> {
  let index = 0;
  let start = from;
  let users: unknown[] = [];
  const page = (): UserPage => {
    const end = start + users.length;
    return { ok: true, cursor: { kind: "export", jobId, line: start }, next: end >= total ? null : { kind: "export", jobId, line: end }, users, requests: 0 };
  };
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    if (index++ < from) continue;
    users.push(parseRecord(line));
    if (users.length === pageSize) {
      yield page();
      start += users.length;
      users = [];
    }
  }
  if (users.length > 0) yield page();
}

/** A line that is not JSON still becomes a user, which the mapping then reports as invalid. */
function parseRecord(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return { unparseable_export_line: line.slice(0, 80) };
  }
}
