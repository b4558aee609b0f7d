/**
 * OffsetFetch (api key 9), written from Kafka's OffsetFetchRequest.json /
 * OffsetFetchResponse.json.
 *
 * Request: group_id, topics [name, partition_indexes] (nullable from v2: null = every topic the
 * group has offsets for), require_stable (v7+: answer UNSTABLE_OFFSET_COMMIT rather than an
 * offset a pending transaction may still change). v6 is the first flexible version.
 *
 * Response: throttle_time_ms (v3+), topics [name, partitions [partition_index, committed_offset,
 * committed_leader_epoch (v5+, default -1), metadata (nullable), error_code]], error_code (v2+,
 * the group-level error). Version 0 (offsets kept in ZooKeeper) and versions 8+ (several groups
 * per request, as groups [group_id, topics] in place of the top-level group_id, topics and
 * error_code) are left out until a client needs them.
 */

import type { MessageSchema } from "../codec.ts";

export const OFFSET_FETCH_REQUEST = {
  name: "OffsetFetchRequest",
  apiKey: 9,
  validVersions: "1-9",
  flexibleVersions: "6+",
  fields: [
    { name: "groupId", type: "string", versions: "0-7" },
    {
      name: "topics",
      versions: "0-7",
      nullableVersions: "2-7",
      type: {
        array: [
          { name: "name", type: "string", versions: "0-7" },
          { name: "partitionIndexes", type: { array: "int32" }, versions: "0-7" },
        ],
      },
    },
    {
      name: "groups",
      versions: "8+",
      type: {
        array: [
          { name: "groupId", type: "string", versions: "8+" },
          {
            name: "memberId",
            type: "string",
            versions: "9+",
            nullableVersions: "9+",
            default: null,
          },
          { name: "memberEpoch", type: "int32", versions: "9+", default: -1 },
          {
            name: "topics",
            versions: "8+",
            nullableVersions: "8+",
            type: {
              array: [
                { name: "name", type: "string", versions: "8+" },
                { name: "partitionIndexes", type: { array: "int32" }, versions: "8+" },
              ],
            },
          },
        ],
      },
    },
    { name: "requireStable", type: "bool", versions: "7+" },
  ],
} as const satisfies MessageSchema;

export const OFFSET_FETCH_RESPONSE = {
  name: "OffsetFetchResponse",
  apiKey: 9,
  validVersions: "1-9",
  flexibleVersions: "6+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "3+" },
    {
      name: "topics",
      versions: "0-7",
      type: {
        array: [
          { name: "name", type: "string", versions: "0-7" },
          {
            name: "partitions",
            versions: "0-7",
            type: {
              array: [
                { name: "partitionIndex", type: "int32", versions: "0-7" },
                { name: "committedOffset", type: "int64", versions: "0-7" },
                { name: "committedLeaderEpoch", type: "int32", versions: "5-7", default: -1 },
                { name: "metadata", type: "string", versions: "0-7", nullableVersions: "0-7" },
                { name: "errorCode", type: "int16", versions: "0-7" },
              ],
            },
          },
        ],
      },
    },
    { name: "errorCode", type: "int16", versions: "2-7" },
    {
      name: "groups",
      versions: "8+",
      type: {
        array: [
          { name: "groupId", type: "string", versions: "8+" },
          {
            name: "topics",
            versions: "8+",
            type: {
              array: [
                { name: "name", type: "string", versions: "8+" },
                {
                  name: "partitions",
                  versions: "8+",
                  type: {
                    array: [
                      { name: "partitionIndex", type: "int32", versions: "8+" },
                      { name: "committedOffset", type: "int64", versions: "8+" },
                      { name: "committedLeaderEpoch", type: "int32", versions: "8+", default: -1 },
                      {
                        name: "metadata",
                        type: "string",
                        versions: "8+",
                        nullableVersions: "8+",
                      },
                      { name: "errorCode", type: "int16", versions: "8+" },
                    ],
                  },
                },
              ],
            },
          },
          { name: "errorCode", type: "int16", versions: "8+" },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
