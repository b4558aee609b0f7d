/**
 * Differential cases: OffsetCommit, OffsetFetch, OffsetDelete (see ../differential_test.ts).
 */
import type { Struct } from "../../../src/kafka_protocol/codec.ts";
import { type Any, type CaseContext, TOPIC_A, TOPIC_B, UNKNOWN_TOPIC } from "../case_context.ts";
import { type CaseSpec, type Peer, withUnknownTag } from "../differential_lib.ts";
import { groupHelpers } from "./group_helpers.ts";

/** The OffsetCommit cases. */
export async function offsetCommitCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  const { classicVersions, classicGroup, memberLabel } = groupHelpers(c);
  const commit = (group: string, generation: number, memberId: string, partitions: Struct[]) => ({
    groupId: group,
    generationIdOrMemberEpoch: generation,
    memberId,
    groupInstanceId: null,
    retentionTimeMs: -1n,
    topics: [...new Set(partitions.map((p) => p.name as string))].map((name) => ({
      name,
      partitions: partitions.filter((p) => p.name === name).map((p) => ({
        partitionIndex: p.partition,
        committedOffset: BigInt(p.offset as number),
        committedLeaderEpoch: -1,
        committedMetadata: p.metadata ?? "",
      })),
    })),
  });
  const at = (name: string, partition: number, offset: number, metadata?: string) => ({
    name,
    partition,
    offset,
    ...(metadata === undefined ? {} : { metadata }),
  });
  for (const [i, v] of versions("OffsetCommit").entries()) {
    const c = (label: string, body: Struct | ((p: Peer) => Struct)) =>
      check({ api: "OffsetCommit", version: v, label, body });
    const simple = "simple-commits";
    await c(
      "no generation (simple group)",
      commit(simple, -1, "", [at(TOPIC_A, 0, 5, "meta"), at(TOPIC_A, 1, 1 + v)]),
    );
    await c("reset to earliest (-2)", commit(`${simple}-reset`, -1, "", [at(TOPIC_B, 0, -2)]));
    await c("unknown topic", commit(simple, -1, "", [at(UNKNOWN_TOPIC, 0, 1)]));
    await c("unknown partition", commit(simple, -1, "", [at(TOPIC_A, 9, 1), at(TOPIC_A, 2, 1)]));
    await c(
      "metadata too large",
      commit(simple, -1, "", [at(TOPIC_A, 0, 6, "x".repeat(5000))]),
    );
    await c("empty group id", commit("", -1, "", [at(TOPIC_A, 0, 1)]));
    const group = classicGroup(classicVersions[i % classicVersions.length]);
    const me = memberLabel(group);
    await c("member of the group", (p) => commit(group, 1, p.id(me), [at(TOPIC_A, 0, 2)]));
    await c("stale generation", (p) => commit(group, 0, p.id(me), [at(TOPIC_A, 0, 2)]));
    await c("unknown member", commit(group, 1, "ghost-member", [at(TOPIC_A, 0, 2)]));
    await c("no generation on a group with members", commit(group, -1, "", [at(TOPIC_A, 1, 2)]));
    if (v >= 8) {
      await check({
        api: "OffsetCommit",
        version: v,
        label: "unknown tagged field",
        body: commit(simple, -1, "", [at(TOPIC_A, 0, 5)]),
        mutate: withUnknownTag,
      });
    }
  }
}

/** The OffsetFetch cases. */
export async function offsetFetchCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  const { classicVersions, classicGroup } = groupHelpers(c);
  const fetch = (v: number, groups: [string, [string, number[]][] | null][], extra = {}) =>
    v >= 8
      ? {
        groups: groups.map(([groupId, topics]) => ({
          groupId,
          memberId: null,
          memberEpoch: -1,
          topics: topics === null
            ? null
            : topics.map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
        })),
        requireStable: false,
        ...extra,
      }
      : {
        groupId: groups[0][0],
        topics: groups[0][1] === null
          ? null
          : groups[0][1].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
        requireStable: false,
        ...extra,
      };
  for (const v of versions("OffsetFetch")) {
    const c = (label: string, body: Struct, more: Partial<CaseSpec> = {}) =>
      check({ api: "OffsetFetch", version: v, label, body, ...more });
    await c("committed and not", fetch(v, [["simple-commits", [[TOPIC_A, [0, 1, 2]]]]]));
    if (v >= 2) await c("all partitions", fetch(v, [["simple-commits", null]]));
    await c("member's group", fetch(v, [[classicGroup(classicVersions[0]), [[TOPIC_A, [0]]]]]));
    await c("unknown group", fetch(v, [["no-such-group", [[TOPIC_A, [0]]]]]));
    if (v >= 2) await c("unknown group, all partitions", fetch(v, [["no-such-group", null]]));
    await c("unknown topic", fetch(v, [["simple-commits", [[UNKNOWN_TOPIC, [0]]]]]));
    await c("unknown partition", fetch(v, [["simple-commits", [[TOPIC_A, [9]]]]]));
    await c("negative committed offset", fetch(v, [["simple-commits-reset", [[TOPIC_B, [0]]]]]));
    if (v >= 7) {
      await c(
        "require stable",
        fetch(v, [["simple-commits", [[TOPIC_A, [0]]]]], { requireStable: true }),
      );
    }
    if (v >= 8) {
      await c(
        "two groups",
        fetch(v, [["simple-commits", [[TOPIC_A, [0]]]], ["no-such-group", null]]),
      );
    }
    if (v >= 6) {
      await c("unknown tagged field", fetch(v, [["simple-commits", [[TOPIC_A, [0]]]]]), {
        mutate: withUnknownTag,
      });
    }
  }
}

/** The OffsetDelete cases. */
export async function offsetDeleteCases(c: CaseContext): Promise<void> {
  const { check, versions, prepared } = c;
  const { simpleCommit, heartbeat848 } = groupHelpers(c);
  const hv = versions("ConsumerGroupHeartbeat").at(-1)!;
  await simpleCommit("offset-delete", [0, 1]);
  for (const v of versions("OffsetDelete")) {
    const c = (label: string, groupId: string, topic: string, partitions: number[]) =>
      check({
        api: "OffsetDelete",
        version: v,
        label,
        body: {
          groupId,
          topics: [{
            name: topic,
            partitions: partitions.map((partitionIndex) => ({ partitionIndex })),
          }],
        },
      });
    await c("committed partition of an empty group", "offset-delete", TOPIC_A, [0]);
    await c("partition never committed", "offset-delete", TOPIC_A, [2]);
    await c("group subscribed to the topic", "classic-rebalance", TOPIC_A, [0]);
    await c(
      "group with members, a topic it does not subscribe to",
      "classic-rebalance",
      TOPIC_B,
      [
        0,
      ],
    );
    await c("unknown group", "no-such-group", TOPIC_A, [0]);
    await c("unknown topic", "offset-delete", UNKNOWN_TOPIC, [0]);
    await c("partition past the topic's count", "offset-delete", TOPIC_A, [1, 7]);
    // A consumer-protocol (KIP-848) member subscribed to TOPIC_A, with offsets on both topics
    // (committed before it joins: Kafka refuses a memberless commit to a group with members).
    const group = `offset-delete-consumer-v${v}`;
    for (const topic of [TOPIC_A, TOPIC_B]) {
      prepared(
        "OffsetCommit",
        await simpleCommit(group, [0], topic),
        (b) => b.topics.every((t: Any) => t.partitions.every((p: Any) => p.errorCode === 0)),
      );
    }
    const joined = await check({
      api: "ConsumerGroupHeartbeat",
      version: hv,
      label: "",
      prepare: true,
      body: heartbeat848(hv, {
        groupId: group,
        memberId: `diff-member-od-${v}-000000000`,
        subscribedTopicNames: [TOPIC_A],
        topicPartitions: [],
      }),
    });
    prepared("ConsumerGroupHeartbeat join", joined, (b) => b.errorCode === 0);
    await check({
      api: "OffsetCommit",
      version: 8,
      label: "memberless commit to a consumer group with members",
      body: {
        groupId: group,
        generationIdOrMemberEpoch: -1,
        memberId: "",
        groupInstanceId: null,
        topics: [{
          name: TOPIC_B,
          partitions: [{
            partitionIndex: 0,
            committedOffset: 2n,
            committedLeaderEpoch: -1,
            committedMetadata: "",
          }],
        }],
      },
    });
    await c("consumer-protocol group, subscribed topic", group, TOPIC_A, [0]);
    await c("consumer-protocol group, other topic", group, TOPIC_B, [0]);
  }
}
