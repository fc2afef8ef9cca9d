/**
 * `npm run mutate [-- --only "name,name"] [--no-baseline] [--keep]`: proof by mutation. Each
 * breakage of tools/lib/mutate-list.ts is applied to a copy of this working tree (under the
 * system temp directory, node_modules linked; the tree itself is never touched), the test files
 * that guard it are run there, and the mutation is `killed` when they fail, `survived` when they
 * pass. First the same test files run unmutated (the baseline): they must pass, or no verdict
 * means anything. Prints a table; exits 1 if a mutation survived, is stale, or the baseline failed.
 * Slow (one Vitest run per mutation): not part of `npm test`.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseCommandLine, usageError } from "../cli/lib/args";
import { MUTATIONS, type Mutation, type TestRun } from "./lib/mutate-list";

const USAGE = `usage: npm run mutate [-- --only "name,name"] [--no-baseline] [--keep]
  --only         run only these mutations (names as in tools/lib/mutate-list.ts)
  --no-baseline  skip the unmutated run of the same test files
  --keep         keep the copy of the tree (its path is printed)`;

const { values } = parseCommandLine(USAGE, {
  options: {
    only: { type: "string" },
    "no-baseline": { type: "boolean" },
    keep: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  },
});

const root = resolve(import.meta.dirname, "..");
const selected = values.only === undefined ? MUTATIONS : pick(values.only.split(",").map((name) => name.trim()));

function pick(names: string[]): Mutation[] {
  const unknown = names.filter((name) => !MUTATIONS.some((mutation) => mutation.name === name));
  if (unknown.length > 0) usageError(USAGE, `unknown mutation: ${unknown.join(", ")}`);
  return MUTATIONS.filter((mutation) => names.includes(mutation.name));
}

/** The working tree as it is (tracked and untracked files, not ignored ones), node_modules linked. */
function copyTree(): string {
  const copy = mkdtempSync(join(tmpdir(), "bridge-mutate-"));
  const listed = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  for (const file of listed.stdout.split("\0").filter(Boolean)) {
    const from = join(root, file);
    const to = join(copy, file);
    mkdirSync(dirname(to), { recursive: true });
    try {
      cpSync(from, to);
    } catch {
      // deleted in the working tree but still in the index
    }
  }
  symlinkSync(join(root, "node_modules"), join(copy, "node_modules"));
  return copy;
}

interface RunResult {
  passed: boolean;
  seconds: number;
  failed: string;
}

/** Runs the test files, one Vitest run per project; passed = every run exited 0. */
function runTests(copy: string, runs: readonly TestRun[], label: string): RunResult {
  const started = Date.now();
  const failures: string[] = [];
  for (const run of runs) {
    // The workspace files are one Vitest project each (`workspace/<file>`).
    const projects = run.project === "workspace" ? "workspace/*" : run.project;
    const result = spawnSync("npx", ["vitest", "run", "--project", projects, ...run.files], {
      cwd: copy,
      encoding: "utf8",
      timeout: 15 * 60_000,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", CI: "1" },
    });
    // Vitest colours its output whatever the environment says: plain text for the log and the table.
    const output = `${result.stdout}\n${result.stderr}`.replace(/\x1b\[[0-9;]*m/g, "");
    writeFileSync(join(copy, `mutate-${label.replace(/\W+/g, "-")}-${run.project}.log`), output);
    if (result.status !== 0) {
      const count = /Tests\s+(\d+ failed)/.exec(output)?.[1];
      const first = /FAIL\s+.*?>\s*(.+)$/m.exec(output)?.[1]?.trim();
      const summary = count ? `${count}${first ? `, e.g. "${first.slice(0, 90)}"` : ""}` : result.error ? String(result.error.message) : `exit ${result.status}`;
      failures.push(`${run.project}: ${summary}`);
    }
  }
  return { passed: failures.length === 0, seconds: Math.round((Date.now() - started) / 1000), failed: failures.join("; ") };
}

/** Applies the edits; returns the originals to restore, or the edit whose text is not found exactly once. */
function apply(copy: string, mutation: Mutation): { restore: () => void } | { stale: string } {
  const originals = new Map<string, string>();
  for (const edit of mutation.edits) {
    const path = join(copy, edit.file);
    const text = readFileSync(path, "utf8");
    if (!originals.has(path)) originals.set(path, text);
    const count = text.split(edit.find).length - 1;
    if (count !== 1) {
      for (const [file, original] of originals) writeFileSync(file, original);
      return { stale: `${edit.file}: text found ${count} times: ${edit.find.slice(0, 60)}` };
    }
    writeFileSync(path, text.replace(edit.find, () => edit.replace));
  }
  return { restore: () => originals.forEach((original, file) => writeFileSync(file, original)) };
}

const copy = copyTree();
console.log(`mutating a copy of the working tree: ${copy}`);
const rows: Array<{ name: string; verdict: string; seconds: number; detail: string }> = [];
let ok = true;
try {
  if (!values["no-baseline"]) {
    const byProject = new Map<TestRun["project"], Set<string>>();
    for (const mutation of selected) {
      for (const run of mutation.tests) for (const file of run.files) (byProject.get(run.project) ?? byProject.set(run.project, new Set()).get(run.project)!).add(file);
    }
    const baseline = runTests(copy, [...byProject].map(([project, files]) => ({ project, files: [...files] })), "baseline");
    rows.push({ name: "(baseline, unmutated)", verdict: baseline.passed ? "passes" : "FAILS", seconds: baseline.seconds, detail: baseline.failed });
    console.log(`baseline: ${baseline.passed ? "passes" : `FAILS (${baseline.failed})`} in ${baseline.seconds} s`);
    if (!baseline.passed) ok = false;
  }
  for (const mutation of ok ? selected : []) {
    const applied = apply(copy, mutation);
    if ("stale" in applied) {
      rows.push({ name: mutation.name, verdict: "STALE", seconds: 0, detail: applied.stale });
      ok = false;
      console.log(`${mutation.name}: STALE (${applied.stale})`);
      continue;
    }
    try {
      const result = runTests(copy, mutation.tests, mutation.name);
      rows.push({ name: mutation.name, verdict: result.passed ? "SURVIVED" : "killed", seconds: result.seconds, detail: result.passed ? mutation.breaks : result.failed });
      if (result.passed) ok = false;
      console.log(`${mutation.name}: ${result.passed ? "SURVIVED" : "killed"} in ${result.seconds} s`);
    } finally {
      applied.restore();
    }
  }
} finally {
  if (!values.keep) rmSync(copy, { recursive: true, force: true });
}

const width = Math.max(...rows.map((row) => row.name.length));
console.log(`\n| ${"mutation".padEnd(width)} | verdict  | time  | tests that failed (or what survived) |`);
console.log(`|${"-".repeat(width + 2)}|----------|-------|--------------------------------------|`);
for (const row of rows) console.log(`| ${row.name.padEnd(width)} | ${row.verdict.padEnd(8)} | ${`${row.seconds} s`.padStart(5)} | ${row.detail} |`);
const killed = rows.filter((row) => row.verdict === "killed").length;
console.log(`\n${killed} of ${selected.length} mutations killed${ok ? "" : ": NOT all (see above)"}`);
process.exit(ok ? 0 : 1);
