/**
 * The consumer protocol's embedded messages (ConsumerProtocolSubscription /
 * ConsumerProtocolAssignment, written from Kafka's definitions): what a Kafka consumer puts in
 * JoinGroup's protocol metadata and the leader in SyncGroup's assignments. The broker relays them
 * as bytes; Sluice reads them only to show a Kafka group over HTTP (members' topics and
 * partitions). Each is prefixed by an int16 version, and never flexible.
 *
 * Subscription: topics [string], user_data nullable bytes, owned_partitions (v1+) [topic,
 * partitions [int32]], generation_id (v2+, default -1), rack_id (v3+, nullable).
 * Assignment: assigned_partitions [topic, partitions [int32]], user_data nullable bytes.
 */
import { decodePrefix, inRange, type MessageSchema, type Struct } from "../codec.ts";

const TOPIC_PARTITIONS = {
  array: [
    { name: "topic", type: "string", versions: "0+" },
    { name: "partitions", type: { array: "int32" }, versions: "0+" },
  ],
} as const;

export const CONSUMER_PROTOCOL_SUBSCRIPTION = {
  name: "ConsumerProtocolSubscription",
  validVersions: "0-3",
  flexibleVersions: "none",
  fields: [
    { name: "topics", type: { array: "string" }, versions: "0+" },
    { name: "userData", type: "bytes", versions: "0+", nullableVersions: "0+", default: null },
    { name: "ownedPartitions", type: TOPIC_PARTITIONS, versions: "1+" },
    { name: "generationId", type: "int32", versions: "2+", default: -1 },
    { name: "rackId", type: "string", versions: "3+", nullableVersions: "3+", default: null },
  ],
} as const satisfies MessageSchema;

export const CONSUMER_PROTOCOL_ASSIGNMENT = {
  name: "ConsumerProtocolAssignment",
  validVersions: "0-3",
  flexibleVersions: "none",
  fields: [
    { name: "assignedPartitions", type: TOPIC_PARTITIONS, versions: "0+" },
    { name: "userData", type: "bytes", versions: "0+", nullableVersions: "0+", default: null },
  ],
} as const satisfies MessageSchema;

/**
 * Reads a versioned consumer-protocol message; undefined when the bytes are not one (another
 * protocol type, or garbage). A version newer than ours is read as our newest: Kafka's rule for
 * this protocol is that newer versions only append fields.
 */
export function readConsumerProtocol(
  schema: MessageSchema,
  bytes: Uint8Array,
): Struct | undefined {
  if (bytes.length < 2) return undefined;
  const version = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getInt16(0);
  if (version < 0) return undefined;
  const readAs = inRange(schema.validVersions, version) ? version : 3;
  try {
    return decodePrefix(schema, readAs, bytes, 2).value;
  } catch {
    return undefined;
  }
}
