/**
 * Produce (api key 0), written from Kafka's ProduceRequest.json / ProduceResponse.json.
 *
 * Request: transactional_id (v3+, nullable, default null), acks, timeout_ms, topic_data [name,
 * partition_data [index, records (nullable)]]. The request layout is the same from v3 to v8
 * (v4 storage errors, v7 zstd, v5/v6/v8 change only the response); v9 is the first flexible one.
 *
 * Response: responses [name, partition_responses [index, error_code, base_offset,
 * log_append_time_ms (v2+, default -1), log_start_offset (v5+, default -1), record_errors (v8+)
 * [batch_index, batch_index_error_message (nullable, default null)], error_message (v8+,
 * nullable, default null)]], throttle_time_ms (v1+).
 * Versions 0-2 (pre-transaction, message sets v0/v1) and 10+ (current_leader and node_endpoints
 * tagged fields, KIP-951) are left out.
 */

import type { MessageSchema } from "../codec.ts";

export const PRODUCE_REQUEST = {
  name: "ProduceRequest",
  apiKey: 0,
  validVersions: "3-9",
  flexibleVersions: "9+",
  fields: [
    {
      name: "transactionalId",
      type: "string",
      versions: "3+",
      nullableVersions: "3+",
      default: null,
    },
    { name: "acks", type: "int16", versions: "0+" },
    { name: "timeoutMs", type: "int32", versions: "0+" },
    {
      name: "topicData",
      versions: "0+",
      type: {
        array: [
          { name: "name", type: "string", versions: "0+" },
          {
            name: "partitionData",
            versions: "0+",
            type: {
              array: [
                { name: "index", type: "int32", versions: "0+" },
                { name: "records", type: "records", versions: "0+", nullableVersions: "0+" },
              ],
            },
          },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;

export const PRODUCE_RESPONSE = {
  name: "ProduceResponse",
  apiKey: 0,
  validVersions: "3-9",
  flexibleVersions: "9+",
  fields: [
    {
      name: "responses",
      versions: "0+",
      type: {
        array: [
          { name: "name", type: "string", versions: "0+" },
          {
            name: "partitionResponses",
            versions: "0+",
            type: {
              array: [
                { name: "index", type: "int32", versions: "0+" },
                { name: "errorCode", type: "int16", versions: "0+" },
                { name: "baseOffset", type: "int64", versions: "0+" },
                { name: "logAppendTimeMs", type: "int64", versions: "2+", default: -1n },
                { name: "logStartOffset", type: "int64", versions: "5+", default: -1n },
                {
                  name: "recordErrors",
                  versions: "8+",
                  type: {
                    array: [
                      { name: "batchIndex", type: "int32", versions: "8+" },
                      {
                        name: "batchIndexErrorMessage",
                        type: "string",
                        versions: "8+",
                        nullableVersions: "8+",
                        default: null,
                      },
                    ],
                  },
                },
                {
                  name: "errorMessage",
                  type: "string",
                  versions: "8+",
                  nullableVersions: "8+",
                  default: null,
                },
              ],
            },
          },
        ],
      },
    },
    { name: "throttleTimeMs", type: "int32", versions: "1+" },
  ],
} as const satisfies MessageSchema;
