/**
 * OffsetDelete (api key 47), written from Kafka's OffsetDeleteRequest.json /
 * OffsetDeleteResponse.json. Only version 0, not flexible.
 *
 * Request: group_id, topics [name, partitions [partition_index]].
 *
 * Response: error_code (the group's), throttle_time_ms, topics [name, partitions [partition_index,
 * error_code]].
 */

import type { MessageSchema } from "../codec.ts";

export const OFFSET_DELETE_REQUEST = {
  name: "OffsetDeleteRequest",
  apiKey: 47,
  validVersions: "0",
  flexibleVersions: "none",
  fields: [
    { name: "groupId", type: "string", versions: "0+" },
    {
      name: "topics",
      versions: "0+",
      type: {
        array: [
          { name: "name", type: "string", versions: "0+" },
          {
            name: "partitions",
            versions: "0+",
            type: { array: [{ name: "partitionIndex", type: "int32", versions: "0+" }] },
          },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;

export const OFFSET_DELETE_RESPONSE = {
  name: "OffsetDeleteResponse",
  apiKey: 47,
  validVersions: "0",
  flexibleVersions: "none",
  fields: [
    { name: "errorCode", type: "int16", versions: "0+" },
    { name: "throttleTimeMs", type: "int32", versions: "0+" },
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
