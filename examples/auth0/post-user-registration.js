/**
 * Auth0 Action, trigger "Post User Registration": tells the orq identity bridge about a new user
 * of a Database or Passwordless connection, in the same CloudEvents shape Auth0 Event Streams send.
 * (Social and enterprise users do not register: examples/auth0/post-login.js covers them.)
 *
 * Secrets (Action → Settings → Secrets):
 *   BRIDGE_URL           the bridge's base URL, e.g. https://orq-identity-bridge.example.workers.dev
 *   AUTH0_WEBHOOK_TOKEN  the same value as the bridge's AUTH0_WEBHOOK_TOKEN (at least 16 characters)
 *
 * The event id is stable per user (user id + creation time), so when Auth0 re-runs this Action, or
 * post-login reports the same user, the bridge answers "duplicate" and orq.ai gets one create.
 * This trigger is asynchronous: a failure never affects the signup, and Auth0 does not retry it.
 * The Action retries a couple of times itself, then throws so the failure shows in the Action logs.
 * No npm dependencies: only the runtime's global fetch.
 */

/** Per attempt; the three attempts stay well inside Auth0's 20 s Action limit. */
const ATTEMPT_TIMEOUT_MS = 3000;
const RETRY_DELAYS_MS = [300, 900];

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

exports.onExecutePostUserRegistration = async (event, api) => {
  const { url, token } = bridgeSettings(event);
  const body = userCreatedEvent(event);
  const outcome = await postWithRetries(url, token, body, { attempts: RETRY_DELAYS_MS.length + 1, deadlineMs: Infinity });
  if (!outcome.ok) {
    // Thrown errors appear in the Action's logs; the user's signup is not affected.
    throw new Error(`orq identity bridge: user.created for ${event.user.user_id} failed: ${outcome.reason}`);
  }
  console.log(`orq identity bridge: user.created for ${event.user.user_id} → ${outcome.status} ${outcome.answer}`);
};

function bridgeSettings(event) {
  const secrets = event.secrets || {};
  if (!secrets.BRIDGE_URL || !secrets.AUTH0_WEBHOOK_TOKEN) {
    throw new Error("orq identity bridge: set the BRIDGE_URL and AUTH0_WEBHOOK_TOKEN secrets of this Action");
  }
  return { url: `${String(secrets.BRIDGE_URL).replace(/\/+$/, "")}/webhooks/auth0`, token: secrets.AUTH0_WEBHOOK_TOKEN };
}

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

/** Retries network errors, timeouts, 408, 429 and 5xx; other answers are final. Never throws. */
async function postWithRetries(url, token, body, { attempts, deadlineMs }) {
  let reason = "not attempted";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const remaining = deadlineMs - Date.now();
    if (remaining < 100) break;
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
