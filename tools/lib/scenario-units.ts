/**
 * Units on the command line of `npm run scenario` and `npm run emulator`: rates (`300/min`, `5/s`,
 * a bare number is per minute) and durations (`45s`, `1.5m`, `500ms`, a bare number is seconds).
 * Pure: each returns undefined when the text is not one, so every script reports it its own way.
 */

/** Calls per minute, a positive integer; undefined when `text` is not a rate. */
export function parseRatePerMinute(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(min|m|minute|s|sec|second))?\s*$/i.exec(text);
  if (!match) return undefined;
  const value = Number(match[1]) * (/^s/i.test(match[2] ?? "min") ? 60 : 1);
  return Number.isInteger(value) && value >= 1 ? value : undefined;
}

/** Milliseconds, >= 0; undefined when `text` is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min)?\s*$/i.exec(text);
  if (!match) return undefined;
  const unit = (match[2] ?? "s").toLowerCase();
  const factor = unit === "ms" ? 1 : unit === "s" ? 1_000 : 60_000;
  return Math.round(Number(match[1]) * factor);
}

/** `45 s`, `1.5 s`, `2 min 5 s`: for the report. */
export function formatDuration(ms: number): string {
  if (ms >= 120_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${(ms / 1000).toFixed(1)} s`;
}
