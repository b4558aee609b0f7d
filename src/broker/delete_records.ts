/**
 * DeleteRecords through the broker, for both fronts (Kafka's ReplicaManager.deleteRecords and
 * Partition.deleteRecordsOnLeader): the records of one partition before an offset are deleted,
 * and the answer is the partition's low watermark, its new first offset.
 *
 * - `offset` -1 means the high watermark (Kafka's DeleteRecordsRequest.HIGH_WATERMARK); any other
 *   negative offset, or one past the high watermark, is OFFSET_OUT_OF_RANGE and changes nothing.
 *   An offset at or below the log start changes nothing and answers the low watermark.
 * - The internal `__consumer_offsets` topic is refused (INVALID_TOPIC_NAME; Kafka's
 *   InvalidTopicException): its records are the groups' committed offsets. So is a topic whose
 *   cleanup.policy lacks delete (POLICY_VIOLATION, as Kafka's UnifiedLog refuses it).
 * - One node: the log's start moves, durably (PartitionLog.deleteRecordsBefore); the answer is
 *   its log start.
 * - A cluster: only the partition's leader deletes (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE
 *   otherwise); it moves its own log start, then waits up to `timeoutMs` until every live
 *   replica's log start has reached the offset (the followers learn it from their fetches), and
 *   answers the least of them (REQUEST_TIMED_OUT after the timeout, the leader's records deleted
 *   all the same; src/cluster/low_watermark.ts).
 */
import { SluiceError } from "../errors.ts";
import { DELETE_RECORDS_TIMEOUT_MS_DEFAULT } from "../limits.ts";
import type { BrokerReplication } from "./broker_replication.ts";
import { highWatermark } from "./fetch_reader.ts";
import { OFFSETS_TOPIC } from "./groups/replicated_offsets.ts";
import type { Topic } from "./topic_registry.ts";

/** DeleteRecords' offset that stands for the high watermark (Kafka's HIGH_WATERMARK). */
export const DELETE_TO_HIGH_WATERMARK = -1;

export async function deleteRecords(
  topic: Topic,
  partition: number,
  offset: number,
  replication: BrokerReplication,
  timeoutMs: number = DELETE_RECORDS_TIMEOUT_MS_DEFAULT,
): Promise<number> {
  const log = topic.partition(partition);
  if (topic.name === OFFSETS_TOPIC) {
    throw new SluiceError(
      "INVALID_TOPIC_NAME",
      `the records of the internal topic ${OFFSETS_TOPIC} cannot be deleted`,
      { topic: topic.name, partition },
    );
  }
  if (!log.config.delete) {
    throw new SluiceError(
      "POLICY_VIOLATION",
      `Records of partition ${topic.name}-${partition} can not be deleted due to the configured ` +
        `policy (cleanup.policy ${topic.config["cleanup.policy"]})`,
      { topic: topic.name, partition },
    );
  }
  if (log.state === "offline") throw log.failure!;
  const replica = replication.replicated
    ? replication.replicas().leaderReplica(topic.name, partition)
    : undefined;
  const target = offset === DELETE_TO_HIGH_WATERMARK ? highWatermark(log) : offset;
  if (!Number.isSafeInteger(target) || target < 0) {
    throw new SluiceError(
      "OFFSET_OUT_OF_RANGE",
      `cannot delete the records before offset ${offset}: not an offset (-1 is the high watermark)`,
      { topic: topic.name, partition, offset },
    );
  }
  const start = await log.deleteRecordsBefore(target);
  if (replica === undefined) return start;
  return await replication.replicas().awaitLowWatermark(replica, target, timeoutMs);
}
