import { auth0Backfill } from "./auth0-users";
import { clerkBackfill } from "./clerk-users";
import type { BackfillProvider } from "./user-source";

/** Every provider `npm run backfill -- <name>` can list; each name matches a bridge plug-in. */
export const backfillProviders: readonly BackfillProvider[] = [clerkBackfill, auth0Backfill];
