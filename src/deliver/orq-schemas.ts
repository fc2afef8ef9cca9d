import * as z from "zod";

/**
 * Request bodies of the orq.ai identities API, mirroring `CreateIdentityRequest` and
 * `UpdateIdentityRequest` in orq-identities.openapi.yaml. orq documents external_id as 1–120
 * characters and wants absent fields omitted, never null.
 */
export const ORQ_EXTERNAL_ID_MAX = 120;

const profileFields = {
  display_name: z.string().optional(),
  email: z.string().optional(),
  avatar_url: z.string().optional(),
  tags: z.array(z.string()).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
};

export const CreateIdentityRequest = z.strictObject({
  external_id: z
    .string()
    .min(1, "must not be empty")
    .max(ORQ_EXTERNAL_ID_MAX, `is longer than ${ORQ_EXTERNAL_ID_MAX} characters, orq.ai's limit`),
  ...profileFields,
});
export type CreateIdentityRequest = z.infer<typeof CreateIdentityRequest>;

export const UpdateIdentityRequest = z.strictObject(profileFields);
export type UpdateIdentityRequest = z.infer<typeof UpdateIdentityRequest>;
