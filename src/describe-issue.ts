import * as z from "zod/mini";
import { en } from "zod/locales";

// zod/mini ships without messages; English ones make 400 answers and failure reasons readable.
z.config(en());

/** `field.path: message` for the first issue: what a 400 answer or a failure reason names. */
export function describeIssue(error: z.core.$ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  const path = issue.path.map(String).join(".");
  return path ? `${path}: ${issue.message}` : issue.message;
}
