/**
 * The shape every provider of `npm run connect` exports: how to reach its management API from
 * environment variables, and how to register, find and remove the bridge's webhook there.
 * Everything provider-specific lives in `providers/<name>.ts`.
 */
import { randomBytes } from "node:crypto";
import type { SampleProviderName } from "../../../signing/sample-webhooks";
import type { ClientOptions, ManagementApi, SecretMask } from "./management-api";

export interface ConnectContext {
  api: ManagementApi;
  /** `<bridge>/webhooks/<route>`: what the provider will POST to. */
  webhookUrl: string;
  dryRun: boolean;
  mask: SecretMask;
  print(line: string): void;
  /**
   * The secret for providers where the bridge chooses it: the one the bridge already has when it
   * is known here (the environment, or .dev.vars with --local), so a re-run changes nothing;
   * otherwise 32 new random bytes.
   */
  bridgeSecret(): string;
  /** The bridge's secret when it is known here (the environment, or .dev.vars with --local); never generates. */
  knownBridgeSecret(): string | undefined;
}

export interface Registration {
  /** The provider's id for the webhook (stream, hook, endpoint, target…); `(new)` in a dry run. */
  id: string;
  action: "created" | "updated";
  /** The secret the bridge must verify with: generated here, or taken from the provider's answer. */
  secret?: string;
  /** Plain (not secret) variables the bridge needs, stored like the secret (Kinde: KINDE_ISSUER_URL). */
  vars?: Record<string, string>;
  /** Extra steps done (Okta verify, ZITADEL executions, …), one line each. */
  notes?: string[];
}

export interface TestDelivery {
  ok: boolean;
  /** What the provider said about its test delivery. */
  found: string;
}

export interface Connector {
  /** The name on the command line. */
  name: string;
  /** The bridge route it delivers to (`/webhooks/<route>`). */
  route: SampleProviderName;
  /** The bridge's env binding for the secret; undefined when there is none to store (Kinde). */
  secretBinding?: string;
  /** Exactly the event types the bridge handles for this provider (src/providers/<route>.ts). */
  events: readonly string[];
  /** The environment variables it reads, one line each, for --help and docs/configuration.md. */
  envHelp: readonly string[];
  /** The management API client from the environment, or the problem (a missing variable). */
  client(env: NodeJS.ProcessEnv, options: ClientOptions): Promise<ManagementApi | { problem: string }>;
  /** Finds the bridge's webhook by URL: updates it, or creates one. */
  register(context: ConnectContext): Promise<Registration>;
  /**
   * Steps that need the bridge to hold the secret already (Okta's verify handshake): run after it
   * is stored. Returns one line per step done; throws when one fails.
   */
  activate?(context: ConnectContext, registration: Registration): Promise<string[]>;
  /** Deletes every webhook pointing at the URL; returns their ids. */
  remove(context: ConnectContext): Promise<string[]>;
  /** Asks the provider to send its own test event to the webhook, where it has such a call. */
  sendTest?(context: ConnectContext, registration: Registration): Promise<TestDelivery>;
}

/** A secret the bridge chooses: 32 random bytes, hex (64 characters, comfortably over the bridge's 16-character minimum). */
export function generateSecret(): string {
  return randomBytes(32).toString("hex");
}

/** Pages through a cursor-paginated list until `next` gives no cursor. */
export async function collectPages<T>(fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; next: string | undefined }>, maxPages = 100): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const { items, next } = await fetchPage(cursor);
    all.push(...items);
    if (!next) return all;
    cursor = next;
  }
  throw new Error(`more than ${maxPages} pages of webhooks: giving up`);
}
