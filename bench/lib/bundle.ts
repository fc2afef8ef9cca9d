/**
 * Bundle size: what `wrangler deploy --dry-run --outdir` produces (the exact upload), minified
 * bytes and gzip -9 bytes of its code files (source maps and wrangler's README excluded).
 */
import { execFile, execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { removeTempDir } from "./cleanup";
import { WRANGLER } from "./paths";
import { snapshotWorker, type WorkerSpec } from "./wrangler-dev";

export interface BundleSize {
  label: string;
  minifiedBytes: number;
  gzipBytes: number;
}

const CODE_FILE = /\.(m?js|cjs|wasm)$/;

export async function measureBundle(spec: Pick<WorkerSpec, "label" | "files" | "workDir" | "nodeModules">): Promise<BundleSize> {
  const { dir, workDir } = snapshotWorker(spec);
  try {
    const outdir = join(dir, "out");
    await promisify(execFile)(WRANGLER, ["deploy", "--dry-run", "--outdir", outdir], {
      cwd: workDir,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
      maxBuffer: 16 * 1024 * 1024,
    });
    let minifiedBytes = 0;
    let gzipBytes = 0;
    for (const name of readdirSync(outdir, { recursive: true }) as string[]) {
      if (!CODE_FILE.test(name)) continue;
      const code = readFileSync(join(outdir, name));
      minifiedBytes += code.length;
      // The gzip command, as BENCHMARKS.md and the budget test measure (one figure everywhere;
      // Node's zlib at level 9 writes a slightly different stream).
      gzipBytes += execFileSync("gzip", ["-9", "-c", join(outdir, name)], { maxBuffer: 64 * 1024 * 1024 }).length;
    }
    if (minifiedBytes === 0) throw new Error(`${spec.label}: wrangler produced no code in ${outdir}`);
    return { label: spec.label, minifiedBytes, gzipBytes };
  } finally {
    removeTempDir(dir);
  }
}
