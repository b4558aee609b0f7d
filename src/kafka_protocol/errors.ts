/**
 * Sluice's typed errors as Kafka error codes: the one place the Kafka edge maps them, as
 * src/http/error_handler.ts does for HTTP statuses.
 */
import { type ErrorCode, isSluiceError } from "../errors.ts";
import { KafkaError } from "./error_codes.ts";

const BY_CODE: Record<ErrorCode, number> = {
  INVALID_REQUEST: KafkaError.INVALID_REQUEST,
  INVALID_TOPIC_NAME: KafkaError.INVALID_TOPIC_EXCEPTION,
  INVALID_CONFIG: KafkaError.INVALID_CONFIG,
  INVALID_PARTITIONS: KafkaError.INVALID_PARTITIONS,
  INVALID_REPLICA_ASSIGNMENT: KafkaError.INVALID_REPLICA_ASSIGNMENT,
  POLICY_VIOLATION: KafkaError.POLICY_VIOLATION,
  CORRUPT_BATCH: KafkaError.CORRUPT_MESSAGE,
  UNSUPPORTED_COMPRESSION: KafkaError.UNSUPPORTED_COMPRESSION_TYPE,
  RECORD_TOO_LARGE: KafkaError.MESSAGE_TOO_LARGE,
  REQUEST_TOO_LARGE: KafkaError.RECORD_LIST_TOO_LARGE,
  UNSUPPORTED_MEDIA_TYPE: KafkaError.INVALID_REQUEST,
  TOPIC_NOT_FOUND: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
  PARTITION_NOT_FOUND: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
  GROUP_NOT_FOUND: KafkaError.GROUP_ID_NOT_FOUND,
  GROUP_NOT_EMPTY: KafkaError.NON_EMPTY_GROUP,
  MEMBER_NOT_FOUND: KafkaError.UNKNOWN_MEMBER_ID,
  OFFSET_OUT_OF_RANGE: KafkaError.OFFSET_OUT_OF_RANGE,
  NOT_FOUND: KafkaError.INVALID_REQUEST,
  TOPIC_EXISTS: KafkaError.TOPIC_ALREADY_EXISTS,
  ILLEGAL_GENERATION: KafkaError.ILLEGAL_GENERATION,
  REBALANCE_IN_PROGRESS: KafkaError.REBALANCE_IN_PROGRESS,
  FENCED_LEADER_EPOCH: KafkaError.FENCED_LEADER_EPOCH,
  UNKNOWN_LEADER_EPOCH: KafkaError.UNKNOWN_LEADER_EPOCH,
  INCONSISTENT_GROUP_PROTOCOL: KafkaError.INCONSISTENT_GROUP_PROTOCOL,
  INVALID_RECORD: KafkaError.INVALID_RECORD,
  OUT_OF_ORDER_SEQUENCE: KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
  INVALID_PRODUCER_EPOCH: KafkaError.INVALID_PRODUCER_EPOCH,
  INVALID_TXN_STATE: KafkaError.INVALID_TXN_STATE,
  // Fatal in the Java client and kafkajs (a retriable code such as COORDINATOR_NOT_AVAILABLE
  // would make a transactional producer retry forever): this transactional id cannot be used.
  TRANSACTIONAL_ID_UNSUPPORTED: KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
  UNAUTHENTICATED: KafkaError.CLUSTER_AUTHORIZATION_FAILED,
  FORBIDDEN: KafkaError.TOPIC_AUTHORIZATION_FAILED,
  // A retriable answer: the client backs off and tries again.
  TOO_MANY_REQUESTS: KafkaError.REQUEST_TIMED_OUT,
  CLUSTER_UNAVAILABLE: KafkaError.REQUEST_TIMED_OUT,
  NOT_LEADER_OR_FOLLOWER: KafkaError.NOT_LEADER_OR_FOLLOWER,
  LEADER_NOT_AVAILABLE: KafkaError.LEADER_NOT_AVAILABLE,
  NOT_ENOUGH_REPLICAS: KafkaError.NOT_ENOUGH_REPLICAS,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
  INVALID_REPLICATION_FACTOR: KafkaError.INVALID_REPLICATION_FACTOR,
  REQUEST_TIMED_OUT: KafkaError.REQUEST_TIMED_OUT,
  NOT_COORDINATOR: KafkaError.NOT_COORDINATOR,
  COORDINATOR_LOAD_IN_PROGRESS: KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
  BROKER_ID_IN_USE: KafkaError.DUPLICATE_BROKER_REGISTRATION,
  INSUFFICIENT_STORAGE: KafkaError.KAFKA_STORAGE_ERROR,
  CORRUPT_LOG: KafkaError.KAFKA_STORAGE_ERROR,
  STORAGE_ERROR: KafkaError.KAFKA_STORAGE_ERROR,
  LOG_CLOSED: KafkaError.NOT_LEADER_OR_FOLLOWER,
  TOO_MANY_OPEN_FILES: KafkaError.KAFKA_STORAGE_ERROR,
  INTERNAL: KafkaError.UNKNOWN_SERVER_ERROR,
};

/** The Kafka error code for one of Sluice's error codes. */
export function kafkaCodeFor(code: ErrorCode): number {
  return BY_CODE[code];
}

/**
 * Where one Kafka code stands for several of Sluice's, the one a Kafka peer's answer is read as:
 * the broader name (a partition unknown "or" its topic; any storage failure; a retriable timeout).
 */
const READ_AS: Readonly<Record<number, ErrorCode>> = {
  [KafkaError.UNKNOWN_TOPIC_OR_PARTITION]: "PARTITION_NOT_FOUND",
  [KafkaError.INVALID_REQUEST]: "INVALID_REQUEST",
  [KafkaError.REQUEST_TIMED_OUT]: "CLUSTER_UNAVAILABLE",
  [KafkaError.KAFKA_STORAGE_ERROR]: "STORAGE_ERROR",
  [KafkaError.NOT_LEADER_OR_FOLLOWER]: "NOT_LEADER_OR_FOLLOWER",
};

/** The reverse of BY_CODE: each Kafka code Sluice answers with, read back as a Sluice code. */
const BY_KAFKA_CODE = new Map<number, ErrorCode>();
for (const [code, kafka] of Object.entries(BY_CODE) as [ErrorCode, number][]) {
  BY_KAFKA_CODE.set(kafka, READ_AS[kafka] ?? BY_KAFKA_CODE.get(kafka) ?? code);
}

/**
 * The Sluice code for a Kafka error code in a peer's answer (a leader's, to the replica client):
 * the reverse of {@link kafkaCodeFor}; a code Sluice never answers with is INTERNAL.
 */
export function sluiceCodeFor(kafkaCode: number): ErrorCode {
  return BY_KAFKA_CODE.get(kafkaCode) ?? "INTERNAL";
}

/** The Kafka error code for `err`; an untyped error is UNKNOWN_SERVER_ERROR. */
export function kafkaErrorCode(err: unknown): number {
  if (isSluiceError(err)) return BY_CODE[err.code];
  if ((err as { code?: unknown })?.code === "ENOSPC") return KafkaError.KAFKA_STORAGE_ERROR;
  return KafkaError.UNKNOWN_SERVER_ERROR;
}

/** The message to send with the code (Kafka's error_message fields), when there is one. */
export function kafkaErrorMessage(err: unknown): string | null {
  return err instanceof Error ? err.message : null;
}
