import { userSources } from "../../../src/reconcile/sources/registry";
import { auth0Backfill } from "./auth0-users";
import { backfillFrom } from "./source-listing";
import type { BackfillProvider } from "./user-source";

/** Ways of listing a provider that only a CLI has (Auth0's export job), beside the bridge's own listing. */
const withCliListing: Readonly<Record<string, BackfillProvider>> = { auth0: auth0Backfill };

/** Every provider `npm run backfill -- <name>` can list: each of the bridge's user sources. */
export const backfillProviders: readonly BackfillProvider[] = userSources.map((source) => withCliListing[source.name] ?? backfillFrom(source));
