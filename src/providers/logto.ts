import * as z from "zod/mini";
import { describeIssue } from "../describe-issue";
import { firstPresent, isoToEpochMs, joinName, toEpochMs } from "../identity/identity-event";
import { createBodyHmacVerifier } from "../verify/body-hmac";
import { UserId, optionalString, configureSigningSecrets, parseHandledEvent, single, type WebhookProvider } from "./provider";

/**
 * Logto webhooks (docs: "Webhooks request"). Every body has `{ hookId, event, createdAt }`;
 * data mutation events (`User.*`) put the user entity in `data`, the interaction event
 * `PostRegister` puts it in `user` (with `userId`).
 *
 * Where `User.Deleted` puts the id is unconfirmed: the docs say `data` is null and Management API
 * events carry the route's `params` (`DELETE /api/users/:userId` → `params.userId`), while
 * Logto's current code sends the deleted user in `data`. All of these are read.
 */

/** Logto sends no timestamp header: a payload older than this is a replay. */
export const LOGTO_MAX_AGE_MS = 5 * 60_000;

/** Logto's docs type times as ISO strings; its code sends epoch milliseconds. Both are read. */
const LogtoTime = z.nullish(z.union([z.number(), z.string()]));

const LogtoUser = z.object({
  id: UserId,
  username: optionalString,
  primaryEmail: optionalString,
  name: optionalString,
  avatar: optionalString,
  // OIDC standard profile; customData is not read (users can edit it through Logto's Account API).
  profile: z.nullish(z.object({ givenName: optionalString, familyName: optionalString })),
  createdAt: LogtoTime,
  updatedAt: LogtoTime,
});

const logtoEvent = z.object({
  data: z.nullish(LogtoUser),
  user: z.nullish(LogtoUser),
  userId: optionalString,
  params: z.nullish(z.object({ userId: optionalString })),
});

const eventTypes = {
  "User.Created": "created",
  PostRegister: "created",
  "User.Data.Updated": "updated",
  "User.Deleted": "deleted",
} as const;

const schemas = { "User.Created": logtoEvent, PostRegister: logtoEvent, "User.Data.Updated": logtoEvent, "User.Deleted": logtoEvent };

const Envelope = z.object({
  hookId: z.string().check(z.minLength(1, "must not be empty")),
  event: z.string(),
  createdAt: z.iso.datetime({ offset: true }),
});

export const logto: WebhookProvider = {
  name: "logto",
  secretBinding: "LOGTO_WEBHOOK_SIGNING_KEY",

  configure(env) {
    // Several keys while the webhook's signing key is being regenerated.
    return configureSigningSecrets(env, this.secretBinding, (secrets) => createBodyHmacVerifier(secrets, { header: "logto-signature-sha-256" }));
  },

  normalise(body, { receivedAt }) {
    const envelope = Envelope.safeParse(body);
    if (!envelope.success) return { kind: "invalid", problem: describeIssue(envelope.error) };
    const sentAt = isoToEpochMs(envelope.data.createdAt) ?? 0;
    if (receivedAt - sentAt > LOGTO_MAX_AGE_MS) {
      return { kind: "expired", problem: `createdAt is more than ${LOGTO_MAX_AGE_MS / 60_000} minutes old` };
    }
    // Logto names the event type `event`; the shared parser reads `type`.
    const parsed = parseHandledEvent({ ...(body as object), type: envelope.data.event }, schemas);
    if (parsed.kind !== "parsed") return parsed;
    // Logto sends no event id. A retry resends the same payload, and one hook creates one payload
    // per event and millisecond; dedupe is per user, so this identifies the delivery.
    const eventId = `${envelope.data.hookId}:${envelope.data.event}:${envelope.data.createdAt}`;
    const { data, user: interactionUser, userId, params } = parsed.payload;
    const type = eventTypes[parsed.type];

    if (type === "deleted") {
      const deletedId = data?.id ?? interactionUser?.id ?? firstPresent(userId, params?.userId);
      if (!deletedId) return { kind: "invalid", problem: "data.id: the deleted user's id is missing (also looked for user.id, userId, params.userId)", eventType: parsed.type };
      return single({ provider: "logto", eventId, type, userId: deletedId, occurredAt: sentAt });
    }

    const user = data ?? interactionUser;
    if (!user) return { kind: "invalid", problem: `${parsed.type === "PostRegister" ? "user" : "data"}: the user entity is missing`, eventType: parsed.type };
    return single({
      provider: "logto",
      eventId,
      type,
      userId: user.id,
      // The user's own updatedAt is the truest version of its data; the payload time is a floor.
      occurredAt: Math.max(sentAt, toMs(user.updatedAt) ?? 0),
      profile: {
        email: firstPresent(user.primaryEmail),
        // A person's name before a login handle.
        displayName: joinName(user.profile?.givenName, user.profile?.familyName) ?? firstPresent(user.name, user.username),
        avatarUrl: firstPresent(user.avatar),
        createdAt: toMs(user.createdAt),
      },
    });
  },
};

function toMs(value: number | string | null | undefined): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value > 0 ? toEpochMs(value) : undefined;
  return isoToEpochMs(value);
}
