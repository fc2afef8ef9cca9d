import { auth0 } from "./auth0";
import { auth0Logs } from "./auth0-logs";
import { clerk } from "./clerk";
import { kinde } from "./kinde";
import { logto } from "./logto";
import { okta } from "./okta";
import { stackAuth } from "./stack-auth";
import { supabase } from "./supabase";
import { standard } from "./standard";
import { workos } from "./workos";
import { zitadel } from "./zitadel";
import type { WebhookProvider } from "./provider";

/** Every provider plug-in the bridge serves, each on `POST /webhooks/<name>`. */
export const providers: readonly WebhookProvider[] = [clerk, auth0, workos, zitadel, logto, stackAuth, standard, kinde, okta, supabase, auth0Logs];
