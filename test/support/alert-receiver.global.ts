import type { TestProject } from "vitest/node";
import { startAlertReceiver } from "./fake-alert-receiver";

declare module "vitest" {
  export interface ProvidedContext {
    /** Base URL of the fake alert receiver (test/support/fake-alert-receiver.ts); its control API is under /__receiver. */
    alertReceiverUrl: string;
  }
}

/** One fake alert receiver per project: Slack, Discord (/slack), Teams and JSON endpoints that check what they get. */
export default async function setup(project: TestProject) {
  const receiver = await startAlertReceiver();
  project.provide("alertReceiverUrl", receiver.url);
  return () => receiver.close();
}
