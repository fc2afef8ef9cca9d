import type { DesiredIdentity } from "../deliver/sync-identity";
import type { IdentityEventType } from "../identity/identity-event";

/** What the webhook route hands to an identity's Durable Object: one event, already mapped. */
export interface IdentityChange {
  provider: string;
  userId: string;
  eventId: string;
  type: IdentityEventType;
  occurredAt: number;
  desired: DesiredIdentity;
  /** The provider's `updated_at` of the user record, when the payload has it (IdentityProfile.updatedAt). */
  version?: number;
}

export type RecordOutcome =
  /** Stored durably; delivery to orq.ai is scheduled. */
  | "recorded"
  /** This event id was seen before: nothing changes (one orq write per event). */
  | "duplicate"
  /** Older than what the bridge already holds (or an update of a deleted user): ignored. */
  | "stale";

/** Durable Object name for one identity: ordering and dedupe are per provider user. */
export function identityObjectName(provider: string, userId: string): string {
  return `${provider}:${userId}`;
}
