import * as z from "zod/mini";
import { firstPresent, isoToEpochMs, joinName, toEpochMs } from "../identity/identity-event";
import type { Verifier } from "../verify/verifier";
import { EpochTime, UserId, metadataObject, optionalString, configureSvix, parseHandledEvent, single, type WebhookProvider } from "./provider";

/**
 * Any sender that signs with Standard Webhooks (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`) and sends the bridge's provider-neutral user payload, documented with its
 * JSON schema in docs/standard-webhook-payload.md: `{ type, timestamp, data: { id, email, name,
 * first_name, last_name, username, avatar_url, metadata, created_at, updated_at } }`. The snippets
 * in examples/firebase and examples/better-auth send it.
 */

/** ISO 8601 with an offset, or epoch milliseconds (seconds are recognised and converted). */
const Time = z.union([z.iso.datetime({ offset: true }), EpochTime.check(z.nonnegative())]);

const StandardUser = z.object({
  id: UserId,
  email: optionalString,
  name: optionalString,
  first_name: optionalString,
  last_name: optionalString,
  username: optionalString,
  avatar_url: optionalString,
  // The sender decides what is in it: only server-controlled data belongs here (the docs say so).
  metadata: metadataObject,
  created_at: z.nullish(Time),
  updated_at: z.nullish(Time),
});

// `timestamp` is optional: many senders put only `type` and `data` in the body, and the signed
// `webhook-timestamp` header already says when the message was made.
const userEvent = z.object({ type: z.string(), timestamp: z.nullish(Time), data: StandardUser });
const deletedEvent = z.object({ type: z.string(), timestamp: z.nullish(Time), data: z.object({ id: UserId, updated_at: z.nullish(Time) }) });

const schemas = { "user.created": userEvent, "user.updated": userEvent, "user.deleted": deletedEvent };

/**
 * Where the verifier leaves the signed `webhook-timestamp` on the parsed body for `normalise`. A
 * symbol, so no JSON a sender writes can set it: only a verified signature can.
 */
const SIGNED_AT = Symbol("webhook-timestamp");
type WithSignedAt = { [SIGNED_AT]?: number };
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** After the signature check, hands the route the parsed body carrying the signed time. */
function withSignedTime(verify: Verifier): Verifier {
  return async (request, nowMs) => {
    const verified = await verify(request, nowMs);
    if (!verified.ok || verified.signedAt === undefined) return verified;
    let body: unknown;
    try {
      body = JSON.parse(utf8.decode(request.body));
    } catch {
      return verified; // the route answers 400 invalid_json
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) return verified;
    return { ...verified, payload: Object.assign(body, { [SIGNED_AT]: verified.signedAt }) };
  };
}

export const standard: WebhookProvider = {
  name: "standard",
  secretBinding: "STANDARD_WEBHOOK_SECRET",

  configure(env) {
    // Several secrets are space-separated only: Supabase shows a secret as `v1,whsec_…`.
    const setup = configureSvix(env, this.secretBinding, "webhook", /\s+/);
    return setup.status === "configured" ? { ...setup, verify: withSignedTime(setup.verify) } : setup;
  },

  normalise(body, { deliveryId }) {
    const parsed = parseHandledEvent(body, schemas);
    if (parsed.kind !== "parsed") return parsed;
    if (!deliveryId) return { kind: "invalid", problem: "webhook-id header is required", eventType: parsed.type };
    const occurredAt = eventTime(toMs(parsed.payload.timestamp), toMs(parsed.payload.data.updated_at), (body as WithSignedAt)[SIGNED_AT]);
    if (occurredAt === undefined) {
      return { kind: "invalid", problem: "timestamp: required (or data.updated_at, or a signed webhook-timestamp header)", eventType: parsed.type };
    }

    if (parsed.type === "user.deleted") {
      const { data } = parsed.payload as z.output<typeof deletedEvent>;
      return single({ provider: "standard", eventId: deliveryId, type: "deleted", userId: data.id, occurredAt });
    }
    const { data: user } = parsed.payload as z.output<typeof userEvent>;
    return single({
      provider: "standard",
      eventId: deliveryId,
      type: parsed.type === "user.created" ? "created" : "updated",
      userId: user.id,
      occurredAt,
      profile: {
        email: firstPresent(user.email),
        // A person's name before a login handle.
        displayName: joinName(user.first_name, user.last_name) ?? firstPresent(user.name, user.username),
        avatarUrl: firstPresent(user.avatar_url),
        createdAt: toMs(user.created_at),
        publicMetadata: user.metadata ?? undefined,
      },
    });
  },
};

/**
 * The ordering key. With a body `timestamp`, the newer of it and `data.updated_at` (the user's own
 * updated_at is the truest version of its data; the envelope time is a floor). Without one,
 * `data.updated_at`, else the signed `webhook-timestamp`. The header comes last because a sender
 * re-signs every retry with a new one: it says when the message was sent, not when the user changed.
 */
function eventTime(sentAt: number | undefined, updatedAt: number | undefined, signedAt: number | undefined): number | undefined {
  if (sentAt !== undefined) return Math.max(sentAt, updatedAt ?? 0);
  return updatedAt ?? signedAt;
}

function toMs(value: string | number | null | undefined): number | undefined {
  return typeof value === "number" ? toEpochMs(value) : isoToEpochMs(value);
}
