/**
 * Heartbeat (api key 12), written from Kafka's HeartbeatRequest.json / HeartbeatResponse.json.
 *
 * Request: group_id, generation_id, member_id, group_instance_id (v3+, nullable, default null).
 * Response: throttle_time_ms (v1+), error_code. Versions 1 and 2 are the same as v0 on the wire
 * (v2: the broker answers before throttling); v4 is the first flexible version.
 */

import type { MessageSchema } from "../codec.ts";

export const HEARTBEAT_REQUEST = {
  name: "HeartbeatRequest",
  apiKey: 12,
  validVersions: "0-4",
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
  ],
} as const satisfies MessageSchema;

export const HEARTBEAT_RESPONSE = {
  name: "HeartbeatResponse",
  apiKey: 12,
  validVersions: "0-4",
  flexibleVersions: "4+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "1+" },
    { name: "errorCode", type: "int16", versions: "0+" },
  ],
} as const satisfies MessageSchema;
