import { describe, expect, it } from "vitest";
import { DEV_SECRETS } from "../../support/secrets";
import login from "../../fixtures/auth0-logs/login.json";
import created from "../../fixtures/auth0-logs/user.created.json";
import deleted from "../../fixtures/auth0-logs/user.deleted.json";
import updated from "../../fixtures/auth0-logs/user.updated.json";
import { callBridge, deliverNow, inspectIdentity, orqIdentity, orqWrites, uniqueId, type Json } from "../harness";

const fixtures = { ss: created[0], sapi: updated[0], sdu: deleted[0], s: login[0] };
type Sample = keyof typeof fixtures;

const auth0Id = () => `auth0|${uniqueId("u")}`;

/** One log record of the documented samples, about `userId`, with a fresh log_id, logged at `date`. */
function logRecord(sample: Sample, userId: string, date: string, patch: (record: Json) => void = () => {}): Json {
  const record = structuredClone(fixtures[sample]) as Json;
  record.log_id = record.data.log_id = `900${crypto.randomUUID().replaceAll("-", "")}`;
  record.data.date = date;
  if (sample === "sapi") {
    // The Management API call is about the user in the path; data.user_id is the admin who made it.
    record.data.details.request.path = `/api/v2/users/${encodeURIComponent(userId)}`;
    record.data.details.response.body.user_id = userId;
  } else {
    record.data.user_id = userId;
  }
  patch(record);
  return record;
}

type Format = "array" | "lines" | "object";

/** A delivery in one of Auth0's three content formats; the token is sent as the whole header value. */
function postLogs(records: Json[], { format = "array", token = DEV_SECRETS.AUTH0_LOG_STREAM_TOKEN }: { format?: Format; token?: string | null } = {}): Promise<Response> {
  const body =
    format === "lines" ? records.map((record) => JSON.stringify(record)).join("\n") : JSON.stringify(format === "object" ? records[0] : records);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token !== null) headers.authorization = token;
  return callBridge("/webhooks/auth0-logs", { method: "POST", headers, body });
}

function postRaw(body: string): Promise<Response> {
  return callBridge("/webhooks/auth0-logs", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: DEV_SECRETS.AUTH0_LOG_STREAM_TOKEN },
    body,
  });
}

describe("Auth0 Log Streams users land in orq.ai", () => {
  it("the admin who made a Management API call (sapi user_id) never becomes an identity", async () => {
    const userId = auth0Id();
    const record = logRecord("sapi", userId, "2021-11-04T00:14:30.201Z");
    await postLogs([record]);
    await deliverNow("auth0-logs", userId);
    expect(await orqIdentity(userId)).toMatchObject({ display_name: "Neo Anderson" });
    expect(await inspectIdentity("auth0-logs", record.data.user_id)).toBeNull();
  });

  it("scu/sce changes update the identity; a sapi DELETE of a user deletes it", async () => {
    const userId = auth0Id();
    await postLogs([logRecord("ss", userId, "2021-11-03T03:21:19.503Z")]);
    await postLogs([logRecord("ss", userId, "2021-11-03T03:21:19.503Z", (r) => ((r.data.type = "sce"), (r.data.date = "2021-11-03T04:00:00.000Z"), (r.data.user_name = "neo@matrix.test")))]);
    await deliverNow("auth0-logs", userId);
    expect(await orqIdentity(userId)).toMatchObject({ email: "neo@matrix.test" });
    const scu = logRecord("ss", userId, "2021-11-03T05:00:00.000Z", (r) => ((r.data.type = "scu"), (r.data.user_name = "neo@renamed.test")));
    expect(await (await postLogs([scu])).json()).toMatchObject({ status: "recorded" });

    const removal = logRecord("sapi", userId, "2021-11-05T00:00:00.000Z", (r) => {
      r.data.description = "Delete a user";
      r.data.details.request.method = "delete";
      r.data.details.response = { statusCode: 204, body: {} };
    });
    expect((await postLogs([removal])).status).toBe(200);
    expect(await deliverNow("auth0-logs", userId)).toMatchObject({ tombstone: true });
    expect(await orqIdentity(userId)).toBeNull();
  });

  for (const format of ["array", "lines", "object"] as const) {
    it(`accepts the ${format === "lines" ? "JSON lines" : `JSON ${format}`} content format`, async () => {
      const userId = auth0Id();
      const response = await postLogs([logRecord("ss", userId, "2021-11-03T03:21:19.503Z")], { format });
      expect(response.status).toBe(200);
      await deliverNow("auth0-logs", userId);
      expect(await orqIdentity(userId)).toMatchObject({ email: "neo@test.com" });
    });
  }

  it("a batch with several users records each and skips the log types it does not handle", async () => {
    const [neo, trinity] = [auth0Id(), auth0Id()];
    const batch = [
      logRecord("ss", neo, "2021-11-03T03:21:19.503Z"),
      logRecord("s", auth0Id(), "2021-11-03T03:22:00.000Z"),
      logRecord("ss", trinity, "2021-11-03T03:23:00.000Z", (r) => (r.data.user_name = r.data.details.body.email = "trinity@test.com")),
      logRecord("sapi", neo, "2021-11-03T03:24:00.000Z"),
    ];
    for (const format of ["lines", "array"] as const) {
      const response = await postLogs(batch, { format });
      expect(response.status).toBe(200);
      const answer = await response.json<{ status: string; events: Array<{ event_id: string; status: string }> }>();
      expect(answer.events.map((event) => event.event_id)).toEqual([batch[0].log_id, batch[2].log_id, batch[3].log_id]);
      // The second delivery of the same batch (Auth0 retried): every record is a duplicate.
      expect(answer.events.map((event) => event.status)).toEqual(format === "lines" ? ["recorded", "recorded", "recorded"] : ["duplicate", "duplicate", "duplicate"]);
    }
    await Promise.all([deliverNow("auth0-logs", neo), deliverNow("auth0-logs", trinity)]);
    expect(await orqIdentity(neo)).toMatchObject({ email: "neo@test.com", display_name: "Neo Anderson" });
    expect(await orqIdentity(trinity)).toMatchObject({ email: "trinity@test.com" });
    expect(await orqWrites(trinity)).toHaveLength(1);
  });

  it("a user_name that is not an email (a phone number) is not used as the email", async () => {
    const userId = auth0Id();
    await postLogs([logRecord("ss", userId, "2021-11-03T03:21:19.503Z", (r) => ((r.data.user_name = "+14155554321"), delete r.data.details.body.email))]);
    await deliverNow("auth0-logs", userId);
    expect(await orqIdentity(userId)).not.toHaveProperty("email");
  });

  it("acknowledges a batch with nothing to handle (a login, other Management API calls) with 200", async () => {
    const userId = auth0Id();
    const otherApiCall = logRecord("sapi", userId, "2021-11-04T00:14:30.201Z", (r) => (r.data.details.request.path = "/api/v2/log-streams/lst_0000000000001269"));
    const response = await postLogs([logRecord("s", userId, "2021-11-04T00:15:10.706Z"), otherApiCall]);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "ignored", event_type: "s,sapi" });
    expect(await inspectIdentity("auth0-logs", userId)).toBeNull();
  });
});

describe("Auth0 Log Streams bad input", () => {
  const wrong: Array<[string, string | null]> = [
    ["no Authorization header (no token configured on the stream)", null],
    ["a wrong token", "not-the-auth0-log-stream-token"],
    ["the token with a Bearer prefix the stream was not configured with", `Bearer ${DEV_SECRETS.AUTH0_LOG_STREAM_TOKEN}`],
    ["a prefix of the token", DEV_SECRETS.AUTH0_LOG_STREAM_TOKEN.slice(0, 10)],
  ];
  for (const [name, token] of wrong) {
    it(`answers 401 to ${name}, and records nothing`, async () => {
      const userId = auth0Id();
      const response = await postLogs([logRecord("ss", userId, "2021-11-03T03:21:19.503Z")], { token });
      expect(response.status).toBe(401);
      expect(await response.text()).not.toContain(DEV_SECRETS.AUTH0_LOG_STREAM_TOKEN);
      expect(await inspectIdentity("auth0-logs", userId)).toBeNull();
    });
  }

  it("answers 400 to a body that is neither JSON nor JSON lines", async () => {
    expect((await postRaw('{"log_id": "1", "data": {')).status).toBe(400);
    expect((await postRaw(`${JSON.stringify(fixtures.ss)}\nnot json`)).status).toBe(400);
    expect((await postRaw("")).status).toBe(400);
  });

  it("answers 400 naming the record and field when a handled log has no user_id, and records none of the batch", async () => {
    const good = auth0Id();
    const response = await postLogs([logRecord("ss", good, "2021-11-03T03:21:19.503Z"), logRecord("ss", "", "2021-11-03T03:22:00.000Z")]);
    expect(response.status).toBe(400);
    expect((await response.json<{ message: string }>()).message).toMatch(/^1\.data\.user_id: /);
    expect(await inspectIdentity("auth0-logs", good)).toBeNull();
  });

  it("answers 400 naming log_id when a handled log has none", async () => {
    const response = await postLogs([logRecord("sdu", auth0Id(), "2021-11-05T09:30:10.318Z", (r) => (delete r.log_id, delete r.data.log_id))]);
    expect(response.status).toBe(400);
    expect((await response.json<{ message: string }>()).message).toMatch(/^0\.data\.log_id: /);
  });
});
