/**
 * The cluster's ReplicaTransport (src/cluster/replica_transport.ts) over Kafka's protocol: a
 * follower fetches from its leaders with Kafka's own Fetch, replica id set, and asks where their
 * epochs end with OffsetForLeaderEpoch, over each leader's Kafka listener, as Kafka's
 * ReplicaFetcherThread does through RemoteLeaderEndPoint. One connection per leader broker
 * (replica_connection.ts: setup, framing, one request at a time, timeouts, reconnection).
 *
 * Fetch is sent at v12, the highest version the codec's table has; a leader without v12 is
 * refused (unsupported_version). v12 is the first with what a follower needs to truncate without
 * a separate round trip (KIP-595: `last_fetched_epoch` in, `diverging_epoch` out) and the last
 * that names topics: v13+ names them by topic id, which a follower would first have to learn
 * through Metadata. Kafka's own follower falls back to v12 in that case (buildFetch), and Kafka
 * 4.x and Sluice both serve it. The price: v15+ carries the follower's broker epoch
 * (ReplicaState, KIP-903), which v12 cannot, so `replicaEpoch` is not sent. Fetch sessions
 * (KIP-227) are not used: every fetch is a full, sessionless one (session id 0, epoch -1), at
 * read_uncommitted, as a replica's is. OffsetForLeaderEpoch goes at the highest version both sides
 * have, at least v3 (the first with `replica_id`); v4 here. A follower whose fetch offset fell
 * below the leader's log start (DeleteRecords, retention) asks where it starts with ListOffsets
 * (timestamp -2, earliest) as replica, as Kafka's follower does, at least v4 (the first with
 * `current_leader_epoch`).
 *
 * Answers are handed on as they came: each partition's `records` is a view of the answer's frame
 * (never decoded, never copied), offsets become numbers, and Kafka's error codes become Sluice's
 * (errors.ts sluiceCodeFor: UNKNOWN_TOPIC_OR_PARTITION is PARTITION_NOT_FOUND,
 * FENCED_LEADER_EPOCH and UNKNOWN_LEADER_EPOCH keep their names, ...). A Fetch answer's top-level
 * error (v7+) is given to every partition asked. Results come in the leader's order, which for a
 * full fetch is the request's, partitions grouped by topic in the order each topic first appears.
 *
 * Security: SASL/PLAIN when given a username and password (a leader served with --auth); TLS is
 * not offered yet, so the password crosses the network in clear text, as on any SASL_PLAINTEXT
 * listener.
 */
import type { TlsClientOptions } from "../runtime/tcp_client.ts";
import type {
  BrokerEndpoint,
  EpochAnswer,
  EpochQuery,
  ReplicaFetchRequest,
  ReplicaFetchResult,
  ReplicaTransport,
  StartAnswer,
  StartQuery,
} from "../cluster/replica_transport.ts";
import { SluiceError } from "../errors.ts";
import {
  REPLICA_CONNECT_TIMEOUT_MS,
  REPLICA_REQUEST_TIMEOUT_MS,
  REPLICA_RESPONSE_BYTES_MAX,
} from "../limits.ts";
import type { Struct, Value } from "./codec.ts";
import { KafkaError } from "./error_codes.ts";
import { sluiceCodeFor } from "./errors.ts";
import { FETCH_REQUEST, FETCH_RESPONSE } from "./messages/fetch.ts";
import { LIST_OFFSETS_REQUEST, LIST_OFFSETS_RESPONSE } from "./messages/list_offsets.ts";
import {
  OFFSET_FOR_LEADER_EPOCH_REQUEST,
  OFFSET_FOR_LEADER_EPOCH_RESPONSE,
} from "./messages/offset_for_leader_epoch.ts";
import { ReplicaConnection, type ReplicaConnectionOptions } from "./replica_connection.ts";

/** Fetch v12: last_fetched_epoch and diverging_epoch, topics by name (see above). */
const FETCH_VERSION_MIN = 12;
/** OffsetForLeaderEpoch v3: the first with replica_id. */
const OFFSET_FOR_LEADER_EPOCH_VERSION_MIN = 3;
/** ListOffsets v4: current_leader_epoch, which fences a deposed leader's answer. */
const LIST_OFFSETS_VERSION_MIN = 4;
/** ListOffsets' timestamp for the log start offset. */
const EARLIEST_TIMESTAMP = -2n;
/** Fetch's isolation_level for a replica: every batch, committed or not. */
const READ_UNCOMMITTED = 0;

const EMPTY = new Uint8Array(0);

export interface KafkaReplicaClientOptions {
  /** The client id of every request (leaders log it); default "sluice-replica". */
  clientId?: string;
  /** SASL/PLAIN credentials, for leaders whose Kafka listener requires them (--auth). */
  username?: string;
  password?: string;
  /** Default REPLICA_REQUEST_TIMEOUT_MS (on top of a Fetch's max_wait_ms). */
  requestTimeoutMs?: number;
  /** Default REPLICA_CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
  /** Default REPLICA_RESPONSE_BYTES_MAX. */
  responseBytesMax?: number;
  /** TLS to leaders whose Kafka listener is TLS (their certificate, or its CA, trusted here). */
  tls?: TlsClientOptions;
}

export class KafkaReplicaClient implements ReplicaTransport {
  readonly #options: ReplicaConnectionOptions;
  /** One connection per leader broker, by node id (at most one per broker of the cluster). */
  readonly #connections = new Map<number, ReplicaConnection>();
  #closed = false;

  constructor(options: KafkaReplicaClientOptions = {}) {
    if ((options.username === undefined) !== (options.password === undefined)) {
      throw new SluiceError("INVALID_CONFIG", "a SASL username and password go together");
    }
    this.#options = {
      clientId: options.clientId ?? "sluice-replica",
      sasl: options.username === undefined
        ? undefined
        : { username: options.username, password: options.password! },
      requestTimeoutMs: options.requestTimeoutMs ?? REPLICA_REQUEST_TIMEOUT_MS,
      connectTimeoutMs: options.connectTimeoutMs ?? REPLICA_CONNECT_TIMEOUT_MS,
      responseBytesMax: options.responseBytesMax ?? REPLICA_RESPONSE_BYTES_MAX,
      tls: options.tls,
    };
  }

  async fetch(
    leader: BrokerEndpoint,
    request: ReplicaFetchRequest,
    signal?: AbortSignal,
  ): Promise<ReplicaFetchResult[]> {
    const { body } = await this.#connection(leader).call(
      FETCH_REQUEST,
      FETCH_RESPONSE,
      FETCH_VERSION_MIN,
      fetchBody(request),
      request.maxWaitMs,
      signal,
    );
    return fetchResults(body, request);
  }

  async offsetsForLeaderEpoch(
    leader: BrokerEndpoint,
    replicaId: number,
    queries: readonly EpochQuery[],
    signal?: AbortSignal,
  ): Promise<EpochAnswer[]> {
    const byTopic = new Map<string, Struct[]>();
    for (const q of queries) {
      const partition = {
        partition: q.partition,
        currentLeaderEpoch: q.currentLeaderEpoch,
        leaderEpoch: q.leaderEpoch,
      };
      const list = byTopic.get(q.topic);
      if (list === undefined) byTopic.set(q.topic, [partition]);
      else list.push(partition);
    }
    const topics: Struct[] = [];
    for (const [topic, partitions] of byTopic) topics.push({ topic, partitions });
    const { body } = await this.#connection(leader).call(
      OFFSET_FOR_LEADER_EPOCH_REQUEST,
      OFFSET_FOR_LEADER_EPOCH_RESPONSE,
      OFFSET_FOR_LEADER_EPOCH_VERSION_MIN,
      { replicaId, topics },
      0,
      signal,
    );
    const out: EpochAnswer[] = [];
    for (const t of body.topics as Struct[]) {
      const topic = t.topic as string;
      for (const p of t.partitions as Struct[]) {
        const answer: EpochAnswer = {
          topic,
          partition: p.partition as number,
          leaderEpoch: p.leaderEpoch as number,
          endOffset: Number(p.endOffset as bigint),
        };
        const errorCode = p.errorCode as number;
        if (errorCode !== KafkaError.NONE) answer.error = sluiceCodeFor(errorCode);
        out.push(answer);
      }
    }
    return out;
  }

  async logStartOffsets(
    leader: BrokerEndpoint,
    replicaId: number,
    queries: readonly StartQuery[],
    signal?: AbortSignal,
  ): Promise<StartAnswer[]> {
    const byTopic = new Map<string, Struct[]>();
    for (const q of queries) {
      const partition = {
        partitionIndex: q.partition,
        currentLeaderEpoch: q.currentLeaderEpoch,
        timestamp: EARLIEST_TIMESTAMP,
      };
      const list = byTopic.get(q.topic);
      if (list === undefined) byTopic.set(q.topic, [partition]);
      else list.push(partition);
    }
    const topics: Struct[] = [];
    for (const [name, partitions] of byTopic) topics.push({ name, partitions });
    const { body } = await this.#connection(leader).call(
      LIST_OFFSETS_REQUEST,
      LIST_OFFSETS_RESPONSE,
      LIST_OFFSETS_VERSION_MIN,
      { replicaId, isolationLevel: READ_UNCOMMITTED, topics, timeoutMs: 0 },
      0,
      signal,
    );
    const out: StartAnswer[] = [];
    for (const t of body.topics as Struct[]) {
      const topic = t.name as string;
      for (const p of t.partitions as Struct[]) {
        const errorCode = p.errorCode as number;
        const answer: StartAnswer = {
          topic,
          partition: p.partitionIndex as number,
          logStartOffset: errorCode === KafkaError.NONE ? Number(p.offset as bigint) : -1,
        };
        if (errorCode !== KafkaError.NONE) answer.error = sluiceCodeFor(errorCode);
        out.push(answer);
      }
    }
    return out;
  }

  close(): Promise<void> {
    this.#closed = true;
    for (const c of this.#connections.values()) c.close();
    this.#connections.clear();
    return Promise.resolve();
  }

  /** The connection to `leader`: a new one when its node id moved to another address. */
  #connection(leader: BrokerEndpoint): ReplicaConnection {
    let c = this.#connections.get(leader.nodeId);
    if (c !== undefined && (c.endpoint.host !== leader.host || c.endpoint.port !== leader.port)) {
      c.close();
      c = undefined;
    }
    if (c === undefined) {
      c = new ReplicaConnection({ ...leader }, this.#options);
      // A closed client hands out closed connections: their calls reject client_closed.
      if (this.#closed) c.close();
      else this.#connections.set(leader.nodeId, c);
    }
    return c;
  }
}

/** A full, sessionless Fetch v12 body (FETCH_REQUEST's fields), partitions grouped by topic. */
function fetchBody(request: ReplicaFetchRequest): Struct {
  const byTopic = new Map<string, Struct[]>();
  for (const p of request.partitions) {
    const partition = {
      partition: p.partition,
      currentLeaderEpoch: p.currentLeaderEpoch,
      fetchOffset: BigInt(p.fetchOffset),
      lastFetchedEpoch: p.lastFetchedEpoch,
      logStartOffset: BigInt(p.logStartOffset),
      partitionMaxBytes: p.partitionMaxBytes,
    };
    const list = byTopic.get(p.topic);
    if (list === undefined) byTopic.set(p.topic, [partition]);
    else list.push(partition);
  }
  const topics: Struct[] = [];
  for (const [topic, partitions] of byTopic) topics.push({ topic, partitions });
  return {
    clusterId: null,
    replicaId: request.replicaId,
    maxWaitMs: request.maxWaitMs,
    minBytes: request.minBytes,
    maxBytes: request.maxBytes,
    isolationLevel: READ_UNCOMMITTED,
    sessionId: 0,
    sessionEpoch: -1,
    topics,
    forgottenTopicsData: [],
    rackId: "",
  };
}

/** One partition's result carrying `error` alone (offsets -1, no records). */
function failedResult(topic: string, partition: number, errorCode: number): ReplicaFetchResult {
  return {
    topic,
    partition,
    error: sluiceCodeFor(errorCode),
    highWatermark: -1,
    logStartOffset: -1,
    logEndOffset: -1,
    records: EMPTY,
  };
}

/** The leader's Fetch answer as results, records handed on as the views the decoder made. */
function fetchResults(body: Struct, request: ReplicaFetchRequest): ReplicaFetchResult[] {
  const topLevel = body.errorCode as number;
  if (topLevel !== KafkaError.NONE) {
    return request.partitions.map((p) => failedResult(p.topic, p.partition, topLevel));
  }
  const out: ReplicaFetchResult[] = [];
  for (const t of body.responses as Struct[]) {
    const topic = t.topic as string;
    for (const p of t.partitions as Struct[]) {
      const partition = p.partitionIndex as number;
      const errorCode = p.errorCode as number;
      if (errorCode !== KafkaError.NONE) {
        out.push(failedResult(topic, partition, errorCode));
        continue;
      }
      const result: ReplicaFetchResult = {
        topic,
        partition,
        highWatermark: Number(p.highWatermark as bigint),
        logStartOffset: Number(p.logStartOffset as bigint),
        logEndOffset: -1,
        records: (p.records as Uint8Array | null) ?? EMPTY,
      };
      const diverging = p.divergingEpoch as { [name: string]: Value };
      if ((diverging.epoch as number) >= 0) {
        result.divergingEpoch = {
          epoch: diverging.epoch as number,
          endOffset: Number(diverging.endOffset as bigint),
        };
      }
      out.push(result);
    }
  }
  return out;
}
