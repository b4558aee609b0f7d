/**
 * DeleteGroups (api key 42), written from Kafka's DeleteGroupsRequest.json /
 * DeleteGroupsResponse.json.
 *
 * Request: groups_names [string]. Version 1 is the same as version 0; v2 is the first flexible
 * version.
 *
 * Response: throttle_time_ms, results [group_id, error_code]: NON_EMPTY_GROUP for a group with
 * members, GROUP_ID_NOT_FOUND for one the coordinator does not know. Version 3 (per-group
 * error_message) is left out until a client needs it.
 */

import type { MessageSchema } from "../codec.ts";

export const DELETE_GROUPS_REQUEST = {
  name: "DeleteGroupsRequest",
  apiKey: 42,
  validVersions: "0-2",
  flexibleVersions: "2+",
  fields: [
    { name: "groupsNames", type: { array: "string" }, versions: "0+" },
  ],
} as const satisfies MessageSchema;

export const DELETE_GROUPS_RESPONSE = {
  name: "DeleteGroupsResponse",
  apiKey: 42,
  validVersions: "0-2",
  flexibleVersions: "2+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "0+" },
    {
      name: "results",
      versions: "0+",
      type: {
        array: [
          { name: "groupId", type: "string", versions: "0+" },
          { name: "errorCode", type: "int16", versions: "0+" },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
