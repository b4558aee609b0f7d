/**
 * Request builders of the group cases: classic groups (one group per JoinGroup version both
 * serve, with a member, the leader, that syncs and heartbeats; SyncGroup, Heartbeat and LeaveGroup
 * versions spread over them), KIP-848 consumer groups (one per ConsumerGroupHeartbeat version),
 * and a simple (memberless) commit.
 */
import type { Struct } from "../../../src/kafka_protocol/codec.ts";
import type { Any, CaseContext } from "../case_context.ts";
import { REBALANCE_TIMEOUT_MS, SESSION_TIMEOUT_MS, TOPIC_A } from "../case_context.ts";
import type { Peer } from "../differential_lib.ts";
import { subscription } from "./common.ts";

// deno-lint-ignore explicit-module-boundary-types
export function groupHelpers(c: CaseContext) {
  const { check, versions, kafkaServes } = c;
  const classicVersions = versions("JoinGroup").filter((v) => kafkaServes("JoinGroup", v));
  const classicGroup = (jv: number) => `classic-v${jv}`;
  const memberLabel = (group: string) => `member of ${group}`;
  const join = (group: string, memberId: string, extra: Struct = {}) => ({
    groupId: group,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS,
    memberId,
    groupInstanceId: null,
    protocolType: "consumer",
    protocols: [{ name: "range", metadata: subscription([TOPIC_A]) }],
    ...extra,
  });
  const learnMember = (label: string) => (peer: Peer, b: Any) => {
    if (b.memberId) peer.alias(b.memberId, label);
  };
  /** Joins `group` at `jv` as a new member: two steps from v4 (MEMBER_ID_REQUIRED). */
  const joinNew = async (
    jv: number,
    group: string,
    label: string,
    conn?: string,
  ): Promise<void> => {
    await check({
      api: "JoinGroup",
      version: jv,
      label: `new member (${label})`,
      body: join(group, ""),
      learn: learnMember(label),
      conn,
    });
    if (jv >= 4) {
      await check({
        api: "JoinGroup",
        version: jv,
        label: `rejoin with the member id given (${label})`,
        body: (p) => join(group, p.id(label)),
        conn,
      });
    }
  };
  const sync = (group: string, generationId: number, memberId: string, extra = {}) => ({
    groupId: group,
    generationId,
    memberId,
    groupInstanceId: null,
    protocolType: "consumer",
    protocolName: "range",
    assignments: [],
    ...extra,
  });

  const consumerGroup = (v: number) => `consumer-v${v}`;
  const consumerMember = (v: number) => `consumer member v${v}`;
  const heartbeat848 = (v: number, extra: Struct) => ({
    groupId: consumerGroup(v),
    memberId: "",
    memberEpoch: 0,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS,
    subscribedTopicNames: null,
    subscribedTopicRegex: null,
    serverAssignor: null,
    topicPartitions: null,
    ...extra,
  });
  const simpleCommit = (group: string, partitions: number[], topic = TOPIC_A) =>
    check({
      api: "OffsetCommit",
      version: 8,
      label: "",
      prepare: true,
      body: {
        groupId: group,
        generationIdOrMemberEpoch: -1,
        memberId: "",
        groupInstanceId: null,
        topics: [{
          name: topic,
          partitions: partitions.map((partitionIndex) => ({
            partitionIndex,
            committedOffset: 1n,
            committedLeaderEpoch: -1,
            committedMetadata: "",
          })),
        }],
      },
    });

  return {
    classicVersions,
    classicGroup,
    memberLabel,
    join,
    learnMember,
    joinNew,
    sync,
    consumerGroup,
    consumerMember,
    heartbeat848,
    simpleCommit,
  };
}
