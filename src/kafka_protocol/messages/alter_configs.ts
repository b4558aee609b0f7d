/**
 * AlterConfigs (api key 33) and IncrementalAlterConfigs (api key 44), written from Kafka's
 * AlterConfigsRequest.json / AlterConfigsResponse.json and IncrementalAlterConfigsRequest.json /
 * IncrementalAlterConfigsResponse.json.
 *
 * AlterConfigs request (v0-2, flexible from 2): resources [resource_type (int8), resource_name,
 * configs [name, value (nullable)]], validate_only. Versions 0 and 1 are the same (v1: throttling).
 * IncrementalAlterConfigs request (v0-1, flexible from 1): resources [resource_type,
 * resource_name, configs [name, config_operation (int8: 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT),
 * value (nullable)]], validate_only.
 *
 * Both responses: throttle_time_ms, responses [error_code, error_message (nullable),
 * resource_type, resource_name].
 */

import type { MessageSchema } from "../codec.ts";

const RESPONSE_FIELDS = [
  { name: "throttleTimeMs", type: "int32", versions: "0+" },
  {
    name: "responses",
    versions: "0+",
    type: {
      array: [
        { name: "errorCode", type: "int16", versions: "0+" },
        { name: "errorMessage", type: "string", versions: "0+", nullableVersions: "0+" },
        { name: "resourceType", type: "int8", versions: "0+" },
        { name: "resourceName", type: "string", versions: "0+" },
      ],
    },
  },
] as const;

export const ALTER_CONFIGS_REQUEST = {
  name: "AlterConfigsRequest",
  apiKey: 33,
  validVersions: "0-2",
  flexibleVersions: "2+",
  fields: [
    {
      name: "resources",
      versions: "0+",
      type: {
        array: [
          { name: "resourceType", type: "int8", versions: "0+" },
          { name: "resourceName", type: "string", versions: "0+" },
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
    { name: "validateOnly", type: "bool", versions: "0+" },
  ],
} as const satisfies MessageSchema;

export const ALTER_CONFIGS_RESPONSE = {
  name: "AlterConfigsResponse",
  apiKey: 33,
  validVersions: "0-2",
  flexibleVersions: "2+",
  fields: RESPONSE_FIELDS,
} as const satisfies MessageSchema;

export const INCREMENTAL_ALTER_CONFIGS_REQUEST = {
  name: "IncrementalAlterConfigsRequest",
  apiKey: 44,
  validVersions: "0-1",
  flexibleVersions: "1+",
  fields: [
    {
      name: "resources",
      versions: "0+",
      type: {
        array: [
          { name: "resourceType", type: "int8", versions: "0+" },
          { name: "resourceName", type: "string", versions: "0+" },
          {
            name: "configs",
            versions: "0+",
            type: {
              array: [
                { name: "name", type: "string", versions: "0+" },
                { name: "configOperation", type: "int8", versions: "0+" },
                { name: "value", type: "string", versions: "0+", nullableVersions: "0+" },
              ],
            },
          },
        ],
      },
    },
    { name: "validateOnly", type: "bool", versions: "0+" },
  ],
} as const satisfies MessageSchema;

export const INCREMENTAL_ALTER_CONFIGS_RESPONSE = {
  name: "IncrementalAlterConfigsResponse",
  apiKey: 44,
  validVersions: "0-1",
  flexibleVersions: "1+",
  fields: RESPONSE_FIELDS,
} as const satisfies MessageSchema;
