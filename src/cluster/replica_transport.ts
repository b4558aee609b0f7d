/**
 * How a follower talks to its partitions' leaders: the replica fetcher's requests, as types
 * only. The cluster layer sits below the Kafka front and may not import it, so it names what it
 * needs here; the Kafka front implements it with Kafka's own Fetch (replica id set),
 * OffsetForLeaderEpoch and ListOffsets over the leader's Kafka listener, as Kafka's
 * ReplicaFetcherThread does (src/kafka_protocol/replica_client.ts), and the CLI hands that
 * implementation to the cluster.
 *
 * Offsets and epochs are numbers (offsets below 2^53, as everywhere in Sluice). Errors come two
 * ways: one partition's refusal is its result's `error` (Sluice's stable code, mapped from the
 * leader's Kafka error code), and the rest of the answer stands; a whole request that failed (no
 * connection, a reset, no answer in time, an answer that is not Kafka's) rejects with a
 * SluiceError naming the broker, and nothing of it is answered.
 */
import type { ErrorCode } from "../errors.ts";

/** Where a broker's Kafka listener is. */
export interface BrokerEndpoint {
  nodeId: number;
  host: string;
  port: number;
}

/** One partition of a replica fetch: where the follower's log ends and what it knows. */
export interface ReplicaFetchPartition {
  topic: string;
  partition: number;
  /** The follower's log end offset: the first offset it wants. */
  fetchOffset: number;
  /** The leader epoch the follower believes current; the leader fences an older or newer one. */
  currentLeaderEpoch: number;
  /**
   * The epoch of the last batch the follower holds (-1: none); the leader answers
   * `divergingEpoch` when its log diverged from that epoch before `fetchOffset` (KIP-595).
   */
  lastFetchedEpoch: number;
  /** The follower's log start offset (the leader tracks it for DeleteRecords). */
  logStartOffset: number;
  /** Bytes this partition may return (the first batch is returned whole even when larger). */
  partitionMaxBytes: number;
}

/** A follower's fetch from one leader. */
export interface ReplicaFetchRequest {
  /** The follower's node id: what makes the fetch a replica's. */
  replicaId: number;
  /** The follower's broker epoch (sent only by Fetch versions that carry it, 15+). */
  replicaEpoch: number;
  /** How long the leader may wait for `minBytes` (a long poll). */
  maxWaitMs: number;
  minBytes: number;
  /** Bytes of the whole answer (a soft bound, as partitionMaxBytes). */
  maxBytes: number;
  partitions: readonly ReplicaFetchPartition[];
}

/** One partition of the leader's answer. */
export interface ReplicaFetchResult {
  topic: string;
  partition: number;
  /** Set when the leader refused this partition: then the offsets are -1 and records empty. */
  error?: ErrorCode;
  highWatermark: number;
  logStartOffset: number;
  /**
   * The leader's log end offset, when its answer carries one; -1 when unknown (Kafka's Fetch has
   * no such field: its lastStableOffset is not it).
   */
  logEndOffset: number;
  /** Whole batches as the leader sent them, never decoded (maybe empty): a view, not a copy. */
  records: Uint8Array;
  /** Set when the follower's log diverged: truncate to `endOffset` of `epoch`, then fetch on. */
  divergingEpoch?: { epoch: number; endOffset: number };
}

/** Where does `leaderEpoch` end in the leader's log (OffsetForLeaderEpoch, KIP-101/KIP-279)? */
export interface EpochQuery {
  topic: string;
  partition: number;
  /** The epoch the follower believes current (-1: no check). */
  currentLeaderEpoch: number;
  /** The epoch whose end offset is asked (the follower's latest). */
  leaderEpoch: number;
}

/** The leader's answer to one {@link EpochQuery}. */
export interface EpochAnswer {
  topic: string;
  partition: number;
  error?: ErrorCode;
  /** The largest epoch <= the one asked that the leader knows (-1: none). */
  leaderEpoch: number;
  /** Where that epoch ends: the next epoch's start, or the log end for the latest (-1: none). */
  endOffset: number;
}

/** Where does the leader's log start now (ListOffsets earliest, as replica)? */
export interface StartQuery {
  topic: string;
  partition: number;
  /** The epoch the follower believes current (-1: no check). */
  currentLeaderEpoch: number;
}

/** The leader's answer to one {@link StartQuery}. */
export interface StartAnswer {
  topic: string;
  partition: number;
  error?: ErrorCode;
  /** The leader's log start offset (-1 with an error). */
  logStartOffset: number;
}

export interface ReplicaTransport {
  /**
   * One fetch from `leader`: every partition answered, or a rejection when the request failed as
   * a whole. `signal` abandons it (the connection it used is closed).
   */
  fetch(
    leader: BrokerEndpoint,
    request: ReplicaFetchRequest,
    signal?: AbortSignal,
  ): Promise<ReplicaFetchResult[]>;
  /** The end offset of each queried epoch in `leader`'s log, asked as replica `replicaId`. */
  offsetsForLeaderEpoch(
    leader: BrokerEndpoint,
    replicaId: number,
    queries: readonly EpochQuery[],
    signal?: AbortSignal,
  ): Promise<EpochAnswer[]>;
  /**
   * The log start offset of each queried partition in `leader`'s log, asked as replica
   * `replicaId`: for a follower whose fetch offset fell below it (Kafka's
   * fetchEarliestOffsetFromLeader).
   */
  logStartOffsets(
    leader: BrokerEndpoint,
    replicaId: number,
    queries: readonly StartQuery[],
    signal?: AbortSignal,
  ): Promise<StartAnswer[]>;
  /** Closes every connection; calls in progress and later ones reject. */
  close(): Promise<void>;
}
