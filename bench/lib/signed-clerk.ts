/**
 * Distinct, correctly signed Clerk `user.created` webhooks, generated ahead of a timed run so that
 * signing is never part of what is measured. The payload is Clerk's documented example
 * (test/fixtures/clerk/user.created.json) with a fresh user id, a primary email address and
 * current timestamps; the signature comes from the `svix` library (what Clerk sends with), not
 * from the bridge's own code.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Webhook } from "svix";
import { PROJECT_DIR } from "./paths";

export interface SignedRequest {
  userId: string;
  eventId: string;
  headers: Record<string, string>;
  body: string;
}

const FIXTURE = readFileSync(join(PROJECT_DIR, "test", "fixtures", "clerk", "user.created.json"), "utf8");

export interface ClerkSigner {
  /** One new signup, signed now. `userId` must be unique per run for the request to be distinct. */
  sign(userId: string): SignedRequest;
  /** `count` new signups with ids `<prefix><n>`. */
  many(prefix: string, count: number): SignedRequest[];
}

export function createClerkSigner(secret: string): ClerkSigner {
  const webhook = new Webhook(secret);
  const sign = (userId: string): SignedRequest => {
    const now = Date.now();
    const payload = JSON.parse(FIXTURE);
    payload.timestamp = now;
    payload.data.id = userId;
    payload.data.created_at = now;
    payload.data.updated_at = now;
    payload.data.email_addresses = [
      {
        id: payload.data.primary_email_address_id,
        object: "email_address",
        email_address: `${userId}@example.com`,
        reserved: false,
        verification: { status: "verified", strategy: "email_code", attempts: 1, expire_at: now + 600_000 },
        linked_to: [],
      },
    ];
    const body = JSON.stringify(payload);
    const eventId = `msg_${randomUUID().replaceAll("-", "")}`;
    const timestamp = new Date(Math.floor(now / 1000) * 1000);
    return {
      userId,
      eventId,
      body,
      headers: {
        "content-type": "application/json",
        "svix-id": eventId,
        "svix-timestamp": String(timestamp.getTime() / 1000),
        "svix-signature": webhook.sign(eventId, timestamp, body),
      },
    };
  };
  return {
    sign,
    many: (prefix, count) => Array.from({ length: count }, (_, index) => sign(`${prefix}${index}`)),
  };
}
