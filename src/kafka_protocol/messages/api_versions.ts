/**
 * ApiVersions (api key 18), written from Kafka's ApiVersionsRequest.json / ApiVersionsResponse.json.
 *
 * Request v0-2 are empty; v3 (first flexible) adds client_software_name and _version.
 * Response: error_code, api_keys [api_key, min_version, max_version], throttle_time_ms (v1+);
 * v3+ adds tagged fields 0 supported_features, 1 finalized_features_epoch (default -1),
 * 2 finalized_features, 3 zk_migration_ready. v4 and v5 change semantics, not layout.
 */

import type { MessageSchema } from "../codec.ts";

export const API_VERSIONS_REQUEST = {
  name: "ApiVersionsRequest",
  apiKey: 18,
  validVersions: "0-4",
  flexibleVersions: "3+",
  fields: [
    { name: "clientSoftwareName", type: "string", versions: "3+" },
    { name: "clientSoftwareVersion", type: "string", versions: "3+" },
  ],
} as const satisfies MessageSchema;

export const API_VERSIONS_RESPONSE = {
  name: "ApiVersionsResponse",
  apiKey: 18,
  validVersions: "0-5",
  flexibleVersions: "3+",
  fields: [
    { name: "errorCode", type: "int16", versions: "0+" },
    {
      name: "apiKeys",
      versions: "0+",
      type: {
        array: [
          { name: "apiKey", type: "int16", versions: "0+" },
          { name: "minVersion", type: "int16", versions: "0+" },
          { name: "maxVersion", type: "int16", versions: "0+" },
        ],
      },
    },
    { name: "throttleTimeMs", type: "int32", versions: "1+" },
    {
      name: "supportedFeatures",
      versions: "3+",
      tag: 0,
      taggedVersions: "3+",
      type: {
        array: [
          { name: "name", type: "string", versions: "3+" },
          { name: "minVersion", type: "int16", versions: "3+" },
          { name: "maxVersion", type: "int16", versions: "3+" },
        ],
      },
    },
    {
      name: "finalizedFeaturesEpoch",
      type: "int64",
      versions: "3+",
      tag: 1,
      taggedVersions: "3+",
      default: -1n,
    },
    {
      name: "finalizedFeatures",
      versions: "3+",
      tag: 2,
      taggedVersions: "3+",
      type: {
        array: [
          { name: "name", type: "string", versions: "3+" },
          { name: "maxVersionLevel", type: "int16", versions: "3+" },
          { name: "minVersionLevel", type: "int16", versions: "3+" },
        ],
      },
    },
    { name: "zkMigrationReady", type: "bool", versions: "3+", tag: 3, taggedVersions: "3+" },
  ],
} as const satisfies MessageSchema;
