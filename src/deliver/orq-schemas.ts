import * as z from "zod/mini";

/**
 * Request bodies of the orq.ai identities API, mirroring `CreateIdentityRequest` and
 * `UpdateIdentityRequest` in orq-identities.openapi.yaml. orq documents external_id as 1–120
 * characters and wants absent fields omitted, never null.
 */
export const ORQ_EXTERNAL_ID_MAX = 120;

const profileFields = {
  display_name: z.optional(z.string()),
  email: z.optional(z.string()),
  avatar_url: z.optional(z.string()),
  tags: z.optional(z.array(z.string())),
  metadata: z.optional(z.record(z.string(), z.unknown())),
};

export const ExternalId = z.string().check(
  z.minLength(1, "must not be empty"),
  z.maxLength(ORQ_EXTERNAL_ID_MAX, `is longer than ${ORQ_EXTERNAL_ID_MAX} characters, orq.ai's limit`),
);

export const CreateIdentityRequest = z.strictObject({ external_id: ExternalId, ...profileFields });
export type CreateIdentityRequest = z.infer<typeof CreateIdentityRequest>;

export const UpdateIdentityRequest = z.strictObject(profileFields);
export type UpdateIdentityRequest = z.infer<typeof UpdateIdentityRequest>;
