/** Reported by GET /health; a test keeps it equal to package.json's version. */
export const BRIDGE_VERSION = "0.1.0";
