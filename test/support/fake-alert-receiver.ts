/**
 * A local stand-in for the places alerts go, checking each payload as its documentation describes it
 * and answering as it does:
 * - `/slack/…`: a Slack incoming webhook (api.slack.com/messaging/webhooks): `text` (or `blocks`), each
 *   block a known type within Block Kit's limits (header text ≤ 150, section text ≤ 3000, ≤ 10 fields
 *   of ≤ 2000); 200 `ok`, else 400 `invalid_payload` / `no_text` / `invalid_blocks`.
 * - `/discord/api/webhooks/<id>/<token>/slack`: Discord's Slack-compatible form, which posts `text`
 *   (at most 2,000 characters: Discord's message limit); 200 `ok`.
 * - `/teams/…`: a Teams Workflows webhook ("when a Teams webhook request is received"): a `message`
 *   whose attachments are Adaptive Cards (`application/vnd.microsoft.card.adaptive`, `type:
 *   AdaptiveCard`, a version, a body); 202, else 400.
 * - `/json/…`: the bridge's documented JSON object; 200.
 * It records what it received, and can answer with an error status or hang (control under `/__receiver`).
 * Node-only; never import it from src/.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type ReceiverFormat = "slack" | "discord" | "teams" | "json";

export interface ReceivedAlert {
  at: number;
  path: string;
  format: ReceiverFormat;
  // biome-ignore lint: payloads are free-form JSON
  body: any;
  raw: string;
  status: number;
  userAgent: string | undefined;
}

export interface AlertReceiver {
  url: string;
  received(): ReceivedAlert[];
  clear(): void;
  /** Answer every alert with this status (e.g. 503), hang (no answer until reset), or normally (`null`). */
  setMode(mode: { status: number } | { hang: true } | null): void;
  close(): Promise<void>;
}

const SLACK_BLOCK_TYPES = new Set(["header", "section", "context", "divider", "actions", "rich_text", "image"]);

export function slackProblem(body: unknown, { discord = false } = {}): string | null {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "invalid_payload";
  const message = body as { text?: unknown; blocks?: unknown };
  if (discord) {
    if (typeof message.text !== "string" || message.text.trim() === "") return "no_text";
    return message.text.length > 2000 ? "text_too_long" : null;
  }
  const hasText = typeof message.text === "string" && message.text.trim() !== "";
  if (message.blocks === undefined) return hasText ? null : "no_text";
  if (!Array.isArray(message.blocks) || message.blocks.length === 0 || message.blocks.length > 50) return "invalid_blocks";
  for (const block of message.blocks as Array<Record<string, any>>) {
    if (!SLACK_BLOCK_TYPES.has(block?.type)) return "invalid_blocks";
    if (block.type === "header" && (block.text?.type !== "plain_text" || typeof block.text.text !== "string" || block.text.text.length > 150)) return "invalid_blocks";
    if (block.type === "section") {
      if (block.text === undefined && block.fields === undefined) return "invalid_blocks";
      if (block.text !== undefined && (!["mrkdwn", "plain_text"].includes(block.text.type) || typeof block.text.text !== "string" || block.text.text.length > 3000)) return "invalid_blocks";
      if (block.fields !== undefined && (!Array.isArray(block.fields) || block.fields.length > 10 || block.fields.some((field: any) => typeof field?.text !== "string" || field.text.length > 2000))) return "invalid_blocks";
    }
    if (block.type === "context" && (!Array.isArray(block.elements) || block.elements.length === 0 || block.elements.length > 10)) return "invalid_blocks";
  }
  return null;
}

export function teamsProblem(body: unknown): string | null {
  const message = body as Record<string, any>;
  if (message?.type !== "message") return "type must be message";
  if (!Array.isArray(message.attachments) || message.attachments.length === 0) return "attachments must be a non-empty array";
  for (const attachment of message.attachments) {
    if (attachment?.contentType !== "application/vnd.microsoft.card.adaptive") return "only Adaptive Cards are supported";
    const card = attachment.content;
    if (card?.type !== "AdaptiveCard" || typeof card.version !== "string" || !Array.isArray(card.body) || card.body.length === 0) return "content must be an AdaptiveCard with a version and a body";
    for (const element of card.body) {
      if (element?.type === "TextBlock" && typeof element.text !== "string") return "TextBlock needs text";
      if (element?.type === "FactSet" && (!Array.isArray(element.facts) || element.facts.some((fact: any) => typeof fact?.title !== "string" || typeof fact?.value !== "string"))) return "FactSet facts need title and value strings";
    }
    for (const action of card.actions ?? []) {
      if (action?.type === "Action.OpenUrl" && typeof action.url !== "string") return "Action.OpenUrl needs a url";
    }
  }
  return null;
}

export function jsonProblem(body: unknown): string | null {
  const alert = body as Record<string, unknown>;
  for (const field of ["source", "id", "condition", "state", "severity", "started_at", "summary", "details", "action"]) {
    if (!(field in (alert ?? {}))) return `missing ${field}`;
  }
  return "link" in alert ? null : "missing link";
}

function formatOf(path: string): ReceiverFormat | null {
  if (path.startsWith("/slack/")) return "slack";
  if (/^\/discord\/api\/webhooks\/[^/]+\/[^/]+\/slack$/.test(path)) return "discord";
  if (path.startsWith("/teams/")) return "teams";
  if (path.startsWith("/json/")) return "json";
  return null;
}

export async function startAlertReceiver(): Promise<AlertReceiver> {
  let received: ReceivedAlert[] = [];
  let mode: { status: number } | { hang: true } | null = null;
  const hanging = new Set<ServerResponse>();

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const path = new URL(req.url ?? "/", "http://receiver.invalid").pathname;
    const reply = (status: number, body: string | object = "") => {
      res.writeHead(status, { "content-type": typeof body === "string" ? "text/plain" : "application/json" });
      res.end(typeof body === "string" ? body : JSON.stringify(body));
    };

    if (path.startsWith("/__receiver/")) {
      if (path === "/__receiver/messages" && req.method === "GET") return reply(200, { messages: received });
      if (path === "/__receiver/messages" && req.method === "DELETE") {
        received = [];
        return reply(204);
      }
      if (path === "/__receiver/mode" && req.method === "POST") {
        const wanted = raw ? JSON.parse(raw) : null;
        setMode(wanted && Object.keys(wanted).length > 0 ? wanted : null);
        return reply(204);
      }
      return reply(404, "unknown control path");
    }

    const format = req.method === "POST" ? formatOf(path) : null;
    if (!format) return reply(404, "no_service");
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return reply(400, "invalid_payload");
    }
    const record = (status: number) => received.push({ at: Date.now(), path, format, body, raw, status, userAgent: req.headers["user-agent"] });
    if (mode && "hang" in mode) {
      record(0);
      hanging.add(res);
      return;
    }
    if (mode && "status" in mode) {
      record(mode.status);
      return reply(mode.status, "unavailable");
    }
    const problem = format === "teams" ? teamsProblem(body) : format === "json" ? jsonProblem(body) : slackProblem(body, { discord: format === "discord" });
    if (problem) {
      record(400);
      return reply(400, format === "teams" || format === "json" ? { error: problem } : problem);
    }
    const status = format === "teams" ? 202 : 200;
    record(status);
    return reply(status, format === "teams" ? "" : "ok");
  });

  function setMode(next: typeof mode): void {
    mode = next;
    if (!next || !("hang" in next)) {
      for (const res of hanging) res.destroy();
      hanging.clear();
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received: () => received.map((entry) => ({ ...entry })),
    clear: () => {
      received = [];
    },
    setMode,
    close: () =>
      new Promise<void>((resolve, reject) => {
        setMode(null);
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
