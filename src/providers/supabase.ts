import * as z from "zod/mini";
import { firstPresent, isoToEpochMs } from "../identity/identity-event";
import { createBearerTokenVerifier } from "../verify/bearer-token";
import { UserId, metadataObject, optionalString, parseHandledEvent, configureStaticToken, single, type WebhookProvider } from "./provider";

/**
 * Supabase has no user webhooks of its own: a Database Webhook (a trigger calling pg_net) on
 * `auth.users` posts `{ type: INSERT|UPDATE|DELETE, table, schema, record, old_record }`
 * (supabase.com/docs/guides/database/webhooks). The row's columns are GoTrue's
 * (supabase/auth internal/models/user.go). Unsigned: the operator adds an
 * `Authorization: Bearer <secret>` header to the webhook.
 */
const AuthUserRow = z.object({
  id: UserId,
  email: optionalString,
  // raw_user_meta_data is what the user (or the sign-up form, or the OAuth provider) set: used for
  // the name and avatar only. raw_app_meta_data is server-only (service role): the metadata source.
  raw_user_meta_data: metadataObject,
  raw_app_meta_data: metadataObject,
  created_at: optionalString,
  updated_at: optionalString,
  deleted_at: optionalString,
});

const source = { table: z.literal("users", "must be users (auth.users)"), schema: z.literal("auth", "must be auth (auth.users)") };
const rowEvent = z.object({ type: z.string(), ...source, record: AuthUserRow });
const deleteEvent = z.object({ type: z.string(), ...source, old_record: AuthUserRow });

const schemas = { INSERT: rowEvent, UPDATE: rowEvent, DELETE: deleteEvent };

export const supabase: WebhookProvider = {
  name: "supabase",
  secretBinding: "SUPABASE_WEBHOOK_SECRET",

  configure(env) {
    return configureStaticToken(env, this.secretBinding, (secret) => createBearerTokenVerifier(secret));
  },

  normalise(body, { receivedAt }) {
    const parsed = parseHandledEvent(body, schemas);
    if (parsed.kind !== "parsed") return parsed;

    // Database webhooks carry no event id, and pg_net sends each trigger firing once (no retries),
    // so a duplicate only arrives when the same row version is sent again (a replayed request, a
    // second trigger). The row version is the identity of the change: type + user id + updated_at
    // gives the same id for the same version and a new id for every real change. A deletion happens
    // once per user id (GoTrue ids are random UUIDs, never reused), so type + id is enough for it,
    // and a soft delete followed by the hard delete dedupes to one.
    if (parsed.type === "DELETE") {
      const row = (parsed.payload as z.output<typeof deleteEvent>).old_record;
      const occurredAt = isoToEpochMs(row.deleted_at) ?? Math.max(receivedAt, isoToEpochMs(row.updated_at) ?? 0);
      return single({ provider: "supabase", eventId: `DELETE:${row.id}`, type: "deleted", userId: row.id, occurredAt });
    }
    const row = (parsed.payload as z.output<typeof rowEvent>).record;
    const version = firstPresent(row.updated_at, row.created_at);
    if (!version) return { kind: "invalid", problem: "record.updated_at: required", eventType: parsed.type };
    // GoTrue's soft delete (`should_soft_delete`) is an UPDATE that sets deleted_at and scrambles the email.
    if (row.deleted_at) {
      const occurredAt = isoToEpochMs(row.deleted_at) ?? receivedAt;
      return single({ provider: "supabase", eventId: `DELETE:${row.id}`, type: "deleted", userId: row.id, occurredAt });
    }
    const userMeta = row.raw_user_meta_data ?? {};
    return single({
      provider: "supabase",
      eventId: `${parsed.type}:${row.id}:${version}`,
      type: parsed.type === "INSERT" ? "created" : "updated",
      userId: row.id,
      occurredAt: isoToEpochMs(version) ?? receivedAt,
      profile: {
        email: firstPresent(row.email),
        displayName: firstPresent(text(userMeta.full_name), text(userMeta.name)),
        avatarUrl: firstPresent(text(userMeta.avatar_url), text(userMeta.picture)),
        createdAt: isoToEpochMs(row.created_at),
        publicMetadata: row.raw_app_meta_data ?? undefined,
      },
    });
  },
};

/** User metadata is free-form JSON: only strings count as names and URLs. */
function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
