/**
 * JoinGroup (api key 11), written from Kafka's JoinGroupRequest.json / JoinGroupResponse.json.
 *
 * Request: group_id, session_timeout_ms, rebalance_timeout_ms (v1+, default -1: a v0 member is
 * given its session timeout instead), member_id, group_instance_id (v5+, nullable, default null:
 * static membership), protocol_type, protocols [name, metadata]. From v4 a member joining with an
 * empty member id is answered MEMBER_ID_REQUIRED with an id to rejoin with. v6 is the first
 * flexible version; v7 is the same as v6.
 *
 * Response: throttle_time_ms (v2+), error_code, generation_id (default -1), protocol_type (v7+,
 * nullable, default null), protocol_name (nullable from v7), leader, member_id, members
 * [member_id, group_instance_id (v5+, nullable, default null), metadata].
 * Versions 8 (request reason) and 9 (response skip_assignment) are left out until a client needs
 * them.
 */

import type { MessageSchema } from "../codec.ts";

export const JOIN_GROUP_REQUEST = {
  name: "JoinGroupRequest",
  apiKey: 11,
  validVersions: "0-7",
  flexibleVersions: "6+",
  fields: [
    { name: "groupId", type: "string", versions: "0+" },
    { name: "sessionTimeoutMs", type: "int32", versions: "0+" },
    { name: "rebalanceTimeoutMs", type: "int32", versions: "1+", default: -1 },
    { name: "memberId", type: "string", versions: "0+" },
    {
      name: "groupInstanceId",
      type: "string",
      versions: "5+",
      nullableVersions: "5+",
      default: null,
    },
    { name: "protocolType", type: "string", versions: "0+" },
    {
      name: "protocols",
      versions: "0+",
      type: {
        array: [
          { name: "name", type: "string", versions: "0+" },
          { name: "metadata", type: "bytes", versions: "0+" },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;

export const JOIN_GROUP_RESPONSE = {
  name: "JoinGroupResponse",
  apiKey: 11,
  validVersions: "0-7",
  flexibleVersions: "6+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "2+" },
    { name: "errorCode", type: "int16", versions: "0+" },
    { name: "generationId", type: "int32", versions: "0+", default: -1 },
    {
      name: "protocolType",
      type: "string",
      versions: "7+",
      nullableVersions: "7+",
      default: null,
    },
    { name: "protocolName", type: "string", versions: "0+", nullableVersions: "7+" },
    { name: "leader", type: "string", versions: "0+" },
    { name: "memberId", type: "string", versions: "0+" },
    {
      name: "members",
      versions: "0+",
      type: {
        array: [
          { name: "memberId", type: "string", versions: "0+" },
          {
            name: "groupInstanceId",
            type: "string",
            versions: "5+",
            nullableVersions: "5+",
            default: null,
          },
          { name: "metadata", type: "bytes", versions: "0+" },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
