/**
 * The one Cron Trigger (wrangler.toml) fires every minute: alerts need it (an alert goes out within
 * two minutes of its condition), and one schedule keeps within the Free plan's five Cron Triggers
 * per account. A reconcile cycle starts on the minutes that are multiples of
 * RECONCILE_INTERVAL_MINUTES (on the hour, by default); any other schedule (an hourly `0 * * * *`
 * kept from an older wrangler.toml, or one fired by hand) starts one as before.
 */
export const EVERY_MINUTE = "* * * * *";

export function reconcileDue(controller: Pick<ScheduledController, "cron" | "scheduledTime">, intervalMinutes: number): boolean {
  if (controller.cron !== EVERY_MINUTE) return true;
  return Math.round(controller.scheduledTime / 60_000) % intervalMinutes === 0;
}
