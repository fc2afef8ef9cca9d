import * as z from "zod/mini";
import { firstPresent, isoToEpochMs, joinName, toEpochMs } from "../identity/identity-event";
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

const userEvent = z.object({ type: z.string(), timestamp: Time, data: StandardUser });
const deletedEvent = z.object({ type: z.string(), timestamp: Time, data: z.object({ id: UserId, updated_at: z.nullish(Time) }) });

const schemas = { "user.created": userEvent, "user.updated": userEvent, "user.deleted": deletedEvent };

export const standard: WebhookProvider = {
  name: "standard",
  secretBinding: "STANDARD_WEBHOOK_SECRET",

  configure(env) {
    // Several secrets are space-separated only: Supabase shows a secret as `v1,whsec_…`.
    return configureSvix(env, this.secretBinding, "webhook", /\s+/);
  },

  normalise(body, { deliveryId }) {
    const parsed = parseHandledEvent(body, schemas);
    if (parsed.kind !== "parsed") return parsed;
    if (!deliveryId) return { kind: "invalid", problem: "webhook-id header is required", eventType: parsed.type };
    const sentAt = toMs(parsed.payload.timestamp) ?? 0;

    if (parsed.type === "user.deleted") {
      const { data } = parsed.payload as z.output<typeof deletedEvent>;
      return single({ provider: "standard", eventId: deliveryId, type: "deleted", userId: data.id, occurredAt: Math.max(sentAt, toMs(data.updated_at) ?? 0) });
    }
    const { data: user } = parsed.payload as z.output<typeof userEvent>;
    return single({
      provider: "standard",
      eventId: deliveryId,
      type: parsed.type === "user.created" ? "created" : "updated",
      userId: user.id,
      // The user's own updated_at is the truest version of its data; the envelope time is a floor.
      occurredAt: Math.max(sentAt, toMs(user.updated_at) ?? 0),
      profile: {
        email: firstPresent(user.email),
        displayName: joinName(user.first_name, user.last_name) ?? firstPresent(user.username, user.name),
        avatarUrl: firstPresent(user.avatar_url),
        createdAt: toMs(user.created_at),
        publicMetadata: user.metadata ?? undefined,
      },
    });
  },
};

function toMs(value: string | number | null | undefined): number | undefined {
  return typeof value === "number" ? toEpochMs(value) : isoToEpochMs(value);
}
