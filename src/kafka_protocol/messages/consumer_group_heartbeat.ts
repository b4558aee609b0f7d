/**
 * ConsumerGroupHeartbeat (api key 68, KIP-848's consumer group protocol), written from Kafka's
 * ConsumerGroupHeartbeatRequest.json / ConsumerGroupHeartbeatResponse.json. Every version is
 * flexible.
 *
 * Request: group_id, member_id (v0: "" on the first join, the coordinator makes one; v1+: the
 * client's own id, KIP-1082), member_epoch (0 joins, -1 leaves, -2 a static member leaves to
 * come back), instance_id, rack_id (nullable: null = unchanged), rebalance_timeout_ms (-1 =
 * unchanged), subscribed_topic_names (nullable: null = unchanged), subscribed_topic_regex (v1+,
 * nullable), server_assignor (nullable), topic_partitions (nullable: null = unchanged; else the
 * partitions the member owns, by topic id).
 *
 * Response: throttle_time_ms, error_code, error_message (nullable), member_id (nullable),
 * member_epoch, heartbeat_interval_ms, assignment (a nullable struct: null = unchanged; else
 * topic_partitions [topic_id, partitions]: what the member may own now).
 */

import type { FieldSchema, MessageSchema } from "../codec.ts";

const TOPIC_PARTITIONS: readonly FieldSchema[] = [
  { name: "topicId", type: "uuid", versions: "0+" },
  { name: "partitions", type: { array: "int32" }, versions: "0+" },
];

export const CONSUMER_GROUP_HEARTBEAT_REQUEST = {
  name: "ConsumerGroupHeartbeatRequest",
  apiKey: 68,
  validVersions: "0-1",
  flexibleVersions: "0+",
  fields: [
    { name: "groupId", type: "string", versions: "0+" },
    { name: "memberId", type: "string", versions: "0+" },
    { name: "memberEpoch", type: "int32", versions: "0+" },
    { name: "instanceId", type: "string", versions: "0+", nullableVersions: "0+", default: null },
    { name: "rackId", type: "string", versions: "0+", nullableVersions: "0+", default: null },
    { name: "rebalanceTimeoutMs", type: "int32", versions: "0+", default: -1 },
    {
      name: "subscribedTopicNames",
      type: { array: "string" },
      versions: "0+",
      nullableVersions: "0+",
      default: null,
    },
    {
      name: "subscribedTopicRegex",
      type: "string",
      versions: "1+",
      nullableVersions: "1+",
      default: null,
    },
    {
      name: "serverAssignor",
      type: "string",
      versions: "0+",
      nullableVersions: "0+",
      default: null,
    },
    {
      name: "topicPartitions",
      type: { array: TOPIC_PARTITIONS },
      versions: "0+",
      nullableVersions: "0+",
      default: null,
    },
  ],
} as const satisfies MessageSchema;

export const CONSUMER_GROUP_HEARTBEAT_RESPONSE = {
  name: "ConsumerGroupHeartbeatResponse",
  apiKey: 68,
  validVersions: "0-1",
  flexibleVersions: "0+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "0+" },
    { name: "errorCode", type: "int16", versions: "0+" },
    {
      name: "errorMessage",
      type: "string",
      versions: "0+",
      nullableVersions: "0+",
      default: null,
    },
    { name: "memberId", type: "string", versions: "0+", nullableVersions: "0+", default: null },
    { name: "memberEpoch", type: "int32", versions: "0+" },
    { name: "heartbeatIntervalMs", type: "int32", versions: "0+" },
    {
      name: "assignment",
      versions: "0+",
      nullableVersions: "0+",
      default: null,
      type: {
        struct: [
          { name: "topicPartitions", type: { array: TOPIC_PARTITIONS }, versions: "0+" },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
