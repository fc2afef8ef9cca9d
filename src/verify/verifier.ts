/** What every verification scheme sees: headers and the raw body bytes, before any parsing. */
export interface WebhookRequest {
  headers: Headers;
  body: Uint8Array;
}

export type VerifyResult =
  /**
   * `deliveryId`: the scheme's own idempotency key (svix-id / webhook-id) when it has one.
   * `payload`: set by schemes whose body is not JSON (a JWT): the verified, decoded payload.
   */
  | { ok: true; deliveryId?: string; payload?: unknown }
  /**
   * `reason` is safe to return to the caller: it never echoes a secret. `temporary`: the request
   * could not be checked right now (the sender's key endpoint is down) → 503, so it is retried.
   */
  | { ok: false; reason: string; temporary?: true };

export type Verifier = (request: WebhookRequest, nowMs: number) => Promise<VerifyResult>;
