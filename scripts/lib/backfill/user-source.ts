/**
 * The shape every provider's backfill plug-in has: how to list its users through its management
 * API, page by page from a resumable cursor, and how to wrap one listed user in the webhook body
 * the provider would send, so the bridge's own plug-in (src/providers/<name>.ts) maps it.
 */
import type { WebhookProvider } from "../../../src/providers/provider";
import type { ApiContext, ApiFailure } from "./provider-api";

/** A JSON value the source understands and the checkpoint file stores. */
export type Cursor = { readonly [key: string]: string | number | boolean | null };

export interface UserPage {
  ok: true;
  /** Where this page starts: resuming from it lists this page again. */
  cursor: Cursor;
  /** Where the page after this one starts, once every user on this page is done. */
  nextCursor: Cursor;
  /** Users as the management API returns them (the same objects its webhooks carry). */
  users: unknown[];
}

export interface UserSource {
  /** Users to expect, when the provider says; undefined shows progress without a bar. */
  total: number | undefined;
  /**
   * Identifies the account being listed (API URL, tenant; never a secret), so a checkpoint is not
   * resumed against another one.
   */
  identity: string;
  /**
   * Pages from `from` (the start when undefined), in a stable order (oldest users first). A
   * listing that fails for good yields its failure and ends.
   */
  pages(from: Cursor | undefined): AsyncGenerator<UserPage | ApiFailure, void, undefined>;
  /** Removes what the source left on disk (an export file) once the backfill is complete. */
  cleanUp?(): Promise<void>;
}

export type OpenedSource = { ok: true; source: UserSource } | { ok: false; problem: string; interrupted?: boolean };

export interface SourceContext {
  env: Readonly<Record<string, string | undefined>>;
  api: ApiContext;
  /** The checkpoint's cursor when resuming, so the source continues the same way it started. */
  resumeFrom: Cursor | undefined;
  /** Users per listing request; each source caps it at its API's maximum. */
  pageSize: number | undefined;
  /** Where the source may keep files that must survive an interruption (the checkpoint folder). */
  stateDir: string;
  /** Provider-specific choices from the command line, e.g. `auth0-source`. */
  choices: Readonly<Record<string, string | undefined>>;
  /** Operator-facing notes (stderr). */
  note(message: string): void;
  now(): number;
}

export interface BackfillProvider {
  /** Same name as the bridge's plug-in and route. */
  readonly name: string;
  /** The bridge's webhook plug-in whose `normalise` maps the users. */
  readonly webhook: WebhookProvider;
  /** Env variables it reads, for the usage text. */
  readonly envHelp: readonly string[];
  open(context: SourceContext): Promise<OpenedSource>;
  /**
   * The webhook request the provider would send about this user's current state: its parsed body
   * and the delivery id the verifier would have found (for schemes that carry it in a header).
   */
  toWebhook(user: unknown, now: number): { body: unknown; deliveryId: string; userId: string };
}

/** A listed user's id for messages, whatever shape it arrived in. */
export function describeUserId(user: unknown, field: string): string {
  const id = typeof user === "object" && user !== null ? (user as Record<string, unknown>)[field] : undefined;
  return typeof id === "string" && id ? id : "(user without an id)";
}
