/**
 * Layer check: every import in src/ must point down the layer table of docs/architecture.md, and
 * only src/runtime may touch the runtime (node:fs, node:process, sockets, `Deno`, `Bun`).
 *
 *   deno run --allow-read scripts/check_layers.ts
 *
 * reads every .ts file under src/ and finds its imports: static `import ... from "x"`,
 * `import "x"`, `export ... from "x"`, `import("x")` with a string literal, and `require("x")`;
 * comments and the insides of strings, templates and regular expressions are masked first, so
 * an import written in a doc comment or a string is not one. Type-only imports count: a type names
 * the layer it comes from. Relative specifiers are resolved to files; npm:, jsr: and other bare
 * specifiers are not checked, except Node built-ins (`node:x` or bare `x`): outside src/runtime
 * only the pure-computation ones in PURE_NODE_MODULES may be imported.
 *
 * Prints every forbidden edge as `file:line imports target (layer A may not import layer B)` and
 * exits 1 when one is not in ALLOWLIST, when an ALLOWLIST entry no longer matches a forbidden edge
 * (so the list only shrinks), when a file belongs to no layer, or when a relative import resolves
 * to no file. Files over 600 lines are listed, not failed.
 */
import * as fs from "node:fs";
import { builtinModules } from "node:module";
import * as path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** A forbidden edge that exists today and is to be removed (file paths as printed: src/...). */
export interface AllowedEdge {
  from: string;
  /** A file (src/...), a Node built-in (node:process) or a runtime global (Deno, Bun). */
  to: string;
  /** Starts with "to be removed: ". */
  why: string;
}

/**
 * Forbidden crossings tolerated for now, each with why and when it goes (none today: the issue
 * "Structure before the cluster" removed the last ones). The check fails when one is gone and
 * still listed. Never add one to silence a new crossing.
 */
export const ALLOWLIST: readonly AllowedEdge[] = [];

/** Node built-ins that compute and touch nothing outside the process: allowed in any layer. */
export const PURE_NODE_MODULES: ReadonlySet<string> = new Set(["buffer", "crypto", "zlib"]);
/** The layer that may touch the file system, the process, sockets and the runtime globals. */
export const RUNTIME_LAYER = "runtime";
/** Globals whose use outside RUNTIME_LAYER is runtime-specific code. */
const RUNTIME_GLOBALS = ["Deno", "Bun"];
export const LINES_REPORT_MIN = 600;

export interface Layer {
  name: string;
  /** Relative to the checked root, without its "src/": "runtime/" (a folder) or "errors.ts". */
  paths: string[];
  /** Layers this one may import besides itself; "any" for the top. */
  mayImport: ReadonlySet<string> | "any";
}

export interface Edge {
  /** src/... */
  file: string;
  line: number;
  /** src/..., node:x or a runtime global. */
  target: string;
  fromLayer: string;
  /** The target's layer; "outside src" for a file outside the root. */
  toLayer: string;
  kind: "import" | "use";
}

export interface CheckResult {
  files: number;
  imports: number;
  forbidden: Edge[];
  allowlisted: Edge[];
  stale: AllowedEdge[];
  /** Files no layer owns, relative imports that resolve to nothing. */
  problems: string[];
  large: { file: string; lines: number }[];
  ok: boolean;
}

export interface CheckOptions {
  /** The source tree; default: this repository's src/. Printed paths start with its basename. */
  root?: string;
  allowlist?: readonly AllowedEdge[];
  /** Default: the table in docs/architecture.md. */
  layers?: Layer[];
}

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const ARCHITECTURE_DOC = path.join(REPO, "docs", "architecture.md");

// ---------------------------------------------------------------------------------------------
// The layer table

/**
 * Reads the table whose header has the columns `layer`, `paths` and `may import`: one row per
 * layer, paths as `src/folder/` or `src/file.ts` separated by commas, may-import as layer names
 * separated by commas, `any`, or `—` for none.
 */
export function parseLayerTable(markdown: string): Layer[] {
  const lines = markdown.split("\n");
  const cells = (line: string) =>
    line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
  const header = lines.findIndex((l) => {
    if (!l.trim().startsWith("|")) return false;
    const names = cells(l).map((c) => c.toLowerCase());
    return names[0] === "layer" && names[1] === "paths" && names[2] === "may import";
  });
  if (header < 0) throw new Error("no table with the columns | layer | paths | may import |");
  const layers: Layer[] = [];
  for (let i = header + 2; i < lines.length && lines[i].trim().startsWith("|"); i++) {
    const [nameCell, pathsCell, importCell] = cells(lines[i]);
    const name = nameCell.replaceAll("`", "").trim();
    const list = (cell: string) =>
      cell.split(",").map((s) => s.replaceAll("`", "").trim()).filter((s) => s !== "");
    const paths = list(pathsCell).map((p) => {
      if (!p.startsWith("src/") || !(p.endsWith("/") || p.endsWith(".ts"))) {
        throw new Error(`layer ${name}: path ${p} is not src/<folder>/ or src/<file>.ts`);
      }
      return p.slice("src/".length);
    });
    const imports = list(importCell);
    const none = imports.length === 0 || (imports.length === 1 && /^[—–-]$/.test(imports[0]));
    layers.push({
      name,
      paths,
      mayImport: imports.length === 1 && imports[0] === "any"
        ? "any"
        : new Set(none ? [] : imports),
    });
  }
  const names = new Set(layers.map((l) => l.name));
  for (const l of layers) {
    if (l.mayImport === "any") continue;
    for (const n of l.mayImport) {
      if (!names.has(n)) throw new Error(`layer ${l.name} may import unknown layer ${n}`);
    }
  }
  if (layers.length === 0) throw new Error("the layer table has no rows");
  return layers;
}

export function loadLayers(doc = ARCHITECTURE_DOC): Layer[] {
  return parseLayerTable(fs.readFileSync(doc, "utf8"));
}

function layerOf(layers: Layer[], rel: string): string | undefined {
  let best: { name: string; length: number } | undefined;
  for (const l of layers) {
    for (const p of l.paths) {
      const hit = p.endsWith("/") ? rel.startsWith(p) : rel === p;
      if (hit && (!best || p.length > best.length)) best = { name: l.name, length: p.length };
    }
  }
  return best?.name;
}

// ---------------------------------------------------------------------------------------------
// Finding imports

/** Keywords after which a `/` starts a regular expression, not a division. */
const REGEX_AFTER = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

/**
 * Two copies of `text`, the same length and with the same newlines: `noComments` has comments
 * blanked; `code` also has the insides of strings, templates and regular expressions blanked
 * (their delimiters kept), so a pattern matched on `code` is real code.
 */
export function maskSource(text: string): { noComments: string; code: string } {
  const nc = text.split("");
  const code = text.split("");
  const blank = (arr: string[], from: number, to: number) => {
    for (let k = from; k < to; k++) if (arr[k] !== "\n") arr[k] = " ";
  };
  /** Brace depth at which each open `${` returns to its template. */
  const templates: number[] = [];
  let depth = 0;
  let i = 0;
  const n = text.length;
  const regexAllowed = (): boolean => {
    let k = i - 1;
    while (k >= 0 && /\s/.test(code[k])) k--;
    if (k < 0) return true;
    const c = code[k];
    if (/[\w$]/.test(c)) {
      let s = k;
      while (s > 0 && /[\w$]/.test(code[s - 1])) s--;
      return REGEX_AFTER.has(text.slice(s, k + 1));
    }
    return !/[)\]}"'`]/.test(c);
  };
  const scanTemplate = () => {
    // i is just past a backtick or a closing `}` of a substitution.
    const start = i;
    while (i < n) {
      if (text[i] === "\\") i += 2;
      else if (text[i] === "`") {
        blank(code, start, i);
        i++;
        return;
      } else if (text[i] === "$" && text[i + 1] === "{") {
        blank(code, start, i);
        i += 2;
        templates.push(depth);
        depth++;
        return;
      } else i++;
    }
    blank(code, start, n);
  };
  while (i < n) {
    const c = text[i];
    if (c === "/" && text[i + 1] === "/") {
      const end = text.indexOf("\n", i);
      const stop = end < 0 ? n : end;
      blank(nc, i, stop);
      blank(code, i, stop);
      i = stop;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? n : end + 2;
      blank(nc, i, stop);
      blank(code, i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      const start = ++i;
      while (i < n && text[i] !== c && text[i] !== "\n") i += text[i] === "\\" ? 2 : 1;
      blank(code, start, Math.min(i, n));
      i++;
    } else if (c === "`") {
      i++;
      scanTemplate();
    } else if (c === "{") {
      depth++;
      i++;
    } else if (c === "}") {
      depth--;
      i++;
      if (templates.length > 0 && templates[templates.length - 1] === depth) {
        templates.pop();
        scanTemplate();
      }
    } else if (c === "/" && regexAllowed()) {
      const start = ++i;
      let inClass = false;
      while (i < n && text[i] !== "\n") {
        if (text[i] === "\\") i++;
        else if (text[i] === "[") inClass = true;
        else if (text[i] === "]") inClass = false;
        else if (text[i] === "/" && !inClass) break;
        i++;
      }
      blank(code, start, Math.min(i, n));
      i++;
    } else i++;
  }
  return { noComments: nc.join(""), code: code.join("") };
}

const IMPORT_PATTERNS = [
  // import x from "m", import { a, type b } from "m", import * as m from "m", import type ...
  /(?<![\w$.])import\s+(?:type\s+)?(?:[\w$]+\s*,\s*)?(?:\{[^}]*\}|\*\s*as\s+[\w$]+|[\w$]+)\s*from\s*(["'])/g,
  // import "m"
  /(?<![\w$.])import\s*(["'])/g,
  // export { a } from "m", export * from "m", export * as m from "m", export type { a } from "m"
  /(?<![\w$.])export\s+(?:type\s+)?(?:\{[^}]*\}|\*(?:\s*as\s+[\w$]+)?)\s*from\s*(["'])/g,
  // import("m"), import(`m`), typeof import("m")
  /(?<![\w$.])import\s*\(\s*(["'`])/g,
  // require("m")
  /(?<![\w$.])require\s*\(\s*(["'`])/g,
];

export interface FoundImport {
  specifier: string;
  line: number;
}

/** Every import with a literal specifier, and every use of a runtime global, with its line. */
export function findImports(text: string): { imports: FoundImport[]; globals: FoundImport[] } {
  const { noComments, code } = maskSource(text);
  const lineStarts = [0];
  for (let k = 0; k < text.length; k++) if (text[k] === "\n") lineStarts.push(k + 1);
  const lineOf = (pos: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const imports: FoundImport[] = [];
  const seen = new Set<number>();
  for (const pattern of IMPORT_PATTERNS) {
    for (const m of code.matchAll(pattern)) {
      const quotePos = m.index + m[0].length - 1;
      if (seen.has(quotePos)) continue;
      seen.add(quotePos);
      const quote = m[1];
      const end = noComments.indexOf(quote, quotePos + 1);
      if (end < 0) continue;
      const specifier = noComments.slice(quotePos + 1, end);
      if (quote === "`" && specifier.includes("${")) continue; // not a literal
      imports.push({ specifier, line: lineOf(m.index) });
    }
  }
  imports.sort((a, b) => a.line - b.line);
  const globals: FoundImport[] = [];
  const globalPattern = new RegExp(`(?<![\\w$])(${RUNTIME_GLOBALS.join("|")})(?![\\w$])`, "g");
  for (const m of code.matchAll(globalPattern)) {
    globals.push({ specifier: m[1], line: lineOf(m.index) });
  }
  return { imports, globals };
}

// ---------------------------------------------------------------------------------------------
// The check

const NODE_BUILTINS = new Set(builtinModules.map((m) => m.replace(/^node:/, "")));

/** "fs" for node:fs, node:fs/promises and bare fs; undefined for anything not a Node built-in. */
function nodeBuiltin(specifier: string): string | undefined {
  const name = specifier.startsWith("node:") ? specifier.slice(5) : specifier;
  if (!specifier.startsWith("node:") && !NODE_BUILTINS.has(name)) return undefined;
  return name.split("/")[0];
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function resolveRelative(fromFile: string, specifier: string): string | undefined {
  const base = specifier.startsWith("file:")
    ? fileURLToPath(specifier)
    : path.resolve(path.dirname(fromFile), specifier);
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, path.join(base, "mod.ts")]) {
    if (isFile(candidate)) return candidate;
  }
  return undefined;
}

function listTsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTsFiles(p));
    else if (entry.isFile() && p.endsWith(".ts")) out.push(p);
  }
  return out.sort();
}

export function checkLayers(options: CheckOptions = {}): CheckResult {
  const root = path.resolve(options.root ?? path.join(REPO, "src"));
  const allowlist = options.allowlist ?? ALLOWLIST;
  const layers = options.layers ?? loadLayers();
  const byName = new Map(layers.map((l) => [l.name, l]));
  const prefix = path.basename(root);
  const show = (abs: string) => {
    const rel = path.relative(root, abs).split(path.sep).join("/");
    return rel.startsWith("..")
      ? path.relative(REPO, abs).split(path.sep).join("/")
      : `${prefix}/${rel}`;
  };
  const relOf = (abs: string) => path.relative(root, abs).split(path.sep).join("/");

  const files = listTsFiles(root);
  const edges: Edge[] = [];
  const problems: string[] = [];
  const large: { file: string; lines: number }[] = [];
  let imports = 0;

  for (const file of files) {
    const text = fs.readFileSync(file, "utf8");
    const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    if (lines > LINES_REPORT_MIN) large.push({ file: show(file), lines });
    const fromLayer = layerOf(layers, relOf(file));
    if (!fromLayer) {
      problems.push(`${show(file)} belongs to no layer: add its folder to the layer table`);
      continue;
    }
    const allowed = byName.get(fromLayer)!.mayImport;
    const found = findImports(text);
    for (const { specifier, line } of found.imports) {
      imports++;
      const builtin = nodeBuiltin(specifier);
      if (builtin !== undefined) {
        if (fromLayer !== RUNTIME_LAYER && !PURE_NODE_MODULES.has(builtin)) {
          edges.push({
            file: show(file),
            line,
            target: specifier,
            fromLayer,
            toLayer: RUNTIME_LAYER,
            kind: "import",
          });
        }
        continue;
      }
      const relative = specifier.startsWith("./") || specifier.startsWith("../") ||
        specifier.startsWith("/") || specifier.startsWith("file:");
      if (!relative) continue; // npm:, jsr:, https:, import-map names: not layers
      const target = resolveRelative(file, specifier);
      if (!target) {
        problems.push(`${show(file)}:${line} imports ${specifier}, which resolves to no file`);
        continue;
      }
      const targetRel = relOf(target);
      const toLayer = targetRel.startsWith("..") ? "outside src" : layerOf(layers, targetRel);
      if (!toLayer) continue; // reported as a file of no layer (if it is .ts)
      if (toLayer === fromLayer) continue;
      if (allowed === "any" ? toLayer !== "outside src" : allowed.has(toLayer)) continue;
      edges.push({
        file: show(file),
        line,
        target: show(target),
        fromLayer,
        toLayer,
        kind: "import",
      });
    }
    if (fromLayer !== RUNTIME_LAYER) {
      for (const { specifier, line } of found.globals) {
        edges.push({
          file: show(file),
          line,
          target: specifier,
          fromLayer,
          toLayer: RUNTIME_LAYER,
          kind: "use",
        });
      }
    }
  }

  const key = (from: string, to: string) => `${from}\u0000${to}`;
  const allowKeys = new Set(allowlist.map((a) => key(a.from, a.to)));
  const forbidden = edges.filter((e) => !allowKeys.has(key(e.file, e.target)));
  const allowlisted = edges.filter((e) => allowKeys.has(key(e.file, e.target)));
  const present = new Set(allowlisted.map((e) => key(e.file, e.target)));
  const stale = allowlist.filter((a) => !present.has(key(a.from, a.to)));
  large.sort((a, b) => b.lines - a.lines);
  return {
    files: files.length,
    imports,
    forbidden,
    allowlisted,
    stale,
    problems,
    large,
    ok: forbidden.length === 0 && stale.length === 0 && problems.length === 0,
  };
}

export function formatEdge(e: Edge): string {
  if (e.toLayer === "outside src") {
    return `${e.file}:${e.line} imports ${e.target} (layer ${e.fromLayer} may not import files ` +
      `outside src/)`;
  }
  const what = e.kind === "use" ? "uses" : "imports";
  const runtimeOnly = e.toLayer === RUNTIME_LAYER && !e.target.includes("/");
  return `${e.file}:${e.line} ${what} ${e.target} (layer ${e.fromLayer} may not import layer ` +
    `${e.toLayer}${runtimeOnly ? `: ${e.target} is for src/${RUNTIME_LAYER} only` : ""})`;
}

export function formatReport(r: CheckResult): string {
  const out: string[] = [];
  out.push(`check_layers: ${r.files} files, ${r.imports} imports`);
  if (r.forbidden.length > 0) {
    out.push(`forbidden imports (${r.forbidden.length}):`);
    for (const e of r.forbidden) out.push(`  ${formatEdge(e)}`);
  }
  if (r.stale.length > 0) {
    out.push(`stale allowlist entries (${r.stale.length}; the edge is gone, delete the entry):`);
    for (const a of r.stale) out.push(`  ${a.from} -> ${a.to}`);
  }
  if (r.problems.length > 0) {
    out.push(`problems (${r.problems.length}):`);
    for (const p of r.problems) out.push(`  ${p}`);
  }
  if (r.allowlisted.length > 0) {
    out.push(`allowlisted, to be removed (${r.allowlisted.length}; ALLOWLIST in this script):`);
    for (const e of r.allowlisted) out.push(`  ${formatEdge(e)}`);
  }
  if (r.large.length > 0) {
    out.push(`files over ${LINES_REPORT_MIN} lines (report only, ${r.large.length}):`);
    for (const f of r.large) out.push(`  ${f.file} ${f.lines}`);
  }
  out.push(r.ok ? "check_layers: ok" : "check_layers: FAILED");
  return out.join("\n");
}

if (import.meta.main) {
  let result: CheckResult;
  try {
    result = checkLayers();
  } catch (err) {
    console.error(`check_layers: ${(err as Error).message}`);
    process.exit(2);
  }
  const report = formatReport(result);
  if (result.ok) console.log(report);
  else console.error(report);
  process.exit(result.ok ? 0 : 1);
}
