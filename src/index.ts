import { app } from "./app";

export { DeliveryScheduler } from "./deliver/delivery-scheduler";
export { BridgeStatus } from "./record/bridge-status";
export { IdentitySync } from "./record/identity-sync";

export default app;
