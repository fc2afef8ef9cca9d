import type { AlertSettings } from "../config";
import { isTimeout, withTimeout } from "../with-timeout";
import type { AlertMessage } from "./alert-conditions";
import { formatAlert } from "./alert-formats";

export const ALERT_TIMEOUT_MS = 10_000;

/** `problem` names a status or an error class: never the URL, which holds the endpoint's token. */
export type SendResult = { ok: true; status: number } | { ok: false; status?: number; problem: string };

/** Posts one alert to ALERT_WEBHOOK_URL in its format; any 2xx is sent (Slack 200 "ok", Teams Workflows 202). */
export async function postAlert(settings: AlertSettings, message: AlertMessage, fetchImpl: typeof fetch = fetch): Promise<SendResult> {
  if (!settings.url) return { ok: false, problem: "ALERT_WEBHOOK_URL is not set" };
  const url = settings.url;
  try {
    const response = await withTimeout(ALERT_TIMEOUT_MS, async (signal) => {
      const answer = await fetchImpl(url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "orq-identity-bridge" },
        body: JSON.stringify(formatAlert(message, settings.format)),
        signal,
        redirect: "manual",
      });
      await answer.body?.cancel();
      return answer;
    });
    if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
    return { ok: false, status: response.status, problem: `the alert endpoint answered ${response.status}` };
  } catch (error) {
    return { ok: false, problem: isTimeout(error) ? `no answer within ${ALERT_TIMEOUT_MS / 1000} s` : `network error (${(error as Error)?.name ?? "Error"})` };
  }
}
