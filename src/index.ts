import { app } from "./app";

export { OrqGate } from "./deliver/orq-gate";
export { BridgeStatus } from "./record/bridge-status";
export { IdentitySync } from "./record/identity-sync";

export default app;
