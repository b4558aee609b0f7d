/**
 * DescribeCluster (api key 60), written from Kafka's DescribeClusterRequest.json /
 * DescribeClusterResponse.json. Every version is flexible.
 *
 * Request: include_cluster_authorized_operations, endpoint_type (v1+, default 1: BROKER; 2 is
 * CONTROLLER).
 *
 * Response: throttle_time_ms, error_code, error_message (nullable, default null), endpoint_type
 * (v1+, default 1), cluster_id, controller_id (default -1), brokers [broker_id, host, port, rack
 * (nullable, default null)], cluster_authorized_operations (default INT32_MIN: not reported).
 * Version 2 (include_fenced_brokers, is_fenced) is left out until a client needs it.
 */

import type { MessageSchema } from "../codec.ts";

export const DESCRIBE_CLUSTER_REQUEST = {
  name: "DescribeClusterRequest",
  apiKey: 60,
  validVersions: "0-1",
  flexibleVersions: "0+",
  fields: [
    { name: "includeClusterAuthorizedOperations", type: "bool", versions: "0+" },
    { name: "endpointType", type: "int8", versions: "1+", default: 1 },
  ],
} as const satisfies MessageSchema;

export const DESCRIBE_CLUSTER_RESPONSE = {
  name: "DescribeClusterResponse",
  apiKey: 60,
  validVersions: "0-1",
  flexibleVersions: "0+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "0+" },
    { name: "errorCode", type: "int16", versions: "0+" },
    {
      name: "errorMessage",
      type: "string",
      versions: "0+",
      nullableVersions: "0+",
      default: null,
    },
    { name: "endpointType", type: "int8", versions: "1+", default: 1 },
    { name: "clusterId", type: "string", versions: "0+" },
    { name: "controllerId", type: "int32", versions: "0+", default: -1 },
    {
      name: "brokers",
      versions: "0+",
      type: {
        array: [
          { name: "brokerId", type: "int32", versions: "0+" },
          { name: "host", type: "string", versions: "0+" },
          { name: "port", type: "int32", versions: "0+" },
          { name: "rack", type: "string", versions: "0+", nullableVersions: "0+", default: null },
        ],
      },
    },
    {
      name: "clusterAuthorizedOperations",
      type: "int32",
      versions: "0+",
      default: -2147483648,
    },
  ],
} as const satisfies MessageSchema;
