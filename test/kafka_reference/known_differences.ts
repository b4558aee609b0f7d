/**
 * The differences the differential test found between Sluice's answers and Kafka 4.4's, each
 * explained by a row of docs/kafka_differences.md (its id in `doc`). An entry names the API, the
 * versions, the case (its label; "*" for any case of a version) and the field path (`*` matching
 * within one name or `[...]`), and often the two normalized values. Every (version, case) an entry
 * names must still differ there: fixing a bug fails the test until its entries and docs row go.
 * The entries live in known/*.ts by API family.
 */
import type { ApiName, KnownDifference, Plain } from "./differential_lib.ts";
import { ADMIN_DIFFERENCES } from "./known/admin.ts";
import { DATA_DIFFERENCES } from "./known/data.ts";
import { GROUP_DIFFERENCES } from "./known/groups.ts";

/** Entries for each case and path of one docs row. */
export function known(
  doc: string,
  api: ApiName,
  versions: string,
  cases: string | readonly string[],
  paths: string | readonly string[],
  values: { kafka?: Plain; sluice?: Plain } = {},
): KnownDifference[] {
  return [cases].flat().flatMap((c) =>
    [paths].flat().map((path) => ({ api, versions, case: c, path, doc, ...values }))
  );
}

export const KNOWN_DIFFERENCES: readonly KnownDifference[] = [
  ...DATA_DIFFERENCES,
  ...GROUP_DIFFERENCES,
  ...ADMIN_DIFFERENCES,
];
