import type { CreateIdentityRequest } from "../deliver/orq-schemas";
import type { DesiredIdentity } from "../deliver/sync-identity";
import type { IdentityEvent } from "./identity-event";

/** How operators shape identities (README "Mapping"); parsed from env bindings in config.ts. */
export interface MappingOptions {
  /** Static tags added after the provider's name (`ORQ_TAGS`). */
  tags: readonly string[];
  /** Keys copied from the provider's server-side metadata into orq metadata (`ORQ_METADATA_KEYS`). */
  metadataKeys: readonly string[];
}

/** Metadata keys the bridge itself writes; operators cannot shadow them. */
export const RESERVED_METADATA_KEYS = ["provider", "provider_created_at"] as const;

/** orq external_id for an event: the provider's user id, as is. */
export function toExternalId(event: Pick<IdentityEvent, "userId">): string {
  return event.userId;
}

/**
 * The full identity orq.ai should hold after a created/updated event. Absent fields are
 * omitted (orq wants no nulls); tags and metadata are always complete because orq replaces them.
 */
export function toOrqIdentity(event: IdentityEvent, options: MappingOptions): CreateIdentityRequest {
  const profile = event.profile ?? {};
  const identity: CreateIdentityRequest = {
    external_id: toExternalId(event),
    tags: [...new Set([event.provider, ...options.tags])],
    metadata: toMetadata(event, options),
  };
  if (profile.displayName) identity.display_name = profile.displayName;
  if (profile.email) identity.email = profile.email;
  if (profile.avatarUrl) identity.avatar_url = profile.avatarUrl;
  return identity;
}

function toMetadata(event: IdentityEvent, options: MappingOptions): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  const source = event.profile?.publicMetadata;
  if (source) {
    for (const key of options.metadataKeys) {
      if (Object.hasOwn(source, key) && source[key] !== null && source[key] !== undefined) metadata[key] = source[key];
    }
  }
  metadata.provider = event.provider;
  if (event.profile?.createdAt !== undefined) metadata.provider_created_at = new Date(event.profile.createdAt).toISOString();
  return metadata;
}

/** The state orq.ai should be in after `event`: the identity, or its absence. */
export function toDesiredIdentity(event: IdentityEvent, options: MappingOptions): DesiredIdentity {
  return event.type === "deleted"
    ? { kind: "deleted", externalId: toExternalId(event) }
    : { kind: "present", identity: toOrqIdentity(event, options) };
}
