/**
 * DeleteRecords (api key 21), as Kafka's KafkaApis.handleDeleteRecordsRequest: for each partition
 * named, the records before its offset are deleted (Broker.deleteRecords,
 * src/broker/delete_records.ts) and the answer is the partition's low watermark, its new first
 * offset (kafkajs admin.deleteTopicRecords, the Java AdminClient's deleteRecords,
 * kafka-delete-records.sh).
 *
 * Per partition, in Kafka's order: admin on the topic (Kafka's DELETE;
 * TOPIC_AUTHORIZATION_FAILED), a topic and partition that exist (UNKNOWN_TOPIC_OR_PARTITION), then
 * the broker's answer: OFFSET_OUT_OF_RANGE for an offset past the high watermark or below -1 (the
 * high watermark), NOT_LEADER_OR_FOLLOWER on a cluster's broker that does not lead it,
 * INVALID_TOPIC_EXCEPTION for `__consumer_offsets`, REQUEST_TIMED_OUT when the followers did not
 * all delete within the request's timeout_ms. Every error answers low watermark -1. Partitions are
 * deleted concurrently; the answer comes once each has its own.
 */
import { may } from "../acl.ts";
import type { Handler } from "../apis.ts";
import type { Struct } from "../codec.ts";
import type { KafkaContext } from "../context.ts";
import { KafkaError } from "../error_codes.ts";
import { kafkaErrorCode } from "../errors.ts";
import { existingTopic } from "./configs.ts";

/** Kafka's DeleteRecordsResponse.INVALID_LOW_WATERMARK. */
const INVALID_LOW_WATERMARK = -1n;

type RequestedTopic = { name: string; partitions: { partitionIndex: number; offset: bigint }[] };

export function deleteRecordsHandler(ctx: KafkaContext): Handler {
  return async (body, context) => {
    const timeoutMs = Math.max(0, body.timeoutMs as number);
    const topics = await Promise.all((body.topics as RequestedTopic[]).map(async (t) => {
      const name = t.name;
      const allowed = may(context, "topic", name, "admin");
      const topic = allowed ? existingTopic(ctx, name) : undefined;
      const partitions = await Promise.all(t.partitions.map(async (p): Promise<Struct> => {
        const failed = (errorCode: number) => ({
          partitionIndex: p.partitionIndex,
          lowWatermark: INVALID_LOW_WATERMARK,
          errorCode,
        });
        if (!allowed) return failed(KafkaError.TOPIC_AUTHORIZATION_FAILED);
        if (topic === undefined || p.partitionIndex < 0 || p.partitionIndex >= topic.logs.length) {
          return failed(KafkaError.UNKNOWN_TOPIC_OR_PARTITION);
        }
        try {
          const lowWatermark = await ctx.broker.deleteRecords(
            name,
            p.partitionIndex,
            Number(p.offset),
            timeoutMs,
          );
          return {
            partitionIndex: p.partitionIndex,
            lowWatermark: BigInt(lowWatermark),
            errorCode: KafkaError.NONE,
          };
        } catch (err) {
          return failed(kafkaErrorCode(err));
        }
      }));
      return { name, partitions };
    }));
    return { throttleTimeMs: 0, topics };
  };
}
