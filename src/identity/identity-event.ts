/**
 * The one provider-neutral type in the middle of the bridge. Providers produce it; mapping,
 * recording and delivery consume it and never see a provider payload.
 */
export type IdentityEventType = "created" | "updated" | "deleted";

export interface IdentityProfile {
  email?: string;
  /** Already composed by the provider plug-in (first + last name, else username, …). */
  displayName?: string;
  avatarUrl?: string;
  /** The app's own id for this user, when the provider stores one (Clerk `external_id`). */
  appExternalId?: string;
  /** Provider-side creation time, epoch milliseconds. */
  createdAt?: number;
  /**
   * Operator-visible metadata the provider lets the app write server-side only
   * (Clerk `public_metadata`, Auth0 `app_metadata`). Never user-writable metadata.
   */
  publicMetadata?: Record<string, unknown>;
  /**
   * The provider's own modification time of the user record (Clerk and Auth0 `updated_at`), epoch
   * ms: the version of this data. A listed user and a webhook about the same version carry the
   * same, so reconciliation can tell an older listing from a missed update.
   */
  updatedAt?: number;
}

export interface IdentityEvent {
  /** Registry name of the provider plug-in, e.g. `clerk`. */
  provider: string;
  /** The provider's idempotency key for this event (svix-id, CloudEvent id, …). */
  eventId: string;
  type: IdentityEventType;
  /** The provider's user id, as is. */
  userId: string;
  /** When the change happened according to the provider, epoch milliseconds: the ordering key. */
  occurredAt: number;
  /** Present for created/updated. */
  profile?: IdentityProfile;
  /**
   * The event carries only the fields that changed (ZITADEL's change events, Auth0 log records):
   * an absent field is unknown, not unset, and the rest of the known profile is kept.
   */
  partial?: true;
}

/** Ties on `occurredAt` are broken by type: a deletion beats an update, an update beats a creation. */
const typeRank: Record<IdentityEventType, number> = { created: 0, updated: 1, deleted: 2 };

/** True when `next` happened strictly after `current` (so it must replace it). */
export function happenedAfter(
  next: Pick<IdentityEvent, "occurredAt" | "type">,
  current: Pick<IdentityEvent, "occurredAt" | "type">,
): boolean {
  if (next.occurredAt !== current.occurredAt) return next.occurredAt > current.occurredAt;
  return typeRank[next.type] > typeRank[current.type];
}

/** Epoch milliseconds that a Date can hold (±8.64e15): anything else is not a real event time. */
export function isRepresentableTime(ms: number): boolean {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15;
}

/** Provider timestamps come in seconds or milliseconds (Clerk documents ms, its examples show seconds). */
export function toEpochMs(value: number): number {
  return value < 1e12 ? value * 1000 : value;
}

/** Parses an ISO-8601 time; undefined when absent or unparseable. */
export function isoToEpochMs(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** "Ada" + "Lovelace" → "Ada Lovelace"; blank parts are dropped; undefined when nothing is left. */
export function joinName(...parts: Array<string | null | undefined>): string | undefined {
  const name = parts
    .map((part) => part?.trim())
    .filter(Boolean)
    .join(" ");
  return name || undefined;
}

/** First value that is a non-blank string. */
/** A login that is an email address (Okta's `login`, Auth0's `name` for database users). */
export function looksLikeEmail(value: string | null | undefined): value is string {
  return typeof value === "string" && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);
}

export function firstPresent(...values: Array<string | null | undefined>): string | undefined {
  for (const value of values) if (value && value.trim()) return value;
  return undefined;
}
