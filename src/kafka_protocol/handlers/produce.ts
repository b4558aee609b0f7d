/**
 * Produce: each partition's RecordBatch v2 bytes are appended as the client built them (CRC and
 * counts checked, offsets patched in place; records never decoded).
 *
 * Each partition's records are exactly one batch (Kafka's rule from v3 on: INVALID_RECORD else),
 * whose baseOffset is 0 as a client builds it (Kafka's UnifiedLog refuses any other with
 * INVALID_RECORD before it looks at sizes or the CRC); counts that do not add up are INVALID_RECORD
 * too, a CRC that does not match CORRUPT_MESSAGE (the log's checks).
 * acks: 0 sends no response (errors are logged); 1 and -1 answer once the append is done as the
 * partition's flush policy says (a single broker: the leader's log is every in-sync replica); in
 * a cluster -1 answers once every in-sync replica has the batch (Broker.appendBatches: then
 * NOT_ENOUGH_REPLICAS, NOT_ENOUGH_REPLICAS_AFTER_APPEND, REQUEST_TIMED_OUT after timeout_ms),
 * and a partition this broker does not lead is NOT_LEADER_OR_FOLLOWER.
 * Any other value is INVALID_REQUIRED_ACKS. A batch from an idempotent producer (producer id set)
 * goes through its partition's producer state first: a retried batch is answered with the offset
 * it got the first time and written again never; a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER.
 */
import type { WriteOptions } from "../../broker/broker.ts";
import type { Topic } from "../../broker/topic_registry.ts";
import {
  BASE_OFFSET_AT,
  BATCH_HEADER_BYTES,
  batchSizeAt,
  MAGIC_AT,
  MAGIC_V2,
  PRODUCER_ID_AT,
  viewOf,
} from "../../record/record_batch.ts";
import { denied, may } from "../acl.ts";
import type { Handler } from "../apis.ts";
import type { Struct } from "../codec.ts";
import type { KafkaContext } from "../context.ts";
import { KafkaError, kafkaErrorName } from "../error_codes.ts";
import { kafkaErrorCode } from "../errors.ts";
import { topicOrCreate } from "./cluster.ts";

type PartitionResult = Struct & {
  index: number;
  errorCode: number;
  baseOffset: bigint;
  logAppendTimeMs: bigint;
  logStartOffset: bigint;
  recordErrors: Struct[];
  errorMessage: string | null;
};

function failed(index: number, errorCode: number, errorMessage: string | null): PartitionResult {
  return {
    index,
    errorCode,
    baseOffset: -1n,
    logAppendTimeMs: -1n,
    logStartOffset: -1n,
    recordErrors: [],
    errorMessage,
  };
}

/**
 * Batches in `bytes`, whether any comes from an idempotent producer and whether every baseOffset
 * is 0 (header fields only).
 */
function inspect(
  bytes: Uint8Array,
): { batches: number; idempotent: boolean; baseOffsetsZero: boolean } | string {
  const dv = viewOf(bytes);
  let batches = 0;
  let idempotent = false;
  let baseOffsetsZero = true;
  for (let pos = 0; pos < bytes.length;) {
    if (pos + BATCH_HEADER_BYTES > bytes.length) return "truncated batch";
    // Sizes come from the client: one below a header or past the end would stall or misstep
    // this walk, so it is refused here (the log's own checks come later).
    const size = batchSizeAt(dv, pos);
    if (size < BATCH_HEADER_BYTES || size > bytes.length - pos) {
      return `batch at byte ${pos}: length ${size - 12} does not fit ${bytes.length - pos} bytes`;
    }
    if (dv.getInt8(pos + MAGIC_AT) !== MAGIC_V2) {
      return `magic ${dv.getInt8(pos + MAGIC_AT)}: only RecordBatch v2 (magic 2) is accepted`;
    }
    if (dv.getBigInt64(pos + PRODUCER_ID_AT) !== -1n) idempotent = true;
    if (dv.getInt32(pos + BASE_OFFSET_AT) !== 0 || dv.getInt32(pos + BASE_OFFSET_AT + 4) !== 0) {
      baseOffsetsZero = false;
    }
    batches++;
    pos += size;
  }
  return { batches, idempotent, baseOffsetsZero };
}

async function producePartition(
  ctx: KafkaContext,
  topic: Topic,
  index: number,
  records: Uint8Array | null,
  write: WriteOptions,
): Promise<PartitionResult> {
  if (index < 0 || index >= topic.logs.length) {
    return failed(index, KafkaError.UNKNOWN_TOPIC_OR_PARTITION, `no partition ${index}`);
  }
  if (records === null || records.length === 0) {
    return failed(index, KafkaError.CORRUPT_MESSAGE, "no records");
  }
  const shape = inspect(records);
  if (typeof shape === "string") return failed(index, KafkaError.CORRUPT_MESSAGE, shape);
  if (shape.batches !== 1) {
    // Kafka's rule from Produce v3 on (the only versions served): one batch per partition.
    return failed(
      index,
      KafkaError.INVALID_RECORD,
      `${shape.batches} record batches for one partition: a produce request carries exactly one`,
    );
  }
  if (!shape.baseOffsetsZero) {
    // Thrown by Kafka's log append: answered with the log start offset, as the log's refusals.
    const answer = failed(
      index,
      KafkaError.INVALID_RECORD,
      `the batch's baseOffset is ${
        viewOf(records).getBigInt64(BASE_OFFSET_AT)
      }: a client's batch starts at 0`,
    );
    answer.logStartOffset = BigInt(topic.logs[index].logStartOffset);
    return answer;
  }
  try {
    // The broker's one write path: idempotence (a retry answered with its first offsets) inside.
    const appended = await ctx.broker.appendBatches(topic.name, index, records, write);
    return {
      index,
      errorCode: KafkaError.NONE,
      baseOffset: BigInt(appended.baseOffset),
      logAppendTimeMs: -1n,
      logStartOffset: BigInt(topic.logs[index].logStartOffset),
      recordErrors: [],
      errorMessage: null,
    };
  } catch (err) {
    const code = kafkaErrorCode(err);
    if (code === KafkaError.UNKNOWN_SERVER_ERROR || code === KafkaError.KAFKA_STORAGE_ERROR) {
      ctx.logger.error("kafka produce failed", {
        topic: topic.name,
        partition: index,
        error: err instanceof Error ? err.message : String(err),
      });
    }
    const answer = failed(index, code, err instanceof Error ? err.message : String(err));
    // Kafka's ReplicaManager answers with the log start offset for every append failure but
    // these (which it reports with -1).
    if (!WITHOUT_LOG_START.has(code)) {
      answer.logStartOffset = BigInt(topic.logs[index].logStartOffset);
    }
    return answer;
  }
}

const WITHOUT_LOG_START: ReadonlySet<number> = new Set([
  KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
  KafkaError.NOT_LEADER_OR_FOLLOWER,
  KafkaError.MESSAGE_TOO_LARGE,
  KafkaError.RECORD_LIST_TOO_LARGE,
  KafkaError.CORRUPT_MESSAGE,
  KafkaError.KAFKA_STORAGE_ERROR,
]);

export function produceHandler(ctx: KafkaContext): Handler {
  return async (body, context) => {
    const clientId = context.clientId;
    const acks = body.acks as number;
    const topicData = body.topicData as Struct[];
    const badAcks = acks !== 0 && acks !== 1 && acks !== -1;
    const transactional = body.transactionalId !== null;
    // acks=-1 waits for every in-sync replica (a cluster) up to the request's timeout.
    const write: WriteOptions = { acks, timeoutMs: Math.max(0, body.timeoutMs as number) };
    const responses = await Promise.all(topicData.map(async (t) => {
      const name = t.name as string;
      const partitions = t.partitionData as { index: number; records: Uint8Array | null }[];
      const all = (code: number, message: string | null) =>
        partitions.map((p) => failed(p.index, code, message));
      if (badAcks) return { name, partitionResponses: all(KafkaError.INVALID_REQUIRED_ACKS, null) };
      if (transactional) {
        return {
          name,
          partitionResponses: all(
            KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            "transactions are not supported",
          ),
        };
      }
      if (!may(context, "topic", name, "write")) {
        return {
          name,
          partitionResponses: all(
            KafkaError.TOPIC_AUTHORIZATION_FAILED,
            denied(context, "topic", name, "write"),
          ),
        };
      }
      let topic: Topic | undefined;
      try {
        topic = await topicOrCreate(ctx, name, true);
      } catch (err) {
        return {
          name,
          partitionResponses: all(kafkaErrorCode(err), err instanceof Error ? err.message : null),
        };
      }
      return {
        name,
        partitionResponses: await Promise.all(
          partitions.map((p) => producePartition(ctx, topic!, p.index, p.records, write)),
        ),
      };
    }));
    if (acks === 0) {
      // No response: report failures here, since the client never hears of them.
      for (const r of responses) {
        for (const p of r.partitionResponses) {
          if (p.errorCode === KafkaError.NONE) continue;
          ctx.logger.warn("acks=0 produce failed", {
            clientId,
            topic: r.name,
            partition: p.index,
            error: kafkaErrorName(p.errorCode),
            message: p.errorMessage,
          });
        }
      }
      return null;
    }
    return { responses, throttleTimeMs: 0 } as Struct;
  };
}
