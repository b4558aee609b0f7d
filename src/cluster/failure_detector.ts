/**
 * Fast failure detection: a broker whose process died is noticed before its etcd lease runs out.
 *
 * The lease alone (broker.session.timeout.ms, 6 s by default) bounds how long a dead leader's
 * partitions stay unavailable. But a process that died (SIGKILL, a crash) leaves its host
 * refusing connections to its port at once, unlike a broker that is slow, paused or cut off (its
 * connections time out). So when a follower's connection to its leader is refused
 * (replica_fetcher.ts), this broker checks for itself with a fresh connection to the leader's
 * registered Kafka address and, refused again, revokes the dead broker's lease: its registration
 * (and the controller key, if it held it) goes at once, and the controller elects new leaders.
 *
 * A broker that was alive after all (its listener was only closing: a clean shutdown, which ends
 * its lease anyway) finds its lease gone at its next keep-alive and registers again
 * (membership.ts). A slow or partitioned broker is never revoked here: only a refusal counts.
 * Probes of one broker run at most once per FAILURE_PROBE_INTERVAL_MS.
 */
import type { Logger } from "../logger.ts";
import { connectTcp, isConnectionRefused } from "../runtime/tcp_client.ts";
import type { EtcdClient } from "./etcd.ts";
import type { ClusterMetadata } from "./metadata.ts";

/** At most one probe of a broker per this many ms. */
export const FAILURE_PROBE_INTERVAL_MS = 1_000;
/** A probe's connection attempt gives up (inconclusive) after this long. */
export const FAILURE_PROBE_TIMEOUT_MS = 1_000;

/** True when a connection to host:port is refused; false when it connects or times out. */
async function refuses(host: string, port: number): Promise<boolean> {
  const attempt = AbortSignal.timeout(FAILURE_PROBE_TIMEOUT_MS);
  try {
    const conn = await connectTcp(host, port, attempt);
    conn.close();
    return false;
  } catch (err) {
    return isConnectionRefused(err);
  }
}

export class FailureDetector {
  readonly #lastProbe = new Map<number, number>();

  constructor(
    readonly nodeId: number,
    readonly etcd: EtcdClient,
    readonly metadata: ClusterMetadata,
    readonly logger: Logger,
    readonly nowMs: () => number,
  ) {}

  /** A connection to broker `nodeId` was refused: probe it, and end a dead broker's lease. */
  async refused(nodeId: number): Promise<void> {
    if (nodeId === this.nodeId) return;
    const now = this.nowMs();
    if (now - (this.#lastProbe.get(nodeId) ?? -Infinity) < FAILURE_PROBE_INTERVAL_MS) return;
    this.#lastProbe.set(nodeId, now);
    const registered = this.metadata.brokers.get(nodeId);
    if (registered === undefined || registered.lease === undefined) return;
    const { host, kafkaPort } = registered.value;
    if (!(await refuses(host, kafkaPort))) return;
    // Re-registered meanwhile (a restart on the same port): that one is alive.
    if (this.metadata.brokers.get(nodeId)?.createRevision !== registered.createRevision) return;
    this.logger.warn("a broker's Kafka port refuses connections: ending its registration", {
      broker: nodeId,
      address: `${host}:${kafkaPort}`,
    });
    try {
      await this.etcd.revokeLease(registered.lease);
    } catch (err) {
      this.logger.warn("could not end a dead broker's lease; it expires on its own", {
        broker: nodeId,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
}
