import type { CreateIdentityRequest } from "../deliver/orq-schemas";
import { happenedAfter, type IdentityEventType } from "../identity/identity-event";

/**
 * The newest known value of each profile field of one identity, with when it was set, so that
 * events carrying only some fields (ZITADEL's change events, Auth0 log records) update only those
 * and orq.ai always receives the whole known profile. Pure: the identity's Durable Object stores
 * the result.
 *
 * Fields are orq's: `display_name`, `email`, `avatar_url`, and each metadata key as
 * `metadata.<key>`. `tags` and `external_id` are not merged: they come from the operator's mapping
 * of the newest event.
 */
export interface KnownField {
  /** Absent: known to be unset (a full event without it). */
  value?: unknown;
  /** When the event that set it happened (its `occurredAt`), and its type (ties: see happenedAfter). */
  at: number;
  type: IdentityEventType;
}

/** By field; `*`: when a full event last said which fields exist (a field it lacked is unset since then). */
export type KnownProfile = Record<string, KnownField>;

const EVERY_FIELD = "*";

export interface ProfileChange {
  identity: CreateIdentityRequest;
  occurredAt: number;
  type: IdentityEventType;
  /**
   * True when the event carries only the fields that changed: fields it lacks are unknown, not
   * unset. A full event (every other) also says that the fields it lacks are unset.
   */
  partial: boolean;
}

const METADATA = "metadata.";

/** The profile fields of an orq identity, flattened (`metadata.plan`). */
export function profileFields(identity: CreateIdentityRequest): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const field of ["display_name", "email", "avatar_url"] as const) if (identity[field] !== undefined) fields[field] = identity[field];
  for (const [key, value] of Object.entries(identity.metadata ?? {})) fields[METADATA + key] = value;
  return fields;
}

/** What a stored identity says, as if one full event at `at` had set it (objects from before merging existed). */
export function knownFrom(identity: CreateIdentityRequest, at: number, type: IdentityEventType): KnownProfile {
  return merge({}, { identity, occurredAt: at, type, partial: false }).profile;
}

/**
 * Applies one event to what is known: each field it carries (and, for a full event, each known
 * field it lacks) takes the event's value when the event happened after the value was set.
 * `changed`: some field's value (or presence) changed, so orq.ai must be told.
 */
export function merge(known: KnownProfile, change: ProfileChange): { profile: KnownProfile; changed: boolean } {
  const incoming = profileFields(change.identity);
  const fields = change.partial ? Object.keys(incoming) : [...new Set([...Object.keys(known), ...Object.keys(incoming), EVERY_FIELD])];
  const profile: KnownProfile = { ...known };
  let changed = false;
  for (const field of fields) {
    // A field never set is unset since the newest full event, if there was one.
    const current = known[field] ?? known[EVERY_FIELD];
    if (current && !happenedAfter({ occurredAt: change.occurredAt, type: change.type }, { occurredAt: current.at, type: current.type })) continue;
    const value = incoming[field];
    if (field !== EVERY_FIELD && (!current || !sameValue(current.value, value))) changed = true;
    profile[field] = value === undefined ? { at: change.occurredAt, type: change.type } : { value, at: change.occurredAt, type: change.type };
  }
  return { profile, changed };
}

/** The identity orq.ai should hold: `base`'s external_id and tags, with the whole known profile. */
export function identityWith(base: CreateIdentityRequest, profile: KnownProfile): CreateIdentityRequest {
  const identity: CreateIdentityRequest = { external_id: base.external_id };
  if (base.tags) identity.tags = base.tags;
  const metadata: Record<string, unknown> = {};
  for (const [field, { value }] of Object.entries(profile)) {
    if (value === undefined) continue;
    // defineProperty: a key named __proto__ is data, not the object's prototype.
    if (field.startsWith(METADATA)) Object.defineProperty(metadata, field.slice(METADATA.length), { value, enumerable: true, writable: true, configurable: true });
    else if (field === "display_name" || field === "email" || field === "avatar_url") identity[field] = value as string;
  }
  identity.metadata = metadata;
  return identity;
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === "object" && typeof b === "object" && JSON.stringify(a) === JSON.stringify(b));
}
