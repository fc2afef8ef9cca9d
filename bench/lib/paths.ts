import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (bench/lib/../..). */
export const PROJECT_DIR = fileURLToPath(new URL("../../", import.meta.url));
export const BENCH_DIR = join(PROJECT_DIR, "bench");
export const NOOP_DIR = join(BENCH_DIR, "noop-worker");
export const PEER_DIR = join(BENCH_DIR, "peer-official-sdk");
export const WRANGLER = join(PROJECT_DIR, "node_modules", ".bin", "wrangler");
export const TSX = join(PROJECT_DIR, "node_modules", ".bin", "tsx");

/**
 * The bridge being measured: this repository, or a copy named by BENCH_BRIDGE_DIR (to measure a
 * candidate change before/after without touching the working tree).
 */
export const BRIDGE_DIR = process.env.BENCH_BRIDGE_DIR ? join(process.env.BENCH_BRIDGE_DIR) : PROJECT_DIR;
