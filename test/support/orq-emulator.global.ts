import type { TestProject } from "vitest/node";
import { startOrqEmulator } from "../../emulator/orq-emulator";

declare module "vitest" {
  export interface ProvidedContext {
    orqUrl: string;
  }
}

/** One orq.ai emulator per test project; tests scope their users (and faults) by id prefix. */
export default async function setup(project: TestProject) {
  const emulator = await startOrqEmulator({ port: 0, quiet: true });
  project.provide("orqUrl", emulator.url);
  return () => emulator.close();
}
