/**
 * Fetch and ListOffsets: the request decoded, ACLs checked, the broker asked, the answer encoded.
 *
 * Fetch goes through the broker's one read path (Broker.fetchMessages, src/broker/fetch_reader.ts:
 * the high watermark, KIP-74's first batch, max_bytes and partition_max_bytes, min_bytes and
 * max_wait_ms); the stored batches it returns go into the response frame by reference
 * (codec.ts encodeChunks), never decoded, copied or re-encoded. The first batch may start below
 * the fetch offset, as Kafka's may; clients skip the records before it. Errors are per partition:
 * the broker's typed errors, mapped here once (errors.ts). Partitions the principal may not read
 * are TOPIC_AUTHORIZATION_FAILED and left out of the read; the others wait as usual (a fetch with
 * nothing left to read answers at once, as Kafka's KafkaApis does).
 *
 * Memory: max_bytes is capped by KAFKA_FETCH_BYTES_MAX; the broker then asks the listener's
 * response budget (context.responseBytes, KAFKA_RESPONSE_BYTES_IN_FLIGHT_MAX) right before each
 * read. A fetch granted less (clients that do not read hold the rest) answers at once with what
 * it got, at least one batch when there is one, instead of waiting: a consumer keeps moving, one
 * smaller response at a time, and nothing is held while a fetch waits for data.
 *
 * No fetch sessions (KIP-227): every response has session id 0, which tells a client to keep
 * sending full fetches. No transactions: the last stable offset is the high watermark.
 */
import type { FetchPartition, FetchPartitionResult } from "../../broker/fetch_reader.ts";
import { FETCH_WAIT_MS_MAX, KAFKA_FETCH_BYTES_MAX } from "../../limits.ts";
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

function partitionResult(r: FetchPartitionResult): Struct {
  const hw = BigInt(r.highWatermark);
  return {
    partitionIndex: r.partition,
    errorCode: r.error === undefined ? KafkaError.NONE : kafkaErrorCode(r.error),
    highWatermark: hw,
    lastStableOffset: hw,
    logStartOffset: BigInt(r.logStartOffset),
    abortedTransactions: [],
    preferredReadReplica: -1,
    records: r.records, // the stored bytes, by reference
  };
}

function deniedResult(partition: number): Struct {
  return {
    partitionIndex: partition,
    errorCode: KafkaError.TOPIC_AUTHORIZATION_FAILED,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    abortedTransactions: [],
    preferredReadReplica: -1,
    records: EMPTY,
  };
}

export function fetchHandler(ctx: KafkaContext): Handler {
  return async (body, context) => {
    const requestedMax = body.maxBytes as number;
    const maxBytes = Math.min(
      requestedMax > 0 ? requestedMax : KAFKA_FETCH_BYTES_MAX,
      KAFKA_FETCH_BYTES_MAX,
    );
    const topics = body.topics as Struct[];
    // The partitions of the topics the principal may read go to the broker, in request order.
    const partitions: FetchPartition[] = [];
    const allowed: boolean[] = new Array(topics.length);
    for (let i = 0; i < topics.length; i++) {
      const topic = topics[i].topic as string;
      allowed[i] = may(context, "topic", topic, "read");
      if (!allowed[i]) continue;
      for (const p of topics[i].partitions as unknown as PartitionRequest[]) {
        partitions.push({
          topic,
          partition: p.partition,
          fetchOffset: Number(p.fetchOffset),
          partitionMaxBytes: p.partitionMaxBytes,
        });
      }
    }
    const results = await ctx.broker.fetchMessages({
      partitions,
      maxBytes,
      minBytes: Math.max(0, body.minBytes as number),
      // Nothing left to read (no partition named, or none the principal may read) answers at
      // once, as Kafka does; otherwise the readable partitions wait as usual.
      maxWaitMs: partitions.length === 0
        ? 0
        : Math.min(Math.max(0, body.maxWaitMs as number), FETCH_WAIT_MS_MAX),
      budget: context.responseBytes,
      whenWaitersFull: "answer",
    });
    const responses: Struct[] = new Array(topics.length);
    let next = 0;
    for (let i = 0; i < topics.length; i++) {
      const t = topics[i];
      const requested = t.partitions as unknown as PartitionRequest[];
      const out: Struct[] = new Array(requested.length);
      for (let j = 0; j < requested.length; j++) {
        out[j] = allowed[i]
          ? partitionResult(results[next++])
          : deniedResult(requested[j].partition);
      }
      responses[i] = { topic: t.topic as string, topicId: ZERO_UUID, partitions: out };
    }
    return { throttleTimeMs: 0, errorCode: KafkaError.NONE, sessionId: 0, responses };
  };
}

/**
 * ListOffsets' special timestamps (clients send each from the version that brought it; the
 * broker, as Kafka's UnifiedLog, answers them at any version).
 */
const LATEST = -1n;
const EARLIEST = -2n;
/** v7+ (KIP-734): the record with the largest timestamp. */
const MAX_TIMESTAMP = -3n;
/** v8+ (KIP-405): the earliest offset on local storage; all of it is local here. */
const EARLIEST_LOCAL = -4n;
/** v9+ (KIP-1005): the last offset moved to tiered storage; there is no remote tier here. */
const LATEST_TIERED = -5n;
/** v11+: the earliest offset waiting to be uploaded to tiered storage; none here. */
const EARLIEST_PENDING_UPLOAD = -6n;

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
            else if (timestamp === EARLIEST || timestamp === EARLIEST_LOCAL) {
              offset = ctx.broker.offsetFor(name, partitionIndex, "earliest");
            } else if (timestamp === MAX_TIMESTAMP) {
              const hit = ctx.broker.recordWithMaxTimestamp(name, partitionIndex);
              offset = hit?.offset;
              if (hit !== undefined) found = BigInt(hit.timestampMs);
            } else if (timestamp === LATEST_TIERED || timestamp === EARLIEST_PENDING_UPLOAD) {
              ctx.broker.offsetFor(name, partitionIndex, "earliest"); // the partition's errors
              offset = undefined; // nothing is tiered: -1, as Kafka without remote storage
            } else if (timestamp < 0n) {
              return {
                partitionIndex,
                errorCode: KafkaError.INVALID_REQUEST,
                timestamp: -1n,
                offset: -1n,
                leaderEpoch: -1,
              };
            } else {
              const hit = ctx.broker.recordAtTimestamp(name, partitionIndex, Number(timestamp));
              offset = hit?.offset;
              if (hit !== undefined) found = BigInt(hit.timestampMs);
            }
            return {
              partitionIndex,
              errorCode: KafkaError.NONE,
              // The found record's own timestamp; -1 for earliest, latest and no match (Kafka's).
              timestamp: found,
              offset: offset === undefined ? -1n : BigInt(offset),
              leaderEpoch: offset === undefined ? -1 : 0, // no offset found: no epoch (Kafka's)
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
