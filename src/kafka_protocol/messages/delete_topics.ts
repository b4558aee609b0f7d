/**
 * DeleteTopics (api key 20), written from Kafka's DeleteTopicsRequest.json /
 * DeleteTopicsResponse.json.
 *
 * Request: topics (v6+) [name (nullable, default null), topic_id], topic_names (v0-5) [string],
 * timeout_ms. Versions 0 to 3 are the same; v4 is the first flexible version; v5 may answer
 * THROTTLING_QUOTA_EXCEEDED (KIP-599); v6 names each topic by name or by id.
 *
 * Response: throttle_time_ms (v1+), responses [name (nullable from v6), topic_id (v6+),
 * error_code, error_message (v5+, nullable, default null)].
 */

import type { MessageSchema } from "../codec.ts";

export const DELETE_TOPICS_REQUEST = {
  name: "DeleteTopicsRequest",
  apiKey: 20,
  validVersions: "0-6",
  flexibleVersions: "4+",
  fields: [
    {
      name: "topics",
      versions: "6+",
      type: {
        array: [
          {
            name: "name",
            type: "string",
            versions: "6+",
            nullableVersions: "6+",
            default: null,
          },
          { name: "topicId", type: "uuid", versions: "6+" },
        ],
      },
    },
    { name: "topicNames", type: { array: "string" }, versions: "0-5" },
    { name: "timeoutMs", type: "int32", versions: "0+" },
  ],
} as const satisfies MessageSchema;

export const DELETE_TOPICS_RESPONSE = {
  name: "DeleteTopicsResponse",
  apiKey: 20,
  validVersions: "0-6",
  flexibleVersions: "4+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "1+" },
    {
      name: "responses",
      versions: "0+",
      type: {
        array: [
          { name: "name", type: "string", versions: "0+", nullableVersions: "6+" },
          { name: "topicId", type: "uuid", versions: "6+" },
          { name: "errorCode", type: "int16", versions: "0+" },
          {
            name: "errorMessage",
            type: "string",
            versions: "5+",
            nullableVersions: "5+",
            default: null,
          },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
