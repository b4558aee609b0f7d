/**
 * Fetch and ListOffsets.
 *
 * Fetch returns each partition's stored batches as they are: the bytes read from the segment go
 * into the response frame by reference (codec.ts encodeChunks), never decoded or re-encoded. The
 * first batch may start below the fetch offset, as Kafka's may; clients skip the records before
 * it. max_bytes bounds the response, except that the first non-empty partition always returns at
 * least one whole batch (KIP-74), and partition_max_bytes bounds each partition. When fewer than
 * min_bytes are there, the fetch waits up to max_wait_ms for appends to any of its partitions.
 *
 * Memory: max_bytes is capped by KAFKA_FETCH_BYTES_MAX, then by what the listener's response
 * budget grants (context.responseBytes, KAFKA_RESPONSE_BYTES_IN_FLIGHT_MAX) right before each
 * read. A fetch granted less (clients that do not read hold the rest) answers at once with what
 * it got, at least one batch when there is one, instead of waiting: a consumer keeps moving, one
 * smaller response at a time, and nothing is held while a fetch waits for data.
 *
 * No fetch sessions (KIP-227): every response has session id 0, which tells a client to keep
 * sending full fetches. No transactions: the last stable offset is the high watermark.
 */
import { countRecordsFrom } from "../../broker/broker.ts";
import { isSluiceError } from "../../errors.ts";
import { FETCH_WAIT_MS_MAX, KAFKA_FETCH_BYTES_MAX } from "../../limits.ts";
import type { Topic } from "../../broker/topic_registry.ts";
import type { PartitionLog } from "../../storage/partition_log.ts";
import { may } from "../acl.ts";
import type { Handler } from "../apis.ts";
import type { Struct } from "../codec.ts";
import type { KafkaContext } from "../context.ts";
import { KafkaError } from "../error_codes.ts";
import { kafkaErrorCode } from "../errors.ts";

const EMPTY = new Uint8Array(0);
const ZERO_UUID = new Uint8Array(16);

interface PartitionRequest {
  partition: number;
  fetchOffset: bigint;
  partitionMaxBytes: number;
}

interface Slot {
  name: string;
  /** Kept from the lookup: the topic may be deleted while the fetch waits. */
  topic: Topic | undefined;
  partition: number;
  log: PartitionLog | undefined;
  fetchOffset: number;
  partitionMaxBytes: number;
  errorCode: number;
  bytes: Uint8Array;
}

function partitionResult(slot: Slot): Struct {
  const log = slot.log;
  const hw = log === undefined ? -1n : BigInt(log.logEndOffset);
  return {
    partitionIndex: slot.partition,
    errorCode: slot.errorCode,
    highWatermark: hw,
    lastStableOffset: hw,
    logStartOffset: log === undefined ? -1n : BigInt(log.logStartOffset),
    abortedTransactions: [],
    preferredReadReplica: -1,
    records: slot.bytes,
  };
}

/** Reads every slot once within `maxBytes` in all; returns the bytes read. */
function readAll(
  ctx: KafkaContext,
  slots: Slot[],
  maxBytes: number,
  mayOverdraw: boolean,
): number {
  let total = 0;
  for (const slot of slots) {
    slot.bytes = EMPTY;
    // The response budget is spent and overdrawn to its cap (clients not reading what they asked
    // for hold it): nothing is read, not even KIP-74's first batch, so what slow readers pin stays
    // bounded. The fetch waits max_wait_ms holding nothing and answers empty; the client fetches
    // again.
    if (maxBytes <= 0 && !mayOverdraw) continue;
    if (slot.log === undefined || slot.errorCode !== KafkaError.NONE) continue;
    const budget = Math.min(slot.partitionMaxBytes, maxBytes - total);
    // Once something was returned, a partition needs room for at least a batch header.
    if (total > 0 && budget <= 0) continue;
    try {
      const read = slot.log.read(slot.fetchOffset, Math.max(1, budget));
      if (read === undefined) continue;
      slot.bytes = read.bytes;
      total += read.bytes.length;
    } catch (err) {
      slot.errorCode = kafkaErrorCode(err);
      // Out of range is the client's to handle; a closed log is a topic deleted meanwhile.
      if (!isSluiceError(err, "OFFSET_OUT_OF_RANGE") && !isSluiceError(err, "LOG_CLOSED")) {
        ctx.logger.error("kafka fetch failed", {
          topic: slot.name,
          partition: slot.partition,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }
  return total;
}

export function fetchHandler(ctx: KafkaContext): Handler {
  return async (body, context) => {
    const maxWaitMs = Math.min(Math.max(0, body.maxWaitMs as number), FETCH_WAIT_MS_MAX);
    const minBytes = Math.max(0, body.minBytes as number);
    const requestedMax = body.maxBytes as number;
    const maxBytes = Math.min(
      requestedMax > 0 ? requestedMax : KAFKA_FETCH_BYTES_MAX,
      KAFKA_FETCH_BYTES_MAX,
    );
    const slots: Slot[] = [];
    const byTopic: { topic: string; slots: Slot[] }[] = [];
    for (const t of body.topics as Struct[]) {
      const topicName = t.topic as string;
      const topicSlots: Slot[] = [];
      let topic: Topic | undefined;
      let topicError: number = KafkaError.NONE;
      if (!may(context, "topic", topicName, "read")) {
        topicError = KafkaError.TOPIC_AUTHORIZATION_FAILED;
      } else {
        try {
          topic = ctx.broker.topics.get(topicName);
        } catch (err) {
          topicError = kafkaErrorCode(err);
        }
      }
      for (const p of t.partitions as unknown as PartitionRequest[]) {
        const slot: Slot = {
          name: topicName,
          topic,
          partition: p.partition,
          log: undefined,
          fetchOffset: Number(p.fetchOffset),
          partitionMaxBytes: Math.max(0, p.partitionMaxBytes),
          errorCode: topicError,
          bytes: EMPTY,
        };
        if (topic !== undefined) {
          if (p.partition >= 0 && p.partition < topic.logs.length) {
            slot.log = topic.logs[p.partition];
          } else slot.errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
        }
        topicSlots.push(slot);
        slots.push(slot);
      }
      byTopic.push({ topic: topicName, slots: topicSlots });
    }

    const budget = context.responseBytes;
    let granted = budget === undefined ? maxBytes : budget.reserve(maxBytes);
    let total = readAll(ctx, slots, granted, budget?.mayOverdraw() ?? true);
    const errors = slots.some((s) => s.errorCode !== KafkaError.NONE);
    const cut = granted < maxBytes && total > 0;
    // min_bytes 0 answers at once, as Kafka does; otherwise wait for that many bytes.
    if (minBytes > 0 && total < minBytes && maxWaitMs > 0 && !errors && !cut) {
      // Nothing is held while waiting; what was read is dropped and read again after.
      budget?.reserve(0);
      const logs = slots.map((s) => s.log).filter((l): l is PartitionLog => l !== undefined);
      try {
        await ctx.broker.waiters.wait(logs, minBytes - total, maxWaitMs);
      } catch (err) {
        // Too many waiting fetches: answer now with what is there; the client fetches again.
        if (!isSluiceError(err, "TOO_MANY_REQUESTS")) throw err;
      }
      granted = budget === undefined ? maxBytes : budget.reserve(maxBytes);
      total = readAll(ctx, slots, granted, budget?.mayOverdraw() ?? true);
    }
    for (const slot of slots) {
      if (slot.bytes.length === 0 || slot.topic === undefined) continue;
      slot.topic.stats.bytesOut += slot.bytes.length;
      slot.topic.stats.recordsOut += countRecordsFrom(slot.bytes, slot.fetchOffset);
    }
    return {
      throttleTimeMs: 0,
      errorCode: KafkaError.NONE,
      sessionId: 0,
      responses: byTopic.map(({ topic, slots }) => ({
        topic,
        topicId: ZERO_UUID,
        partitions: slots.map(partitionResult),
      })),
    };
  };
}

/** ListOffsets' special timestamps. */
const LATEST = -1n;
const EARLIEST = -2n;

export function listOffsetsHandler(ctx: KafkaContext): Handler {
  return (body, context) => {
    const topics = (body.topics as Struct[]).map((t) => {
      const name = t.name as string;
      const allowed = may(context, "topic", name, "read");
      return {
        name,
        partitions: (t.partitions as Struct[]).map((p) => {
          const partitionIndex = p.partitionIndex as number;
          const timestamp = p.timestamp as bigint;
          if (!allowed) {
            return {
              partitionIndex,
              errorCode: KafkaError.TOPIC_AUTHORIZATION_FAILED,
              timestamp: -1n,
              offset: -1n,
              leaderEpoch: -1,
            };
          }
          try {
            let offset: number | undefined;
            let found = -1n;
            if (timestamp === LATEST) offset = ctx.broker.offsetFor(name, partitionIndex, "latest");
            else if (timestamp === EARLIEST) {
              offset = ctx.broker.offsetFor(name, partitionIndex, "earliest");
            } else if (timestamp < 0n) {
              return {
                partitionIndex,
                errorCode: KafkaError.INVALID_REQUEST,
                timestamp: -1n,
                offset: -1n,
                leaderEpoch: -1,
              };
            } else {
              const log = ctx.broker.topics.get(name).partition(partitionIndex);
              const hit = log.recordAtTimestamp(Number(timestamp));
              offset = hit?.offset;
              if (hit !== undefined) found = BigInt(hit.timestampMs);
            }
            return {
              partitionIndex,
              errorCode: KafkaError.NONE,
              // The found record's own timestamp; -1 for earliest, latest and no match (Kafka's).
              timestamp: found,
              offset: offset === undefined ? -1n : BigInt(offset),
              leaderEpoch: 0,
            };
          } catch (err) {
            return {
              partitionIndex,
              errorCode: kafkaErrorCode(err),
              timestamp: -1n,
              offset: -1n,
              leaderEpoch: -1,
            };
          }
        }),
      };
    });
    return Promise.resolve({ throttleTimeMs: 0, topics });
  };
}
