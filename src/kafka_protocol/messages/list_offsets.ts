/**
 * ListOffsets (api key 2), written from Kafka's ListOffsetsRequest.json / ListOffsetsResponse.json.
 *
 * Request: replica_id, isolation_level (v2+), topics [name, partitions [partition_index,
 * current_leader_epoch (v4+, default -1), timestamp]], timeout_ms (v10+: for tiered storage reads).
 * v6 is the first flexible version; v7 allows timestamp -3 (max timestamp, KIP-734), v8 -4 (the
 * earliest local offset, KIP-405), v9 -5 (the last tiered offset, KIP-1005); v10 adds timeout_ms;
 * v11 allows -6 (the earliest offset pending upload to tiered storage), the layout unchanged.
 *
 * Response: throttle_time_ms (v2+), topics [name, partitions [partition_index, error_code,
 * timestamp (default -1), offset (default -1), leader_epoch (v4+, default -1)]].
 * Version 0 (max_num_offsets, old_style_offsets) is left out.
 */

import type { MessageSchema } from "../codec.ts";

export const LIST_OFFSETS_REQUEST = {
  name: "ListOffsetsRequest",
  apiKey: 2,
  validVersions: "1-11",
  flexibleVersions: "6+",
  fields: [
    { name: "replicaId", type: "int32", versions: "0+" },
    { name: "isolationLevel", type: "int8", versions: "2+" },
    {
      name: "topics",
      versions: "0+",
      type: {
        array: [
          { name: "name", type: "string", versions: "0+" },
          {
            name: "partitions",
            versions: "0+",
            type: {
              array: [
                { name: "partitionIndex", type: "int32", versions: "0+" },
                { name: "currentLeaderEpoch", type: "int32", versions: "4+", default: -1 },
                { name: "timestamp", type: "int64", versions: "0+" },
              ],
            },
          },
        ],
      },
    },
    { name: "timeoutMs", type: "int32", versions: "10+" },
  ],
} as const satisfies MessageSchema;

export const LIST_OFFSETS_RESPONSE = {
  name: "ListOffsetsResponse",
  apiKey: 2,
  validVersions: "1-11",
  flexibleVersions: "6+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "2+" },
    {
      name: "topics",
      versions: "0+",
      type: {
        array: [
          { name: "name", type: "string", versions: "0+" },
          {
            name: "partitions",
            versions: "0+",
            type: {
              array: [
                { name: "partitionIndex", type: "int32", versions: "0+" },
                { name: "errorCode", type: "int16", versions: "0+" },
                { name: "timestamp", type: "int64", versions: "1+", default: -1n },
                { name: "offset", type: "int64", versions: "1+", default: -1n },
                { name: "leaderEpoch", type: "int32", versions: "4+", default: -1 },
              ],
            },
          },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
