import { logLine } from "../log";
import { BRIDGE_STATUS_NAME } from "../record/bridge-status";
import { identityObjectName } from "../record/identity-change";

/**
 * Identities replayed per `since` request: each is one Durable Object call, and the Workers Free
 * plan allows 50 subrequests per request. A larger outage is replayed in several requests, each
 * continuing from `nextSince`.
 */
export const REPLAY_BATCH = 40;
/** Replays run a few at a time (Workers allow 6 simultaneous outgoing connections per request). */
const REPLAY_CONCURRENCY = 6;

/** Longer ids are refused before they name a Durable Object (real Clerk and Auth0 ids are far shorter). */
export const MAX_USER_ID_LENGTH = 256;

export interface ReplayTarget {
  provider: string;
  userId: string;
}

export interface ReplaySinceResult {
  queued: ReplayTarget[];
  /** Identities whose Durable Object could not be reached: replay them again. */
  unavailable: ReplayTarget[];
  /** Set when more failures remain than one batch: replay again from here (the last one may be queued twice). */
  nextSince: number | null;
}

/** Re-attempts delivery of one identity's newest state; false when the bridge never saw it. */
export async function replayIdentity(env: Cloudflare.Env, target: ReplayTarget): Promise<boolean> {
  const queued = await env.IDENTITY_SYNC.getByName(identityObjectName(target.provider, target.userId)).replay();
  if (queued) logLine({ msg: "admin_replay", provider: target.provider, user_id: target.userId });
  return queued;
}

/** Replays every identity whose failure was recorded at or after `since` (epoch ms), oldest first. */
export async function replayFailuresSince(env: Cloudflare.Env, since: number): Promise<ReplaySinceResult> {
  const failures = await env.BRIDGE_STATUS.getByName(BRIDGE_STATUS_NAME).failuresSince(since, REPLAY_BATCH + 1);
  const batch = failures.slice(0, REPLAY_BATCH);
  const result: ReplaySinceResult = { queued: [], unavailable: [], nextSince: null };
  for (let start = 0; start < batch.length; start += REPLAY_CONCURRENCY) {
    const slice = batch.slice(start, start + REPLAY_CONCURRENCY);
    const outcomes = await Promise.allSettled(slice.map((failure) => replayIdentity(env, failure)));
    outcomes.forEach((outcome, index) => {
      const { provider, userId } = slice[index]!;
      // `false` means the identity's state is gone although it is listed: nothing to deliver.
      if (outcome.status === "rejected") result.unavailable.push({ provider, userId });
      else if (outcome.value) result.queued.push({ provider, userId });
    });
  }
  if (failures.length > REPLAY_BATCH) result.nextSince = batch[batch.length - 1]!.updatedAt;
  return result;
}
