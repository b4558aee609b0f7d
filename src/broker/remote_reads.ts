/**
 * Reads of partitions that another broker of the cluster leads, for the one reader that needs
 * them here: the coordinator of an HTTP consumer group, whose members' partitions may be led
 * anywhere. It reads them as any consumer does, with Kafka's Fetch (replica id -1: up to the
 * leader's high watermark) over a connection of its own to each leader (a second
 * ReplicaTransport, so a member's long poll never delays replication), and hands the batches on
 * as they came. Partitions this broker leads go through the local read path, long poll included.
 *
 * It also keeps what the leaders last said of each such partition's bounds (log start, high
 * watermark), for the members' positions, commits and lag; `probe` asks for the bounds it does not
 * know yet. At most REMOTE_BOUNDS_MAX partitions are remembered (the oldest forgotten first).
 */
import type { ClusterNode } from "../cluster/cluster_node.ts";
import { NO_LEADER } from "../cluster/cluster_state.ts";
import type { BrokerEndpoint, ReplicaTransport } from "../cluster/replica_transport.ts";
import { SluiceError } from "../errors.ts";
import {
  baseOffsetAt,
  BATCH_HEADER_BYTES,
  batchSizeAt,
  lastOffsetDeltaAt,
  viewOf,
} from "../record/record_batch.ts";
import type { FetchMessagesRequest, FetchPartition, FetchPartitionResult } from "./fetch_reader.ts";

/** Partitions whose remote bounds are remembered. */
export const REMOTE_BOUNDS_MAX = 100_000;
/** The longest long poll sent to a remote leader (a member's wait is bounded by it). */
export const REMOTE_FETCH_WAIT_MS_MAX = 10_000;

export interface PartitionBounds {
  logStartOffset: number;
  highWatermark: number;
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** The offset after the last whole batch in `records`; `from` when there is none. */
function nextOffsetOf(records: Uint8Array, from: number): number {
  const dv = viewOf(records);
  let next = from;
  for (let pos = 0; pos + BATCH_HEADER_BYTES <= records.length; pos += batchSizeAt(dv, pos)) {
    next = baseOffsetAt(dv, pos) + lastOffsetDeltaAt(dv, pos) + 1;
  }
  return next;
}

export class RemoteReads {
  readonly #bounds = new Map<string, PartitionBounds>();

  constructor(readonly cluster: ClusterNode, readonly transport: ReplicaTransport) {}

  /** The live leader of a partition this broker does not lead; undefined when it leads it. */
  #remoteLeader(topic: string, partition: number): BrokerEndpoint | undefined {
    const state = this.cluster.metadata.partition(topic, partition)?.value;
    if (state === undefined || state.leader === NO_LEADER || state.leader === this.cluster.nodeId) {
      return undefined;
    }
    const b = this.cluster.metadata.brokers.get(state.leader)?.value;
    return b === undefined ? undefined : { nodeId: b.nodeId, host: b.host, port: b.kafkaPort };
  }

  /** Whether another live broker leads the partition. */
  isRemote(topic: string, partition: number): boolean {
    return this.#remoteLeader(topic, partition) !== undefined;
  }

  /** What the leader last said of the partition's bounds; undefined before any answer. */
  bounds(topic: string, partition: number): PartitionBounds | undefined {
    return this.#bounds.get(key(topic, partition));
  }

  #remember(topic: string, partition: number, logStartOffset: number, highWatermark: number) {
    if (logStartOffset < 0 || highWatermark < 0) return;
    const k = key(topic, partition);
    this.#bounds.delete(k);
    if (this.#bounds.size >= REMOTE_BOUNDS_MAX) {
      this.#bounds.delete(this.#bounds.keys().next().value!);
    }
    this.#bounds.set(k, { logStartOffset, highWatermark });
  }

  /**
   * Learns the bounds of the remote partitions among `partitions` that are not known yet;
   * undefined when every one is known (or led here).
   */
  probe(partitions: readonly { topic: string; partition: number }[]): Promise<void> | undefined {
    const unknown = partitions.filter((p) =>
      this.isRemote(p.topic, p.partition) && this.bounds(p.topic, p.partition) === undefined
    );
    if (unknown.length === 0) return undefined;
    return this.#fetchRemote(
      unknown.map((p) => ({ ...p, fetchOffset: 0, partitionMaxBytes: 1 })),
      0,
      BATCH_HEADER_BYTES,
    ).then(() => {});
  }

  /**
   * A member fetch: partitions led here through `local` (the broker's read path, with its long
   * poll), the others from their leaders (waiting only when none is local). Results in request
   * order.
   */
  async read(
    request: FetchMessagesRequest,
    local: (request: FetchMessagesRequest) => Promise<FetchPartitionResult[]>,
  ): Promise<FetchPartitionResult[]> {
    const here: number[] = [];
    const away: number[] = [];
    request.partitions.forEach((p, i) =>
      (this.isRemote(p.topic, p.partition) ? away : here).push(i)
    );
    if (away.length === 0) return local(request);
    const out: FetchPartitionResult[] = new Array(request.partitions.length);
    const wait = here.length > 0 ? 0 : Math.min(request.maxWaitMs, REMOTE_FETCH_WAIT_MS_MAX);
    const [fromHere, fromAway] = await Promise.all([
      here.length === 0
        ? Promise.resolve([])
        : local({ ...request, partitions: here.map((i) => request.partitions[i]) }),
      this.#fetchRemote(
        away.map((i) => request.partitions[i]),
        wait,
        request.maxBytes,
        typeof request.signal === "function" ? request.signal() : request.signal,
      ),
    ]);
    here.forEach((i, j) => out[i] = fromHere[j]);
    away.forEach((i, j) => out[i] = fromAway[j]);
    return out;
  }

  /** Fetches partitions from their leaders, one request per leader, as a consumer. */
  async #fetchRemote(
    partitions: readonly FetchPartition[],
    maxWaitMs: number,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<FetchPartitionResult[]> {
    const byLeader = new Map<number, { endpoint: BrokerEndpoint; at: number[] }>();
    const out: FetchPartitionResult[] = new Array(partitions.length);
    partitions.forEach((p, i) => {
      const endpoint = this.#remoteLeader(p.topic, p.partition);
      if (endpoint === undefined) {
        out[i] = failed(p, new SluiceError("LEADER_NOT_AVAILABLE", "the leader moved; retry"));
        return;
      }
      let entry = byLeader.get(endpoint.nodeId);
      if (entry === undefined) byLeader.set(endpoint.nodeId, entry = { endpoint, at: [] });
      entry.at.push(i);
    });
    await Promise.all([...byLeader.values()].map(async ({ endpoint, at }) => {
      try {
        const results = await this.transport.fetch(endpoint, {
          replicaId: -1,
          replicaEpoch: -1,
          maxWaitMs,
          minBytes: 1,
          maxBytes,
          partitions: at.map((i) => ({
            topic: partitions[i].topic,
            partition: partitions[i].partition,
            fetchOffset: partitions[i].fetchOffset,
            currentLeaderEpoch: -1,
            lastFetchedEpoch: -1,
            logStartOffset: -1,
            partitionMaxBytes: partitions[i].partitionMaxBytes,
          })),
        }, signal);
        const byKey = new Map(results.map((r) => [key(r.topic, r.partition), r]));
        for (const i of at) {
          const p = partitions[i];
          const r = byKey.get(key(p.topic, p.partition));
          if (r === undefined) {
            out[i] = failed(p, new SluiceError("LEADER_NOT_AVAILABLE", "no answer for it"));
            continue;
          }
          this.#remember(p.topic, p.partition, r.logStartOffset, r.highWatermark);
          out[i] = {
            topic: p.topic,
            partition: p.partition,
            fetchOffset: p.fetchOffset,
            error: r.error === undefined
              ? undefined
              : new SluiceError(r.error, `broker ${endpoint.nodeId} answered ${r.error}`),
            records: r.records,
            nextOffset: nextOffsetOf(r.records, p.fetchOffset),
            highWatermark: r.highWatermark,
            logStartOffset: r.logStartOffset,
            divergingEpoch: undefined,
          };
        }
      } catch (err) {
        const error = err instanceof SluiceError
          ? err
          : new SluiceError("LEADER_NOT_AVAILABLE", String(err));
        for (const i of at) out[i] = failed(partitions[i], error);
      }
    }));
    return out;
  }
}

function failed(p: FetchPartition, error: SluiceError): FetchPartitionResult {
  return {
    topic: p.topic,
    partition: p.partition,
    fetchOffset: p.fetchOffset,
    error,
    records: new Uint8Array(0),
    nextOffset: p.fetchOffset,
    highWatermark: -1,
    logStartOffset: -1,
    divergingEpoch: undefined,
  };
}
