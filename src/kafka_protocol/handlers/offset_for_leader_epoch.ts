/**
 * OffsetForLeaderEpoch (api key 23): where a leader epoch ends, per partition, from the
 * partition's epoch cache (src/storage/leader_epochs.ts, asked through Broker.endOffsetForEpoch).
 * Kafka's consumers send it after a metadata change to check that the log was not truncated
 * under their position (KIP-320); followers use it to find where to truncate.
 *
 * Per partition, as Kafka's ReplicaManager.lastOffsetForLeaderEpoch answers:
 * - `currentLeaderEpoch` (v2+; -1 no check) older than the partition's: FENCED_LEADER_EPOCH,
 *   newer: UNKNOWN_LEADER_EPOCH; an unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION; an
 *   offline log: KAFKA_STORAGE_ERROR (leaderEpoch -1, endOffset -1 with each);
 * - else NONE with the largest known epoch <= `leaderEpoch` and its end offset: the log end for
 *   the latest epoch, the start of the next epoch for an older one; -1 / -1 for -1, for an epoch
 *   newer than any, and (only with data older than any epoch) none found.
 * Authorization: any right on the topic (Kafka asks DESCRIBE, which each of its topic rights
 * implies), else TOPIC_AUTHORIZATION_FAILED for each of its partitions; as Kafka does, those
 * topics come after the authorized ones in the answer.
 */
import { mayAny } from "../acl.ts";
import type { Handler } from "../apis.ts";
import type { Struct } from "../codec.ts";
import type { KafkaContext } from "../context.ts";
import { KafkaError } from "../error_codes.ts";
import { kafkaErrorCode } from "../errors.ts";

interface PartitionRequest {
  partition: number;
  currentLeaderEpoch: number;
  leaderEpoch: number;
}

function failed(partition: number, errorCode: number): Struct {
  return { errorCode, partition, leaderEpoch: -1, endOffset: -1n };
}

export function offsetForLeaderEpochHandler(ctx: KafkaContext): Handler {
  return (body, context) => {
    const authorized: Struct[] = [];
    const denied: Struct[] = [];
    for (const t of body.topics as Struct[]) {
      const topic = t.topic as string;
      const requested = t.partitions as unknown as PartitionRequest[];
      if (!mayAny(context, "topic", topic)) {
        const partitions = requested.map((p) =>
          failed(p.partition, KafkaError.TOPIC_AUTHORIZATION_FAILED)
        );
        denied.push({ topic, partitions });
        continue;
      }
      const partitions = requested.map((p) => {
        try {
          const end = ctx.broker.endOffsetForEpoch(
            topic,
            p.partition,
            p.currentLeaderEpoch,
            p.leaderEpoch,
          );
          return {
            errorCode: KafkaError.NONE,
            partition: p.partition,
            leaderEpoch: end.leaderEpoch,
            endOffset: BigInt(end.endOffset),
          };
        } catch (err) {
          return failed(p.partition, kafkaErrorCode(err));
        }
      });
      authorized.push({ topic, partitions });
    }
    return Promise.resolve({ throttleTimeMs: 0, topics: [...authorized, ...denied] });
  };
}
