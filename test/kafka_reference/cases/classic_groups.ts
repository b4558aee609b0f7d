/**
 * Differential cases: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, JoinGroup: old versions and refused joins (see ../differential_test.ts).
 */
import type { Struct } from "../../../src/kafka_protocol/codec.ts";
import { type CaseContext, TOPIC_A } from "../case_context.ts";
import { type Peer, withUnknownTag } from "../differential_lib.ts";
import { assignment } from "./common.ts";
import { groupHelpers } from "./group_helpers.ts";

/** The JoinGroup, SyncGroup, Heartbeat cases. */
export async function joinSyncHeartbeatCases(c: CaseContext): Promise<void> {
  const { check, versions, until } = c;
  const { classicVersions, classicGroup, memberLabel, join, learnMember, joinNew, sync } =
    groupHelpers(c);
  for (const [i, jv] of classicVersions.entries()) {
    const group = classicGroup(jv);
    const me = memberLabel(group);
    await joinNew(jv, group, me);
    const sv = versions("SyncGroup")[Math.min(i, versions("SyncGroup").length - 1)];
    const hv = versions("Heartbeat")[Math.min(i, versions("Heartbeat").length - 1)];
    await check({
      api: "SyncGroup",
      version: sv,
      label: `leader assigns (${group})`,
      body: (p) =>
        sync(group, 1, p.id(me), {
          assignments: [{ memberId: p.id(me), assignment: assignment(TOPIC_A, [0, 1, 2]) }],
        }),
    });
    await check({
      api: "SyncGroup",
      version: sv,
      label: `wrong generation (${group})`,
      body: (p) => sync(group, 7, p.id(me)),
    });
    await check({
      api: "SyncGroup",
      version: sv,
      label: `unknown member (${group})`,
      body: sync(group, 1, "ghost-member"),
    });
    if (sv >= 5) {
      await check({
        api: "SyncGroup",
        version: sv,
        label: `another protocol name (${group})`,
        body: (p) => sync(group, 1, p.id(me), { protocolName: "roundrobin" }),
      });
    }
    const heartbeat = (generationId: number, memberId: string, g = group) => ({
      groupId: g,
      generationId,
      memberId,
      groupInstanceId: null,
    });
    await check({
      api: "Heartbeat",
      version: hv,
      label: `member of a stable group (${group})`,
      body: (p) => heartbeat(1, p.id(me)),
    });
    await check({
      api: "Heartbeat",
      version: hv,
      label: `stale generation (${group})`,
      body: (p) => heartbeat(0, p.id(me)),
    });
    await check({
      api: "Heartbeat",
      version: hv,
      label: `unknown member (${group})`,
      body: heartbeat(1, "ghost-member"),
    });
    await check({
      api: "Heartbeat",
      version: hv,
      label: `unknown group (${group})`,
      body: heartbeat(1, "ghost-member", `${group}-nope`),
    });
    await check({
      api: "JoinGroup",
      version: jv,
      label: "unknown member id",
      body: join(group, "ghost-member"),
    });
    if (jv >= 6) {
      await check({
        api: "JoinGroup",
        version: jv,
        label: "unknown tagged field",
        body: (p) => join(group, p.id(me)),
        mutate: withUnknownTag,
      });
      // The rejoin above changed nothing: still generation 1, still stable.
    }
  }

  // Two members: the second's join starts a rebalance, the first learns it from its heartbeat
  // and rejoins, the leader's SyncGroup answers the follower's waiting one.
  const jv = classicVersions[classicVersions.length - 1];
  const sv = versions("SyncGroup").at(-1)!;
  const hv = versions("Heartbeat").at(-1)!;
  const group = "classic-rebalance";
  const [m1, m2] = ["first member", "second member"];
  await joinNew(jv, group, m1);
  await check({
    api: "SyncGroup",
    version: sv,
    label: "leader assigns (rebalance group)",
    body: (p) =>
      sync(group, 1, p.id(m1), {
        assignments: [{ memberId: p.id(m1), assignment: assignment(TOPIC_A, [0, 1, 2]) }],
      }),
  });
  await check({
    api: "JoinGroup",
    version: jv,
    label: `new member (${m2})`,
    body: join(group, ""),
    learn: learnMember(m2),
    conn: "m2",
  });
  const secondJoin = check({
    api: "JoinGroup",
    version: jv,
    label: "second member joins a stable group",
    body: (p) => join(group, p.id(m2)),
    conn: "m2",
  });
  // Both coordinators have taken the join (it waits for the leader to rejoin).
  await until("DescribeGroups: rebalancing", {
    api: "DescribeGroups",
    version: versions("DescribeGroups").at(-1)!,
    label: "",
    body: { groups: [group], includeAuthorizedOperations: false },
  }, (b) => b.groups[0].groupState === "PreparingRebalance");
  await check({
    api: "Heartbeat",
    version: hv,
    label: "during a rebalance",
    body: (p) => ({ groupId: group, generationId: 1, memberId: p.id(m1), groupInstanceId: null }),
  });
  await check({
    api: "JoinGroup",
    version: jv,
    label: "leader rejoins",
    body: (p) => join(group, p.id(m1)),
  });
  await secondJoin;
  const followerSync = check({
    api: "SyncGroup",
    version: sv,
    label: "follower waits for the leader",
    body: (p) => sync(group, 2, p.id(m2)),
    conn: "m2",
  });
  await new Promise((r) => setTimeout(r, 200));
  await check({
    api: "SyncGroup",
    version: sv,
    label: "leader assigns two members",
    body: (p) =>
      sync(group, 2, p.id(m1), {
        assignments: [
          { memberId: p.id(m1), assignment: assignment(TOPIC_A, [0, 1]) },
          { memberId: p.id(m2), assignment: assignment(TOPIC_A, [2]) },
        ],
      }),
  });
  await followerSync;
}

/** The LeaveGroup cases. */
export async function leaveGroupCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  const { classicVersions, classicGroup, memberLabel } = groupHelpers(c);
  for (const [i, v] of versions("LeaveGroup").entries()) {
    const group = classicGroup(classicVersions[i]);
    const me = memberLabel(group);
    const leave = (g: string, ...memberIds: string[]): Struct =>
      v >= 3
        ? {
          groupId: g,
          members: memberIds.map((memberId) => ({ memberId, groupInstanceId: null })),
        }
        : { groupId: g, memberId: memberIds[0] };
    const c = (label: string, body: Struct | ((p: Peer) => Struct), more = {}) =>
      check({ api: "LeaveGroup", version: v, label, body, ...more });
    await c("unknown member", leave(group, "ghost-member"));
    await c("unknown group", leave("no-such-group", "ghost-member"));
    if (v >= 4) {
      await c("unknown tagged field", leave(group, "ghost-member"), { mutate: withUnknownTag });
    }
    if (v >= 3) {
      await c("member and an unknown one", (p) => leave(group, p.id(me), "ghost-member"));
    } else await c("member leaves", (p) => leave(group, p.id(me)));
  }
  for (const v of versions("DescribeGroups")) {
    await check({
      api: "DescribeGroups",
      version: v,
      label: "after its member left",
      body: { groups: [classicGroup(classicVersions[0])], includeAuthorizedOperations: false },
    });
  }
}

/** The JoinGroup: old versions and refused joins cases. */
export async function oldJoinCases(c: CaseContext): Promise<void> {
  const { check, versions, kafkaServes } = c;
  const { classicVersions, classicGroup, join } = groupHelpers(c);
  for (const jv of versions("JoinGroup").filter((v) => !kafkaServes("JoinGroup", v))) {
    await check({
      api: "JoinGroup",
      version: jv,
      label: "new member (a version Kafka 4 removed)",
      body: join(`old-join-v${jv}`, ""),
    });
  }
  for (const jv of classicVersions) {
    const c = (label: string, body: Struct) =>
      check({ api: "JoinGroup", version: jv, label, body });
    await c(
      "session timeout under the minimum",
      join(`short-session-v${jv}`, "", { sessionTimeoutMs: 1000 }),
    );
    await c("no protocols", join(`no-protocols-v${jv}`, "", { protocols: [] }));
    await c("empty group id", join("", ""));
    await c(
      "another protocol type",
      join(classicGroup(classicVersions.at(-1)!), "", { protocolType: "connect" }),
    );
    if (jv >= 5) {
      await c(
        "static member",
        join(`static-v${jv}`, "", { groupInstanceId: "instance-1" }),
      );
    }
  }
}
