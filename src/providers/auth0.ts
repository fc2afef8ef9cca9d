import * as z from "zod/mini";
import { firstPresent, isoToEpochMs, joinName, looksLikeEmail } from "../identity/identity-event";
import { createBearerTokenVerifier } from "../verify/bearer-token";
import { UserId, metadataObject, optionalString, configureStaticToken, parseHandledEvent, single, type WebhookProvider } from "./provider";

/**
 * Auth0 Event Streams: CloudEvents 1.0 with `data.object` the user (auth0-user-events.schema.json).
 * Event Streams do not sign; the operator configures a bearer token. The examples/auth0 Actions
 * post this same shape for tenants without Event Streams.
 */
const Auth0User = z.object({
  user_id: UserId,
  email: optionalString,
  username: optionalString,
  name: optionalString,
  given_name: optionalString,
  family_name: optionalString,
  nickname: optionalString,
  picture: optionalString,
  // app_metadata is set by the app's backend; user_metadata is user-editable and never read.
  app_metadata: metadataObject,
  created_at: optionalString,
  updated_at: optionalString,
  deleted_at: optionalString,
});

const cloudEvent = z.object({
  type: z.string(),
  id: z.string().check(z.minLength(1, "must not be empty")),
  time: z.iso.datetime({ offset: true }),
  data: z.object({ object: Auth0User }),
});

const schemas = { "user.created": cloudEvent, "user.updated": cloudEvent, "user.deleted": cloudEvent };
const eventTypes = { "user.created": "created", "user.updated": "updated", "user.deleted": "deleted" } as const;


export const auth0: WebhookProvider = {
  name: "auth0",
  secretBinding: "AUTH0_WEBHOOK_TOKEN",

  configure(env) {
    return configureStaticToken(env, this.secretBinding, (token) => createBearerTokenVerifier(token));
  },

  normalise(body) {
    const parsed = parseHandledEvent(body, schemas);
    if (parsed.kind !== "parsed") return parsed;
    const { id, time, data } = parsed.payload;
    const user = data.object;
    const type = eventTypes[parsed.type];
    const sentAt = isoToEpochMs(time) ?? 0;

    if (type === "deleted") {
      const occurredAt = Math.max(sentAt, isoToEpochMs(user.deleted_at) ?? 0);
      return single({ provider: "auth0", eventId: id, type, userId: user.user_id, occurredAt });
    }
    return single({
      provider: "auth0",
      eventId: id,
      type,
      userId: user.user_id,
      occurredAt: Math.max(sentAt, isoToEpochMs(user.updated_at) ?? 0),
      profile: {
        email: firstPresent(user.email),
        // A person's name before a login handle; but Auth0 fills `name` with the email address for
        // database-connection users, and an address is no name: then the handles come first.
        displayName:
          joinName(user.given_name, user.family_name) ??
          (looksLikeEmail(user.name) ? firstPresent(user.username, user.nickname, user.name) : firstPresent(user.name, user.username, user.nickname)),
        avatarUrl: firstPresent(user.picture),
        createdAt: isoToEpochMs(user.created_at),
        publicMetadata: user.app_metadata ?? undefined,
        updatedAt: isoToEpochMs(user.updated_at),
      },
    });
  },
};
