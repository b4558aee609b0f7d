/**
 * ConsumerGroupDescribe (api key 69, KIP-848), written from Kafka's
 * ConsumerGroupDescribeRequest.json / ConsumerGroupDescribeResponse.json. Every version is
 * flexible; the request is the same in v0 and v1.
 *
 * Request: group_ids [string], include_authorized_operations.
 *
 * Response: throttle_time_ms, groups [error_code, error_message (nullable), group_id,
 * group_state, group_epoch, assignment_epoch, assignor_name, members [member_id, instance_id,
 * rack_id (both nullable), member_epoch, client_id, client_host, subscribed_topic_names,
 * subscribed_topic_regex (nullable), assignment, target_assignment (each topic_partitions
 * [topic_id, topic_name, partitions]), member_type (v1+, KIP-1099: -1 unknown, 0 classic,
 * 1 consumer)], authorized_operations (INT32_MIN: not reported)].
 */

import type { FieldSchema, MessageSchema } from "../codec.ts";

const ASSIGNMENT: readonly FieldSchema[] = [
  {
    name: "topicPartitions",
    versions: "0+",
    type: {
      array: [
        { name: "topicId", type: "uuid", versions: "0+" },
        { name: "topicName", type: "string", versions: "0+" },
        { name: "partitions", type: { array: "int32" }, versions: "0+" },
      ],
    },
  },
];

export const CONSUMER_GROUP_DESCRIBE_REQUEST = {
  name: "ConsumerGroupDescribeRequest",
  apiKey: 69,
  validVersions: "0-1",
  flexibleVersions: "0+",
  fields: [
    { name: "groupIds", type: { array: "string" }, versions: "0+" },
    { name: "includeAuthorizedOperations", type: "bool", versions: "0+" },
  ],
} as const satisfies MessageSchema;

export const CONSUMER_GROUP_DESCRIBE_RESPONSE = {
  name: "ConsumerGroupDescribeResponse",
  apiKey: 69,
  validVersions: "0-1",
  flexibleVersions: "0+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "0+" },
    {
      name: "groups",
      versions: "0+",
      type: {
        array: [
          { name: "errorCode", type: "int16", versions: "0+" },
          {
            name: "errorMessage",
            type: "string",
            versions: "0+",
            nullableVersions: "0+",
            default: null,
          },
          { name: "groupId", type: "string", versions: "0+" },
          { name: "groupState", type: "string", versions: "0+" },
          { name: "groupEpoch", type: "int32", versions: "0+" },
          { name: "assignmentEpoch", type: "int32", versions: "0+" },
          { name: "assignorName", type: "string", versions: "0+" },
          {
            name: "members",
            versions: "0+",
            type: {
              array: [
                { name: "memberId", type: "string", versions: "0+" },
                {
                  name: "instanceId",
                  type: "string",
                  versions: "0+",
                  nullableVersions: "0+",
                  default: null,
                },
                {
                  name: "rackId",
                  type: "string",
                  versions: "0+",
                  nullableVersions: "0+",
                  default: null,
                },
                { name: "memberEpoch", type: "int32", versions: "0+" },
                { name: "clientId", type: "string", versions: "0+" },
                { name: "clientHost", type: "string", versions: "0+" },
                { name: "subscribedTopicNames", type: { array: "string" }, versions: "0+" },
                {
                  name: "subscribedTopicRegex",
                  type: "string",
                  versions: "0+",
                  nullableVersions: "0+",
                  default: null,
                },
                { name: "assignment", type: { struct: ASSIGNMENT }, versions: "0+" },
                { name: "targetAssignment", type: { struct: ASSIGNMENT }, versions: "0+" },
                { name: "memberType", type: "int8", versions: "1+", default: -1 },
              ],
            },
          },
          {
            name: "authorizedOperations",
            type: "int32",
            versions: "0+",
            default: -2147483648,
          },
        ],
      },
    },
  ],
} as const satisfies MessageSchema;
