/**
 * Sends one user event to the orq identity bridge's `POST /webhooks/standard`, signed with
 * Standard Webhooks by the `standardwebhooks` reference library. Payload: the bridge's
 * provider-neutral `{ type, timestamp, data }` (docs/standard-webhook-payload.md).
 *
 * `id` becomes `webhook-id`: keep it the same when the same event is sent again (a function
 * retry), and the bridge answers "duplicate" instead of writing twice.
 */
const { Webhook } = require("standardwebhooks");

/** Per attempt; three attempts stay well inside a background function's timeout. */
const ATTEMPT_TIMEOUT_MS = 5000;
const RETRY_DELAYS_MS = [500, 2000];

/**
 * @returns {Promise<{ok: true, status: number} | {ok: false, status?: number, reason: string, retryable: boolean}>}
 */
async function sendUserEvent({ bridgeUrl, secret, id, type, timestamp, data }) {
  if (!bridgeUrl || !secret) return { ok: false, reason: "BRIDGE_URL and STANDARD_WEBHOOK_SECRET must be set", retryable: false };
  const url = `${bridgeUrl.replace(/\/+$/, "")}/webhooks/standard`;
  const body = JSON.stringify({ type, timestamp, data });
  // The bridge accepts `v1,whsec_…` (as Supabase shows secrets); the library wants `whsec_…`.
  const signer = new Webhook(secret.trim().replace(/^v1,/, ""));
  let outcome = { ok: false, reason: "not sent", retryable: true };
  for (let attempt = 0; attempt <= RETRY_DELAYS_MS.length; attempt++) {
    if (attempt > 0) await sleep(RETRY_DELAYS_MS[attempt - 1]);
    // Signed anew per attempt: the bridge refuses a webhook-timestamp more than 5 minutes off.
    const now = new Date();
    const headers = {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": signer.sign(id, now, body),
    };
    try {
      const response = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS) });
      if (response.ok) return { ok: true, status: response.status };
      const retryable = response.status === 408 || response.status === 429 || response.status >= 500;
      outcome = { ok: false, status: response.status, reason: (await response.text()).slice(0, 300), retryable };
      // 400 (malformed) and 401 (secret or clock) cannot succeed by sending the same again.
      if (!retryable) return outcome;
    } catch (error) {
      outcome = { ok: false, reason: error instanceof Error ? error.message : String(error), retryable: true };
    }
  }
  return outcome;
}

/** Firebase's `metadata.creationTime` is an RFC 1123 date ("Tue, 05 Mar 2024 10:00:00 GMT"): ISO 8601 for the bridge. */
function toIso(value) {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

module.exports = { sendUserEvent, toIso };
