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
 * Fetch sessions (KIP-227, v7+; the rules in ../fetch_sessions.ts): a full fetch with epoch 0 is
 * answered in full and, when the cache admits it, with a new session's id; an incremental fetch
 * reads every partition of its session (the request's changes applied first) through the same
 * read path, long poll included, and answers only the partitions with news. A session error is
 * the top-level error code with no partitions. Session partitions are handed to the broker as
 * they are (they are FetchPartitions), so an incremental fetch allocates per partition only
 * what the read path does, plus the answers it sends.
 *
 * Memory: max_bytes is capped by KAFKA_FETCH_BYTES_MAX; the broker then asks the listener's
 * response budget (context.responseBytes, KAFKA_RESPONSE_BYTES_IN_FLIGHT_MAX) right before each
 * read. A fetch granted less (clients that do not read hold the rest) answers at once with what
 * it got, at least one batch when there is one, instead of waiting: a consumer keeps moving, one
 * smaller response at a time, and nothing is held while a fetch waits for data.
 *
 * A partition's `currentLeaderEpoch` (v9+) older than its log's is FENCED_LEADER_EPOCH, newer
 * UNKNOWN_LEADER_EPOCH (fetch_reader.ts leaderEpochError; a session keeps each partition's last
 * epochs as Kafka's does); ListOffsets checks it the same way and answers each offset's leader
 * epoch from the partition's epoch cache. A v12 `lastFetchedEpoch` whose end here is before the
 * fetch offset answers `divergingEpoch` and no records.
 *
 * No transactions: the last stable offset is the high watermark.
 */
import type { FetchPartition, FetchPartitionResult } from "../../broker/fetch_reader.ts";
import { FETCH_WAIT_MS_MAX, KAFKA_FETCH_BYTES_MAX } from "../../limits.ts";
import { may } from "../acl.ts";
import type { Handler, RequestContext } from "../apis.ts";
import type { Struct, Value } from "../codec.ts";
import type { KafkaContext } from "../context.ts";
import { KafkaError } from "../error_codes.ts";
import { kafkaErrorCode } from "../errors.ts";
import {
  epochOrNone,
  type FetchSession,
  type FetchSessionCache,
  type RequestedPartition,
  SessionPartition,
} from "../fetch_sessions.ts";

const EMPTY = new Uint8Array(0);
const ZERO_UUID = new Uint8Array(16);

interface PartitionRequest extends RequestedPartition {
  partition: number;
  fetchOffset: bigint;
  partitionMaxBytes: number;
}

type RequestTopics = { topic: string; partitions: PartitionRequest[] }[];

/**
 * A partition's aborted transactions: none (Sluice has no transactions), which read_committed
 * answers as an empty list and read_uncommitted as null, as Kafka does; on errors see
 * partitionResult.
 */
type Aborted = readonly never[] | null;
const NO_ABORTED: readonly never[] = Object.freeze([]);

/**
 * One partition's answer. On an error the offsets are -1, as Kafka's error answers carry them
 * (clients ignore them then).
 */
function partitionResult(r: FetchPartitionResult, errorCode: number, aborted: Aborted): Struct {
  const failed = errorCode !== KafkaError.NONE;
  const hw = failed ? -1n : BigInt(r.highWatermark);
  const result: { [name: string]: Value } = {
    partitionIndex: r.partition,
    errorCode,
    highWatermark: hw,
    lastStableOffset: hw,
    logStartOffset: failed ? -1n : BigInt(r.logStartOffset),
    // Kafka's quirk: partitions its request handler refuses (unknown, not authorized) carry an
    // empty list, those its replica manager refuses (offsets, epochs) null.
    abortedTransactions: !failed
      ? aborted as Value
      : errorCode === KafkaError.UNKNOWN_TOPIC_OR_PARTITION
      ? NO_ABORTED as Value
      : null,
    preferredReadReplica: -1,
    records: r.records, // the stored bytes, by reference
  };
  const diverging = r.divergingEpoch; // a tagged field (v12+): absent unless set
  if (diverging !== undefined) {
    result.divergingEpoch = {
      epoch: diverging.leaderEpoch,
      endOffset: BigInt(diverging.endOffset),
    };
  }
  return result;
}

function deniedResult(partition: number): Struct {
  return {
    partitionIndex: partition,
    errorCode: KafkaError.TOPIC_AUTHORIZATION_FAILED,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    abortedTransactions: NO_ABORTED as Value,
    preferredReadReplica: -1,
    records: EMPTY,
  };
}

function errorCodeOf(r: FetchPartitionResult): number {
  return r.error === undefined ? KafkaError.NONE : kafkaErrorCode(r.error);
}

function sessionError(errorCode: number, sessionId: number): Struct {
  return { throttleTimeMs: 0, errorCode, sessionId, responses: [] };
}

export function fetchHandler(ctx: KafkaContext): Handler {
  const sessions = ctx.fetchSessions;
  return (body, context) => {
    const requestedMax = body.maxBytes as number;
    const maxBytes = Math.min(
      requestedMax > 0 ? requestedMax : KAFKA_FETCH_BYTES_MAX,
      KAFKA_FETCH_BYTES_MAX,
    );
    const topics = body.topics as unknown as RequestTopics;
    const v7 = context.apiVersion >= 7;
    const fetch = sessions.newContext(
      v7 ? body.sessionId as number : 0,
      v7 ? body.sessionEpoch as number : -1,
      topics,
      v7 ? body.forgottenTopicsData as unknown as { topic: string; partitions: number[] }[] : [],
    );
    if (fetch.kind === "error") return Promise.resolve(sessionError(fetch.errorCode, 0));
    const wait = (readable: number) =>
      // Nothing left to read (no partition named, or none the principal may read) answers at
      // once, as Kafka does; otherwise the readable partitions wait as usual.
      readable === 0 ? 0 : Math.min(Math.max(0, body.maxWaitMs as number), FETCH_WAIT_MS_MAX);
    // A follower's fetch (replica id set) in a cluster: read to the log end, its position noted
    // by the leader (src/cluster/replica_manager.ts). On one node a replica id changes nothing.
    const replicaId = ctx.broker.cluster !== undefined && (body.replicaId as number) >= 0
      ? body.replicaId as number
      : -1;
    const read = (partitions: FetchPartition[]) =>
      ctx.broker.fetchMessages({
        partitions,
        maxBytes,
        minBytes: Math.max(0, body.minBytes as number),
        maxWaitMs: wait(partitions.length),
        budget: context.responseBytes,
        whenWaitersFull: "answer",
        replicaId,
      });
    const aborted: Aborted = body.isolationLevel === 1 ? NO_ABORTED : null;
    // A follower's fetch reads past the high watermark and moves the ISR: Kafka asks it for
    // CLUSTER_ACTION; here, the admin right on the topic (the brokers' own token has it).
    const right = replicaId >= 0 ? "admin" : "read";
    if (fetch.kind === "incremental") {
      return incremental(fetch.session, fetch.epoch, context, read, aborted, right);
    }
    return full(topics, context, read, fetch.create ? sessions : undefined, aborted, right);
  };
}

type Read = (partitions: FetchPartition[]) => Promise<FetchPartitionResult[]>;

/** A full fetch: every requested partition answered; with `sessions`, a session made of them. */
async function full(
  topics: RequestTopics,
  context: RequestContext,
  read: Read,
  sessions: FetchSessionCache | undefined,
  aborted: Aborted,
  right: "read" | "admin",
): Promise<Struct> {
  // The partitions of the topics the principal may read go to the broker, in request order.
  const partitions: FetchPartition[] = [];
  const allowed: boolean[] = new Array(topics.length);
  for (let i = 0; i < topics.length; i++) {
    const topic = topics[i].topic;
    allowed[i] = may(context, "topic", topic, right);
    if (!allowed[i]) continue;
    for (const p of topics[i].partitions) {
      partitions.push({
        topic,
        partition: p.partition,
        fetchOffset: Number(p.fetchOffset),
        partitionMaxBytes: p.partitionMaxBytes,
        currentLeaderEpoch: epochOrNone(p.currentLeaderEpoch),
        lastFetchedEpoch: epochOrNone(p.lastFetchedEpoch),
        fetcherLogStartOffset: Number(p.logStartOffset),
      });
    }
  }
  const results = await read(partitions);
  const cached: SessionPartition[] | undefined = sessions === undefined ? undefined : [];
  const responses: Struct[] = new Array(topics.length);
  let next = 0;
  for (let i = 0; i < topics.length; i++) {
    const t = topics[i];
    const requested = t.partitions;
    const out: Struct[] = new Array(requested.length);
    for (let j = 0; j < requested.length; j++) {
      const p = requested[j];
      const r = allowed[i] ? results[next++] : undefined;
      out[j] = r === undefined
        ? deniedResult(p.partition)
        : partitionResult(r, errorCodeOf(r), aborted);
      // What the client is told is what the session remembers (Kafka's FullFetchContext).
      cached?.push(
        new SessionPartition(
          t.topic,
          p.partition,
          Number(p.fetchOffset),
          p.partitionMaxBytes,
          Number(p.logStartOffset),
          r === undefined ? -1 : r.highWatermark,
          r === undefined ? -1 : r.logStartOffset,
        ).takeEpochs(p),
      );
    }
    responses[i] = { topic: t.topic, topicId: ZERO_UUID, partitions: out };
  }
  const sessionId = sessions === undefined ? 0 : sessions.create(cached!);
  return { throttleTimeMs: 0, errorCode: KafkaError.NONE, sessionId, responses };
}

/**
 * An incremental fetch: the session's partitions read in session order, and answered only where
 * something changed (SessionPartition.mustRespond), consecutive partitions of a topic together.
 */
async function incremental(
  session: FetchSession,
  epoch: number,
  context: RequestContext,
  read: Read,
  aborted: Aborted,
  right: "read" | "admin",
): Promise<Struct> {
  const parts: SessionPartition[] = new Array(session.size);
  let n = 0;
  for (const p of session.partitions.values()) parts[n++] = p;
  // ACLs are checked at every fetch, as Kafka does: rights may have changed since the last one.
  let allowed: Uint8Array | undefined;
  let readable: FetchPartition[] = parts;
  if (context.principal !== null) {
    allowed = new Uint8Array(n);
    readable = [];
    let lastTopic: string | undefined;
    let lastAllowed = false;
    for (let i = 0; i < n; i++) {
      const p = parts[i];
      if (p.topic !== lastTopic) {
        lastTopic = p.topic;
        lastAllowed = may(context, "topic", p.topic, right);
      }
      if (lastAllowed) {
        allowed[i] = 1;
        readable.push(p);
      }
    }
  }
  const results = await read(readable);
  // Another request of this session came first (a duplicate): Kafka's answer.
  if (session.epoch !== epoch) {
    return sessionError(KafkaError.INVALID_FETCH_SESSION_EPOCH, session.id);
  }
  const responses: Struct[] = [];
  let current: Struct[] | undefined;
  let currentTopic: string | undefined;
  let next = 0;
  for (let i = 0; i < n; i++) {
    const p = parts[i];
    let answer: Struct | undefined;
    if (allowed !== undefined && allowed[i] === 0) {
      if (p.mustRespond(KafkaError.TOPIC_AUTHORIZATION_FAILED, -1, -1, 0, true)) {
        answer = deniedResult(p.partition);
      }
    } else {
      const r = results[next++];
      const errorCode = errorCodeOf(r);
      const bytes = r.records.length;
      if (p.mustRespond(errorCode, r.highWatermark, r.logStartOffset, bytes, true)) {
        answer = partitionResult(r, errorCode, aborted);
        if (bytes > 0) session.sendToBack(p);
      }
    }
    if (answer === undefined) continue;
    if (p.topic !== currentTopic) {
      currentTopic = p.topic;
      current = [];
      responses.push({ topic: p.topic, topicId: ZERO_UUID, partitions: current });
    }
    current!.push(answer);
  }
  return { throttleTimeMs: 0, errorCode: KafkaError.NONE, sessionId: session.id, responses };
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
    // A cluster's follower asks where its leader's log starts (replica_client.ts) with the right
    // its fetches need (Kafka: CLUSTER_ACTION for those, DESCRIBE here).
    const right = ctx.broker.cluster !== undefined && (body.replicaId as number) >= 0
      ? "admin"
      : "read";
    const topics = (body.topics as Struct[]).map((t) => {
      const name = t.name as string;
      const allowed = may(context, "topic", name, right);
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
            ctx.broker.checkLeaderEpoch(name, partitionIndex, p.currentLeaderEpoch as number);
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
              // No offset found: no epoch (Kafka's).
              leaderEpoch: offset === undefined
                ? -1
                : ctx.broker.epochForOffset(name, partitionIndex, offset),
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
