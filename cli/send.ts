/**
 * Sends a provider's documented sample webhook to a running bridge (`npm run dev`) and shows what
 * orq.ai (the local emulator) holds afterwards.
 *
 *   npm run send -- <provider> <event> [--url http://127.0.0.1:8787] [--orq http://127.0.0.1:8788] [--user-id ID]
 *
 *   providers: see SAMPLE_PROVIDERS in signing/sample-webhooks.ts (clerk, auth0)
 *   events:    user.created | user.updated | user.deleted
 *
 * The sample gets a fresh event id and the current time; it keeps the sample's user id unless
 * --user-id is given. Clerk is signed with svix using CLERK_WEBHOOK_SIGNING_SECRET, Auth0 carries
 * `Authorization: Bearer AUTH0_WEBHOOK_TOKEN`; each from the environment, else .dev.vars, else the
 * public dev secrets `npm run dev` uses. BRIDGE_URL and ORQ_EMULATOR_URL in the environment change
 * the --url and --orq defaults. Exits 1 when the bridge does not answer 2xx (2 on a usage error).
 */
import { parseArgs } from "node:util";
import {
  SAMPLE_EVENTS,
  SAMPLE_PROVIDERS,
  buildSampleRequest,
  isSampleEvent,
  isSampleProvider,
  sendSampleRequest,
  toCurl,
  type Json,
  type SampleRequest,
} from "../signing/sample-webhooks";

const USAGE = `Usage: npm run send -- <provider> <event> [--url http://127.0.0.1:8787] [--orq http://127.0.0.1:8788] [--user-id ID]
  provider: ${Object.keys(SAMPLE_PROVIDERS).join(" | ")}
  event:    ${SAMPLE_EVENTS.join(" | ")}`;

/** How long to watch the emulator for the delivery. */
const WATCH_MS = 5_000;
const POLL_MS = 150;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function parseCli(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: "string", default: process.env.BRIDGE_URL ?? "http://127.0.0.1:8787" },
        orq: { type: "string", default: process.env.ORQ_EMULATOR_URL ?? "http://127.0.0.1:8788" },
        "user-id": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const [provider, event, ...extra] = positionals;
  if (!provider || !event) fail("provider and event are required");
  if (extra.length > 0) fail(`unexpected argument: ${extra.join(" ")}`);
  if (!isSampleProvider(provider)) fail(`unknown provider "${provider}"`);
  if (!isSampleEvent(event)) fail(`unknown event "${event}"`);
  if (values["user-id"] !== undefined && values["user-id"].trim() === "") fail("--user-id must not be empty");
  return { provider, event, url: values.url, orq: values.orq.replace(/\/+$/, ""), userId: values["user-id"] };
}

async function main(): Promise<void> {
  const options = parseCli(process.argv.slice(2));
  const request = buildSampleRequest(options.provider, options.event, {
    bridgeUrl: options.url,
    ...(options.userId !== undefined && { userId: options.userId }),
  });

  console.log(`# ${request.provider} ${request.event} for ${request.userId} (event id ${request.eventId})`);
  console.log(toCurl(request));
  console.log(`# (re-running this curl repeats event ${request.eventId}: the bridge answers "duplicate"${request.provider === "clerk" ? "; the signature expires after 5 minutes" : ""})`);
  console.log();

  const sentAt = Date.now();
  let result: Awaited<ReturnType<typeof sendSampleRequest>>;
  try {
    result = await sendSampleRequest(request, AbortSignal.timeout(15_000));
  } catch (error) {
    console.error(`✗ could not reach the bridge at ${request.url}: ${describeError(error)}`);
    console.error("  Is it running? Start it with `npm run dev` (or pass --url).");
    process.exit(1);
  }
  console.log(`← ${result.status}${result.ok ? "" : " (not 2xx)"}`);
  console.log(typeof result.answer === "string" ? result.answer : JSON.stringify(result.answer, null, 2));
  if (!result.ok) {
    if (result.status === 401) console.error("  The bridge rejected the signature/token: do both sides use the same secret (env, .dev.vars)?");
    if (result.status === 404) console.error("  404: is this provider's secret set on the bridge (see GET /health)?");
    process.exit(1);
  }

  const bridgeStatus = (result.answer as Json)?.status;
  await showOrqIdentity(options.orq, request, sentAt, typeof bridgeStatus === "string" ? bridgeStatus : undefined);
}

/**
 * Prints what the emulator holds for the user. When the bridge recorded the event, first waits
 * (up to WATCH_MS) for the delivery: a write for this external id logged after the send.
 */
async function showOrqIdentity(orqUrl: string, request: SampleRequest, sentAt: number, bridgeStatus: string | undefined): Promise<void> {
  const expectDelivery = bridgeStatus === "recorded";
  const externalId = request.userId;
  const deleted = request.event === "user.deleted";
  const encoded = encodeURIComponent(externalId);
  let write: Json | undefined;
  try {
    if (expectDelivery) {
      const deadline = Date.now() + WATCH_MS;
      while (!write && Date.now() < deadline) {
        const { requests } = (await getJson(`${orqUrl}/__emulator/requests?external_id=${encoded}`)) as { requests: Json[] };
        write = requests.filter((entry) => entry.method !== "GET" && entry.at >= sentAt && isDone(entry, deleted)).at(-1);
        if (!write) await sleep(POLL_MS);
      }
    }
    const identity = await getJson(`${orqUrl}/__emulator/identities/${encoded}`);
    console.log();
    if (expectDelivery && !write) {
      console.log(`… orq.ai has not been updated for ${externalId} within ${WATCH_MS / 1000} s (not there yet; the bridge retries: see its logs and GET /health).`);
      console.log(identity ? `  It currently holds:\n${indent(JSON.stringify(identity, null, 2))}` : "  It holds no identity with that external_id.");
      return;
    }
    if (write) console.log(`✓ delivered to orq.ai: ${write.method} ${write.path} → ${write.status}`);
    else console.log(`(the bridge answered "${bridgeStatus ?? "?"}": nothing new to deliver)`);
    if (identity) console.log(`orq.ai identity ${externalId}:\n${indent(JSON.stringify(identity, null, 2))}`);
    else console.log(`orq.ai holds no identity ${externalId}${deleted ? ": it is gone" : ""}.`);
  } catch (error) {
    console.log();
    console.log(`(could not read the orq.ai emulator at ${orqUrl}: ${describeError(error)}; pass --orq if it runs elsewhere)`);
  }
}

/** A write that brought orq.ai to the event's state: 2xx, or a DELETE answered 404 (already gone). */
function isDone(entry: Json, deleted: boolean): boolean {
  const code = entry.status;
  if (typeof code !== "number") return false;
  if (deleted) return entry.method === "DELETE" && ((code >= 200 && code < 300) || code === 404);
  return entry.method !== "DELETE" && code >= 200 && code < 300;
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return response.json();
}

function indent(text: string): string {
  return text.replace(/^/gm, "  ");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describeError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
