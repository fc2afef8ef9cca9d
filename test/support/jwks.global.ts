import type { TestProject } from "vitest/node";
import { startJwksServer } from "./jwks-server";

declare module "vitest" {
  export interface ProvidedContext {
    /** KINDE_ISSUER_URL for the worker tests: an issuer on the local JWKS server (jwks-server.ts). */
    kindeIssuerUrl: string;
  }
}

/**
 * One local JWKS server per test project, standing in for `https://<subdomain>.kinde.com`.
 * workerd reaches it over plain HTTP on 127.0.0.1, like the orq.ai emulator. Tests register the
 * public keys they sign with (`PUT /__jwks/keys?issuer=…`); each test file or test may use its own
 * issuer path so their key sets and fetch counts stay apart.
 */
export default async function setup(project: TestProject) {
  const server = await startJwksServer();
  project.provide("kindeIssuerUrl", `${server.url}/kinde-suite`);
  return () => server.close();
}
