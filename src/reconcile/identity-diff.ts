/**
 * What a write to orq.ai has to change for one identity: the identity the webhook mapping wants,
 * compared with the one orq.ai holds. Pure; the backfill and the reconcile engine both decide
 * with it.
 */
import type { CreateIdentityRequest } from "../deliver/orq-schemas";

/** The profile fields compared; orq.ai's bookkeeping (`_id`, `created`, …) is ignored. */
export interface StoredIdentity {
  display_name?: unknown;
  email?: unknown;
  avatar_url?: unknown;
  tags?: unknown;
  metadata?: unknown;
  /** Its identity-scoped budget as orq.ai lists it (`include_budget`): null = none; absent = not listed. */
  budget?: unknown;
}

export type WritePlan = { kind: "create" } | { kind: "update"; fields: string[] } | { kind: "unchanged" };

const SCALAR_FIELDS = ["display_name", "email", "avatar_url"] as const;

/**
 * `create` when orq.ai has no identity; `unchanged` when every field the mapping sets already
 * holds that value; else `update`, naming the fields that differ. A field the mapping leaves out
 * is not compared: a PATCH that omits it could not clear it either (docs/mapping.md), so counting
 * it as a difference would make every re-run write the same identity again.
 */
export function planIdentityWrite(desired: CreateIdentityRequest, stored: StoredIdentity | undefined): WritePlan {
  if (!stored) return { kind: "create" };
  const fields: string[] = [];
  for (const field of SCALAR_FIELDS) {
    if (desired[field] !== undefined && desired[field] !== stored[field]) fields.push(field);
  }
  if (desired.tags !== undefined && !sameTags(desired.tags, stored.tags)) fields.push("tags");
  if (desired.metadata !== undefined && !sameJson(desired.metadata, stored.metadata)) fields.push("metadata");
  return fields.length === 0 ? { kind: "unchanged" } : { kind: "update", fields };
}

/** Tags are a set to orq.ai's filters; the order it returns them in is not ours to insist on. */
function sameTags(wanted: readonly string[], stored: unknown): boolean {
  if (!Array.isArray(stored)) return wanted.length === 0 && stored === undefined;
  const have = new Set(stored);
  const want = new Set(wanted);
  return have.size === want.size && [...want].every((tag) => have.has(tag));
}

/** Deep equality of JSON values, object key order ignored. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, index) => sameJson(item, b[index]));
  const aRecord = a as Record<string, unknown>;
  const bRecord = b as Record<string, unknown>;
  const keys = Object.keys(aRecord);
  return keys.length === Object.keys(bRecord).length && keys.every((key) => Object.hasOwn(bRecord, key) && sameJson(aRecord[key], bRecord[key]));
}
