/**
 * The broker's offset questions about one partition, each asked of a log that may serve them
 * (online, and led here in a cluster): earliest/latest resolution, ListOffsets by timestamp and
 * max timestamp (never at or past the high watermark: a reader may not see those records yet),
 * and the leader-epoch checks and lookups of ListOffsets and OffsetForLeaderEpoch (KIP-101/279).
 * Broker delegates to it; both fronts reach it through Broker.
 */
import { SluiceError } from "../errors.ts";
import type { EpochEndOffset } from "../storage/leader_epochs.ts";
import type { PartitionLog } from "../storage/partition_log.ts";
import type { BrokerReplication } from "./broker_replication.ts";
import type { OffsetSpec } from "./broker_types.ts";
import { highWatermark, leaderEpochError } from "./fetch_reader.ts";
import type { Topic, TopicRegistry } from "./topic_registry.ts";

/** A record's offset and its own timestamp. */
export interface TimestampedOffset {
  offset: number;
  timestampMs: number;
}

export class OffsetLookup {
  readonly #topics: TopicRegistry;
  readonly #replication: BrokerReplication;

  constructor(topics: TopicRegistry, replication: BrokerReplication) {
    this.#topics = topics;
    this.#replication = replication;
  }

  /**
   * The partition's log, unless it is offline: then its failure (STORAGE_ERROR naming the dir),
   * so that offsets are never answered from a log that could not be opened; in a cluster, the
   * replication's NOT_LEADER_OR_FOLLOWER where this broker does not lead it.
   */
  servable(topic: Topic, partition: number): PartitionLog {
    const log = topic.partition(partition);
    if (log.state === "offline") throw log.failure!;
    this.#replication.checkLeader(topic, partition);
    return log;
  }

  /** Resolves earliest/latest, checking a numeric offset's form (range is the log's to check). */
  resolve(topic: Topic, partition: number, offset: OffsetSpec): number {
    const log = this.servable(topic, partition);
    if (offset === "earliest") return log.logStartOffset;
    if (offset === "latest") return highWatermark(log);
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new SluiceError(
        "INVALID_REQUEST",
        `offset must be a non-negative integer, not ${offset}`,
      );
    }
    return offset;
  }

  /** Kafka's ListOffsets: earliest, latest, or the first offset at or after a timestamp. */
  offsetFor(
    topicName: unknown,
    partition: number,
    timestamp: number | "earliest" | "latest",
  ): number | undefined {
    if (timestamp === "earliest" || timestamp === "latest") {
      return this.resolve(this.#topics.get(topicName), partition, timestamp);
    }
    return this.recordAtTimestamp(topicName, partition, timestamp)?.offset;
  }

  /**
   * The first record at or after `timestampMs` that a reader may see (below the high
   * watermark): its offset and its own timestamp; undefined when none is that new.
   */
  recordAtTimestamp(
    topicName: unknown,
    partition: number,
    timestampMs: number,
  ): TimestampedOffset | undefined {
    const log = this.servable(this.#topics.get(topicName), partition);
    const hit = log.recordAtTimestamp(timestampMs);
    return hit === undefined || hit.offset >= highWatermark(log) ? undefined : hit;
  }

  /**
   * The record with the largest timestamp that a reader may see (ListOffsets' max-timestamp
   * spec), or undefined when there is none (an empty log, or one not yet under the high
   * watermark).
   */
  recordWithMaxTimestamp(topicName: unknown, partition: number): TimestampedOffset | undefined {
    const log = this.servable(this.#topics.get(topicName), partition);
    const hit = log.recordWithMaxTimestamp();
    return hit === undefined || hit.offset >= highWatermark(log) ? undefined : hit;
  }

  /**
   * Throws FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH when `currentLeaderEpoch` (-1: no check)
   * is older / newer than the partition's (ListOffsets, OffsetForLeaderEpoch), or the partition's
   * own error (unknown, offline).
   */
  checkLeaderEpoch(topicName: unknown, partition: number, currentLeaderEpoch: number): void {
    const log = this.servable(this.#topics.get(topicName), partition);
    const error = leaderEpochError(log, currentLeaderEpoch);
    if (error !== undefined) throw error;
  }

  /** The leader epoch `offset` was written in (the latest for the log end); -1 when none. */
  epochForOffset(topicName: unknown, partition: number, offset: number): number {
    return this.servable(this.#topics.get(topicName), partition).epochForOffset(offset);
  }

  /**
   * OffsetForLeaderEpoch (Kafka's Partition.lastOffsetForLeaderEpoch): the current leader epoch
   * checked as checkLeaderEpoch does, then the end of `leaderEpoch` from the partition's epoch
   * cache (storage/leader_epochs.ts): -1 / -1 when it is unknown.
   */
  endOffsetForEpoch(
    topicName: unknown,
    partition: number,
    currentLeaderEpoch: number,
    leaderEpoch: number,
  ): EpochEndOffset {
    const log = this.servable(this.#topics.get(topicName), partition);
    const error = leaderEpochError(log, currentLeaderEpoch);
    if (error !== undefined) throw error;
    return log.endOffsetForEpoch(leaderEpoch);
  }
}
