/**
 * The differential test's allow-list (see differential_lib.ts): each case's result, the known
 * differences (each naming its row of docs/kafka_differences.md) and the verdict over a run.
 */
import { inRange } from "../../src/kafka_protocol/codec.ts";
import { KafkaError } from "../../src/kafka_protocol/error_codes.ts";
import type { Difference, Plain } from "./compare.ts";
import type { ApiName, Outcome } from "./differential_lib.ts";

// ---------------------------------------------------------------------------------------------
// Cases and the allowlist.

/** Error code names for messages (the numbers are what is compared). */
const ERROR_NAMES = new Map<number, string>(
  Object.entries(KafkaError).map(([name, code]) => [code as number, name]),
);

export function show(v: Plain): string {
  const s = JSON.stringify(v);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

export function showDifference(d: Difference): string {
  const code = (v: Plain) =>
    /errorCode$/i.test(d.path) && typeof v === "number" ? ` (${ERROR_NAMES.get(v) ?? "?"})` : "";
  return `${d.path || "(root)"}: kafka ${show(d.kafka)}${code(d.kafka)}, sluice ${show(d.sluice)}${
    code(d.sluice)
  }`;
}

export interface CaseResult {
  readonly api: ApiName;
  readonly version: number;
  readonly label: string;
  readonly id: string;
  readonly kafka: Outcome;
  readonly sluice: Outcome;
  readonly differences: readonly Difference[];
}

/**
 * One allowed difference: the case (API, versions, the case's label or "*" for any case of
 * those versions), the field path (`*` matches any text without brackets, so within one `[...]`
 * or one name; `**` anything), the
 * normalized values when they are given, and the row of docs/kafka_differences.md explaining it.
 * Each (version, case) it names must show it: one that stops differing fails the test.
 */
export interface KnownDifference {
  readonly api: ApiName;
  /** A version range ("0-3", "4+", "2"). */
  readonly versions: string;
  readonly case: string;
  readonly path: string;
  readonly kafka?: Plain;
  readonly sluice?: Plain;
  /** The row id in docs/kafka_differences.md ("D7"). */
  readonly doc: string;
}

function globRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (c === "*") re += "[^\\[\\]]*";
    else re += c.replace(/[\\^$.|?+()[\]{}]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

export function knownMatches(k: KnownDifference, r: CaseResult, d: Difference): boolean {
  if (k.api !== r.api || !inRange(k.versions, r.version)) return false;
  if (k.case !== "*" && k.case !== r.label) return false;
  if (!globRegExp(k.path).test(d.path)) return false;
  if ("kafka" in k && JSON.stringify(k.kafka) !== JSON.stringify(d.kafka)) return false;
  if ("sluice" in k && JSON.stringify(k.sluice) !== JSON.stringify(d.sluice)) return false;
  return true;
}

/** The verdict on a set of results: differences nothing allows, entries nothing matched. */
export function judge(
  results: readonly CaseResult[],
  known: readonly KnownDifference[],
): { unexpected: string[]; stale: string[] } {
  const unexpected: string[] = [];
  const seen = new Map<KnownDifference, Set<string>>(known.map((k) => [k, new Set()]));
  for (const r of results) {
    for (const d of r.differences) {
      const matching = known.filter((k) => knownMatches(k, r, d));
      if (matching.length === 0) unexpected.push(`${r.id}: ${showDifference(d)}`);
      for (const k of matching) seen.get(k)!.add(k.case === "*" ? `v${r.version}` : r.id);
    }
  }
  const stale: string[] = [];
  for (const k of known) {
    const runs = results.filter((r) =>
      r.api === k.api && inRange(k.versions, r.version) && (k.case === "*" || k.case === r.label)
    );
    const expected = new Set(runs.map((r) => (k.case === "*" ? `v${r.version}` : r.id)));
    const where = `${k.api} v${k.versions} "${k.case}" ${k.path} (${k.doc})`;
    if (expected.size === 0) {
      stale.push(`${where}: no such case ran`);
      continue;
    }
    const missing = [...expected].filter((e) => !seen.get(k)!.has(e));
    if (missing.length > 0) {
      stale.push(`${where}: no longer differs in ${missing.join(", ")}`);
    }
  }
  return { unexpected, stale };
}
