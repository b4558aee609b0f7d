/**
 * CreatePartitions (api key 37), written from Kafka's CreatePartitionsRequest.json /
 * CreatePartitionsResponse.json.
 *
 * Request (v0-3, flexible from 2; v1 the same as v0, v3 may answer THROTTLING_QUOTA_EXCEEDED):
 * topics [name, count (the new total), assignments (nullable) [broker_ids [int32]], one per new
 * partition], timeout_ms, validate_only.
 *
 * Response: throttle_time_ms, results [name, error_code, error_message (nullable, default null)].
 */

import type { MessageSchema } from "../codec.ts";

export const CREATE_PARTITIONS_REQUEST = {
  name: "CreatePartitionsRequest",
  apiKey: 37,
  validVersions: "0-3",
  flexibleVersions: "2+",
  fields: [
    {
      name: "topics",
      versions: "0+",
      type: {
        array: [
          { name: "name", type: "string", versions: "0+" },
          { name: "count", type: "int32", versions: "0+" },
          {
            name: "assignments",
            versions: "0+",
            nullableVersions: "0+",
            type: { array: [{ name: "brokerIds", type: { array: "int32" }, versions: "0+" }] },
          },
        ],
      },
    },
    { name: "timeoutMs", type: "int32", versions: "0+" },
    { name: "validateOnly", type: "bool", versions: "0+" },
  ],
} as const satisfies MessageSchema;

export const CREATE_PARTITIONS_RESPONSE = {
  name: "CreatePartitionsResponse",
  apiKey: 37,
  validVersions: "0-3",
  flexibleVersions: "2+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "0+" },
    {
      name: "results",
      versions: "0+",
      type: {
        array: [
          { name: "name", type: "string", versions: "0+" },
          { name: "errorCode", type: "int16", versions: "0+" },
          {
            name: "errorMessage",
            type: "string",
            versions: "0+",
            nullableVersions: "0+",
            default: null,
          },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
