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
