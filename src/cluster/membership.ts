/**
 * A broker's membership of the cluster: its registration in etcd under a lease (Kafka's broker
 * registration and session), kept alive while the process runs.
 *
 * - register(): grants a lease of broker.session.timeout.ms (rounded up to whole seconds, etcd's
 *   unit) and creates `brokers/<nodeId>` under it only if the key does not exist. When another
 *   process holds the key, it tries again until one session timeout (plus a second) has passed,
 *   as Kafka's broker waits out its previous incarnation's session: a restarted broker whose old
 *   registration has not expired yet gets in once it does; a live broker keeps its key, and
 *   start-up then fails with BROKER_ID_IN_USE naming it (the CLI exits 2). The key's create
 *   revision is the broker epoch.
 * - Keep-alive every third of the lease's TTL (Kafka's heartbeat is likewise a fraction of the
 *   session). A keep-alive that etcd answers with "expired" means the broker was out of the
 *   cluster (a pause longer than the session, etcd unreachable that long): its key is gone and the
 *   controller has moved its leaderships; it registers again, with a new broker epoch, and the
 *   `onRejoin` listener learns it. A keep-alive that fails (etcd down) is retried at the next tick;
 *   the broker keeps serving meanwhile (what it leads, with the ISR it has).
 * - close(): stops the keep-alive and revokes the lease, so the key goes at once and the
 *   controller moves this broker's leaderships without waiting for the session timeout (Kafka's
 *   controlled shutdown, in its simplest form).
 */
import { SluiceError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { type BrokerRecord, type ClusterKeys, encodeRecord, parseBroker } from "./cluster_state.ts";
import type { EtcdClient } from "./etcd.ts";

import { BROKER_SESSION_TIMEOUT_MS_DEFAULT } from "../limits.ts";
/** How much longer than a session a start-up waits for a node id's old registration to go. */
const REGISTER_GRACE_MS = 1_000;
/** Between two registration attempts while the node id is taken. */
const REGISTER_RETRY_MS = 500;

export interface MembershipOptions {
  sessionTimeoutMs?: number;
  logger: Logger;
  /** Called after the broker registered again with a new epoch (its lease had expired). */
  onRejoin?: (epoch: number) => void;
  /** Called when re-registration finds the node id taken by another process: stop serving. */
  onFenced?: (error: SluiceError) => void;
}

export class BrokerMembership {
  readonly #etcd: EtcdClient;
  readonly #keys: ClusterKeys;
  readonly #record: BrokerRecord;
  readonly #options: MembershipOptions;
  readonly #ttlSeconds: number;
  #leaseId: string;
  #epoch: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ticking: Promise<void> | undefined;
  #closed = false;

  private constructor(
    etcd: EtcdClient,
    keys: ClusterKeys,
    record: BrokerRecord,
    options: MembershipOptions,
    ttlSeconds: number,
    leaseId: string,
    epoch: number,
  ) {
    this.#etcd = etcd;
    this.#keys = keys;
    this.#record = record;
    this.#options = options;
    this.#ttlSeconds = ttlSeconds;
    this.#leaseId = leaseId;
    this.#epoch = epoch;
  }

  /** Registers the broker, or throws BROKER_ID_IN_USE / CLUSTER_UNAVAILABLE. */
  static async register(
    etcd: EtcdClient,
    keys: ClusterKeys,
    record: BrokerRecord,
    options: MembershipOptions,
  ): Promise<BrokerMembership> {
    const sessionMs = options.sessionTimeoutMs ?? BROKER_SESSION_TIMEOUT_MS_DEFAULT;
    const ttlSeconds = Math.max(2, Math.ceil(sessionMs / 1000));
    const deadline = Date.now() + ttlSeconds * 1000 + REGISTER_GRACE_MS;
    let registered: { leaseId: string; epoch: number } | undefined;
    while (registered === undefined) {
      try {
        registered = await registerOnce(etcd, keys, record, ttlSeconds);
      } catch (err) {
        if (!(err instanceof SluiceError) || err.code !== "BROKER_ID_IN_USE") throw err;
        if (Date.now() >= deadline) throw err;
        options.logger.info("node id registered by another process; waiting for it to expire", {
          nodeId: record.nodeId,
        });
        await new Promise((r) => setTimeout(r, REGISTER_RETRY_MS));
      }
    }
    const { leaseId, epoch } = registered;
    const membership = new BrokerMembership(
      etcd,
      keys,
      record,
      options,
      ttlSeconds,
      leaseId,
      epoch,
    );
    membership.#schedule();
    options.logger.info("broker registered in the cluster", {
      nodeId: record.nodeId,
      brokerEpoch: epoch,
      sessionTimeoutMs: ttlSeconds * 1000,
    });
    return membership;
  }

  get nodeId(): number {
    return this.#record.nodeId;
  }

  /** The create revision of this broker's registration (grows with each registration). */
  get epoch(): number {
    return this.#epoch;
  }

  /** The lease this broker's keys live under (the controller key too, while it controls). */
  get leaseId(): string {
    return this.#leaseId;
  }

  #schedule(): void {
    if (this.#closed) return;
    const every = Math.max(200, Math.floor((this.#ttlSeconds * 1000) / 3));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#ticking = this.#tick().finally(() => {
        this.#ticking = undefined;
        this.#schedule();
      });
    }, every);
  }

  async #tick(): Promise<void> {
    let ttl: number;
    try {
      ttl = await this.#etcd.keepAlive(this.#leaseId);
    } catch (err) {
      this.#options.logger.warn("broker lease keep-alive failed; retrying", {
        nodeId: this.nodeId,
        error: err instanceof Error ? err.message : String(err),
      });
      return;
    }
    if (ttl > 0 || this.#closed) return;
    this.#options.logger.warn("broker lease expired: registering again", { nodeId: this.nodeId });
    try {
      const { leaseId, epoch } = await registerOnce(
        this.#etcd,
        this.#keys,
        this.#record,
        this.#ttlSeconds,
      );
      this.#leaseId = leaseId;
      this.#epoch = epoch;
      this.#options.onRejoin?.(epoch);
    } catch (err) {
      if (err instanceof SluiceError && err.code !== "CLUSTER_UNAVAILABLE") {
        this.#options.onFenced?.(err);
      } else {
        this.#options.logger.warn("broker registration failed; retrying", {
          nodeId: this.nodeId,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }

  /** Stops keeping the lease alive and revokes it (the registration goes at once). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#ticking !== undefined) await this.#ticking;
    try {
      await this.#etcd.revokeLease(this.#leaseId);
    } catch (err) {
      this.#options.logger.warn("broker lease not revoked; it expires on its own", {
        nodeId: this.nodeId,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
}

async function registerOnce(
  etcd: EtcdClient,
  keys: ClusterKeys,
  record: BrokerRecord,
  ttlSeconds: number,
): Promise<{ leaseId: string; epoch: number }> {
  const lease = await etcd.grantLease(ttlSeconds);
  const key = keys.broker(record.nodeId);
  const written = await etcd.putIfRevision(key, encodeRecord(record), 0, { lease: lease.id });
  if (!written.ok) {
    await etcd.revokeLease(lease.id).catch(() => {});
    const holder = written.current === undefined ? undefined : parseBroker(written.current.value);
    throw new SluiceError(
      "BROKER_ID_IN_USE",
      `node id ${record.nodeId} is in use by a live broker` +
        (holder === undefined ? "" : ` at ${holder.host}:${holder.kafkaPort}`) +
        `; give this broker another --node-id, or stop the other one (its registration ends ` +
        `within broker.session.timeout.ms of its exit)`,
      { nodeId: record.nodeId },
    );
  }
  const now = await etcd.get(key);
  if (now === undefined || now.lease !== lease.id) {
    throw new SluiceError(
      "CLUSTER_UNAVAILABLE",
      `the registration of node id ${record.nodeId} vanished right after it was written`,
    );
  }
  return { leaseId: lease.id, epoch: now.createRevision };
}
