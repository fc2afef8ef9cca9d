/**
 * Auth0's users through the Management API.
 *
 * `GET /api/v2/users?page&per_page&include_totals=true&sort=created_at:1` answers
 * `{start, limit, length, users, total}` with at most 100 users per page, and Auth0 documents that
 * page/per_page pagination reaches only the first 1000 users of a query ("view search results by
 * page", Limitation). `/api/v2/users` documents no checkpoint (`from`/`take`) pagination; its docs
 * send larger tenants to the export job. So: up to 1000 users are paged; beyond that the backfill
 * runs `POST /api/v2/jobs/users-exports` (format `json`: a gzipped NDJSON file, one user a line),
 * polls `GET /api/v2/jobs/{id}` until it is `completed`, downloads its `location` and reads it.
 *
 * The token is `AUTH0_MANAGEMENT_TOKEN`, or one fetched with the client-credentials grant
 * (`AUTH0_CLIENT_ID` / `AUTH0_CLIENT_SECRET`, audience `https://<AUTH0_DOMAIN>/api/v2/`). 429s carry
 * `X-RateLimit-Reset` (the epoch second the bucket refills), honoured by provider-api.ts.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { createGunzip } from "node:zlib";
import { auth0 } from "../../../src/providers/auth0";
import { apiBaseUrl } from "./clerk-users";
import { callProviderApi, callProviderJson, type ApiContext, type ApiFailure, type ApiJson, type ApiRequest } from "./provider-api";
import { sleep } from "./rate-limit";
import { describeUserId, type BackfillProvider, type Cursor, type OpenedSource, type SourceContext, type UserPage, type UserSource } from "./user-source";

/** Auth0: "per_page … max 100". */
export const AUTH0_MAX_PER_PAGE = 100;
/** Auth0: "limits the total number of users you can retrieve to 1000" through page/per_page. */
export const AUTH0_PAGING_LIMIT = 1000;
/** Only what the bridge's mapping reads; `user_metadata` is user-editable and never leaves Auth0. */
export const AUTH0_USER_FIELDS = ["user_id", "email", "username", "name", "given_name", "family_name", "nickname", "picture", "app_metadata", "created_at", "updated_at"] as const;
/** Users read from the export file per page (no API limit applies to a local file). */
const EXPORT_PAGE = 500;
const EXPORT_JOB_TIMEOUT_MS = 2 * 60 * 60_000;

export type Auth0SourceChoice = "auto" | "pages" | "export";

export const auth0Backfill: BackfillProvider = {
  name: "auth0",
  webhook: auth0,
  envHelp: [
    "AUTH0_DOMAIN              tenant domain, e.g. acme.eu.auth0.com",
    "AUTH0_MANAGEMENT_TOKEN    a Management API token with read:users, or:",
    "AUTH0_CLIENT_ID / AUTH0_CLIENT_SECRET   a machine-to-machine app authorised for the Management API (read:users)",
    "AUTH0_BASE_URL            default https://<AUTH0_DOMAIN>",
  ],

  async open(context) {
    const { env } = context;
    const domain = env.AUTH0_DOMAIN?.trim().replace(/^https?:\/\//, "").replace(/\/+$/, "");
    if (!domain) return { ok: false, problem: "AUTH0_DOMAIN is not set (your tenant's domain, e.g. acme.eu.auth0.com)" };
    const baseUrl = apiBaseUrl(env.AUTH0_BASE_URL, `https://${domain}`);
    if (!baseUrl) return { ok: false, problem: "AUTH0_BASE_URL must be an http(s) URL" };
    const choice = (context.choices["auth0-source"] ?? "auto") as Auth0SourceChoice;
    if (!["auto", "pages", "export"].includes(choice)) return { ok: false, problem: "--auth0-source must be auto, pages or export" };
    const tokens = createTokenSource(env, domain, baseUrl, context.api);
    if (!tokens.ok) return tokens;

    const client: Auth0Client = { baseUrl, domain, api: context.api, tokens: tokens.source };
    const resume = context.resumeFrom;
    if (resume?.kind === "export" && typeof resume.jobId === "string") return openExport(client, context, resume.jobId);
    if (choice === "export") return openExport(client, context, undefined);

    const perPage = resume?.kind === "pages" && typeof resume.perPage === "number" ? resume.perPage : Math.min(Math.max(1, context.pageSize ?? AUTH0_MAX_PER_PAGE), AUTH0_MAX_PER_PAGE);
    const firstPage = resume?.kind === "pages" && typeof resume.page === "number" ? resume.page : 0;
    const first = await fetchUsersPage(client, firstPage, perPage);
    if (!first.ok) return { ok: false, problem: first.reason, interrupted: first.interrupted };
    const total = first.total;
    const overLimit = total !== undefined && total >= AUTH0_PAGING_LIMIT;
    if (overLimit && choice === "auto" && !resume) {
      context.note(`Auth0 reports ${total} users; its page-by-page listing stops at ${AUTH0_PAGING_LIMIT}, so all users are read through an export job instead.`);
      return openExport(client, context, undefined);
    }
    if (overLimit) {
      context.note(
        `Warning: Auth0 reports ${total} users, but /api/v2/users pages through the first ${AUTH0_PAGING_LIMIT} only: users after them are NOT backfilled. ` +
          "Use --auth0-source export (or auto) to reach every user.",
      );
    }
    return { ok: true, source: pagedSource(client, perPage, firstPage, first) };
  },

  toWebhook(user, now) {
    const userId = describeUserId(user, "user_id");
    const time = new Date(now).toISOString();
    // The CloudEvent Auth0 Event Streams deliver; `user.updated` because it states the user's current data.
    const body = { specversion: "1.0", type: "user.updated", source: "urn:auth0:backfill", id: `backfill_${userId}`, time, data: { object: user } };
    return { body, deliveryId: body.id, userId };
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------------------------

interface TokenSource {
  token(): Promise<{ ok: true; token: string } | ApiFailure>;
  /** After a 401: a fresh token when one can be fetched; false for a fixed AUTH0_MANAGEMENT_TOKEN. */
  renew(): boolean;
}

function createTokenSource(env: SourceContext["env"], domain: string, baseUrl: string, api: ApiContext): { ok: true; source: TokenSource } | { ok: false; problem: string } {
  const fixed = env.AUTH0_MANAGEMENT_TOKEN?.trim();
  if (fixed) return { ok: true, source: { token: async () => ({ ok: true, token: fixed }), renew: () => false } };
  const clientId = env.AUTH0_CLIENT_ID?.trim();
  const clientSecret = env.AUTH0_CLIENT_SECRET?.trim();
  if (!clientId || !clientSecret) {
    return { ok: false, problem: "set AUTH0_MANAGEMENT_TOKEN, or AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET of an app authorised for the Management API (read:users)" };
  }
  let current: Promise<{ ok: true; token: string } | ApiFailure> | undefined;
  const fetchToken = async (): Promise<{ ok: true; token: string } | ApiFailure> => {
    const answer = await callProviderJson<{ access_token?: unknown }>(
      {
        url: `${baseUrl}/oauth/token`,
        method: "POST",
        // The audience names the tenant's own domain even when requests go to AUTH0_BASE_URL.
        json: { grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret, audience: `https://${domain}/api/v2/` },
        label: "Auth0 POST /oauth/token",
      },
      api,
    );
    if (!answer.ok) return { ...answer, reason: `could not get a Management API token: ${answer.reason}` };
    const token = answer.body.access_token;
    return typeof token === "string" && token ? { ok: true, token } : { ok: false, reason: "Auth0 /oauth/token answered without access_token", interrupted: false };
  };
  return {
    ok: true,
    source: {
      token: () => (current ??= fetchToken()),
      renew: () => {
        current = undefined;
        return true;
      },
    },
  };
}

interface Auth0Client {
  baseUrl: string;
  domain: string;
  api: ApiContext;
  tokens: TokenSource;
}

/** A Management API call with the bearer token; a 401 (expired token) fetches a new one once. */
async function managementJson<T>(client: Auth0Client, request: ApiRequest): Promise<ApiJson<T>> {
  for (let renewed = false; ; renewed = true) {
    const token = await client.tokens.token();
    if (!token.ok) return token;
    const answer = await callProviderJson<T>({ ...request, headers: { ...request.headers, authorization: `Bearer ${token.token}` } }, client.api);
    if (answer.ok || answer.status !== 401 || renewed || !client.tokens.renew()) {
      if (!answer.ok && (answer.status === 401 || answer.status === 403)) {
        return { ...answer, reason: `Auth0 rejected the Management API token (${answer.status}; it needs read:users): ${answer.reason}` };
      }
      return answer;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Page by page (up to 1000 users)
// ---------------------------------------------------------------------------------------------------------------

type UsersPage = { ok: true; users: unknown[]; total: number | undefined } | ApiFailure;

async function fetchUsersPage(client: Auth0Client, page: number, perPage: number): Promise<UsersPage> {
  const query = new URLSearchParams({
    page: String(page),
    per_page: String(perPage),
    include_totals: "true",
    sort: "created_at:1",
    fields: AUTH0_USER_FIELDS.join(","),
    include_fields: "true",
  });
  const answer = await managementJson<unknown>(client, { url: `${client.baseUrl}/api/v2/users?${query}`, label: "Auth0 GET /api/v2/users" });
  if (!answer.ok) return answer;
  const body = answer.body;
  // include_totals=true wraps the list; without it (or from an older tenant) it is the bare array.
  if (Array.isArray(body)) return { ok: true, users: body, total: undefined };
  const wrapped = body as { users?: unknown; total?: unknown } | null;
  if (!wrapped || !Array.isArray(wrapped.users)) return { ok: false, reason: "Auth0 GET /api/v2/users answered without a users list", interrupted: false };
  return { ok: true, users: wrapped.users, total: typeof wrapped.total === "number" ? wrapped.total : undefined };
}

function pagedSource(client: Auth0Client, perPage: number, firstPage: number, first: UsersPage & { ok: true }): UserSource {
  // Whole pages inside the first 1000 only: a page reaching past them is refused outright.
  const lastReachablePage = Math.floor(AUTH0_PAGING_LIMIT / perPage) - 1;
  const cursorOf = (page: number): Cursor => ({ kind: "pages", page, perPage });
  return {
    total: first.total,
    identity: `auth0 ${client.baseUrl} (${client.domain})`,
    async *pages(from): AsyncGenerator<UserPage | ApiFailure> {
      let page = from?.kind === "pages" && typeof from.page === "number" ? from.page : 0;
      for (;;) {
        const answer = page === firstPage ? first : await fetchUsersPage(client, page, perPage);
        if (!answer.ok) {
          yield answer;
          return;
        }
        yield { ok: true, cursor: cursorOf(page), nextCursor: cursorOf(page + 1), users: answer.users };
        // Asking past the first 1000 is a 400 from Auth0; the warning was given at the start.
        if (answer.users.length < perPage || page >= lastReachablePage) return;
        page++;
      }
    },
  };
}

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
  await mkdir(context.stateDir, { recursive: true });
  let jobId = resumeJobId;
  if (jobId && (await fileExists(exportFile(context.stateDir, jobId)))) {
    context.note(`Resuming from Auth0 export ${jobId} (file kept in ${context.stateDir}).`);
  } else {
    if (!jobId) {
      const created = await managementJson<ExportJob>(client, {
        url: `${client.baseUrl}/api/v2/jobs/users-exports`,
        method: "POST",
        json: { format: "json", fields: AUTH0_USER_FIELDS.map((name) => ({ name })) },
        label: "Auth0 POST /api/v2/jobs/users-exports",
      });
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
    const downloaded = await downloadExport(client, context, location.url, exportFile(context.stateDir, jobId));
    if (!downloaded.ok) return { ok: false, problem: downloaded.reason, interrupted: downloaded.interrupted };
  }
  const file = exportFile(context.stateDir, jobId);
  const total = await countRecords(file);
  const id = jobId;
  return {
    ok: true,
    source: {
      total,
      identity: `auth0 ${client.baseUrl} (${client.domain})`,
      pages: (from) => readExportPages(file, id, from?.kind === "export" && typeof from.line === "number" ? from.line : 0, context.pageSize ?? EXPORT_PAGE),
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
    const job = await managementJson<ExportJob>(client, { url: `${client.baseUrl}/api/v2/jobs/${encodeURIComponent(jobId)}`, label: "Auth0 GET /api/v2/jobs/{id}" });
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
    if (!(await sleep(pollMs, client.api.signal))) return { ok: false, problem: "interrupted while waiting for the Auth0 export", interrupted: true };
  }
}

/** Downloads the export to `file` as plain NDJSON (Auth0 serves it gzipped). */
async function downloadExport(client: Auth0Client, context: SourceContext, url: string, file: string): Promise<{ ok: true } | ApiFailure> {
  // `location` is a pre-signed link: it carries its own authorisation, and storage services
  // refuse a request that also brings an Authorization header.
  const answer = await callProviderApi({ url, label: "Auth0 export download", timeoutMs: 60 * 60_000 }, client.api);
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
    const interrupted = client.api.signal?.aborted ?? false;
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

/** NDJSON records `from` on, in pages; the cursor is the record number. */
async function* readExportPages(file: string, jobId: string, from: number, pageSize: number): AsyncGenerator<UserPage | ApiFailure> {
  let index = 0;
  let start = from;
  let users: unknown[] = [];
  const page = (): UserPage => ({ ok: true, cursor: { kind: "export", jobId, line: start }, nextCursor: { kind: "export", jobId, line: start + users.length }, users });
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
