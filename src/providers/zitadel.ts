import * as z from "zod/mini";
import { describeIssue } from "../describe-issue";
import { firstPresent, isoToEpochMs, joinName, type IdentityProfile } from "../identity/identity-event";
import { createTimestampedHmacVerifier } from "../verify/timestamped-hmac";
import { UserId, optionalString, configureSigningSecrets, parseHandledEvent, single, type WebhookProvider } from "./provider";

/**
 * ZITADEL Actions v2, an execution with an event condition calling a REST webhook target.
 * ZITADEL's "Using Actions" guide ("Sent information Event") and its test-event example:
 * `{ aggregateID, aggregateType: "user", resourceOwner, instanceID, version, sequence, event_type,
 * created_at, userID, event_payload }`. `userID` is the *editor* of the event; the user the event
 * is about is the aggregate.
 *
 * Unconfirmed, so both are accepted: the guide's example sends `event_payload` as base64 of the
 * event's JSON (a Go []byte), newer ZITADEL code embeds it as a JSON object (json.RawMessage).
 * A JSON text in a string is accepted too. `user.removed` may carry no payload at all.
 */
const ZitadelEvent = z.object({
  aggregateID: UserId,
  aggregateType: optionalString,
  instanceID: optionalString,
  sequence: z.nullish(z.union([z.number(), z.string()])),
  created_at: z.iso.datetime({ offset: true }),
  event_payload: z.nullish(z.union([z.string(), z.record(z.string(), z.unknown())])),
});

/** Fields of the human-user events' payloads (ZITADEL's HumanAddedEvent / HumanProfileChangedEvent / HumanEmailChangedEvent). */
const HumanPayload = z.object({
  userName: optionalString,
  firstName: optionalString,
  lastName: optionalString,
  nickName: optionalString,
  displayName: optionalString,
  email: optionalString,
});

/**
 * Added and self-registered events carry the whole profile; the changed events carry only what
 * changed (ZITADEL is event-sourced): they are partial, merged with what the bridge knows.
 */
const eventTypes = {
  "user.human.added": { type: "created", partial: false },
  "user.human.selfregistered": { type: "created", partial: false },
  "user.human.profile.changed": { type: "updated", partial: true },
  "user.human.email.changed": { type: "updated", partial: true },
  "user.removed": { type: "deleted", partial: false },
} as const;

const schemas = {
  "user.human.added": ZitadelEvent,
  "user.human.selfregistered": ZitadelEvent,
  "user.human.profile.changed": ZitadelEvent,
  "user.human.email.changed": ZitadelEvent,
  "user.removed": ZitadelEvent,
};


export const zitadel: WebhookProvider = {
  name: "zitadel",
  secretBinding: "ZITADEL_WEBHOOK_SIGNING_KEY",

  configure(env) {
    return configureSigningSecrets(env, this.secretBinding, (secrets) => createTimestampedHmacVerifier(secrets, { header: "zitadel-signature", timestampUnit: "s", toleranceSeconds: 300 }));
  },

  normalise(body) {
    const parsed = parseHandledEvent(body, schemas, "event_type");
    if (parsed.kind !== "parsed") return parsed;
    const event = parsed.payload;
    const { type, partial } = eventTypes[parsed.type];
    if (event.aggregateType && event.aggregateType !== "user") {
      return { kind: "invalid", problem: 'aggregateType: expected "user"', eventType: parsed.type };
    }
    const occurredAt = isoToEpochMs(event.created_at) ?? 0;
    // No event id is sent; (instance, aggregate, sequence) is unique in ZITADEL's event store.
    const eventId =
      event.sequence != null && event.sequence !== ""
        ? `${event.instanceID ?? ""}:${event.aggregateID}:${event.sequence}`
        : `${event.instanceID ?? ""}:${event.aggregateID}:${parsed.type}:${event.created_at}`;

    if (type === "deleted") return single({ provider: "zitadel", eventId, type, userId: event.aggregateID, occurredAt });

    const payload = decodeEventPayload(event.event_payload);
    if (payload.kind === "invalid") return { kind: "invalid", problem: `event_payload: ${payload.problem}`, eventType: parsed.type };
    const human = HumanPayload.safeParse(payload.value);
    if (!human.success) {
      const issue = describeIssue(human.error);
      return { kind: "invalid", problem: /^[\w.]+: /.test(issue) ? `event_payload.${issue}` : `event_payload: ${issue}`, eventType: parsed.type };
    }
    return single({
      provider: "zitadel",
      eventId,
      type,
      userId: event.aggregateID,
      occurredAt,
      profile: toProfile(human.data, partial, type === "created" ? occurredAt : undefined),
      ...(partial && { partial: true as const }),
    });
  },
};

function toProfile(user: z.output<typeof HumanPayload>, partial: boolean, createdAt: number | undefined): IdentityProfile {
  // A change of one name part alone must not become the whole display name.
  const fullName = partial && !(user.firstName?.trim() && user.lastName?.trim()) ? undefined : joinName(user.firstName, user.lastName);
  const profile: IdentityProfile = {};
  // A person's name before a login handle.
  const displayName = fullName ?? firstPresent(user.displayName, user.userName, user.nickName);
  const email = firstPresent(user.email);
  if (displayName) profile.displayName = displayName;
  if (email) profile.email = email;
  if (createdAt !== undefined) profile.createdAt = createdAt;
  return profile;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

type Decoded = { kind: "ok"; value: unknown } | { kind: "invalid"; problem: string };

/** The event's payload, whichever way it was sent: object, JSON text, or base64 of JSON. */
function decodeEventPayload(payload: string | Record<string, unknown> | null | undefined): Decoded {
  if (payload === undefined || payload === null) return { kind: "ok", value: {} };
  if (typeof payload !== "string") return { kind: "ok", value: payload };
  const text = payload.trim();
  try {
    if (text.startsWith("{")) return { kind: "ok", value: JSON.parse(text) };
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return { kind: "ok", value: JSON.parse(utf8.decode(bytes)) };
  } catch {
    return { kind: "invalid", problem: "is neither a JSON object nor base64 of one" };
  }
}
