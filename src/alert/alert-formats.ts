import type { AlertFormat } from "../config";
import type { AlertMessage, Details } from "./alert-conditions";

/**
 * One alert in the shape its receiver takes:
 * - `slack`: a Slack incoming webhook's `{text, blocks}` (api.slack.com/messaging/webhooks). Discord's
 *   Slack-compatible `/slack` endpoint reads `text` and ignores blocks, so `text` says it all alone.
 * - `teams`: a Microsoft Teams Workflows webhook ("Post to a channel when a webhook request is
 *   received"): a message whose one attachment is an Adaptive Card; Workflows take no other card format.
 * - `json`: the documented object below, for anything else (an incident tool, a relay).
 * Pure: no I/O.
 */
export function formatAlert(message: AlertMessage, format: AlertFormat): unknown {
  if (format === "teams") return teamsCard(message);
  if (format === "json") return alertJson(message);
  return slackMessage(message);
}

/** `ALERT_FORMAT=json`: docs/operations.md ("Alerts") documents each field. */
export function alertJson(message: AlertMessage) {
  return {
    source: "orq-identity-bridge",
    id: message.id,
    condition: message.condition,
    state: message.state,
    severity: message.severity,
    started_at: new Date(message.startedAt).toISOString(),
    cleared_at: message.clearedAt === undefined ? null : new Date(message.clearedAt).toISOString(),
    summary: message.summary,
    details: message.details,
    action: message.action,
    link: message.link,
  };
}

const ICON: Record<AlertMessage["severity"], string> = { critical: "🔴", warning: "🟠", info: "🟢" };

function title(message: AlertMessage): string {
  const what = message.state === "test" ? "test alert" : message.state === "cleared" ? "cleared" : message.severity;
  return `${message.state === "test" ? "🔔" : ICON[message.severity]} orq identity bridge: ${what} · ${message.condition}`;
}

function detailLines(details: Details): Array<[string, string]> {
  return Object.entries(details).map(([name, value]) => [name.replaceAll("_", " "), Array.isArray(value) ? value.join(", ") : String(value)]);
}

/**
 * Slack's mrkdwn needs &, < and > escaped (an id like `<!channel>` must not mention anyone); Discord
 * pings on @everyone / @here in the text, so those get a zero-width space.
 */
function mrkdwn(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replace(/@(everyone|here|channel)/gi, "@\u200b$1");
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

function slackMessage(message: AlertMessage) {
  const details = detailLines(message.details);
  const started = `${message.state === "cleared" ? "Started" : "Since"} ${new Date(message.startedAt).toISOString()}`;
  const text = clip(
    mrkdwn([
      `*${title(message)}*`,
      message.summary,
      ...details.map(([name, value]) => `• ${name}: ${value}`),
      started,
      `What to do: ${message.action}`,
      ...(message.link ? [`Status page: ${message.link}`] : []),
    ].join("\n")),
    1900,
  );
  return {
    text,
    blocks: [
      { type: "header", text: { type: "plain_text", text: clip(title(message), 150), emoji: true } },
      { type: "section", text: { type: "mrkdwn", text: clip(mrkdwn(message.summary), 3000) } },
      ...(details.length > 0
        ? [{ type: "section", fields: details.slice(0, 10).map(([name, value]) => ({ type: "mrkdwn", text: clip(mrkdwn(`*${name}*\n${value}`), 2000) })) }]
        : []),
      { type: "section", text: { type: "mrkdwn", text: clip(mrkdwn(`*What to do:* ${message.action}`), 3000) } },
      { type: "context", elements: [{ type: "mrkdwn", text: clip(mrkdwn(`${started}${message.link ? ` · status page: ${message.link}` : ""}`), 2000) }] },
    ],
  };
}

const TEAMS_COLOR: Record<AlertMessage["severity"], string> = { critical: "Attention", warning: "Warning", info: "Good" };

function teamsCard(message: AlertMessage) {
  const facts = [
    ...detailLines(message.details).map(([name, value]) => ({ title: name, value })),
    { title: message.state === "cleared" ? "started" : "since", value: new Date(message.startedAt).toISOString() },
  ];
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body: [
            { type: "TextBlock", text: title(message), weight: "Bolder", size: "Medium", color: message.state === "test" ? "Accent" : TEAMS_COLOR[message.severity], wrap: true },
            { type: "TextBlock", text: message.summary, wrap: true },
            { type: "FactSet", facts },
            { type: "TextBlock", text: `**What to do:** ${message.action}`, wrap: true },
          ],
          ...(message.link && { actions: [{ type: "Action.OpenUrl", title: "Open the status page", url: message.link }] }),
        },
      },
    ],
  };
}
