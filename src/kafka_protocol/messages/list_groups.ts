/**
 * ListGroups (api key 16), written from Kafka's ListGroupsRequest.json / ListGroupsResponse.json.
 *
 * Request: states_filter (v4+) [string]: only groups in these states; empty means every group;
 * types_filter (v5+, KIP-848) [string]: only groups of these types ("classic", "consumer";
 * compared case-insensitively); empty means every type.
 * Versions 1 and 2 are the same as version 0; v3 is the first flexible version.
 *
 * Response: throttle_time_ms (v1+), error_code, groups [group_id, protocol_type, group_state
 * (v4+), group_type (v5+: "classic" or "consumer")].
 */

import type { MessageSchema } from "../codec.ts";

export const LIST_GROUPS_REQUEST = {
  name: "ListGroupsRequest",
  apiKey: 16,
  validVersions: "0-5",
  flexibleVersions: "3+",
  fields: [
    { name: "statesFilter", type: { array: "string" }, versions: "4+" },
    { name: "typesFilter", type: { array: "string" }, versions: "5+" },
  ],
} as const satisfies MessageSchema;

export const LIST_GROUPS_RESPONSE = {
  name: "ListGroupsResponse",
  apiKey: 16,
  validVersions: "0-5",
  flexibleVersions: "3+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "1+" },
    { name: "errorCode", type: "int16", versions: "0+" },
    {
      name: "groups",
      versions: "0+",
      type: {
        array: [
          { name: "groupId", type: "string", versions: "0+" },
          { name: "protocolType", type: "string", versions: "0+" },
          { name: "groupState", type: "string", versions: "4+" },
          { name: "groupType", type: "string", versions: "5+" },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
