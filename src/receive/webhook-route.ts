import type { Context, Handler, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { countWebhook } from "../alert/alert-trigger";
import { getConfig } from "../config";
import { describeIssue } from "../describe-issue";
import * as z from "zod/mini";
import { CreateIdentityRequest, ExternalId } from "../deliver/orq-schemas";
import { isRepresentableTime } from "../identity/identity-event";
import { toDesiredIdentity } from "../identity/to-orq-identity";
import { logLine } from "../log";
import type { WebhookProvider } from "../providers/provider";
import { identityObjectName, type IdentityChange } from "../record/identity-change";

/** Larger bodies are refused with 413 before they are buffered. */
export const MAX_BODY_BYTES = 1024 * 1024;

type Env = { Bindings: Cloudflare.Env };
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const ExternalIdOnly = z.object({ external_id: ExternalId });

/**
 * `POST /webhooks/<provider>`: receive → verify → normalise → record. Checks run in this order,
 * and nothing is recorded unless all pass: size (413), signature or token (401), JSON (400),
 * shape of a handled event (400 naming the field); unhandled event types get 200 and are ignored.
 * 200 means the event is durably stored in its identity's Durable Object (or was already);
 * if it cannot be stored the answer is 503, so the provider retries.
 */
export function webhookRoute(provider: WebhookProvider): [MiddlewareHandler<Env>, Handler<Env>] {
  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => reject(c, provider, Date.now(), 413, "payload_too_large", `body exceeds ${MAX_BODY_BYTES} bytes`),
  });

  const receive: Handler<Env> = async (c) => {
    const started = Date.now();
    const config = getConfig(c.env);
    const setup = config.providers.get(provider.name);
    if (setup?.status !== "configured") {
      const why = setup?.status === "invalid" ? "is invalid (see /health)" : "is not set";
      return reject(c, provider, started, 404, "provider_not_configured", `${provider.secretBinding} ${why}`);
    }

    const body = new Uint8Array(await c.req.arrayBuffer());
    const verified = await setup.verify({ headers: c.req.raw.headers, body }, started);
    if (!verified.ok) {
      if (verified.temporary) return reject(c, provider, started, 503, "temporarily_unavailable", verified.reason);
      countVerdict(c, provider, "rejected");
      return reject(c, provider, started, 401, "unauthorized", verified.reason);
    }
    countVerdict(c, provider, "verified");

    let json: unknown = verified.payload;
    if (json === undefined) {
      try {
        json = JSON.parse(utf8.decode(verified.content ?? body));
      } catch {
        return reject(c, provider, started, 400, "invalid_json", `${verified.content ? "JWT payload" : "body"} is not valid UTF-8 JSON`);
      }
    }

    const normalised = provider.normalise(json, { deliveryId: verified.deliveryId, receivedAt: started });
    if (normalised.kind === "invalid") {
      return reject(c, provider, started, 400, "invalid_payload", normalised.problem, normalised.eventType);
    }
    if (normalised.kind === "expired") return reject(c, provider, started, 401, "unauthorized", normalised.problem);
    if (normalised.kind === "ignored") {
      // The type is the sender's text: echo and log a bounded prefix, not a 900 KB string.
      const eventType = normalised.eventType.slice(0, 100);
      log(provider, started, 200, "ignored", { event_type: eventType, event_id: verified.deliveryId?.slice(0, 200) });
      return c.json({ status: "ignored", event_type: eventType }, 200);
    }

    const changes: IdentityChange[] = [];
    for (const event of normalised.events) {
      if (!isRepresentableTime(event.occurredAt)) {
        return reject(c, provider, started, 400, "invalid_payload", "event time is not a representable date", event.type);
      }
      const desired = toDesiredIdentity(event, config.mapping);
      const check =
        desired.kind === "present"
          ? CreateIdentityRequest.safeParse(desired.identity)
          : ExternalIdOnly.safeParse({ external_id: desired.externalId });
      if (!check.success) {
        return reject(c, provider, started, 400, "invalid_payload", `user id → orq ${describeIssue(check.error)}`, event.type);
      }
      changes.push({
        provider: provider.name, userId: event.userId, eventId: event.eventId, type: event.type, occurredAt: event.occurredAt, desired,
        ...(event.profile?.updatedAt !== undefined && { version: event.profile.updatedAt }),
      });
    }

    const outcomes = await recordAll(c.env, provider.name, changes);
    let failed = false;
    outcomes.forEach((outcome, index) => {
      const change = changes[index]!;
      const fields = { event_type: change.type, event_id: change.eventId, user_id: change.userId };
      if (outcome.status === "fulfilled") log(provider, started, 200, outcome.value, fields);
      else {
        failed = true;
        log(provider, started, 503, "record_failed", { ...fields, error: (outcome.reason as Error)?.name, detail: String((outcome.reason as Error)?.message).slice(0, 160) });
      }
    });
    // Not (all) stored: a 5xx makes the provider deliver again; what was stored dedupes then.
    if (failed) return c.json({ error: "temporarily_unavailable", message: "the event could not be recorded; retry later" }, 503);

    const results = outcomes.map((outcome, index) => ({
      event_id: changes[index]!.eventId,
      status: (outcome as PromiseFulfilledResult<string>).value,
    }));
    return c.json(results.length === 1 ? results[0] : { status: "recorded", events: results }, 200);
  };

  return [limit, receive];
}

/**
 * Records each change in its identity's Durable Object. Different users are independent objects:
 * recorded in parallel. One user's changes in a batch (an Auth0 log batch holding a signup and a
 * later update) are recorded one after another in the batch's order, so the answer for each is the
 * same on every delivery. A binding that throws synchronously (getByName) is caught like a
 * rejected record(): 503, never an unhandled 500.
 */
async function recordAll(env: Cloudflare.Env, providerName: string, changes: IdentityChange[]): Promise<PromiseSettledResult<string>[]> {
  const outcomes: PromiseSettledResult<string>[] = new Array(changes.length);
  const byIdentity = new Map<string, number[]>();
  changes.forEach((change, index) => {
    const name = identityObjectName(providerName, change.userId);
    const indices = byIdentity.get(name);
    if (indices) indices.push(index);
    else byIdentity.set(name, [index]);
  });
  await Promise.all(
    [...byIdentity].map(async ([name, indices]) => {
      for (const index of indices) {
        try {
          const recorded = await env.IDENTITY_SYNC.getByName(name).record(changes[index]!);
          outcomes[index] = { status: "fulfilled", value: recorded };
        } catch (reason) {
          outcomes[index] = { status: "rejected", reason };
        }
      }
    }),
  );
  return outcomes;
}

/**
 * `GET /webhooks/<provider>` for providers that verify an endpoint with an authenticated GET
 * (Okta Event Hooks' one-time verification challenge).
 */
export function verificationRoute(provider: WebhookProvider): Handler<Env> {
  return async (c) => {
    const started = Date.now();
    const setup = getConfig(c.env).providers.get(provider.name);
    if (setup?.status !== "configured") {
      return reject(c, provider, started, 404, "provider_not_configured", `${provider.secretBinding} is not set or invalid`);
    }
    const verified = await setup.verify({ headers: c.req.raw.headers, body: new Uint8Array() }, started);
    if (!verified.ok) return reject(c, provider, started, 401, "unauthorized", verified.reason);
    const answer = provider.answerGet?.(c.req.raw.headers);
    if (!answer) return reject(c, provider, started, 400, "invalid_request", "no verification challenge in the request");
    log(provider, started, 200, "verification_answered", {});
    return c.json(answer, 200);
  };
}

/**
 * Alerts learn of a wrong signing secret from these counts (in memory, reported at most once a
 * minute per isolate: src/alert/alert-trigger.ts); no Durable Object request per webhook.
 */
function countVerdict(c: Context<Env>, provider: WebhookProvider, verdict: "verified" | "rejected"): void {
  let waitUntil: ((promise: Promise<unknown>) => void) | undefined;
  try {
    const ctx = c.executionCtx;
    waitUntil = (promise) => ctx.waitUntil(promise);
  } catch {
    // No execution context (the app called directly): counted, reported with the next evaluation.
  }
  countWebhook(c.env, waitUntil, provider.name, verdict, c.req.url);
}

function reject(c: Context<Env>, provider: WebhookProvider, started: number, status: 400 | 401 | 404 | 413 | 503, error: string, message: string, eventType?: string) {
  log(provider, started, status, error, { event_type: eventType });
  return c.json({ error, message }, status);
}

function log(provider: WebhookProvider, started: number, status: number, outcome: string, fields: Record<string, string | undefined>) {
  logLine({ msg: "webhook", provider: provider.name, status, outcome, ...fields, ms: Date.now() - started });
}
