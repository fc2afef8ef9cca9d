/**
 * The hot path in Node (tsx): verify + parse + normalise (+ map and check the orq body, as the
 * webhook route does before recording) one Clerk event, with the bridge's own modules, against the
 * same steps with `standardwebhooks` (`new Webhook(secret).verify(body, headers)`, exactly as
 * Clerk's `verifyWebhook` calls it) and the bridge's own schema and mapping. Both start from the
 * same raw bytes and Headers. The bridge's modules are Web-API based; Node 20 has crypto.subtle.
 *
 * Caveat, stated in the report: Node runs WebCrypto HMAC on its thread pool (a thread hop per
 * call), workerd runs it synchronously, so this understates the bridge's advantage in production.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Webhook } from "standardwebhooks";
import { BRIDGE_DIR } from "./paths";
import type { ClerkSigner } from "./signed-clerk";

export interface HotPathResult {
  events: number;
  rounds: number;
  /** Median per-event cost over the rounds, microseconds. */
  bridgeUs: number;
  standardWebhooksUs: number;
  /** standardwebhooks ÷ bridge: how many times cheaper the bridge's path is. */
  ratio: number;
  /** The bridge's path split into its steps, median µs per event. */
  breakdown: { verifyUs: number; parseUs: number; normaliseUs: number; mapAndCheckUs: number };
}

/*
 * The shapes used of the bridge's modules, declared here rather than imported: the bridge's
 * sources are type-checked against workerd's types, this file against Node's.
 */
type IdentityEvent = { type: string };
type Verifier = (request: { headers: Headers; body: Uint8Array }, nowMs: number) => Promise<{ ok: true; deliveryId?: string } | { ok: false; reason: string }>;
interface ClerkModule {
  clerk: {
    secretBinding: string;
    configure(env: Record<string, unknown>): { status: "configured"; verify: Verifier } | { status: "not_configured" | "invalid" };
    normalise(body: unknown, context: { deliveryId?: string; receivedAt: number }): { kind: "events"; events: IdentityEvent[] } | { kind: "ignored" | "invalid" | "expired" };
  };
}
interface MappingModule {
  DEFAULT_MAPPING: unknown;
  toDesiredIdentity(event: IdentityEvent, options: unknown): { kind: "present"; identity: unknown } | { kind: "deleted" };
}
interface SchemasModule {
  CreateIdentityRequest: { safeParse(value: unknown): { success: boolean } };
}

interface Prepared {
  headers: Headers;
  body: Uint8Array;
}

async function load<T>(relative: string): Promise<T> {
  return (await import(pathToFileURL(join(BRIDGE_DIR, relative)).href)) as T;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function measureHotPath(signer: ClerkSigner, secret: string, { events = 2_000, rounds = 7 } = {}): Promise<HotPathResult> {
  const { clerk } = await load<ClerkModule>("src/providers/clerk.ts");
  const { toDesiredIdentity, DEFAULT_MAPPING } = await load<MappingModule>("src/identity/to-orq-identity.ts");
  const { CreateIdentityRequest } = await load<SchemasModule>("src/deliver/orq-schemas.ts");

  const setup = clerk.configure({ [clerk.secretBinding]: secret });
  if (setup.status !== "configured") throw new Error(`the bridge's Clerk provider did not configure: ${setup.status}`);
  const verify = setup.verify;
  const encoder = new TextEncoder();
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const requests: Prepared[] = signer
    .many(`user_hotpath_${Date.now()}_`, events)
    .map((signed) => ({ headers: new Headers(signed.headers), body: encoder.encode(signed.body) }));

  /** What the route does after normalising, before recording: map to orq's body and check it. */
  const mapAndCheck = (event: IdentityEvent) => {
    const desired = toDesiredIdentity(event, DEFAULT_MAPPING);
    if (desired.kind !== "present" || !CreateIdentityRequest.safeParse(desired.identity).success) throw new Error("unexpected mapping");
  };
  const normaliseOne = (json: unknown, deliveryId: string | undefined, now: number): IdentityEvent => {
    const normalised = clerk.normalise(json, { deliveryId, receivedAt: now });
    if (normalised.kind !== "events") throw new Error(`unexpected normalise result: ${normalised.kind}`);
    return normalised.events[0]!;
  };

  const bridgePath = async ({ headers, body }: Prepared) => {
    const now = Date.now();
    const verified = await verify({ headers, body }, now);
    if (!verified.ok) throw new Error(`bridge rejected a valid signature: ${verified.reason}`);
    mapAndCheck(normaliseOne(JSON.parse(utf8.decode(body)), verified.deliveryId, now));
  };

  const standardWebhooksPath = async ({ headers, body }: Prepared) => {
    const now = Date.now();
    // As @clerk/backend's verifyWebhook: request.text(), svix-* headers renamed, a new Webhook per call.
    const text = utf8.decode(body);
    const id = headers.get("svix-id")!;
    const payload = new Webhook(secret).verify(text, {
      "webhook-id": id,
      "webhook-timestamp": headers.get("svix-timestamp")!,
      "webhook-signature": headers.get("svix-signature")!,
    });
    mapAndCheck(normaliseOne(payload, id, now));
  };

  const timeRound = async (step: (request: Prepared) => Promise<void> | void) => {
    const started = performance.now();
    for (const request of requests) await step(request);
    return ((performance.now() - started) * 1000) / requests.length;
  };

  // Breakdown inputs, prepared once.
  const parsed = requests.map(({ body }) => JSON.parse(utf8.decode(body)) as unknown);
  const normalisedEvents = parsed.map((json, index) => normaliseOne(json, requests[index]!.headers.get("svix-id")!, Date.now()));
  const indexOf = new Map(requests.map((request, index) => [request, index]));

  const steps = {
    bridge: bridgePath,
    standardWebhooks: standardWebhooksPath,
    verify: async ({ headers, body }: Prepared) => {
      if (!(await verify({ headers, body }, Date.now())).ok) throw new Error("verify failed");
    },
    parse: ({ body }: Prepared) => {
      JSON.parse(utf8.decode(body));
    },
    normalise: (request: Prepared) => {
      const index = indexOf.get(request)!;
      normaliseOne(parsed[index], request.headers.get("svix-id")!, Date.now());
    },
    mapAndCheck: (request: Prepared) => mapAndCheck(normalisedEvents[indexOf.get(request)!]!),
  };
  const samples = Object.fromEntries(Object.keys(steps).map((name) => [name, [] as number[]])) as Record<keyof typeof steps, number[]>;

  // Warm-up (JIT, key import), then interleaved rounds so drift on a shared machine hits all alike.
  for (const step of Object.values(steps)) await timeRound(step);
  for (let round = 0; round < rounds; round++) {
    for (const [name, step] of Object.entries(steps) as Array<[keyof typeof steps, (request: Prepared) => Promise<void> | void]>) {
      samples[name].push(await timeRound(step));
    }
  }

  const bridgeUs = median(samples.bridge);
  const standardWebhooksUs = median(samples.standardWebhooks);
  return {
    events,
    rounds,
    bridgeUs,
    standardWebhooksUs,
    ratio: standardWebhooksUs / bridgeUs,
    breakdown: {
      verifyUs: median(samples.verify),
      parseUs: median(samples.parse),
      normaliseUs: median(samples.normalise),
      mapAndCheckUs: median(samples.mapAndCheck),
    },
  };
}
