/**
 * CreateTopics (api key 19), written from Kafka's CreateTopicsRequest.json /
 * CreateTopicsResponse.json.
 *
 * Request: topics [name, num_partitions, replication_factor (-1 = broker default),
 * assignments [partition_index, broker_ids [int32]], configs [name, value (nullable)]],
 * timeout_ms (default 60000), validate_only (v1+). v5 is the first flexible version.
 *
 * Response: throttle_time_ms (v2+), topics [name, topic_id (v7+), error_code, error_message
 * (v1+, nullable), topic_config_error_code (tag 0 from v5), num_partitions (v5+, default -1),
 * replication_factor (v5+, default -1), configs (v5+, nullable) [name, value (nullable),
 * read_only, config_source (default -1), is_sensitive]].
 * v6 and v7 change semantics only apart from v7's topic_id (v6: quota errors, KIP-599).
 */

import type { MessageSchema } from "../codec.ts";

export const CREATE_TOPICS_REQUEST = {
  name: "CreateTopicsRequest",
  apiKey: 19,
  validVersions: "0-7",
  flexibleVersions: "5+",
  fields: [
    {
      name: "topics",
      versions: "0+",
      type: {
        array: [
          { name: "name", type: "string", versions: "0+" },
          { name: "numPartitions", type: "int32", versions: "0+" },
          { name: "replicationFactor", type: "int16", versions: "0+" },
          {
            name: "assignments",
            versions: "0+",
            type: {
              array: [
                { name: "partitionIndex", type: "int32", versions: "0+" },
                { name: "brokerIds", type: { array: "int32" }, versions: "0+" },
              ],
            },
          },
          {
            name: "configs",
            versions: "0+",
            type: {
              array: [
                { name: "name", type: "string", versions: "0+" },
                { name: "value", type: "string", versions: "0+", nullableVersions: "0+" },
              ],
            },
          },
        ],
      },
    },
    { name: "timeoutMs", type: "int32", versions: "0+", default: 60000 },
    { name: "validateOnly", type: "bool", versions: "1+" },
  ],
} as const satisfies MessageSchema;

export const CREATE_TOPICS_RESPONSE = {
  name: "CreateTopicsResponse",
  apiKey: 19,
  validVersions: "0-7",
  flexibleVersions: "5+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "2+" },
    {
      name: "topics",
      versions: "0+",
      type: {
        array: [
          { name: "name", type: "string", versions: "0+" },
          { name: "topicId", type: "uuid", versions: "7+" },
          { name: "errorCode", type: "int16", versions: "0+" },
          // Kafka's generated default is ""; a broker sends null when there is no error.
          {
            name: "errorMessage",
            type: "string",
            versions: "1+",
            nullableVersions: "0+",
            default: null,
          },
          {
            name: "topicConfigErrorCode",
            type: "int16",
            versions: "5+",
            tag: 0,
            taggedVersions: "5+",
          },
          { name: "numPartitions", type: "int32", versions: "5+", default: -1 },
          { name: "replicationFactor", type: "int16", versions: "5+", default: -1 },
          {
            name: "configs",
            versions: "5+",
            nullableVersions: "5+",
            type: {
              array: [
                { name: "name", type: "string", versions: "5+" },
                { name: "value", type: "string", versions: "5+", nullableVersions: "5+" },
                { name: "readOnly", type: "bool", versions: "5+" },
                { name: "configSource", type: "int8", versions: "5+", default: -1 },
                { name: "isSensitive", type: "bool", versions: "5+" },
              ],
            },
          },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
