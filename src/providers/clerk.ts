import * as z from "zod/mini";
import { firstPresent, joinName, toEpochMs } from "../identity/identity-event";
import { EpochTime, UserId, metadataObject, optionalEpochTime, optionalString, configureSvix, parseHandledEvent, single, type WebhookProvider } from "./provider";

/**
 * Clerk, delivered by Svix. Payload shapes from Clerk's webhook OpenAPI
 * (clerk-user-webhooks.openapi.yaml): `{ type, timestamp, data: User | DeletedObject }`.
 */
const ClerkUser = z.object({
  id: UserId,
  first_name: optionalString,
  last_name: optionalString,
  username: optionalString,
  image_url: optionalString,
  profile_image_url: optionalString,
  primary_email_address_id: optionalString,
  email_addresses: z.nullish(z.array(z.object({ id: z.string(), email_address: z.string() }))),
  // Only public_metadata is ever read: private_metadata holds server secrets and
  // unsafe_metadata is user-writable, so neither is part of the schema.
  public_metadata: metadataObject,
  external_id: optionalString,
  created_at: optionalEpochTime,
  updated_at: optionalEpochTime,
});

const userEvent = z.object({ type: z.string(), timestamp: EpochTime, data: ClerkUser });
const deletedEvent = z.object({
  type: z.string(),
  timestamp: EpochTime,
  data: z.object({ id: UserId, external_id: optionalString }),
});

const schemas = { "user.created": userEvent, "user.updated": userEvent, "user.deleted": deletedEvent };

export const clerk: WebhookProvider = {
  name: "clerk",
  secretBinding: "CLERK_WEBHOOK_SIGNING_SECRET",

  configure(env) {
    return configureSvix(env, this.secretBinding, "svix");
  },

  normalise(body, { deliveryId }) {
    const parsed = parseHandledEvent(body, schemas);
    if (parsed.kind !== "parsed") return parsed;
    if (!deliveryId) return { kind: "invalid", problem: "svix-id header is required", eventType: parsed.type };
    const sentAt = toEpochMs(parsed.payload.timestamp);

    if (parsed.type === "user.deleted") {
      const { data } = parsed.payload as z.output<typeof deletedEvent>;
      // A deletion has only the envelope time. When it comes in whole seconds (as in Clerk's own
      // examples), it happened somewhere in that second: take its end, so that an update made
      // earlier in the same second (stamped in ms) cannot look newer and resurrect the user.
      const occurredAt = sentAt === parsed.payload.timestamp ? sentAt : sentAt + 999;
      return single({ provider: "clerk", eventId: deliveryId, type: "deleted", userId: data.id, occurredAt });
    }
    const { data: user } = parsed.payload as z.output<typeof userEvent>;
    const primaryEmail = user.email_addresses?.find((entry) => entry.id === user.primary_email_address_id);
    return single({
      provider: "clerk",
      eventId: deliveryId,
      type: parsed.type === "user.created" ? "created" : "updated",
      userId: user.id,
      // The user's own updated_at is the truest version of its data; the envelope time is a floor.
      occurredAt: Math.max(sentAt, user.updated_at ?? 0),
      profile: {
        email: primaryEmail?.email_address,
        displayName: joinName(user.first_name, user.last_name) ?? firstPresent(user.username),
        avatarUrl: firstPresent(user.image_url, user.profile_image_url),
        appExternalId: user.external_id ?? undefined,
        createdAt: user.created_at ?? undefined,
        publicMetadata: user.public_metadata ?? undefined,
        updatedAt: user.updated_at ?? undefined,
      },
    });
  },
};
