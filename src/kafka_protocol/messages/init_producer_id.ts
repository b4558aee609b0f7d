/**
 * InitProducerId (api key 22), written from Kafka's InitProducerIdRequest.json /
 * InitProducerIdResponse.json.
 *
 * Request: transactional_id (nullable: null for an idempotent, non-transactional producer),
 * transaction_timeout_ms, producer_id (v3+, default -1), producer_epoch (v3+, default -1).
 * v2 is the first flexible version; v4 only adds an error code a client may get back.
 *
 * Response: throttle_time_ms, error_code, producer_id (default -1), producer_epoch.
 * Version 5+ (two-phase commit, KIP-939) is left out.
 */

import type { MessageSchema } from "../codec.ts";

export const INIT_PRODUCER_ID_REQUEST = {
  name: "InitProducerIdRequest",
  apiKey: 22,
  validVersions: "0-4",
  flexibleVersions: "2+",
  fields: [
    // Kafka's generated default is ""; null ("not transactional") is what every client means.
    {
      name: "transactionalId",
      type: "string",
      versions: "0+",
      nullableVersions: "0+",
      default: null,
    },
    { name: "transactionTimeoutMs", type: "int32", versions: "0+" },
    { name: "producerId", type: "int64", versions: "3+", default: -1n },
    { name: "producerEpoch", type: "int16", versions: "3+", default: -1 },
  ],
} as const satisfies MessageSchema;

export const INIT_PRODUCER_ID_RESPONSE = {
  name: "InitProducerIdResponse",
  apiKey: 22,
  validVersions: "0-4",
  flexibleVersions: "2+",
  fields: [
    { name: "throttleTimeMs", type: "int32", versions: "0+" },
    { name: "errorCode", type: "int16", versions: "0+" },
    { name: "producerId", type: "int64", versions: "0+", default: -1n },
    { name: "producerEpoch", type: "int16", versions: "0+" },
  ],
} as const satisfies MessageSchema;
