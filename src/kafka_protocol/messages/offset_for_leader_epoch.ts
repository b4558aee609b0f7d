/**
 * OffsetForLeaderEpoch (api key 23), written from Kafka's OffsetForLeaderEpochRequest.json /
 * OffsetForLeaderEpochResponse.json.
 *
 * Request: replica_id (v3+, default -2: a "debug" consumer; -1 a consumer; a broker id from a
 * follower), topics [topic, partitions [partition, current_leader_epoch (v2+, default -1: no
 * check), leader_epoch (the epoch whose end offset is asked)]]. v1 is the same as v0; v4 is the
 * first flexible version. Kafka deprecates v0-1 but still serves them.
 *
 * Response: throttle_time_ms (v2+), topics [topic, partitions [error_code, partition,
 * leader_epoch (v1+, default -1: the largest epoch <= the one asked that the log knows),
 * end_offset (default -1)]]. v3 is the same as v2.
 */

import type { MessageSchema } from "../codec.ts";

export const OFFSET_FOR_LEADER_EPOCH_REQUEST = {
  name: "OffsetForLeaderEpochRequest",
  apiKey: 23,
  validVersions: "0-4",
  flexibleVersions: "4+",
  fields: [
    { name: "replicaId", type: "int32", versions: "3+", default: -2 },
    {
      name: "topics",
      versions: "0+",
      type: {
        array: [
          { name: "topic", type: "string", versions: "0+" },
          {
            name: "partitions",
            versions: "0+",
            type: {
              array: [
                { name: "partition", type: "int32", versions: "0+" },
                { name: "currentLeaderEpoch", type: "int32", versions: "2+", default: -1 },
                { name: "leaderEpoch", type: "int32", versions: "0+" },
              ],
            },
          },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;

export const OFFSET_FOR_LEADER_EPOCH_RESPONSE = {
  name: "OffsetForLeaderEpochResponse",
  apiKey: 23,
  validVersions: "0-4",
  flexibleVersions: "4+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "2+" },
    {
      name: "topics",
      versions: "0+",
      type: {
        array: [
          { name: "topic", type: "string", versions: "0+" },
          {
            name: "partitions",
            versions: "0+",
            type: {
              array: [
                { name: "errorCode", type: "int16", versions: "0+" },
                { name: "partition", type: "int32", versions: "0+" },
                { name: "leaderEpoch", type: "int32", versions: "1+", default: -1 },
                { name: "endOffset", type: "int64", versions: "0+", default: -1n },
              ],
            },
          },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
