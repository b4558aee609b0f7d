/**
 * Known differences from Kafka 4.4: classic and consumer groups, their offsets (see ../known_differences.ts).
 */
import { ABSENT, type KnownDifference } from "../differential_lib.ts";
import { known } from "../known_differences.ts";

export const GROUP_DIFFERENCES: readonly KnownDifference[] = [
  ...known("GR4", "DescribeGroups", "0-5", "consumer protocol group", "groups[*].groupState", {
    kafka: "Dead",
    sluice: "Stable",
  }),
  ...known("GR4", "DescribeGroups", "0-5", "consumer protocol group", [
    "groups[*].protocolType",
    "groups[*].protocolData",
  ], { kafka: "" }),
  ...known("GR4", "DescribeGroups", "0-5", "consumer protocol group", "groups[*].members[*]", {
    kafka: ABSENT,
  }),
  ...known("GR5", "JoinGroup", "0-3", "session timeout under the minimum", "errorCode", {
    kafka: 26,
    sluice: 0,
  }),
  ...known("GR5", "JoinGroup", "4-7", "session timeout under the minimum", "errorCode", {
    kafka: 26,
    sluice: 79,
  }),
  ...known("GR5", "JoinGroup", "0-7", "session timeout under the minimum", "memberId", {
    kafka: "",
  }),
  ...known("GR5", "JoinGroup", "0-3", "session timeout under the minimum", [
    "generationId",
    "protocolName",
    "leader",
    "members[*]",
  ]),
  ...known("GR6", "JoinGroup", "7", "classic member joins a consumer group", "errorCode", {
    kafka: 79,
    sluice: 23,
  }),
  ...known("GR6", "JoinGroup", "7", "classic member joins a consumer group", "memberId", {
    sluice: "",
  }),
  ...known(
    "GR6",
    "ConsumerGroupHeartbeat",
    "1",
    "consumer member joins a classic group",
    "errorCode",
    {
      kafka: 0,
      sluice: 69,
    },
  ),
  ...known("GR6", "ConsumerGroupHeartbeat", "1", "consumer member joins a classic group", [
    "memberId",
    "memberEpoch",
    "heartbeatIntervalMs",
    "assignment",
  ]),
  ...known(
    "GR7",
    "ConsumerGroupHeartbeat",
    "0-1",
    [
      "join",
      "heartbeat owning its assignment",
      "unknown tagged field",
    ],
    "memberEpoch",
    { kafka: 2, sluice: 1 },
  ),
  ...known("GR7", "ConsumerGroupDescribe", "0-1", ["consumer groups", "authorized operations"], [
    "groups[*].groupEpoch",
    "groups[*].assignmentEpoch",
    "groups[*].members[*].memberEpoch",
  ], { kafka: 2, sluice: 1 }),
  ...known("GR7", "ConsumerGroupDescribe", "1", "after its members left", [
    "groups[*].groupEpoch",
    "groups[*].assignmentEpoch",
  ], { kafka: 3, sluice: 2 }),
];
