import * as z from "zod/mini";
import { firstPresent } from "../identity/identity-event";
import { UserId, metadataObject, optionalEpochTime, optionalString, configureSvix, parseHandledEvent, single, type WebhookProvider } from "./provider";

/**
 * Stack Auth, delivered by Svix. Payloads from Stack Auth's webhooks OpenAPI (`webhooks.json` in
 * its docs): `{ type, data }`, `data` the server-side user for created/updated and
 * `{ id, teams: [{ id }] }` for `user.deleted`.
 */
const StackUser = z.object({
  id: UserId,
  primary_email: optionalString,
  display_name: optionalString,
  profile_image_url: optionalString,
  signed_up_at_millis: optionalEpochTime,
  // Only client_read_only_metadata is read: it is written by the app's server alone.
  // server_metadata may hold secrets and client_metadata is user-writable; neither is in the schema.
  client_read_only_metadata: metadataObject,
});

const userEvent = z.object({ type: z.string(), data: StackUser });
const deletedEvent = z.object({ type: z.string(), data: z.object({ id: UserId }) });

const schemas = { "user.created": userEvent, "user.updated": userEvent, "user.deleted": deletedEvent };

export const stackAuth: WebhookProvider = {
  name: "stack-auth",
  secretBinding: "STACK_AUTH_WEBHOOK_SECRET",

  configure(env) {
    return configureSvix(env, this.secretBinding, "svix");
  },

  normalise(body, { deliveryId, receivedAt }) {
    const parsed = parseHandledEvent(body, schemas);
    if (parsed.kind !== "parsed") return parsed;
    if (!deliveryId) return { kind: "invalid", problem: "svix-id header is required", eventType: parsed.type };
    // Stack Auth's payloads carry no event or update time; the Svix message id does (see svixMessageTime).
    const occurredAt = svixMessageTime(deliveryId, receivedAt) ?? receivedAt;

    if (parsed.type === "user.deleted") {
      const { data } = parsed.payload as z.output<typeof deletedEvent>;
      return single({ provider: "stack-auth", eventId: deliveryId, type: "deleted", userId: data.id, occurredAt });
    }
    const { data: user } = parsed.payload as z.output<typeof userEvent>;
    return single({
      provider: "stack-auth",
      eventId: deliveryId,
      type: parsed.type === "user.created" ? "created" : "updated",
      userId: user.id,
      occurredAt,
      profile: {
        email: firstPresent(user.primary_email),
        // Stack Auth has one name field, no first/last name or username.
        displayName: firstPresent(user.display_name),
        avatarUrl: webUrl(user.profile_image_url),
        createdAt: user.signed_up_at_millis ?? undefined,
        publicMetadata: user.client_read_only_metadata ?? undefined,
      },
    });
  },
};

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** KSUID epoch: 2014-05-13T16:53:20Z. */
const KSUID_EPOCH_SECONDS = 1_400_000_000;
const EARLIEST_PLAUSIBLE_MS = Date.UTC(2020, 0, 1);

/**
 * When the Svix message was created, read from its id: Svix ids are `msg_` + a millisecond KSUID
 * (svix-server's `KsuidMs`: 4 bytes of seconds since the KSUID epoch, 1 byte of sub-second in
 * 1/256 s steps, 15 random bytes; base62, 27 characters). Unlike `svix-timestamp`, which is the
 * time of each delivery attempt, it stays the same across retries, so it orders Stack Auth's
 * events. Undefined when the id is not such a KSUID or its time is implausible (the caller falls
 * back to the arrival time).
 */
export function svixMessageTime(messageId: string, receivedAt: number): number | undefined {
  const match = /^msg_([0-9A-Za-z]{27})$/.exec(messageId);
  if (!match) return undefined;
  let value = 0n;
  for (const char of match[1]!) value = value * 62n + BigInt(BASE62.indexOf(char));
  if (value >> 160n) return undefined;
  const seconds = Number(value >> 128n) + KSUID_EPOCH_SECONDS;
  const fraction = Number((value >> 120n) & 0xffn);
  const ms = seconds * 1000 + Math.floor((fraction * 1000) / 256);
  return ms >= EARLIEST_PLAUSIBLE_MS && ms <= receivedAt + 24 * 60 * 60_000 ? ms : undefined;
}

/** Stack Auth allows base64 data URLs as profile images: only http(s) URLs become avatars. */
function webUrl(value: string | null | undefined): string | undefined {
  const url = firstPresent(value);
  return url && /^https?:\/\//i.test(url) ? url : undefined;
}
