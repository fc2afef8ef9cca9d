/**
 * Auth0 Action, trigger "Login / Post Login": tells the orq identity bridge about a user on their
 * first login (`event.stats.logins_count === 1`). That is how social and enterprise users, for whom
 * "Post User Registration" never runs, reach orq.ai. Same CloudEvents shape as Auth0 Event Streams.
 *
 * Secrets (Action → Settings → Secrets):
 *   BRIDGE_URL           the bridge's base URL, e.g. https://orq-identity-bridge.example.workers.dev
 *   AUTH0_WEBHOOK_TOKEN  the same value as the bridge's AUTH0_WEBHOOK_TOKEN (at least 16 characters)
 *
 * Login is blocking, so this Action never stands in the user's way: it gives up after about 4.5 s in
 * total, never calls api.access.deny and never throws (a thrown error would fail the login); a
 * failure is written to the Action's logs with console.error instead. Auth0 does not retry it.
 *
 * The event id is the one examples/auth0/post-user-registration.js uses (user id + creation time):
 * for a Database user both Actions run, and the bridge answers the second "duplicate", so orq.ai
 * gets one create; if the registration call failed, the first login is a second chance.
 * No npm dependencies: only the runtime's global fetch.
 */

/** Everything this Action does, retries included, finishes within this budget. */
const TOTAL_BUDGET_MS = 4500;
const ATTEMPT_TIMEOUT_MS = 2000;
const RETRY_DELAYS_MS = [200, 400];

/** The documented Event Streams `data.object` fields the bridge maps (user_metadata is user-editable: never sent). */
const USER_FIELDS = [
  "user_id",
  "email",
  "username",
  "name",
  "given_name",
  "family_name",
  "nickname",
  "picture",
  "app_metadata",
  "created_at",
  "updated_at",
];

exports.onExecutePostLogin = async (event, api) => {
  const deadlineMs = Date.now() + TOTAL_BUDGET_MS;
  try {
    if (!event.stats || event.stats.logins_count !== 1) return;
    // A refresh-token exchange also runs this trigger; it is not a login.
    if (event.transaction && event.transaction.protocol === "oauth2-refresh-token") return;
    const secrets = event.secrets || {};
    if (!secrets.BRIDGE_URL || !secrets.AUTH0_WEBHOOK_TOKEN) {
      console.error("orq identity bridge: set the BRIDGE_URL and AUTH0_WEBHOOK_TOKEN secrets of this Action");
      return;
    }
    const url = `${String(secrets.BRIDGE_URL).replace(/\/+$/, "")}/webhooks/auth0`;
    const outcome = await postWithRetries(url, secrets.AUTH0_WEBHOOK_TOKEN, userCreatedEvent(event), {
      attempts: RETRY_DELAYS_MS.length + 1,
      deadlineMs,
    });
    if (outcome.ok) console.log(`orq identity bridge: user.created for ${event.user.user_id} → ${outcome.status} ${outcome.answer}`);
    else console.error(`orq identity bridge: user.created for ${event.user.user_id} failed: ${outcome.reason}`);
  } catch (error) {
    // Never fail the login over the identity sync.
    console.error(`orq identity bridge: ${error && error.message ? error.message : error}`);
  }
};

/** An Event Streams `user.created` CloudEvent for `event.user`. */
function userCreatedEvent(event) {
  const user = event.user;
  const object = {};
  for (const field of USER_FIELDS) {
    const value = user[field];
    if (value === undefined || value === null) continue;
    object[field] = value instanceof Date ? value.toISOString() : value;
  }
  const tenant = (event.tenant && event.tenant.id) || "unknown";
  return JSON.stringify({
    specversion: "1.0",
    type: "user.created",
    source: `urn:auth0:${tenant}`,
    id: stableEventId(user),
    time: new Date().toISOString(),
    datacontenttype: "application/json",
    data: { object },
    a0tenant: tenant,
  });
}

/**
 * Same user, same id: retries and re-runs dedupe at the bridge. The creation time is part of it
 * because social user ids (`google-oauth2|…`) come back unchanged when a deleted user signs up again.
 */
function stableEventId(user) {
  const created = Date.parse(user.created_at instanceof Date ? user.created_at.toISOString() : user.created_at);
  return `evt_action_created_${user.user_id}${Number.isNaN(created) ? "" : `_${created}`}`;
}

/** Retries network errors, timeouts, 408, 429 and 5xx within the deadline; other answers are final. Never throws. */
async function postWithRetries(url, token, body, { attempts, deadlineMs }) {
  let reason = "not attempted";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const remaining = deadlineMs - Date.now();
    if (remaining < 100) {
      reason = `${reason} (out of time)`;
      break;
    }
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body,
        signal: AbortSignal.timeout(Math.min(ATTEMPT_TIMEOUT_MS, remaining)),
      });
      const answer = (await response.text()).slice(0, 300);
      if (response.ok) return { ok: true, status: response.status, answer };
      reason = `HTTP ${response.status} ${answer}`;
      if (!(response.status === 408 || response.status === 429 || response.status >= 500)) break;
    } catch (error) {
      reason = error && error.name === "TimeoutError" ? "timed out" : String((error && error.cause && error.cause.code) || error);
    }
    const delay = RETRY_DELAYS_MS[attempt - 1];
    if (attempt === attempts || delay === undefined || Date.now() + delay >= deadlineMs) break;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  return { ok: false, reason };
}
