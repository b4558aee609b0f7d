/**
 * Typed errors with stable codes. Lower layers throw {@link SluiceError}; each front (HTTP, later
 * the Kafka protocol) maps a code to its wire status in one table, once, at the edge.
 */

/** The closed list of error codes. Codes are part of the public contract: never rename one. */
export const ERROR_CODES = [
  // Bad input: the request is refused and nothing is written.
  "INVALID_REQUEST",
  "INVALID_TOPIC_NAME",
  "INVALID_CONFIG",
  /** CreatePartitions: a count not above the topic's, or over the limit. */
  "INVALID_PARTITIONS",
  /** A replica assignment that names unknown brokers, repeats one, or has the wrong size. */
  "INVALID_REPLICA_ASSIGNMENT",
  /** Refused by the topic's policy: DeleteRecords on a topic whose cleanup.policy lacks delete. */
  "POLICY_VIOLATION",
  "CORRUPT_BATCH",
  "UNSUPPORTED_COMPRESSION",
  "RECORD_TOO_LARGE",
  "REQUEST_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  // Lookups.
  "TOPIC_NOT_FOUND",
  "PARTITION_NOT_FOUND",
  "GROUP_NOT_FOUND",
  "MEMBER_NOT_FOUND",
  "OFFSET_OUT_OF_RANGE",
  "NOT_FOUND",
  // Conflicts.
  "TOPIC_EXISTS",
  "ILLEGAL_GENERATION",
  "REBALANCE_IN_PROGRESS",
  /** A group that still has members: its offsets may not be reset, nor the group deleted. */
  "GROUP_NOT_EMPTY",
  // Leader epochs (a client's view of a partition's leader against the log's).
  /** The client's current leader epoch is older than the partition's: its metadata is stale. */
  "FENCED_LEADER_EPOCH",
  /** The client's current leader epoch is newer than the partition's: this node lags behind. */
  "UNKNOWN_LEADER_EPOCH",
  /** The group id is in use by members of the other protocol (HTTP vs Kafka). */
  "INCONSISTENT_GROUP_PROTOCOL",
  // Idempotent producers (src/broker/producer_state.ts, producer_ids.ts).
  /** A batch a client may not write (a control batch, a negative sequence, several per request). */
  "INVALID_RECORD",
  /** A producer's batch does not follow its last sequence (or starts a new epoch past 0). */
  "OUT_OF_ORDER_SEQUENCE",
  /** A producer's epoch is older than its current one (a fenced, zombie producer). */
  "INVALID_PRODUCER_EPOCH",
  /** A transactional batch: Sluice has no transaction coordinator. */
  "INVALID_TXN_STATE",
  /** A transactional id in InitProducerId: transactions are not served. */
  "TRANSACTIONAL_ID_UNSUPPORTED",
  // Auth.
  "UNAUTHENTICATED",
  "FORBIDDEN",
  // Limits of the server rather than of the request.
  "TOO_MANY_REQUESTS",
  // Cluster mode: the metadata store (etcd) could not be reached or did not answer in time;
  // retriable, nothing was changed there unless the store says so later.
  "CLUSTER_UNAVAILABLE",
  /** This broker does not lead the partition (it follows it, or holds no replica of it). */
  "NOT_LEADER_OR_FOLLOWER",
  /** The partition has no live leader now (an election is under way, or every replica is down). */
  "LEADER_NOT_AVAILABLE",
  /** acks=all refused before the append: fewer in-sync replicas than min.insync.replicas. */
  "NOT_ENOUGH_REPLICAS",
  /** acks=all: written on the leader, but the in-sync replicas did not all have it in time. */
  "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
  /** A replication factor above the live brokers, or below 1. */
  "INVALID_REPLICATION_FACTOR",
  /** acks=all: the in-sync replicas did not all have the batch within the request's timeout. */
  "REQUEST_TIMED_OUT",
  /** A group request reached a broker that does not coordinate the group (Kafka's). */
  "NOT_COORDINATOR",
  /** The group's coordinator is still loading its offsets partition; retriable. */
  "COORDINATOR_LOAD_IN_PROGRESS",
  /** Another live broker is registered with this node id (start-up refused). */
  "BROKER_ID_IN_USE",
  // Storage: the disk said no, or stored bytes failed their check.
  "INSUFFICIENT_STORAGE",
  "CORRUPT_LOG",
  "STORAGE_ERROR",
  "LOG_CLOSED",
  // Storage: the process has no file descriptor left (EMFILE/ENFILE); retriable, nothing written.
  "TOO_MANY_OPEN_FILES",
  // A bug: reported as such, never as the user's fault.
  "INTERNAL",
] as const;

export type ErrorCode = typeof ERROR_CODES[number];

/** Extra facts that help a user or operator act on the error (file, position, offsets). */
export type ErrorDetails = Readonly<Record<string, string | number | boolean | null>>;

export class SluiceError extends Error {
  override readonly name = "SluiceError";
  readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message: string, details?: ErrorDetails, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.details = details;
  }
}

/** True when `err` is a SluiceError, optionally of one given code. */
export function isSluiceError(err: unknown, code?: ErrorCode): err is SluiceError {
  return err instanceof SluiceError && (code === undefined || err.code === code);
}

/** A broken invariant: a programmer error, never a user error. Crashes tests loudly. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
