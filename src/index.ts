import { app } from "./app";

export { BridgeStatus } from "./record/bridge-status";
export { IdentitySync } from "./record/identity-sync";

export default app;
