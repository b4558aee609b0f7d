/**
 * FindCoordinator (api key 10), written from Kafka's FindCoordinatorRequest.json /
 * FindCoordinatorResponse.json.
 *
 * Request: key (v0-3), key_type (v1+, int8, 0 = group, 1 = transaction), coordinator_keys
 * (v4+, a batch of keys of the one key_type replacing key). v3 is the first flexible version.
 *
 * Response v0-3: throttle_time_ms (v1+), error_code, error_message (v1+, nullable), node_id, host,
 * port. v4 replaces them with coordinators [key, node_id, host, port, error_code, error_message
 * (nullable)] answering each coordinator key. Versions 5 (TRANSACTION_ABORTABLE) and 6 (share
 * groups) are left out until a client needs them.
 */

import type { MessageSchema } from "../codec.ts";

export const FIND_COORDINATOR_REQUEST = {
  name: "FindCoordinatorRequest",
  apiKey: 10,
  validVersions: "0-4",
  flexibleVersions: "3+",
  fields: [
    { name: "key", type: "string", versions: "0-3" },
    { name: "keyType", type: "int8", versions: "1+", default: 0 },
    { name: "coordinatorKeys", type: { array: "string" }, versions: "4+" },
  ],
} as const satisfies MessageSchema;

export const FIND_COORDINATOR_RESPONSE = {
  name: "FindCoordinatorResponse",
  apiKey: 10,
  validVersions: "0-4",
  flexibleVersions: "3+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "1+" },
    { name: "errorCode", type: "int16", versions: "0-3" },
    { name: "errorMessage", type: "string", versions: "1-3", nullableVersions: "1-3" },
    { name: "nodeId", type: "int32", versions: "0-3" },
    { name: "host", type: "string", versions: "0-3" },
    { name: "port", type: "int32", versions: "0-3" },
    {
      name: "coordinators",
      versions: "4+",
      type: {
        array: [
          { name: "key", type: "string", versions: "4+" },
          { name: "nodeId", type: "int32", versions: "4+" },
          { name: "host", type: "string", versions: "4+" },
          { name: "port", type: "int32", versions: "4+" },
          { name: "errorCode", type: "int16", versions: "4+" },
          { name: "errorMessage", type: "string", versions: "4+", nullableVersions: "4+" },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
