import { auth0 } from "./auth0";
import { clerk } from "./clerk";
import type { WebhookProvider } from "./provider";

/** Every provider plug-in the bridge serves, each on `POST /webhooks/<name>`. */
export const providers: readonly WebhookProvider[] = [clerk, auth0];
