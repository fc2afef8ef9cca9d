import type { TestProject } from "vitest/node";
import { startDevServer } from "../node/dev-server";

declare module "vitest" {
  export interface ProvidedContext {
    /** Base URL of the bridge under `wrangler dev` (node project), delivering to `orqUrl`. */
    bridgeUrl: string;
  }
}

/**
 * One `wrangler dev` bridge for the whole node project, pointed at the emulator that
 * orq-emulator.global.ts started (it must come first in `globalSetup`). Tests use unique user ids.
 */
export default async function setup(project: TestProject) {
  const { orqUrl } = project.getProvidedContext();
  if (!orqUrl) throw new Error("wrangler-dev.global.ts needs orqUrl: list orq-emulator.global.ts before it in globalSetup");
  const server = await startDevServer({ orqUrl });
  project.provide("bridgeUrl", server.url);
  return async () => {
    if (process.env.BRIDGE_LOGS) console.log(server.logs());
    await server.close();
  };
}
