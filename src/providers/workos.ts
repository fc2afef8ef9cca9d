import * as z from "zod/mini";
import { firstPresent, isoToEpochMs, joinName } from "../identity/identity-event";
import { createTimestampedHmacVerifier } from "../verify/timestamped-hmac";
import { UserId, metadataObject, optionalString, configureSigningSecrets, parseHandledEvent, single, type WebhookProvider } from "./provider";

/**
 * WorkOS AuthKit user events. Envelope from WorkOS's events docs: `{ object: "event", id: "event_…",
 * event, data: <User>, created_at }`; `data` is the User object (also for `user.deleted`).
 * `event` is renamed `type` before the shared parser sees it.
 */
const WorkosUser = z.object({
  id: UserId,
  email: optionalString,
  first_name: optionalString,
  last_name: optionalString,
  profile_picture_url: optionalString,
  external_id: optionalString,
  // Set through WorkOS's API by the app's backend only (string → string).
  metadata: metadataObject,
  created_at: optionalString,
  updated_at: optionalString,
});

const userEvent = z.object({
  id: z.string().check(z.minLength(1, "must not be empty")),
  created_at: z.iso.datetime({ offset: true }),
  data: WorkosUser,
});

const schemas = { "user.created": userEvent, "user.updated": userEvent, "user.deleted": userEvent };
const eventTypes = { "user.created": "created", "user.updated": "updated", "user.deleted": "deleted" } as const;


export const workos: WebhookProvider = {
  name: "workos",
  secretBinding: "WORKOS_WEBHOOK_SECRET",

  configure(env) {
    return configureSigningSecrets(env, this.secretBinding, (secrets) => createTimestampedHmacVerifier(secrets, { header: "workos-signature", timestampUnit: "ms", toleranceSeconds: 180 }));
  },

  normalise(body) {
    const parsed = parseHandledEvent(body, schemas, "event");
    if (parsed.kind !== "parsed") return parsed;
    const { id, created_at: sentAtIso, data: user } = parsed.payload;
    const type = eventTypes[parsed.type];
    // The user's own updated_at is the truest version of its data; the event time is a floor.
    const occurredAt = Math.max(isoToEpochMs(sentAtIso) ?? 0, isoToEpochMs(user.updated_at) ?? 0);

    if (type === "deleted") return single({ provider: "workos", eventId: id, type, userId: user.id, occurredAt });
    return single({
      provider: "workos",
      eventId: id,
      type,
      userId: user.id,
      occurredAt,
      profile: {
        email: firstPresent(user.email),
        // WorkOS users have no username or single name field.
        displayName: joinName(user.first_name, user.last_name),
        avatarUrl: firstPresent(user.profile_picture_url),
        appExternalId: firstPresent(user.external_id),
        createdAt: isoToEpochMs(user.created_at),
        publicMetadata: user.metadata ?? undefined,
      },
    });
  },
};
