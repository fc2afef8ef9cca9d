import * as z from "zod/mini";
import { describeIssue } from "../describe-issue";
import type { IdentityEvent, IdentityEventType } from "../identity/identity-event";
import { firstPresent, isoToEpochMs, looksLikeEmail } from "../identity/identity-event";
import { createBearerTokenVerifier } from "../verify/bearer-token";
import { optionalString, configureStaticToken, type NormaliseResult, type WebhookProvider } from "./provider";

/**
 * Okta Event Hooks (developer.okta.com "Event hooks"): a batch of System Log events per POST,
 * `{ eventType: "com.okta.event_hook", eventId, eventTime, data: { events: LogEvent[] } }`.
 * Okta does not sign: every request (the one-time verification GET included) carries the secret
 * the operator configured as the `Authorization` header value, as is.
 * Each LogEvent names the user only in `target[]`: `{ id, type: "User", alternateId, displayName }`.
 */
const Delivery = z.object({ data: z.object({ events: z.array(z.looseObject({ eventType: z.string() })) }) });

const Target = z.object({ id: z.string(), type: z.string(), alternateId: optionalString, displayName: optionalString });
const LogEvent = z.object({
  // Okta: "To detect duplicated delivery, compare data.events.uuid"; "to establish ordering, use data.events.published".
  uuid: z.string().check(z.trim(), z.minLength(1, "must not be empty")),
  published: z.iso.datetime({ offset: true }),
  eventType: z.string(),
  outcome: z.nullish(z.object({ result: optionalString })),
  target: z.array(Target),
});

const eventTypes: Record<string, IdentityEventType> = {
  "user.lifecycle.create": "created",
  "user.account.update_profile": "updated",
  "user.lifecycle.delete.initiated": "deleted",
};

/** `alternateId` is the user's login: an email in most orgs, but Okta allows any string. */

export const okta: WebhookProvider = {
  name: "okta",
  secretBinding: "OKTA_WEBHOOK_SECRET",

  configure(env) {
    return configureStaticToken(env, this.secretBinding, (secret) => createBearerTokenVerifier(secret, { scheme: "raw" }));
  },

  answerGet(headers) {
    const challenge = headers.get("x-okta-verification-challenge");
    return challenge ? { verification: challenge } : undefined;
  },

  normalise(body): NormaliseResult {
    const delivery = Delivery.safeParse(body);
    if (!delivery.success) return { kind: "invalid", problem: describeIssue(delivery.error) };

    const events: IdentityEvent[] = [];
    for (const [index, raw] of delivery.data.data.events.entries()) {
      const type = eventTypes[raw.eventType];
      if (!Object.hasOwn(eventTypes, raw.eventType) || !type) continue;
      const at = `data.events.${index}`;
      const parsed = LogEvent.safeParse(raw);
      if (!parsed.success) return { kind: "invalid", problem: within(at, parsed.error), eventType: raw.eventType };
      const event = parsed.data;
      // A failed or denied lifecycle action changed nothing.
      if (event.outcome?.result && event.outcome.result !== "SUCCESS") continue;
      const user = event.target.find((target) => target.type === "User");
      if (!user?.id.trim()) return { kind: "invalid", problem: `${at}.target: no User target with an id`, eventType: event.eventType };

      const occurredAt = isoToEpochMs(event.published) ?? 0;
      if (type === "deleted") {
        events.push({ provider: "okta", eventId: event.uuid, type, userId: user.id, occurredAt });
        continue;
      }
      const login = firstPresent(user.alternateId);
      events.push({
        provider: "okta",
        eventId: event.uuid,
        type,
        userId: user.id,
        occurredAt,
        profile: { email: looksLikeEmail(login) ? login : undefined, displayName: firstPresent(user.displayName) },
      });
    }
    if (events.length > 0) return { kind: "events", events };
    const seen = [...new Set(delivery.data.data.events.map((event) => event.eventType))];
    return { kind: "ignored", eventType: seen.join(",") || "com.okta.event_hook" };
  },
};

/** `describeIssue` for a part of the body: `data.events.2.target: …`. */
function within(at: string, error: z.core.$ZodError): string {
  const described = describeIssue(error);
  return error.issues[0]?.path.length ? `${at}.${described}` : `${at}: ${described}`;
}
