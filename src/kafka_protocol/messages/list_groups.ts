/**
 * ListGroups (api key 16), written from Kafka's ListGroupsRequest.json / ListGroupsResponse.json.
 *
 * Request: states_filter (v4+) [string]: only groups in these states; empty means every group.
 * Versions 1 and 2 are the same as version 0; v3 is the first flexible version.
 *
 * Response: throttle_time_ms (v1+), error_code, groups [group_id, protocol_type, group_state
 * (v4+)]. Version 5 (types_filter, group_type, KIP-848) is left out until a client needs it.
 */

import type { MessageSchema } from "../codec.ts";

export const LIST_GROUPS_REQUEST = {
  name: "ListGroupsRequest",
  apiKey: 16,
  validVersions: "0-4",
  flexibleVersions: "3+",
  fields: [
    { name: "statesFilter", type: { array: "string" }, versions: "4+" },
  ],
} as const satisfies MessageSchema;

export const LIST_GROUPS_RESPONSE = {
  name: "ListGroupsResponse",
  apiKey: 16,
  validVersions: "0-4",
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
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
