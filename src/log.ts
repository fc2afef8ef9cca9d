/**
 * One structured JSON line per webhook and per orq.ai attempt. Callers pass ids, types,
 * statuses and timings only: never an email, a name or a secret.
 */
export type LogFields = Record<string, string | number | boolean | undefined>;

export function logLine(fields: LogFields): void {
  console.log(JSON.stringify(fields));
}
