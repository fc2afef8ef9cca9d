/**
 * The documentation stays true to the code, statically (nothing is started here):
 *
 * - docs/configuration.md lists every variable the Worker or a command reads, each exactly once,
 *   and nothing that nothing reads. "Read" is gathered from the code itself: what `parseConfig`
 *   asks its env for (its settings, ORQ_BUDGETS, every provider plug-in's secret binding), the user
 *   sources' `envVariables`, the Env interface of src/bindings.d.ts, the `envHelp` lines the
 *   commands print, and a scan of the project's code (all but the tests and examples/) for
 *   `env.NAME`, `env["NAME"]`, `process.env.NAME`, `fn(env, "NAME")`, `tenantFromEnv(env, "PREFIX")`
 *   (PREFIX_DOMAIN, PREFIX_BASE_URL) and `…FromEnv("NAME")`. Durable Object bindings declared in a
 *   wrangler.toml are not variables.
 * - Every relative link in the project's Markdown (README, CHANGELOG, BENCHMARKS, docs/, examples/,
 *   any other *.md outside node_modules and the tests) names a file or folder that exists, and a
 *   `#anchor` into a Markdown file names one of its headings (GitHub's slugs); the README links every
 *   page of docs/, BENCHMARKS.md and CHANGELOG.md.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CONNECTORS } from "../../cli/lib/connect/providers/index";
import { parseConfig } from "../../src/config";
import { providers } from "../../src/providers/registry";
import { userSources } from "../../src/reconcile/sources/registry";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CONFIGURATION_PAGE = "docs/configuration.md";

/** Never part of the project's own code or docs. */
const SKIPPED_DIRS = new Set(["node_modules", ".git", "dist", ".wrangler", "coverage", ".backfill"]);

function walk(dir: string, keep: (path: string) => boolean): string[] {
  const found: string[] = [];
  for (const name of readdirSync(join(ROOT, dir)).sort()) {
    if (SKIPPED_DIRS.has(name)) continue;
    const path = dir ? `${dir}/${name}` : name;
    if (statSync(join(ROOT, path)).isDirectory()) found.push(...walk(path, keep));
    else if (keep(path)) found.push(path);
  }
  return found;
}

const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

// ---------------------------------------------------------------------------------------------------------------
// Variables
// ---------------------------------------------------------------------------------------------------------------

const NAME = "[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+";
const QUOTE = "[\"'`]";
const READ_PATTERNS = [
  // env.NAME, env?.NAME, process.env.NAME, c.env.NAME, options.env.NAME
  new RegExp(`\\benv\\??\\.(${NAME})\\b`, "g"),
  // env["NAME"]
  new RegExp(`\\benv\\[\\s*${QUOTE}(${NAME})${QUOTE}\\s*\\]`, "g"),
  // envValue(env, "NAME"), readBinding(env, "NAME"), baseUrlFrom(env, "NAME", …)
  new RegExp(`\\(\\s*(?:[\\w.]+\\.)?env\\s*,\\s*${QUOTE}(${NAME})${QUOTE}`, "g"),
  // numberFromEnv("NAME", …)
  new RegExp(`\\w*FromEnv\\(\\s*${QUOTE}(${NAME})${QUOTE}`, "g"),
];
/** `tenantFromEnv(env, "OKTA", …)` reads OKTA_DOMAIN and OKTA_BASE_URL. */
const TENANT_PATTERN = new RegExp(`\\btenantFromEnv\\(\\s*(?:[\\w.]+\\.)?env\\s*,\\s*${QUOTE}([A-Z][A-Z0-9]*)${QUOTE}`, "g");

/** The project's code: everything but the tests (their shared support code included) and the examples users copy. */
const codeFiles = walk("", (path) => /\.(ts|mts|js|mjs|cjs)$/.test(path) && !path.endsWith(".d.ts") && !/\.tmp\.\w+$/.test(path))
  .filter((path) => !path.startsWith("examples/") && (!path.startsWith("test/") || path.startsWith("test/support/")));

/** Durable Object bindings (`[[durable_objects.bindings]] name = "…"`) of every Worker in the project. */
const durableObjectBindings = new Set(
  walk("", (path) => path.endsWith("wrangler.toml")).flatMap((path) =>
    [...read(path).matchAll(/\[\[durable_objects\.bindings\]\][^[]*?\bname\s*=\s*"([A-Z0-9_]+)"/g)].map((match) => match[1]!),
  ),
);

function scannedReads(): Map<string, string[]> {
  const reads = new Map<string, string[]>();
  const add = (name: string, file: string) => {
    if (durableObjectBindings.has(name)) return;
    reads.set(name, [...new Set([...(reads.get(name) ?? []), file])]);
  };
  for (const file of codeFiles) {
    const text = read(file);
    for (const pattern of READ_PATTERNS) for (const match of text.matchAll(pattern)) add(match[1]!, file);
    for (const match of text.matchAll(TENANT_PATTERN)) {
      add(`${match[1]}_DOMAIN`, file);
      add(`${match[1]}_BASE_URL`, file);
    }
  }
  return reads;
}

/** Every key `parseConfig` looks up: its settings, ORQ_BUDGETS and each provider plug-in's `configure`. */
function configReads(): string[] {
  const asked = new Set<string>();
  const env = new Proxy({} as Record<string, unknown>, {
    get: (_target, key) => (typeof key === "string" && asked.add(key), undefined),
    has: (_target, key) => (typeof key === "string" && asked.add(key), false),
  });
  parseConfig(env);
  return [...asked];
}

/** The Env interface of src/bindings.d.ts (a declaration file: read as text). */
function declaredBindings(): string[] {
  const body = /interface Env \{([\s\S]*?)\n\s*\}/.exec(read("src/bindings.d.ts"))?.[1];
  if (!body) throw new Error("src/bindings.d.ts has no `interface Env { … }`");
  return [...body.matchAll(/^\s*([A-Z][A-Z0-9_]*)\??\s*:/gm)].map((match) => match[1]!);
}

/** The names an `envHelp` line starts with: `AUTH0_DOMAIN   …`, `A, B   …`, `A / B   …`. */
function envHelpNames(lines: readonly string[]): string[] {
  return lines.flatMap((line) => {
    const head = new RegExp(`^(${NAME}(?:\\s*[,/]\\s*${NAME})*)\\s`).exec(line)?.[1];
    return head ? head.split(/\s*[,/]\s*/) : [];
  });
}

const helpNames = [...Object.values(CONNECTORS).flatMap((connector) => envHelpNames(connector.envHelp)), ...userSources.flatMap((source) => envHelpNames(source.envHelp))];

/** Every variable the code reads, with where it was found. */
function variablesRead(): Map<string, string[]> {
  const reads = scannedReads();
  const add = (name: string, where: string) => reads.set(name, [...new Set([...(reads.get(name) ?? []), where])]);
  for (const name of configReads()) add(name, "src/config.ts parseConfig");
  for (const provider of providers) add(provider.secretBinding, `src/providers (${provider.name}.secretBinding)`);
  for (const source of userSources) for (const name of source.envVariables) add(name, `src/reconcile/sources (${source.name}.envVariables)`);
  for (const name of declaredBindings()) add(name, "src/bindings.d.ts");
  for (const name of helpNames) add(name, "an envHelp line");
  return reads;
}

interface DocumentedRow {
  names: string[];
  cells: string[];
  line: number;
}

/** Table rows of the configuration page whose first cell names variables: `` `A` `` or `` `A`, `B` ``. */
function documentedRows(): DocumentedRow[] {
  const rows: DocumentedRow[] = [];
  read(CONFIGURATION_PAGE)
    .split("\n")
    .forEach((text, index) => {
      if (!text.startsWith("|")) return;
      const cells = text.replace(/^\|/, "").replace(/\|\s*$/, "").split(/(?<!\\)\|/).map((cell) => cell.trim());
      const first = cells[0] ?? "";
      if (!new RegExp(`^\`${NAME}\`(\\s*,\\s*\`${NAME}\`)*$`).test(first)) return;
      rows.push({ names: [...first.matchAll(new RegExp(`\`(${NAME})\``, "g"))].map((match) => match[1]!), cells, line: index + 1 });
    });
  return rows;
}

describe(`${CONFIGURATION_PAGE}: one configuration reference`, () => {
  const reads = variablesRead();
  const rows = documentedRows();
  const documented = rows.flatMap((row) => row.names);

  it("finds what the code reads (the scan and the imports work)", () => {
    // A handful of names each way of reading must find, so a broken scan cannot pass silently.
    for (const name of ["ORQ_API_KEY", "RECONCILE_SUBREQUESTS", "ORQ_BUDGETS", "KINDE_ISSUER_URL", "CLERK_SECRET_KEY", "OKTA_DOMAIN", "LOGTO_M2M_APP_ID", "BENCH_BURST", "CONNECT_WRANGLER", "BRIDGE_URL"]) {
      expect(reads.has(name), name).toBe(true);
    }
    for (const binding of ["IDENTITY_SYNC", "ORQ_SCHEDULER", "BRIDGE_STATUS"]) expect(reads.has(binding), binding).toBe(false);
    expect(rows.length).toBeGreaterThan(40);
  });

  it("lists every variable the Worker or a command reads", () => {
    const missing = [...reads.entries()].filter(([name]) => !documented.includes(name)).map(([name, where]) => `${name} (read in ${where.join(", ")})`);
    expect(missing, `add these to ${CONFIGURATION_PAGE}`).toEqual([]);
  });

  it("lists no variable that nothing reads", () => {
    const unread = documented.filter((name) => !reads.has(name));
    expect(unread, `nothing reads these; remove them from ${CONFIGURATION_PAGE}`).toEqual([]);
  });

  it("lists each variable exactly once, with a default, a meaning and who reads it", () => {
    const twice = documented.filter((name, index) => documented.indexOf(name) !== index);
    expect(twice, "listed more than once").toEqual([]);
    for (const row of rows) {
      expect(row.cells, `${CONFIGURATION_PAGE}:${row.line}: variable | kind | default | meaning | used by`).toHaveLength(5);
      const [, kind, fallback, meaning, usedBy] = row.cells;
      for (const [column, value] of Object.entries({ kind, default: fallback, meaning, "used by": usedBy })) {
        expect(value, `${CONFIGURATION_PAGE}:${row.line}: ${column} of ${row.names.join(", ")}`).not.toBe("");
      }
    }
  });

  it("every name a command's --help lists is one it reads", () => {
    const scanned = scannedReads();
    const unread = helpNames.filter((name) => !scanned.has(name));
    expect(unread).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Links
// ---------------------------------------------------------------------------------------------------------------

/** Markdown outside code: fenced blocks and inline code spans blanked (line numbers kept). */
function withoutCode(markdown: string): string {
  let fence: string | undefined;
  return markdown
    .split("\n")
    .map((line) => {
      const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
      if (fence) {
        if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
        return "";
      }
      if (marker) {
        fence = marker;
        return "";
      }
      return line.replace(/(`+)(?:(?!\1)[\s\S])*?\1/g, (span) => " ".repeat(span.length));
    })
    .join("\n");
}

/** GitHub's heading ids: the rendered text, lower-cased, punctuation dropped, spaces to hyphens; repeats get -1, -2, … */
function headingSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>();
  const counts = new Map<string, number>();
  let fence: string | undefined;
  for (const line of markdown.split("\n")) {
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      continue;
    }
    if (marker) {
      fence = marker;
      continue;
    }
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const text = heading
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/<[^>]+>/g, "")
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replace(/ /g, "-");
    const seen = counts.get(text) ?? 0;
    counts.set(text, seen + 1);
    slugs.add(seen === 0 ? text : `${text}-${seen}`);
  }
  for (const match of markdown.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) slugs.add(match[1]!);
  return slugs;
}

interface Link {
  file: string;
  line: number;
  target: string;
}

function relativeLinks(file: string): Link[] {
  const text = withoutCode(read(file));
  const links: Link[] = [];
  const lineOf = (offset: number) => text.slice(0, offset).split("\n").length;
  // [text](target "title") and ![alt](target); the text may hold one level of brackets.
  for (const match of text.matchAll(/!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+"[^"]*")?\s*\)/g)) {
    links.push({ file, line: lineOf(match.index), target: match[1]!.replace(/^<|>$/g, "") });
  }
  // [label]: target
  for (const match of text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*(\S+)/gm)) links.push({ file, line: lineOf(match.index), target: match[1]! });
  return links.filter((link) => !/^[a-z][a-z0-9+.-]*:/i.test(link.target));
}

const markdownFiles = walk("", (path) => path.endsWith(".md")).filter((path) => !path.startsWith("test/"));

function brokenLink(link: Link): string | undefined {
  const [pathPart = "", anchor] = link.target.split("#", 2);
  const path = decodeURIComponent(pathPart);
  const target = path === "" ? link.file : relative(ROOT, resolve(ROOT, dirname(link.file), path));
  if (target.startsWith("..")) return "points outside the repository";
  if (!existsSync(join(ROOT, target))) return `${target} does not exist`;
  if (anchor === undefined || anchor === "") return undefined;
  if (!target.endsWith(".md")) return undefined;
  const slugs = headingSlugs(read(target));
  return slugs.has(decodeURIComponent(anchor).toLowerCase()) ? undefined : `${target} has no heading #${anchor}`;
}

describe("relative links in the Markdown files resolve", () => {
  it("covers the README, CHANGELOG, BENCHMARKS and docs/", () => {
    for (const file of ["README.md", "CHANGELOG.md", "BENCHMARKS.md", CONFIGURATION_PAGE]) expect(markdownFiles).toContain(file);
    expect(markdownFiles.filter((file) => file.startsWith("docs/")).length).toBeGreaterThan(10);
  });

  it("the README links every page of docs/ and the top-level pages", () => {
    const linked = new Set(relativeLinks("README.md").map((link) => link.target.split("#")[0]));
    const pages = [...markdownFiles.filter((file) => file.startsWith("docs/")), "BENCHMARKS.md", "CHANGELOG.md"];
    expect(pages.filter((page) => !linked.has(page))).toEqual([]);
  });

  it("slugs headings as GitHub does", () => {
    const slugs = headingSlugs("# Check a bridge: `npm run doctor`\n## Self-healing: orq.ai equals your users\n## Logs\n## Logs\n```\n# not a heading\n```\n");
    expect([...slugs]).toEqual(["check-a-bridge-npm-run-doctor", "self-healing-orqai-equals-your-users", "logs", "logs-1"]);
  });

  for (const file of markdownFiles) {
    it(file, () => {
      const broken = relativeLinks(file).flatMap((link) => {
        const problem = brokenLink(link);
        return problem ? [`${link.file}:${link.line}: (${link.target}) ${problem}`] : [];
      });
      expect(broken).toEqual([]);
    });
  }
});
