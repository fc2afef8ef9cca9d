/**
 * One listed user → the change a webhook about its current state would make: the provider's own
 * webhook body around the user (`toWebhook`), the bridge's webhook plug-in `normalise`, and the
 * operator's mapping (`toDesiredIdentity`). The reconcile engine and `npm run backfill` both map
 * with this, so a listed user gets exactly the identity a webhook would give it.
 */
import { CreateIdentityRequest } from "../deliver/orq-schemas";
import { describeIssue } from "../describe-issue";
import { toDesiredIdentity, type MappingOptions } from "../identity/to-orq-identity";
import type { IdentityChange } from "../record/identity-change";
import type { UserSource } from "./user-source";

export type ListedChange =
  | { ok: true; userId: string; externalId: string; identity: CreateIdentityRequest; change: IdentityChange }
  | { ok: false; userId: string; reason: string };

export function toListedChange(source: UserSource, user: unknown, mapping: MappingOptions, now: number): ListedChange {
  // The listing is a snapshot of the user's data at its updated_at: that is the change's time, so
  // it orders against webhooks as the same version would (an older listing never wins).
  const version = source.updatedAt(user);
  const webhook = source.toWebhook(user, version ?? now);
  const normalised = source.webhook.normalise(webhook.body, { deliveryId: webhook.deliveryId, receivedAt: now });
  if (normalised.kind !== "events") {
    const why = normalised.kind === "ignored" ? `ignored as ${normalised.eventType}` : normalised.problem;
    return { ok: false, userId: webhook.userId, reason: `not a valid ${source.name} user: ${why}` };
  }
  const [event] = normalised.events;
  const desired = event && toDesiredIdentity(event, mapping);
  if (!event || !desired || desired.kind !== "present") return { ok: false, userId: webhook.userId, reason: "the mapping produced no identity" };
  const valid = CreateIdentityRequest.safeParse(desired.identity);
  if (!valid.success) return { ok: false, userId: event.userId, reason: `invalid identity: ${describeIssue(valid.error)}` };
  const occurredAt = version ?? event.occurredAt;
  return {
    ok: true,
    userId: event.userId,
    externalId: desired.identity.external_id,
    identity: desired.identity,
    change: {
      provider: source.name,
      userId: event.userId,
      eventId: `reconcile:${occurredAt}`,
      type: "updated",
      occurredAt,
      desired,
      ...(version !== undefined && { version }),
    },
  };
}
