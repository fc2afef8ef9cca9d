/**
 * Reports Better Auth users to the orq identity bridge's `POST /webhooks/standard`, signed with
 * Standard Webhooks by the `standardwebhooks` reference library. Payload: the bridge's
 * provider-neutral `{ type, timestamp, data }` (docs/standard-webhook-payload.md).
 *
 * Configuration (environment): ORQ_BRIDGE_URL (the bridge's base URL) and
 * STANDARD_WEBHOOK_SECRET (the same `whsec_…` value as the bridge's).
 */
import { Webhook } from "standardwebhooks";

/** Better Auth's user as its database hooks see it (`username` comes with the username plugin). */
export interface BetterAuthUser {
  id: string;
  email?: string | null;
  name?: string | null;
  image?: string | null;
  username?: string | null;
  createdAt?: Date | string | null;
  updatedAt?: Date | string | null;
}

export type UserEventType = "user.created" | "user.updated" | "user.deleted";

/** The hooks run inside the user's request: two quick attempts, then give up (and log). */
const ATTEMPT_TIMEOUT_MS = 2000;
const RETRY_DELAY_MS = 300;

/**
 * Sends one event; never throws, so a bridge outage never fails a sign-up or a profile update.
 * Returns whether the bridge stored it.
 */
export async function reportToOrq(type: UserEventType, user: BetterAuthUser): Promise<boolean> {
  const bridgeUrl = process.env.ORQ_BRIDGE_URL;
  const secret = process.env.STANDARD_WEBHOOK_SECRET;
  if (!bridgeUrl || !secret) {
    console.error("orq identity bridge: set ORQ_BRIDGE_URL and STANDARD_WEBHOOK_SECRET");
    return false;
  }
  const now = new Date();
  const body = JSON.stringify({ type, timestamp: now.toISOString(), data: toStandardUser(type, user, now) });
  // One id for every attempt of this event: the bridge answers "duplicate" to a repeat.
  const id = `msg_${crypto.randomUUID()}`;
  // The bridge accepts `v1,whsec_…` (as Supabase shows secrets); the library wants `whsec_…`.
  const signer = new Webhook(secret.trim().replace(/^v1,/, ""));

  let problem = "";
  for (let attempt = 1; attempt <= 2; attempt++) {
    if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
    const sentAt = new Date();
    try {
      const response = await fetch(`${bridgeUrl.replace(/\/+$/, "")}/webhooks/standard`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "webhook-id": id,
          "webhook-timestamp": String(Math.floor(sentAt.getTime() / 1000)),
          "webhook-signature": signer.sign(id, sentAt, body),
        },
        body,
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      if (response.ok) return true;
      problem = `${response.status} ${(await response.text()).slice(0, 300)}`;
      // 400 (malformed) and 401 (secret or clock) cannot succeed by sending the same again.
      if (response.status < 500 && response.status !== 408 && response.status !== 429) break;
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }
  }
  console.error(`orq identity bridge: ${type} for ${user.id} failed: ${problem}`);
  return false;
}

/** Better Auth's user → the bridge's neutral user. */
export function toStandardUser(type: UserEventType, user: BetterAuthUser, now: Date) {
  if (type === "user.deleted") return { id: user.id, updated_at: now.toISOString() };
  return {
    id: user.id,
    email: user.email ?? null,
    // Better Auth has one name field; `username` exists with the username plugin.
    name: user.name ?? null,
    username: user.username ?? null,
    avatar_url: user.image ?? null,
    created_at: toIso(user.createdAt),
    // The bridge keeps the newest version of each user by this time.
    updated_at: toIso(user.updatedAt) ?? now.toISOString(),
  };
}

function toIso(value: Date | string | null | undefined): string | null {
  if (!value) return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
