/**
 * Differential cases: DescribeGroups, ListGroups, DeleteGroups (see ../differential_test.ts).
 */
import type { CaseContext } from "../case_context.ts";
import { withUnknownTag } from "../differential_lib.ts";
import { groupHelpers } from "./group_helpers.ts";

/** The DescribeGroups cases. */
export async function describeGroupsCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  const { classicVersions, classicGroup } = groupHelpers(c);
  for (const v of versions("DescribeGroups")) {
    const c = (label: string, groups: string[], include = false) =>
      check({
        api: "DescribeGroups",
        version: v,
        label,
        body: { groups, includeAuthorizedOperations: include },
      });
    await c("stable group", [classicGroup(classicVersions[0])]);
    await c("two members", ["classic-rebalance"]);
    await c("group with offsets only", ["simple-commits"]);
    await c("unknown group", ["no-such-group"]);
    await c("no groups", []);
    if (v >= 3) await c("authorized operations", [classicGroup(classicVersions[0])], true);
  }
}

/** The ListGroups cases. */
export async function listGroupsCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  for (const v of versions("ListGroups")) {
    const c = (label: string, statesFilter: string[] = [], typesFilter: string[] = []) =>
      check({ api: "ListGroups", version: v, label, body: { statesFilter, typesFilter } });
    await c("all groups");
    if (v >= 4) {
      await c("stable groups", ["Stable"]);
      await c("empty groups", ["Empty"]);
      await c("unknown state", ["NoSuchState"]);
    }
    if (v >= 5) {
      await c("classic groups", [], ["classic"]);
      await c("consumer groups", [], ["consumer"]);
      await c("unknown type", [], ["nope"]);
    }
  }
}

/** The DeleteGroups cases. */
export async function deleteGroupsCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  const { classicVersions, classicGroup, simpleCommit } = groupHelpers(c);
  for (const v of versions("DeleteGroups")) {
    await simpleCommit(`delete-me-v${v}`, [0]);
    await simpleCommit(`delete-me-too-v${v}`, [0]);
    const c = (label: string, groupsNames: string[], more = {}) =>
      check({ api: "DeleteGroups", version: v, label, body: { groupsNames }, ...more });
    await c("empty group with offsets", [`delete-me-v${v}`]);
    await c("unknown group", ["no-such-group"]);
    await c("group with members", ["classic-rebalance"]);
    await c("emptied classic group", [classicGroup(classicVersions[1 + v])]);
    await c("two groups, one unknown", [`delete-me-too-v${v}`, "no-such-group"]);
    await c("empty group id", [""]);
    if (v >= 2) await c("unknown tagged field", ["no-such-group"], { mutate: withUnknownTag });
  }
}
