/**
 * The shape every provider's backfill has: its users listed page by page from a resumable cursor
 * (by the bridge's own source, src/reconcile/sources/, unless the CLI has a way of its own such as
 * Auth0's export job), and each listed user wrapped in the webhook body the provider would send,
 * so the bridge's plug-in (src/providers/<name>.ts) maps it.
 */
import type { WebhookProvider } from "../../../src/providers/provider";
import type { Cursor, UserPage } from "../../../src/reconcile/user-source";
import type { ApiContext } from "./source-listing";

export type { Cursor, UserPage };

export interface ListingFailure {
  ok: false;
  status?: number;
  reason: string;
  /** The operator pressed Ctrl-C (or the caller aborted): not the API's fault. */
  interrupted: boolean;
}

export interface BackfillListing {
  /** Users to expect, when the provider says; undefined shows progress without a bar. */
  total: number | undefined;
  /**
   * Identifies the account being listed (API URL, tenant; never a secret), so a checkpoint is not
   * resumed against another one.
   */
  identity: string;
  /**
   * Pages from where the listing was opened (`SourceContext.resumeFrom`), oldest users first. A
   * listing that fails for good yields its failure and ends.
   */
  pages(): AsyncGenerator<UserPage | ListingFailure, void, undefined>;
  /** Removes what the listing left on disk (an export file) once the backfill is complete. */
  cleanUp?(): Promise<void>;
}

export type OpenedSource = { ok: true; source: BackfillListing } | { ok: false; problem: string; interrupted?: boolean };

export interface SourceContext {
  env: Readonly<Record<string, string | undefined>>;
  api: ApiContext;
  /** The checkpoint's cursor when resuming, so the listing continues the same way it started. */
  resumeFrom: Cursor | undefined;
  /** Users per listing request; each source caps it at its API's maximum. */
  pageSize: number | undefined;
  /** Where the listing may keep files that must survive an interruption (the checkpoint folder). */
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
