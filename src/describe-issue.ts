import type * as z from "zod";

/** `field.path: message` for the first issue: what a 400 answer or a failure reason names. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  const path = issue.path.map(String).join(".");
  return path ? `${path}: ${issue.message}` : issue.message;
}
