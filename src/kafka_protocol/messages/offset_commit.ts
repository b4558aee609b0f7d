/**
 * OffsetCommit (api key 8), written from Kafka's OffsetCommitRequest.json /
 * OffsetCommitResponse.json.
 *
 * Request: group_id, generation_id_or_member_epoch (default -1: a commit from outside any group),
 * member_id, group_instance_id (v7+, nullable, default null), retention_time_ms (v2-4, default
 * -1: the broker's retention), topics [name, partitions [partition_index, committed_offset,
 * committed_leader_epoch (v6+, default -1), committed_metadata (nullable)]]. v8 is the first
 * flexible version.
 *
 * Response: throttle_time_ms (v3+), topics [name, partitions [partition_index, error_code]].
 * Version 9 is version 8 on the wire; from it a consumer-protocol (KIP-848) member sends its
 * member epoch as generation_id_or_member_epoch (older versions are refused for such groups with
 * UNSUPPORTED_VERSION, as Kafka does). Versions 0-1 (v1's per-partition commit_timestamp) and 10
 * (topic ids in place of names) are left out until a client needs them.
 */

import type { MessageSchema } from "../codec.ts";

export const OFFSET_COMMIT_REQUEST = {
  name: "OffsetCommitRequest",
  apiKey: 8,
  validVersions: "2-9",
  flexibleVersions: "8+",
  fields: [
    { name: "groupId", type: "string", versions: "0+" },
    { name: "generationIdOrMemberEpoch", type: "int32", versions: "1+", default: -1 },
    { name: "memberId", type: "string", versions: "1+" },
    {
      name: "groupInstanceId",
      type: "string",
      versions: "7+",
      nullableVersions: "7+",
      default: null,
    },
    { name: "retentionTimeMs", type: "int64", versions: "2-4", default: -1n },
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
                { name: "committedOffset", type: "int64", versions: "0+" },
                { name: "committedLeaderEpoch", type: "int32", versions: "6+", default: -1 },
                {
                  name: "committedMetadata",
                  type: "string",
                  versions: "0+",
                  nullableVersions: "0+",
                },
              ],
            },
          },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;

export const OFFSET_COMMIT_RESPONSE = {
  name: "OffsetCommitResponse",
  apiKey: 8,
  validVersions: "2-9",
  flexibleVersions: "8+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "3+" },
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
              ],
            },
          },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
