/**
 * Firebase Auth → orq identity bridge. Firebase Auth has no outbound webhooks; these Cloud
 * Functions (1st gen auth triggers) post the bridge's Standard Webhooks payload to
 * `POST /webhooks/standard` instead.
 *
 *   orqUserCreated         auth.user().onCreate   → user.created
 *   orqUserDeleted         auth.user().onDelete   → user.deleted
 *   orqUserProfileChanged  users/{uid} written    → user.updated (optional, see README)
 *
 * Configuration: BRIDGE_URL in functions/.env, STANDARD_WEBHOOK_SECRET as a secret
 * (`firebase functions:secrets:set STANDARD_WEBHOOK_SECRET`), the same value as the bridge's.
 *
 * `failurePolicy: true` makes Cloud Functions retry a failed delivery (the function throws on a
 * network error, 429 or 5xx); `context.eventId` is stable across those retries and is sent as
 * `webhook-id`, so the bridge records each event once.
 */
const functions = require("firebase-functions/v1");
const admin = require("firebase-admin");
const { sendUserEvent, toIso } = require("./bridge-client");

admin.initializeApp();

const withBridge = functions.runWith({ secrets: ["STANDARD_WEBHOOK_SECRET"], failurePolicy: true });

exports.orqUserCreated = withBridge.auth.user().onCreate((user, context) =>
  report("user.created", toStandardUser(user, context.timestamp), context),
);

exports.orqUserDeleted = withBridge.auth.user().onDelete((user, context) =>
  report("user.deleted", { id: user.uid, updated_at: context.timestamp }, context),
);

/**
 * Firebase Auth fires no trigger when a profile changes (`updateProfile`, `updateEmail`). Apps that
 * keep a `users/{uid}` document and write it when the profile changes can use this trigger: it
 * re-reads the Auth record, so orq.ai gets the Auth profile, whatever the document holds.
 * Delete this export if your app has no such document.
 */
exports.orqUserProfileChanged = withBridge.firestore.document("users/{uid}").onWrite(async (change, context) => {
  if (!change.after.exists) return; // a deleted document is not a deleted user: onDelete reports that
  let user;
  try {
    user = await admin.auth().getUser(context.params.uid);
  } catch (error) {
    if (error && error.code === "auth/user-not-found") return; // already deleted: onDelete reports it
    throw error;
  }
  await report("user.updated", toStandardUser(user, context.timestamp), context);
});

/** Firebase's UserRecord → the bridge's neutral user (docs/standard-webhook-payload.md). */
function toStandardUser(user, eventTime) {
  return {
    id: user.uid,
    email: user.email ?? null,
    // Firebase has one name field: no first/last name or username.
    name: user.displayName ?? null,
    avatar_url: user.photoURL ?? null,
    // Custom claims are set by your backend (Admin SDK) only: safe to share. Only the keys in the
    // bridge's ORQ_METADATA_KEYS reach orq.ai.
    metadata: user.customClaims ?? null,
    created_at: toIso(user.metadata && user.metadata.creationTime),
    updated_at: eventTime,
  };
}

async function report(type, data, context) {
  const outcome = await sendUserEvent({
    bridgeUrl: process.env.BRIDGE_URL,
    secret: process.env.STANDARD_WEBHOOK_SECRET,
    id: `firebase_${context.eventId}`,
    type,
    timestamp: context.timestamp,
    data,
  });
  if (outcome.ok) {
    functions.logger.info(`orq identity bridge: ${type} for ${data.id} → ${outcome.status}`);
    return;
  }
  const message = `orq identity bridge: ${type} for ${data.id} failed: ${outcome.status ?? ""} ${outcome.reason}`;
  // Throwing makes Cloud Functions retry (failurePolicy); a 4xx would fail the same way forever.
  if (outcome.retryable) throw new Error(message);
  functions.logger.error(message);
}
