/** What every verification scheme sees: headers and the raw body bytes, before any parsing. */
export interface WebhookRequest {
  headers: Headers;
  body: Uint8Array;
}

export type VerifyResult =
  /**
   * `deliveryId`: the scheme's own idempotency key (svix-id / webhook-id) when it has one.
   * `content`: set by schemes whose body wraps the content (a JWT): the verified payload bytes,
   * which the route then parses like any other body (so bad JSON in it is a 400, not a 401).
   * `payload`: set by schemes that parse the body themselves (Auth0's JSON lines): the parsed body.
   * `signedAt`: when the sender says it signed the request (covered by the signature).
   */
  | {
      ok: true;
      deliveryId?: string;
      content?: Uint8Array;
      payload?: unknown;
      /** Epoch ms of the signed timestamp, for schemes that sign one (Svix, Standard Webhooks). */
      signedAt?: number;
    }
  /**
   * `reason` is safe to return to the caller: it never echoes a secret. `temporary`: the request
   * could not be checked right now (the sender's key endpoint is down) → 503, so it is retried.
   */
  | { ok: false; reason: string; temporary?: true };

export type Verifier = (request: WebhookRequest, nowMs: number) => Promise<VerifyResult>;
