/**
 * Fetch (api key 1), written from Kafka's FetchRequest.json / FetchResponse.json.
 *
 * Request: cluster_id (tag 0 from v12, nullable, default null), replica_id (default -1),
 * max_wait_ms, min_bytes, max_bytes (v3+, default 0x7fffffff), isolation_level (v4+),
 * session_id (v7+, default 0), session_epoch (v7+, default -1), topics [topic, partitions
 * [partition, current_leader_epoch (v9+, default -1), fetch_offset, last_fetched_epoch (v12+,
 * default -1), log_start_offset (v5+, default -1), partition_max_bytes]],
 * forgotten_topics_data (v7+) [topic, partitions [int32]], rack_id (v11+, default "").
 * v12 is the first flexible version.
 *
 * Response: throttle_time_ms (v1+), error_code (v7+), session_id (v7+), responses [topic,
 * partitions [partition_index, error_code, high_watermark, last_stable_offset (v4+, default -1),
 * log_start_offset (v5+, default -1), tagged from v12: 0 diverging_epoch [epoch, end_offset],
 * 1 current_leader [leader_id, leader_epoch], 2 snapshot_id [end_offset, epoch] (all -1 by
 * default), aborted_transactions (v4+, nullable) [producer_id, first_offset],
 * preferred_read_replica (v11+, default -1), records (nullable)]].
 * Versions 0-3 (message sets, no isolation level) and 13+ (topic ids instead of names,
 * replica_state, node_endpoints) are left out.
 */

import type { MessageSchema } from "../codec.ts";

export const FETCH_REQUEST = {
  name: "FetchRequest",
  apiKey: 1,
  validVersions: "4-12",
  flexibleVersions: "12+",
  fields: [
    {
      name: "clusterId",
      type: "string",
      versions: "12+",
      nullableVersions: "12+",
      tag: 0,
      taggedVersions: "12+",
      default: null,
    },
    { name: "replicaId", type: "int32", versions: "0-14", default: -1 },
    { name: "maxWaitMs", type: "int32", versions: "0+" },
    { name: "minBytes", type: "int32", versions: "0+" },
    { name: "maxBytes", type: "int32", versions: "3+", default: 0x7fffffff },
    { name: "isolationLevel", type: "int8", versions: "4+" },
    { name: "sessionId", type: "int32", versions: "7+" },
    { name: "sessionEpoch", type: "int32", versions: "7+", default: -1 },
    {
      name: "topics",
      versions: "0+",
      type: {
        array: [
          { name: "topic", type: "string", versions: "0-12" },
          {
            name: "partitions",
            versions: "0+",
            type: {
              array: [
                { name: "partition", type: "int32", versions: "0+" },
                { name: "currentLeaderEpoch", type: "int32", versions: "9+", default: -1 },
                { name: "fetchOffset", type: "int64", versions: "0+" },
                { name: "lastFetchedEpoch", type: "int32", versions: "12+", default: -1 },
                { name: "logStartOffset", type: "int64", versions: "5+", default: -1n },
                { name: "partitionMaxBytes", type: "int32", versions: "0+" },
              ],
            },
          },
        ],
      },
    },
    {
      name: "forgottenTopicsData",
      versions: "7+",
      type: {
        array: [
          { name: "topic", type: "string", versions: "7-12" },
          { name: "partitions", type: { array: "int32" }, versions: "7+" },
        ],
      },
    },
    { name: "rackId", type: "string", versions: "11+" },
  ],
} as const satisfies MessageSchema;

export const FETCH_RESPONSE = {
  name: "FetchResponse",
  apiKey: 1,
  validVersions: "4-12",
  flexibleVersions: "12+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "1+" },
    { name: "errorCode", type: "int16", versions: "7+" },
    { name: "sessionId", type: "int32", versions: "7+" },
    {
      name: "responses",
      versions: "0+",
      type: {
        array: [
          { name: "topic", type: "string", versions: "0-12" },
          {
            name: "partitions",
            versions: "0+",
            type: {
              array: [
                { name: "partitionIndex", type: "int32", versions: "0+" },
                { name: "errorCode", type: "int16", versions: "0+" },
                { name: "highWatermark", type: "int64", versions: "0+" },
                { name: "lastStableOffset", type: "int64", versions: "4+", default: -1n },
                { name: "logStartOffset", type: "int64", versions: "5+", default: -1n },
                {
                  name: "divergingEpoch",
                  versions: "12+",
                  tag: 0,
                  taggedVersions: "12+",
                  type: {
                    struct: [
                      { name: "epoch", type: "int32", versions: "12+", default: -1 },
                      { name: "endOffset", type: "int64", versions: "12+", default: -1n },
                    ],
                  },
                },
                {
                  name: "currentLeader",
                  versions: "12+",
                  tag: 1,
                  taggedVersions: "12+",
                  type: {
                    struct: [
                      { name: "leaderId", type: "int32", versions: "12+", default: -1 },
                      { name: "leaderEpoch", type: "int32", versions: "12+", default: -1 },
                    ],
                  },
                },
                {
                  name: "snapshotId",
                  versions: "12+",
                  tag: 2,
                  taggedVersions: "12+",
                  type: {
                    struct: [
                      { name: "endOffset", type: "int64", versions: "0+", default: -1n },
                      { name: "epoch", type: "int32", versions: "0+", default: -1 },
                    ],
                  },
                },
                {
                  name: "abortedTransactions",
                  versions: "4+",
                  nullableVersions: "4+",
                  type: {
                    array: [
                      { name: "producerId", type: "int64", versions: "4+" },
                      { name: "firstOffset", type: "int64", versions: "4+" },
                    ],
                  },
                },
                { name: "preferredReadReplica", type: "int32", versions: "11+", default: -1 },
                { name: "records", type: "records", versions: "0+", nullableVersions: "0+" },
              ],
            },
          },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
