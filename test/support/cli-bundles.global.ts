import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** Folder holding `doctor.mjs` and `connect.mjs`: the operator's commands built once for this run (see below). */
    cliBundleDir: string;
  }
}

const PROJECT_DIR = fileURLToPath(new URL("../../", import.meta.url));
/** Inside the project, so the bundles' imports of packages resolve from its node_modules as the sources' do. */
const OUT_DIR = fileURLToPath(new URL("../../node_modules/.cache/bridge-test-cli/", import.meta.url));

/**
 * Each source keeps its own `import.meta.url` (and `import.meta.dirname`): the commands find the
 * project, `.dev.vars` and the fixtures relative to their own file, as they do under tsx.
 */
const keepModuleLocation: Plugin = {
  name: "keep-module-location",
  setup(builder) {
    builder.onLoad({ filter: /\.ts$/ }, (args) => ({
      contents: readFileSync(args.path, "utf8")
        .replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href))
        .replaceAll("import.meta.dirname", JSON.stringify(fileURLToPath(new URL(".", pathToFileURL(args.path))).replace(/\/$/, ""))),
      loader: "ts",
    }));
  },
};

/**
 * `npm run doctor` and `npm run connect` are run as child processes by the tests, about seventy
 * times. Under tsx each start costs about 1.1 s of CPU (its loader thread, then the module graph);
 * the same sources bundled once here (packages left as imports) start in about 0.4 s. The code run
 * is the commands' own: the same entry files, nothing stubbed.
 */
export default async function setup(project: TestProject) {
  await build({
    entryPoints: ["cli/doctor.ts", "cli/connect.ts"].map((entry) => `${PROJECT_DIR}${entry}`),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outdir: OUT_DIR,
    outExtension: { ".js": ".mjs" },
    plugins: [keepModuleLocation],
    logLevel: "warning",
  });
  project.provide("cliBundleDir", OUT_DIR);
}
