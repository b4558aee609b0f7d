/**
 * SyncGroup (api key 14), written from Kafka's SyncGroupRequest.json / SyncGroupResponse.json.
 *
 * Request: group_id, generation_id, member_id, group_instance_id (v3+, nullable, default null),
 * protocol_type and protocol_name (v5+, nullable, default null: checked against the group's),
 * assignments [member_id, assignment] (filled by the leader only). v4 is the first flexible
 * version.
 *
 * Response: throttle_time_ms (v1+), error_code, protocol_type and protocol_name (v5+, nullable,
 * default null), assignment (this member's assignment bytes).
 */

import type { MessageSchema } from "../codec.ts";

export const SYNC_GROUP_REQUEST = {
  name: "SyncGroupRequest",
  apiKey: 14,
  validVersions: "0-5",
  flexibleVersions: "4+",
  fields: [
    { name: "groupId", type: "string", versions: "0+" },
    { name: "generationId", type: "int32", versions: "0+" },
    { name: "memberId", type: "string", versions: "0+" },
    {
      name: "groupInstanceId",
      type: "string",
      versions: "3+",
      nullableVersions: "3+",
      default: null,
    },
    {
      name: "protocolType",
      type: "string",
      versions: "5+",
      nullableVersions: "5+",
      default: null,
    },
    {
      name: "protocolName",
      type: "string",
      versions: "5+",
      nullableVersions: "5+",
      default: null,
    },
    {
      name: "assignments",
      versions: "0+",
      type: {
        array: [
          { name: "memberId", type: "string", versions: "0+" },
          { name: "assignment", type: "bytes", versions: "0+" },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;

export const SYNC_GROUP_RESPONSE = {
  name: "SyncGroupResponse",
  apiKey: 14,
  validVersions: "0-5",
  flexibleVersions: "4+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "1+" },
    { name: "errorCode", type: "int16", versions: "0+" },
    {
      name: "protocolType",
      type: "string",
      versions: "5+",
      nullableVersions: "5+",
      default: null,
    },
    {
      name: "protocolName",
      type: "string",
      versions: "5+",
      nullableVersions: "5+",
      default: null,
    },
    { name: "assignment", type: "bytes", versions: "0+" },
  ],
} as const satisfies MessageSchema;
