/**
 * LeaveGroup (api key 13), written from Kafka's LeaveGroupRequest.json / LeaveGroupResponse.json.
 *
 * Request: group_id, member_id (v0-2); from v3 a batch members [member_id, group_instance_id
 * (nullable, default null)] replaces member_id. v4 is the first flexible version.
 *
 * Response: throttle_time_ms (v1+), error_code, members (v3+) [member_id, group_instance_id
 * (nullable), error_code]. Version 5 (a per-member reason) is left out until a client needs it.
 */

import type { MessageSchema } from "../codec.ts";

export const LEAVE_GROUP_REQUEST = {
  name: "LeaveGroupRequest",
  apiKey: 13,
  validVersions: "0-4",
  flexibleVersions: "4+",
  fields: [
    { name: "groupId", type: "string", versions: "0+" },
    { name: "memberId", type: "string", versions: "0-2" },
    {
      name: "members",
      versions: "3+",
      type: {
        array: [
          { name: "memberId", type: "string", versions: "3+" },
          {
            name: "groupInstanceId",
            type: "string",
            versions: "3+",
            nullableVersions: "3+",
            default: null,
          },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;

export const LEAVE_GROUP_RESPONSE = {
  name: "LeaveGroupResponse",
  apiKey: 13,
  validVersions: "0-4",
  flexibleVersions: "4+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "1+" },
    { name: "errorCode", type: "int16", versions: "0+" },
    {
      name: "members",
      versions: "3+",
      type: {
        array: [
          { name: "memberId", type: "string", versions: "3+" },
          { name: "groupInstanceId", type: "string", versions: "3+", nullableVersions: "3+" },
          { name: "errorCode", type: "int16", versions: "3+" },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
