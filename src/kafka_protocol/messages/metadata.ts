/**
 * Metadata (api key 3), written from Kafka's MetadataRequest.json / MetadataResponse.json.
 *
 * Request: topics [name] (nullable from v1: null = all topics, empty = none; in v0 empty = all),
 * allow_auto_topic_creation (v4+), include_cluster_authorized_operations (v8-10),
 * include_topic_authorized_operations (v8+); v9 is the first flexible version, v10 adds
 * topic_id (uuid) and makes the name nullable.
 *
 * Response: throttle_time_ms (v3+), brokers [node_id, host, port, rack (v1+, nullable)],
 * cluster_id (v2+, nullable), controller_id (v1+), topics [error_code, name,
 * topic_id (v10+), is_internal (v1+), partitions [error_code, partition_index, leader_id,
 * leader_epoch (v7+), replica_nodes, isr_nodes, offline_replicas (v5+)],
 * topic_authorized_operations (v8+)], cluster_authorized_operations (v8-10).
 * Versions 12+ (nullable names, topic-id lookups) are left out until a client needs them.
 */

import type { MessageSchema } from "../codec.ts";

/** "No authorized operations reported" (INT32_MIN), Kafka's default for both bitfields. */
const AUTHORIZED_OPERATIONS_UNKNOWN = -2147483648;

export const METADATA_REQUEST = {
  name: "MetadataRequest",
  apiKey: 3,
  validVersions: "0-11",
  flexibleVersions: "9+",
  fields: [
    {
      name: "topics",
      versions: "0+",
      nullableVersions: "1+",
      type: {
        array: [
          { name: "topicId", type: "uuid", versions: "10+" },
          { name: "name", type: "string", versions: "0+", nullableVersions: "10+" },
        ],
      },
    },
    { name: "allowAutoTopicCreation", type: "bool", versions: "4+", default: true },
    { name: "includeClusterAuthorizedOperations", type: "bool", versions: "8-10" },
    { name: "includeTopicAuthorizedOperations", type: "bool", versions: "8+" },
  ],
} as const satisfies MessageSchema;

export const METADATA_RESPONSE = {
  name: "MetadataResponse",
  apiKey: 3,
  validVersions: "0-11",
  flexibleVersions: "9+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "3+" },
    {
      name: "brokers",
      versions: "0+",
      type: {
        array: [
          { name: "nodeId", type: "int32", versions: "0+" },
          { name: "host", type: "string", versions: "0+" },
          { name: "port", type: "int32", versions: "0+" },
          {
            name: "rack",
            type: "string",
            versions: "1+",
            nullableVersions: "1+",
            default: null,
          },
        ],
      },
    },
    {
      name: "clusterId",
      type: "string",
      versions: "2+",
      nullableVersions: "2+",
      default: null,
    },
    { name: "controllerId", type: "int32", versions: "1+", default: -1 },
    {
      name: "topics",
      versions: "0+",
      type: {
        array: [
          { name: "errorCode", type: "int16", versions: "0+" },
          { name: "name", type: "string", versions: "0+" },
          { name: "topicId", type: "uuid", versions: "10+" },
          { name: "isInternal", type: "bool", versions: "1+" },
          {
            name: "partitions",
            versions: "0+",
            type: {
              array: [
                { name: "errorCode", type: "int16", versions: "0+" },
                { name: "partitionIndex", type: "int32", versions: "0+" },
                { name: "leaderId", type: "int32", versions: "0+" },
                { name: "leaderEpoch", type: "int32", versions: "7+", default: -1 },
                { name: "replicaNodes", type: { array: "int32" }, versions: "0+" },
                { name: "isrNodes", type: { array: "int32" }, versions: "0+" },
                { name: "offlineReplicas", type: { array: "int32" }, versions: "5+" },
              ],
            },
          },
          {
            name: "topicAuthorizedOperations",
            type: "int32",
            versions: "8+",
            default: AUTHORIZED_OPERATIONS_UNKNOWN,
          },
        ],
      },
    },
    {
      name: "clusterAuthorizedOperations",
      type: "int32",
      versions: "8-10",
      default: AUTHORIZED_OPERATIONS_UNKNOWN,
    },
  ],
} as const satisfies MessageSchema;
