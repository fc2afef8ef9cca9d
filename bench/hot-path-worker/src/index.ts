import { Webhook } from "standardwebhooks";
import { CreateIdentityRequest } from "../../../src/deliver/orq-schemas";
import type { IdentityEvent } from "../../../src/identity/identity-event";
import { DEFAULT_MAPPING, toDesiredIdentity } from "../../../src/identity/to-orq-identity";
import { clerk } from "../../../src/providers/clerk";
import type { Verifier } from "../../../src/verify/verifier";

/**
 * The hot path inside workerd, where the bridge really runs. workerd does not advance its clocks
 * during a request (a Spectre mitigation), so the timing is done by the caller around
 * `POST /run?variant=…`, minus the `none` variant (same loop, no work), divided by the number of events.
 *
 * POST /prepare  [{headers, body}]  stores pre-signed Clerk events in memory (signing is not measured).
 * POST /run?variant=none|bridge|standardwebhooks|verify|parse|normalise|map  (409 when not prepared)
 */
interface Prepared {
  headers: Headers;
  body: Uint8Array;
  id: string;
  json: unknown;
  event: IdentityEvent;
}

type Env = { CLERK_WEBHOOK_SIGNING_SECRET: string };

let prepared: Prepared[] = [];
let verify: Verifier | undefined;
const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

function normaliseOne(json: unknown, deliveryId: string, now: number): IdentityEvent {
  const normalised = clerk.normalise(json, { deliveryId, receivedAt: now });
  if (normalised.kind !== "events") throw new Error(`unexpected normalise result: ${normalised.kind}`);
  return normalised.events[0]!;
}

function mapAndCheck(event: IdentityEvent): void {
  const desired = toDesiredIdentity(event, DEFAULT_MAPPING);
  if (desired.kind !== "present" || !CreateIdentityRequest.safeParse(desired.identity).success) throw new Error("unexpected mapping");
}

function variants(env: Env): Record<string, (request: Prepared) => Promise<void> | void> {
  const secret = env.CLERK_WEBHOOK_SIGNING_SECRET;
  return {
    none: () => {},
    bridge: async ({ headers, body, id }) => {
      const now = Date.now();
      const verified = await verify!({ headers, body }, now);
      if (!verified.ok) throw new Error(verified.reason);
      mapAndCheck(normaliseOne(JSON.parse(utf8.decode(body)), id, now));
    },
    standardwebhooks: ({ headers, body, id }) => {
      // As @clerk/backend's verifyWebhook: request.text(), svix-* headers renamed, a new Webhook per call.
      const payload = new Webhook(secret).verify(utf8.decode(body), {
        "webhook-id": id,
        "webhook-timestamp": headers.get("svix-timestamp")!,
        "webhook-signature": headers.get("svix-signature")!,
      });
      mapAndCheck(normaliseOne(payload, id, Date.now()));
    },
    verify: async ({ headers, body }) => {
      if (!(await verify!({ headers, body }, Date.now())).ok) throw new Error("verify failed");
    },
    parse: ({ body }) => {
      JSON.parse(utf8.decode(body));
    },
    normalise: ({ json, id }) => {
      normaliseOne(json, id, Date.now());
    },
    map: ({ event }) => mapAndCheck(event),
  };
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    if (url.pathname === "/prepare" && request.method === "POST") {
      const setup = clerk.configure({ [clerk.secretBinding]: env.CLERK_WEBHOOK_SIGNING_SECRET });
      if (setup.status !== "configured") return new Response(`clerk provider ${setup.status}`, { status: 500 });
      verify = setup.verify;
      const items = (await request.json()) as Array<{ headers: Record<string, string>; body: string }>;
      prepared = items.map(({ headers, body }) => {
        const id = headers["svix-id"]!;
        const json = JSON.parse(body) as unknown;
        return { headers: new Headers(headers), body: encoder.encode(body), id, json, event: normaliseOne(json, id, Date.now()) };
      });
      return Response.json({ prepared: prepared.length });
    }
    if (url.pathname === "/run" && request.method === "POST") {
      const step = variants(env)[url.searchParams.get("variant") ?? ""];
      if (!step) return new Response("unknown variant", { status: 400 });
      // A fresh isolate has lost what /prepare stored: the caller prepares again.
      if (!verify || prepared.length === 0) return new Response("not prepared", { status: 409 });
      for (const item of prepared) await step(item);
      return Response.json({ events: prepared.length });
    }
    return new Response("not found", { status: 404 });
  },
};
