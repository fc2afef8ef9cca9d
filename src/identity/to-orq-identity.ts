import type { CreateIdentityRequest } from "../deliver/orq-schemas";
import type { DesiredIdentity } from "../deliver/sync-identity";
import { budgetFor, type BudgetSettings } from "./budget-plan";
import { isRepresentableTime, type IdentityEvent } from "./identity-event";

/** How operators shape identities (docs/mapping.md); parsed from env bindings in config.ts. */
export interface MappingOptions {
  /** Static tags added after the provider's name (`ORQ_TAGS`). */
  tags: readonly string[];
  /** Keys copied from the provider's server-side metadata into orq metadata (`ORQ_METADATA_KEYS`). */
  metadataKeys: readonly string[];
  /** `provider_id` (default) or `external_id`: the app's own id when the provider has one (`ORQ_EXTERNAL_ID_SOURCE`). */
  externalIdSource: "provider_id" | "external_id";
  /** Prepended to every external_id, e.g. `clerk:` (`ORQ_EXTERNAL_ID_PREFIX`). */
  externalIdPrefix: string;
  /** What a deletion does in orq.ai: `delete` (default), `tag` (add a `deleted` tag) or `ignore` (`ORQ_ON_DELETE`). */
  onDelete: "delete" | "tag" | "ignore";
  /** Plan-driven budgets (`ORQ_BUDGETS`); undefined: the bridge leaves budgets alone. */
  budgets?: BudgetSettings;
}

export const DEFAULT_MAPPING: MappingOptions = {
  tags: [],
  metadataKeys: [],
  externalIdSource: "provider_id",
  externalIdPrefix: "",
  onDelete: "delete",
};

/** The tag `ORQ_ON_DELETE=tag` adds to a deleted user's identity. */
export const DELETED_TAG = "deleted";

/** Metadata keys the bridge itself writes; operators cannot shadow them. */
export const RESERVED_METADATA_KEYS = ["provider", "provider_created_at"] as const;

/**
 * orq external_id for an event: the provider's user id as is (or the app's own external id when
 * configured and present), with the configured prefix.
 */
export function toExternalId(event: Pick<IdentityEvent, "userId" | "profile">, options: MappingOptions): string {
  const id = options.externalIdSource === "external_id" ? (event.profile?.appExternalId ?? event.userId) : event.userId;
  return options.externalIdPrefix + id;
}

function tagsFor(provider: string, options: MappingOptions, ...extra: string[]): string[] {
  return [...new Set([provider, ...options.tags, ...extra])];
}

/**
 * The full identity orq.ai should hold after a created/updated event. Absent fields are
 * omitted (orq wants no nulls); tags and metadata are always complete because orq replaces them.
 */
export function toOrqIdentity(event: IdentityEvent, options: MappingOptions): CreateIdentityRequest {
  const profile = event.profile ?? {};
  const identity: CreateIdentityRequest = {
    external_id: toExternalId(event, options),
    tags: tagsFor(event.provider, options),
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
  const createdAt = event.profile?.createdAt;
  if (createdAt !== undefined && isRepresentableTime(createdAt)) metadata.provider_created_at = new Date(createdAt).toISOString();
  return metadata;
}

/** The state orq.ai should be in after `event`: the identity, or what a deletion means. */
export function toDesiredIdentity(event: IdentityEvent, options: MappingOptions): DesiredIdentity {
  if (event.type !== "deleted") {
    const identity = toOrqIdentity(event, options);
    // The user's budget follows its plan; a partial event that does not say the plan changes nothing.
    const budget = options.budgets && budgetFor(options.budgets, event.profile?.publicMetadata, { partial: event.partial === true });
    const withBudget = budget === undefined || budget === "unknown" ? {} : { budget };
    return event.partial ? { kind: "present", identity, partial: true, ...withBudget } : { kind: "present", identity, ...withBudget };
  }
  const externalId = toExternalId(event, options);
  if (options.onDelete === "tag") return { kind: "deleted", externalId, onDelete: "tag", tags: tagsFor(event.provider, options, DELETED_TAG) };
  return { kind: "deleted", externalId, onDelete: options.onDelete };
}
