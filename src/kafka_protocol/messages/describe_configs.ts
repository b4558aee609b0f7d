/**
 * DescribeConfigs (api key 32), written from Kafka's DescribeConfigsRequest.json /
 * DescribeConfigsResponse.json.
 *
 * Request: resources [resource_type (int8: 2 TOPIC, 4 BROKER, ...), resource_name,
 * configuration_keys (nullable: null, or as Kafka also reads it an empty list, asks for every
 * key)], include_synonyms (v1+), include_documentation (v3+). Version 2 is the same as version 1;
 * v4 is the first flexible version.
 *
 * Response: throttle_time_ms, results [error_code, error_message, resource_type, resource_name,
 * configs [name, value (nullable), read_only, is_default (v0 only), config_source (v1+, default
 * -1: 1 DYNAMIC_TOPIC_CONFIG, 4 STATIC_BROKER_CONFIG, 5 DEFAULT_CONFIG, ...), is_sensitive,
 * synonyms (v1+) [name, value (nullable), source], config_type (v3+, default 0: 1 BOOLEAN,
 * 2 STRING, 3 INT, 5 LONG, 7 LIST, ...), documentation (v3+, nullable)]].
 */

import type { MessageSchema } from "../codec.ts";

export const DESCRIBE_CONFIGS_REQUEST = {
  name: "DescribeConfigsRequest",
  apiKey: 32,
  validVersions: "0-4",
  flexibleVersions: "4+",
  fields: [
    {
      name: "resources",
      versions: "0+",
      type: {
        array: [
          { name: "resourceType", type: "int8", versions: "0+" },
          { name: "resourceName", type: "string", versions: "0+" },
          {
            name: "configurationKeys",
            type: { array: "string" },
            versions: "0+",
            nullableVersions: "0+",
          },
        ],
      },
    },
    { name: "includeSynonyms", type: "bool", versions: "1+" },
    { name: "includeDocumentation", type: "bool", versions: "3+" },
  ],
} as const satisfies MessageSchema;

export const DESCRIBE_CONFIGS_RESPONSE = {
  name: "DescribeConfigsResponse",
  apiKey: 32,
  validVersions: "0-4",
  flexibleVersions: "4+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "0+" },
    {
      name: "results",
      versions: "0+",
      type: {
        array: [
          { name: "errorCode", type: "int16", versions: "0+" },
          { name: "errorMessage", type: "string", versions: "0+", nullableVersions: "0+" },
          { name: "resourceType", type: "int8", versions: "0+" },
          { name: "resourceName", type: "string", versions: "0+" },
          {
            name: "configs",
            versions: "0+",
            type: {
              array: [
                { name: "name", type: "string", versions: "0+" },
                { name: "value", type: "string", versions: "0+", nullableVersions: "0+" },
                { name: "readOnly", type: "bool", versions: "0+" },
                { name: "isDefault", type: "bool", versions: "0" },
                { name: "configSource", type: "int8", versions: "1+", default: -1 },
                { name: "isSensitive", type: "bool", versions: "0+" },
                {
                  name: "synonyms",
                  versions: "1+",
                  type: {
                    array: [
                      { name: "name", type: "string", versions: "1+" },
                      {
                        name: "value",
                        type: "string",
                        versions: "1+",
                        nullableVersions: "0+",
                      },
                      { name: "source", type: "int8", versions: "1+" },
                    ],
                  },
                },
                { name: "configType", type: "int8", versions: "3+", default: 0 },
                {
                  name: "documentation",
                  type: "string",
                  versions: "3+",
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
