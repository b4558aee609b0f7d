/**
 * Differential cases: ConsumerGroupHeartbeat, ConsumerGroupDescribe (see ../differential_test.ts).
 */
import type { Struct } from "../../../src/kafka_protocol/codec.ts";
import { type Any, type CaseContext, TOPIC_A } from "../case_context.ts";
import { type Peer, withUnknownTag } from "../differential_lib.ts";
import { groupHelpers } from "./group_helpers.ts";

/** The ConsumerGroupHeartbeat, ConsumerGroupDescribe cases. */
export async function consumerGroupCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  const {
    classicVersions,
    classicGroup,
    memberLabel,
    join,
    learnMember,
    joinNew,
    consumerGroup,
    consumerMember,
    heartbeat848,
  } = groupHelpers(c);
  for (const v of versions("ConsumerGroupHeartbeat")) {
    const me = consumerMember(v);
    const c = (label: string, body: Struct | ((p: Peer) => Struct), more = {}) =>
      check({ api: "ConsumerGroupHeartbeat", version: v, label, body, ...more });
    // From v1 the client makes its member id (a UUID); v0 leaves it to the coordinator.
    const newId = (n: number) => (v >= 1 ? `diff-member-${n}-0000000000` : "");
    await c(
      "join",
      heartbeat848(v, {
        memberId: newId(1),
        subscribedTopicNames: [TOPIC_A],
        topicPartitions: [],
      }),
      {
        learn: (p: Peer, b: Any) => {
          p.alias(b.memberId, me);
          p.values.set(me, b.memberEpoch);
        },
      },
    );
    // Each side's member epoch (the two count differently, see the docs).
    const epoch = (p: Peer) => p.value(me);
    await c("heartbeat owning its assignment", (p) =>
      heartbeat848(v, {
        memberId: p.id(me),
        memberEpoch: epoch(p),
        topicPartitions: [{ topicId: p.topicId(TOPIC_A), partitions: [0, 1, 2] }],
      }));
    await c(
      "fenced member epoch",
      (p) => heartbeat848(v, { memberId: p.id(me), memberEpoch: epoch(p) + 7 }),
    );
    await c(
      "unknown member",
      heartbeat848(v, { memberId: "ghost-member-000000000", memberEpoch: 1 }),
    );
    await c("join without a subscription", heartbeat848(v, { memberId: newId(2) }));
    await c(
      "empty group id",
      heartbeat848(v, {
        groupId: "",
        memberId: newId(3),
        subscribedTopicNames: [TOPIC_A],
        topicPartitions: [],
      }),
    );
    await c(
      "unknown tagged field",
      (p) => heartbeat848(v, { memberId: p.id(me), memberEpoch: epoch(p) }),
      { mutate: withUnknownTag },
    );
  }
  const cv = versions("ConsumerGroupHeartbeat").at(-1)!;
  const group = consumerGroup(cv);
  const me = consumerMember(cv);
  const ov = versions("OffsetCommit").at(-1)!;
  const commit = (epoch: number, memberId: string, version = ov) => ({
    groupId: group,
    generationIdOrMemberEpoch: epoch,
    memberId,
    groupInstanceId: null,
    retentionTimeMs: -1n,
    topics: [{
      name: TOPIC_A,
      partitions: [{
        partitionIndex: 0,
        committedOffset: BigInt(3 + version),
        committedLeaderEpoch: -1,
        committedMetadata: "",
      }],
    }],
  });
  for (const v of [ov, ov - 1]) {
    await check({
      api: "OffsetCommit",
      version: v,
      label: "consumer group member",
      body: (p) => commit(p.value(me), p.id(me), v),
    });
  }
  await check({
    api: "OffsetCommit",
    version: ov,
    label: "consumer group member, stale epoch",
    body: (p) => commit(p.value(me) - 1, p.id(me)),
  });
  await check({
    api: "OffsetCommit",
    version: ov,
    label: "consumer group member, epoch from the future",
    body: (p) => commit(p.value(me) + 5, p.id(me)),
  });
  const fv = versions("OffsetFetch").at(-1)!;
  const offsetFetch = (memberId: string | null, memberEpoch: number) => ({
    groups: [{
      groupId: group,
      memberId,
      memberEpoch,
      topics: [{ name: TOPIC_A, partitionIndexes: [0] }],
    }],
    requireStable: false,
  });
  await check({
    api: "OffsetFetch",
    version: fv,
    label: "consumer group member",
    body: (p) => offsetFetch(p.id(me), p.value(me)),
  });
  await check({
    api: "OffsetFetch",
    version: fv,
    label: "consumer group member, stale epoch",
    body: (p) => offsetFetch(p.id(me), p.value(me) - 1),
  });
  await check({
    api: "OffsetFetch",
    version: fv,
    label: "consumer group, unknown member",
    body: offsetFetch("ghost-member-000000000", 1),
  });
  for (const v of versions("ConsumerGroupDescribe")) {
    const c = (label: string, groupIds: string[], include = false) =>
      check({
        api: "ConsumerGroupDescribe",
        version: v,
        label,
        body: { groupIds, includeAuthorizedOperations: include },
      });
    await c("consumer groups", versions("ConsumerGroupHeartbeat").map(consumerGroup));
    await c("unknown group", ["no-such-group"]);
    await c("classic group", [classicGroup(classicVersions[0])]);
    await c("authorized operations", [group], true);
  }
  for (const v of versions("DescribeGroups")) {
    await check({
      api: "DescribeGroups",
      version: v,
      label: "consumer protocol group",
      body: { groups: [group], includeAuthorizedOperations: false },
    });
  }
  for (const v of versions("ListGroups").filter((v) => v >= 5)) {
    await check({
      api: "ListGroups",
      version: v,
      label: "consumer groups, with members",
      body: { statesFilter: [], typesFilter: ["consumer"] },
    });
  }
  // A classic member joining a consumer group, a consumer member joining a classic group.
  const jv = classicVersions.at(-1)!;
  await check({
    api: "JoinGroup",
    version: jv,
    label: "classic member joins a consumer group",
    body: join(group, ""),
    learn: learnMember("classic member of a consumer group"),
    conn: "classic-in-consumer",
  });
  const migrate = "classic-to-consumer";
  await joinNew(jv, migrate, memberLabel(migrate));
  await check({
    api: "ConsumerGroupHeartbeat",
    version: cv,
    label: "consumer member joins a classic group",
    body: heartbeat848(cv, {
      groupId: migrate,
      memberId: "diff-member-9-0000000000",
      subscribedTopicNames: [TOPIC_A],
      topicPartitions: [],
    }),
  });
  for (const v of versions("ConsumerGroupHeartbeat")) {
    await check({
      api: "ConsumerGroupHeartbeat",
      version: v,
      label: "leave",
      body: (p) => heartbeat848(v, { memberId: p.id(consumerMember(v)), memberEpoch: -1 }),
    });
  }
  await check({
    api: "ConsumerGroupDescribe",
    version: versions("ConsumerGroupDescribe").at(-1)!,
    label: "after its members left",
    body: { groupIds: [group], includeAuthorizedOperations: false },
  });
}
