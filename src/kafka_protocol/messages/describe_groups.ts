/**
 * DescribeGroups (api key 15), written from Kafka's DescribeGroupsRequest.json /
 * DescribeGroupsResponse.json.
 *
 * Request: groups [string], include_authorized_operations (v3+). Versions 1 and 2 are the same as
 * version 0; v5 is the first flexible version.
 *
 * Response: throttle_time_ms (v1+), groups [error_code, group_id, group_state, protocol_type,
 * protocol_data (the elected protocol, only when Stable), members [member_id, group_instance_id
 * (v4+, nullable, default null), client_id, client_host, member_metadata, member_assignment
 * (both only when Stable)], authorized_operations (v3+, default INT32_MIN: not reported)].
 * A group the coordinator does not know is state "Dead" with no members and error 0.
 * Version 6 (error_message, GROUP_ID_NOT_FOUND for unknown groups) is left out until a client
 * needs it.
 */

import type { MessageSchema } from "../codec.ts";

export const DESCRIBE_GROUPS_REQUEST = {
  name: "DescribeGroupsRequest",
  apiKey: 15,
  validVersions: "0-5",
  flexibleVersions: "5+",
  fields: [
    { name: "groups", type: { array: "string" }, versions: "0+" },
    { name: "includeAuthorizedOperations", type: "bool", versions: "3+" },
  ],
} as const satisfies MessageSchema;

export const DESCRIBE_GROUPS_RESPONSE = {
  name: "DescribeGroupsResponse",
  apiKey: 15,
  validVersions: "0-5",
  flexibleVersions: "5+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "1+" },
    {
      name: "groups",
      versions: "0+",
      type: {
        array: [
          { name: "errorCode", type: "int16", versions: "0+" },
          { name: "groupId", type: "string", versions: "0+" },
          { name: "groupState", type: "string", versions: "0+" },
          { name: "protocolType", type: "string", versions: "0+" },
          { name: "protocolData", type: "string", versions: "0+" },
          {
            name: "members",
            versions: "0+",
            type: {
              array: [
                { name: "memberId", type: "string", versions: "0+" },
                {
                  name: "groupInstanceId",
                  type: "string",
                  versions: "4+",
                  nullableVersions: "4+",
                  default: null,
                },
                { name: "clientId", type: "string", versions: "0+" },
                { name: "clientHost", type: "string", versions: "0+" },
                { name: "memberMetadata", type: "bytes", versions: "0+" },
                { name: "memberAssignment", type: "bytes", versions: "0+" },
              ],
            },
          },
          {
            name: "authorizedOperations",
            type: "int32",
            versions: "3+",
            default: -2147483648,
          },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
