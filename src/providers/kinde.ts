import * as z from "zod/mini";
import { firstPresent, isoToEpochMs, joinName } from "../identity/identity-event";
import { createJwksJwtVerifier } from "../verify/jwks-jwt";
import { UserId, optionalString, parseHandledEvent, readBinding, single, type WebhookProvider } from "./provider";

/**
 * Kinde: the body is an RS256 JWT (`Content-Type: application/jwt`) signed with the business's
 * keys, published at `<KINDE_ISSUER_URL>/.well-known/jwks`. Payload shape from Kinde's docs
 * ("About webhooks", example decoded payload) and @kinde/webhooks' types:
 * `{ type, event_id, event_timestamp, timestamp, source, data: { user } }`.
 */
const KindeUser = z.object({
  id: UserId,
  email: optionalString,
  first_name: optionalString,
  last_name: optionalString,
  username: optionalString,
});

const isoTime = z.optional(z.iso.datetime({ offset: true }));
const envelope = {
  type: z.string(),
  event_id: optionalString,
  // `timestamp`: when this request was made (Kinde's replay protection); `event_timestamp`: when
  // the change happened. Kinde's example has both; either one is enough.
  timestamp: isoTime,
  event_timestamp: isoTime,
};
const userEvent = z.object({ ...envelope, data: z.object({ user: KindeUser }) });
const deletedEvent = z.object({ ...envelope, data: z.object({ user: z.object({ id: UserId }) }) });

const schemas = { "user.created": userEvent, "user.updated": userEvent, "user.deleted": deletedEvent };

/** Kinde's payload `timestamp` must be this close to the bridge's clock (the JWT itself has no exp). */
export const KINDE_REPLAY_WINDOW_MS = 5 * 60_000;

/** An issuer URL: https, or plain http for a JWKS served on this machine (tests, `npm run dev`). */
const IssuerUrl = z.url({ protocol: /^https?$/ }).check(
  z.refine((url) => url.startsWith("https://") || /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(\/|$)/.test(url), "must be https"),
);

export const kinde: WebhookProvider = {
  name: "kinde",
  secretBinding: "KINDE_ISSUER_URL",

  configure(env) {
    const value = readBinding(env, this.secretBinding);
    if (!value) return { status: "not_configured" };
    const issuer = IssuerUrl.safeParse(value);
    if (!issuer.success) return { status: "invalid", problem: "must be your Kinde domain as an https URL, e.g. https://example.kinde.com" };
    const jwksUrl = `${issuer.data.replace(/\/+$/, "")}/.well-known/jwks`;
    return { status: "configured", verify: createJwksJwtVerifier({ jwksUrl, deliveryIdHeader: "webhook-id" }) };
  },

  normalise(body, { deliveryId, receivedAt }) {
    const parsed = parseHandledEvent(body, schemas);
    if (parsed.kind !== "parsed") return parsed;
    const { payload, type } = parsed;

    const sentAt = isoToEpochMs(payload.timestamp ?? payload.event_timestamp);
    if (sentAt === undefined) return { kind: "invalid", problem: "timestamp: required (or event_timestamp)", eventType: type };
    if (Math.abs(receivedAt - sentAt) > KINDE_REPLAY_WINDOW_MS) {
      return { kind: "expired", problem: `timestamp is outside the ${KINDE_REPLAY_WINDOW_MS / 60_000} minute window` };
    }
    // webhook-id is Kinde's idempotency key (stable across attempts); event_id identifies the event itself.
    const eventId = deliveryId ?? firstPresent(payload.event_id);
    if (!eventId) return { kind: "invalid", problem: "webhook-id header or event_id is required", eventType: type };
    const occurredAt = isoToEpochMs(payload.event_timestamp) ?? sentAt;

    if (type === "user.deleted") {
      return single({ provider: "kinde", eventId, type: "deleted", userId: payload.data.user.id, occurredAt });
    }
    const { user } = (payload as z.output<typeof userEvent>).data;
    return single({
      provider: "kinde",
      eventId,
      type: type === "user.created" ? "created" : "updated",
      userId: user.id,
      occurredAt,
      profile: {
        email: firstPresent(user.email),
        displayName: joinName(user.first_name, user.last_name) ?? firstPresent(user.username),
      },
    });
  },
};
