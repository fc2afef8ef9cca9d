import * as z from "zod/mini";
import { describeIssue } from "../describe-issue";
import { firstPresent, isoToEpochMs, joinName, looksLikeEmail, type IdentityEvent, type IdentityEventType, type IdentityProfile } from "../identity/identity-event";
import { createBearerTokenVerifier } from "../verify/bearer-token";
import type { Verifier } from "../verify/verifier";
import { optionalString, configureStaticToken, type NormaliseResult, type WebhookProvider } from "./provider";

/**
 * Auth0 Log Streams → Custom Webhook: tenant log records, batched, in whichever "Content Format"
 * the operator picked (JSON lines, JSON array or JSON object). Each record is
 * `{ log_id, data: <log event> }` (schemas: github.com/auth0/auth0-log-schemas). Records carry
 * ids and a login, not a profile. Auth0 sends the configured "Authorization Token" as the
 * `Authorization` header value, exactly as typed.
 *
 * Handled: `ss` signup → created; `sdu` user deleted → deleted; `scu`/`sce` username/email changed
 * → updated; `sapi` Management API writes to `/api/v2/users/{id}` → created (POST), updated
 * (PATCH/PUT) or deleted (DELETE). Every other log type is ignored.
 */
const LogEvent = z.object({
  type: z.string(),
  date: z.iso.datetime({ offset: true }),
  log_id: optionalString,
  user_id: optionalString,
  user_name: optionalString,
  details: z.optional(z.unknown()),
});
const LogRecord = z.object({ log_id: optionalString, data: z.optional(z.looseObject({ type: z.string() })) });
const Typed = z.looseObject({ type: z.string() });

/** Log types whose `user_id` is the user the change is about (for `sapi` it is the admin). */
const ownTypes: { [code: string]: IdentityEventType } = { ss: "created", sdu: "deleted", scu: "updated", sce: "updated" };

/** The profile Auth0 writes into a signup log (`details.body`) and a Management API answer. */
const UserFields = z.looseObject({
  user_id: optionalString,
  email: optionalString,
  name: optionalString,
  given_name: optionalString,
  family_name: optionalString,
  nickname: optionalString,
  username: optionalString,
  picture: optionalString,
  created_at: optionalString,
});
const SignupDetails = z.looseObject({ body: z.optional(UserFields) });
const ApiDetails = z.looseObject({
  request: z.looseObject({ method: z.string(), path: z.string() }),
  response: z.optional(z.looseObject({ body: z.optional(z.unknown()) })),
});

const USER_PATH = /^\/api\/v2\/users\/([^/?#]+)$/;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export const auth0Logs: WebhookProvider = {
  name: "auth0-logs",
  secretBinding: "AUTH0_LOG_STREAM_TOKEN",

  configure(env) {
    return configureStaticToken(env, this.secretBinding, (token) => withJsonLines(createBearerTokenVerifier(token, { scheme: "raw" })));
  },

  normalise(body): NormaliseResult {
    const single = !Array.isArray(body);
    const records: unknown[] = single ? [body] : body;
    const events: IdentityEvent[] = [];
    const seen = new Set<string>();
    for (const [index, raw] of records.entries()) {
      const at = single ? "" : `${index}.`;
      const record = LogRecord.safeParse(raw);
      if (!record.success) return { kind: "invalid", problem: at + describeIssue(record.error) };
      // The documented shape wraps the log in `data`; a bare log event is accepted as well.
      const inData = record.data.data !== undefined;
      const typed = Typed.safeParse(inData ? record.data.data : raw);
      if (!typed.success) return { kind: "invalid", problem: at + describeIssue(typed.error) };
      const code = typed.data.type;
      seen.add(code);
      if (!Object.hasOwn(ownTypes, code) && code !== "sapi") continue;

      const where = `${at}${inData ? "data." : ""}`;
      const parsed = LogEvent.safeParse(typed.data);
      if (!parsed.success) return { kind: "invalid", problem: where + describeIssue(parsed.error), eventType: code };
      const log = parsed.data;
      const eventId = firstPresent(log.log_id, record.data.log_id);
      if (!eventId) return { kind: "invalid", problem: `${where}log_id: required`, eventType: code };
      const occurredAt = isoToEpochMs(log.date) ?? 0;

      if (code === "sapi") {
        const change = userWrite(log.details);
        if (change) events.push({ provider: "auth0-logs", eventId, occurredAt, ...change });
        continue;
      }
      const userId = firstPresent(log.user_id);
      if (!userId) return { kind: "invalid", problem: `${where}user_id: must not be empty`, eventType: code };
      const type = ownTypes[code]!;
      if (type === "deleted") {
        events.push({ provider: "auth0-logs", eventId, type, userId, occurredAt });
        continue;
      }
      const login = firstPresent(log.user_name);
      const signup = code === "ss" ? SignupDetails.safeParse(log.details) : undefined;
      const profile = signup?.success && signup.data.body ? toProfile(signup.data.body) : {};
      profile.email ??= looksLikeEmail(login) ? login : undefined;
      // A username or email change (scu/sce) names only the new login: the rest of the profile is kept.
      events.push({ provider: "auth0-logs", eventId, type, userId, occurredAt, profile, ...(type === "updated" && { partial: true as const }) });
    }
    if (events.length > 0) return { kind: "events", events };
    return { kind: "ignored", eventType: [...seen].join(",") || "empty batch" };
  },
};

/**
 * A `sapi` log is any successful Management API call; only writes to one user matter. Its
 * `user_id` is the admin or M2M client that made the call, so the user comes from the request path
 * (or, for a creation, the answer), and the profile only from the API's answer when it has one.
 */
function userWrite(details: unknown): Pick<IdentityEvent, "type" | "userId" | "profile" | "partial"> | undefined {
  const parsed = ApiDetails.safeParse(details);
  if (!parsed.success) return undefined;
  const { request, response } = parsed.data;
  const method = request.method.toLowerCase();
  const answer = UserFields.safeParse(response?.body);
  const returned = answer.success ? answer.data : undefined;

  if (method === "post" && request.path === "/api/v2/users") {
    const userId = firstPresent(returned?.user_id);
    return userId && returned ? { type: "created", userId, profile: toProfile(returned) } : undefined;
  }
  const match = USER_PATH.exec(request.path);
  if (!match) return undefined;
  let userId: string;
  try {
    userId = decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
  if (method === "delete") return { type: "deleted", userId };
  if (method !== "patch" && method !== "put") return undefined;
  // Without the user in the answer, the update says nothing about the profile: nothing is unset.
  return returned?.user_id === userId ? { type: "updated", userId, profile: toProfile(returned) } : { type: "updated", userId, profile: {}, partial: true };
}

function toProfile(user: z.output<typeof UserFields>): IdentityProfile {
  return {
    email: firstPresent(user.email),
    displayName: joinName(user.given_name, user.family_name) ?? firstPresent(user.name, user.username, user.nickname),
    avatarUrl: firstPresent(user.picture),
    createdAt: isoToEpochMs(user.created_at),
  };
}

/**
 * The route parses one JSON document; Auth0's "JSON lines" format is several. After the token
 * check, the body is handed over parsed: one JSON document as is, JSON lines as an array of their
 * records. Anything else is left to the route, which answers 400.
 */
function withJsonLines(verify: Verifier): Verifier {
  return async (request, nowMs) => {
    const verified = await verify(request, nowMs);
    if (!verified.ok) return verified;
    const payload = parseLogStreamBody(request.body);
    return payload === undefined ? verified : { ...verified, payload };
  };
}

function parseLogStreamBody(body: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // not one document: JSON lines?
  }
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "");
  if (lines.length === 0) return undefined;
  try {
    return lines.map((line) => JSON.parse(line) as unknown);
  } catch {
    return undefined;
  }
}
