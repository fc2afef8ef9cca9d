import * as z from "zod/mini";

/**
 * Request bodies of the orq.ai identities API, mirroring `CreateIdentityRequest` and
 * `UpdateIdentityRequest` in orq-identities.openapi.yaml. orq documents external_id as 1–120
 * characters and wants absent fields omitted, never null.
 */
export const ORQ_EXTERNAL_ID_MAX = 120;
/** Deeper metadata cannot be stored or sent reliably (structured clone and JSON recurse). */
export const METADATA_MAX_DEPTH = 32;

const profileFields = {
  display_name: z.optional(z.string()),
  email: z.optional(z.string()),
  avatar_url: z.optional(z.string()),
  tags: z.optional(z.array(z.string())),
  metadata: z.optional(
    z.record(z.string(), z.unknown()).check(
      z.refine((metadata) => withinDepth(metadata, METADATA_MAX_DEPTH), `is nested deeper than ${METADATA_MAX_DEPTH} levels`),
    ),
  ),
};

export const ExternalId = z.string().check(
  z.minLength(1, "must not be empty"),
  // Counted in UTF-16 units (String#length), the stricter reading of orq.ai's "1–120 characters".
  z.refine((id) => id.length <= ORQ_EXTERNAL_ID_MAX, `is longer than ${ORQ_EXTERNAL_ID_MAX} characters, orq.ai's limit`),
  // A lone surrogate cannot be percent-encoded into orq.ai's URL path (encodeURIComponent throws).
  z.refine((id) => id.isWellFormed(), "is not well-formed Unicode (lone surrogate)"),
  // "." and ".." are path segments every URL parser removes (also as %2E): orq.ai's
  // /v2/identities/{id} could never address them, so an update or deletion would 404 forever.
  z.refine((id) => id !== "." && id !== "..", 'must not be "." or ".." (not addressable in a URL path)'),
);

/** True when `value` nests objects/arrays at most `limit` levels deep; iterative, so it cannot overflow. */
export function withinDepth(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== "object" || current === null) continue;
    if (depth > limit) return false;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return true;
}

export const CreateIdentityRequest = z.strictObject({ external_id: ExternalId, ...profileFields });
export type CreateIdentityRequest = z.infer<typeof CreateIdentityRequest>;

export const UpdateIdentityRequest = z.strictObject(profileFields);
export type UpdateIdentityRequest = z.infer<typeof UpdateIdentityRequest>;

/**
 * The stricter reading of orq.ai's contract (its early-2026 spec declared `email` an email and
 * `avatar_url` a URI; ORQ.md): limits a value must meet to be sent at all. orq.ai answers a field
 * that breaks them with 400 and the whole identity would be lost, so such a field is left out.
 */
export const ORQ_FIELD_LIMITS = {
  display_name: 256,
  /** RFC 5321's limit on a forward path. */
  email: 254,
  avatar_url: 2048,
  /** Serialized JSON of one metadata value, and of the whole object. */
  metadataValue: 4 * 1024,
  metadata: 16 * 1024,
} as const;

/** A profile field left out of a request, and why (never the value). */
export interface RefusedField {
  /** `email`, `avatar_url`, `display_name`, or `metadata.<key>`. */
  field: string;
  reason: string;
}

// Deliberately plain: one @, no spaces or angle brackets, a dot in the domain. What orq.ai's
// validators accept is a superset of this; anything outside it is not a deliverable address.
const EMAIL = /^[^\s@<>()",;]+@[^\s@<>()",;]+\.[^\s@<>()",;.]+$/;

/**
 * Free text (names, metadata) may hold any code unit, a lone surrogate included: JSON escapes it
 * and orq.ai stores it as sent. Only its length is bounded.
 */
function textProblem(value: string, max: number): string | undefined {
  return value.length > max ? `is longer than ${max} characters` : undefined;
}

/** An address or a URL with a lone surrogate is no address and no URL. */
function wellFormedTextProblem(value: string, max: number): string | undefined {
  return value.isWellFormed() ? textProblem(value, max) : "is not well-formed Unicode";
}

function emailProblem(value: string): string | undefined {
  return wellFormedTextProblem(value, ORQ_FIELD_LIMITS.email) ?? (EMAIL.test(value) ? undefined : "is not an email address");
}

function avatarUrlProblem(value: string): string | undefined {
  const problem = wellFormedTextProblem(value, ORQ_FIELD_LIMITS.avatar_url);
  if (problem) return problem;
  if (!URL.canParse(value)) return "is not an absolute URL";
  const { protocol, hostname } = new URL(value);
  return (protocol === "https:" || protocol === "http:") && hostname ? undefined : "is not an http(s) URL";
}

/** Plain JSON (finite numbers, at most METADATA_MAX_DEPTH deep), and its size. */
function jsonProblem(value: unknown, max: number): string | undefined {
  if (!withinDepth(value, METADATA_MAX_DEPTH)) return `is nested deeper than ${METADATA_MAX_DEPTH} levels`;
  const stack = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current === "number" && !Number.isFinite(current)) return "is not JSON-representable (a non-finite number)";
    if (typeof current === "bigint" || typeof current === "function" || typeof current === "symbol" || current === undefined) return "is not JSON-representable";
    if (typeof current === "object" && current !== null) {
      for (const [key, child] of Object.entries(current)) stack.push(key, child);
    }
  }
  return JSON.stringify(value).length > max ? `is larger than ${max} bytes of JSON` : undefined;
}

/** The identity without the fields orq.ai could refuse, and which fields those were. */
export function withoutRefusableFields<T extends UpdateIdentityRequest>(identity: T): { identity: T; refused: RefusedField[] } {
  const refused: RefusedField[] = [];
  const kept = { ...identity };
  const check = (field: "display_name" | "email" | "avatar_url", problem: (value: string) => string | undefined) => {
    const value = kept[field];
    if (value === undefined) return;
    const reason = problem(value);
    if (!reason) return;
    delete kept[field];
    refused.push({ field, reason });
  };
  check("display_name", (value) => textProblem(value, ORQ_FIELD_LIMITS.display_name));
  check("email", emailProblem);
  check("avatar_url", avatarUrlProblem);
  if (kept.metadata) {
    const metadata: Record<string, unknown> = {};
    let size = 2;
    for (const [key, value] of Object.entries(kept.metadata)) {
      const reason = jsonProblem(value, ORQ_FIELD_LIMITS.metadataValue) ?? textProblem(key, ORQ_FIELD_LIMITS.display_name);
      const entrySize = reason ? 0 : JSON.stringify(key).length + JSON.stringify(value).length + 2;
      if (reason || size + entrySize > ORQ_FIELD_LIMITS.metadata) {
        refused.push({ field: `metadata.${key.slice(0, 64)}`, reason: reason ?? `would make metadata larger than ${ORQ_FIELD_LIMITS.metadata} bytes of JSON` });
        continue;
      }
      size += entrySize;
      metadata[key] = value;
    }
    kept.metadata = metadata;
  }
  return { identity: kept, refused };
}

/** The identity without one field (a metadata key as `metadata.<key>`). */
export function withoutField<T extends UpdateIdentityRequest>(identity: T, field: string): T {
  const kept = { ...identity };
  if (field.startsWith("metadata.") && kept.metadata) {
    const { [field.slice("metadata.".length)]: _dropped, ...rest } = kept.metadata;
    kept.metadata = rest;
  } else {
    delete kept[field as keyof UpdateIdentityRequest];
  }
  return kept;
}
