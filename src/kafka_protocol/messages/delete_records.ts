/**
 * DeleteRecords (api key 21), written from Kafka's DeleteRecordsRequest.json /
 * DeleteRecordsResponse.json.
 *
 * Request: topics [name, partitions [partition_index, offset]], timeout_ms. Version 1 is the same
 * as version 0; v2 is the first flexible version. `offset` -1 is the high watermark.
 *
 * Response: throttle_time_ms, topics [name, partitions [partition_index, low_watermark,
 * error_code]]. Version 1 answers before throttling (nothing here throttles).
 */

import type { MessageSchema } from "../codec.ts";

export const DELETE_RECORDS_REQUEST = {
  name: "DeleteRecordsRequest",
  apiKey: 21,
  validVersions: "0-2",
  flexibleVersions: "2+",
  fields: [
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
                { name: "offset", type: "int64", versions: "0+" },
              ],
            },
          },
        ],
      },
    },
    { name: "timeoutMs", type: "int32", versions: "0+" },
  ],
} as const satisfies MessageSchema;

export const DELETE_RECORDS_RESPONSE = {
  name: "DeleteRecordsResponse",
  apiKey: 21,
  validVersions: "0-2",
  flexibleVersions: "2+",
  fields: [
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
                { name: "lowWatermark", type: "int64", versions: "0+" },
                { name: "errorCode", type: "int16", versions: "0+" },
              ],
            },
          },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
