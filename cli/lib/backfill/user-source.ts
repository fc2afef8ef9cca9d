/**
 * The shape every provider's backfill has: the bridge's user source (src/reconcile/sources/), whose
 * `toListedChange` mapping and listing the reconcile engine uses, and a way to open its listing
 * from a resumable cursor (by the source itself, unless the CLI has a way of its own such as
 * Auth0's export job) with the waits a CLI can afford.
 */
import type { Cursor, UserPage, UserSource } from "../../../src/reconcile/user-source";
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
   * A cursor that opens this same listing again from its beginning (an export job's file), kept in
   * the checkpoint; undefined when a new listing is as good (the API's own pages).
   */
  start: Cursor | undefined;
  /**
   * One page from `cursor` (undefined: the beginning), oldest users first, waiting out rate limits
   * and retrying what can be retried; a failure is final (or an interruption).
   */
  listPage(cursor: Cursor | undefined): Promise<UserPage | ListingFailure>;
  /** Whether the provider answers "no such user" for this id (a deletion's confirmation), with the same waits. */
  confirmGone(userId: string): Promise<{ ok: true; gone: boolean; requests: number } | ListingFailure>;
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
  /** The bridge's user source: the reconcile engine maps its users (`toListedChange`) and confirms deletions with it. */
  readonly source: UserSource;
  /** Env variables it reads, for the usage text. */
  readonly envHelp: readonly string[];
  /**
   * Opens the listing where `context.resumeFrom` says, reading the first page right away so wrong
   * credentials stop the backfill before it starts.
   */
  open(context: SourceContext): Promise<OpenedSource>;
}
