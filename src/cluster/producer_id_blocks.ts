/**
 * Producer ids that are unique across the cluster (Kafka's controller-allocated ProducerIdsBlock):
 * each broker takes blocks of PRODUCER_ID_BLOCK_SIZE_DEFAULT ids from one etcd key,
 * `<prefix>producer_ids` = `{"nextBlockStart":"<decimal int64>"}`, by compare-and-swap on its
 * revision, and hands out a block's ids one by one. Two brokers can never take the same block,
 * and a block taken by a broker that then died is skipped, never reused (as on one node).
 * One reservation runs at a time; callers meanwhile wait for it.
 */
import { SluiceError } from "../errors.ts";
import type { ClusterKeys } from "./cluster_state.ts";
import type { EtcdClient } from "./etcd.ts";

/** Ids per reservation (Kafka's ProducerIdManager: 1000). */
export const CLUSTER_PRODUCER_ID_BLOCK = 1000n;
/** Compare-and-swap attempts of one reservation before it gives up (CLUSTER_UNAVAILABLE). */
const RESERVE_ATTEMPTS = 20;
const INT64_MAX = (1n << 63n) - 1n;

export class ClusterProducerIds {
  #next = 0n;
  #end = 0n;
  #reserving: Promise<void> | undefined;

  constructor(readonly etcd: EtcdClient, readonly keys: ClusterKeys) {}

  /** A producer id no broker of the cluster handed out before. */
  async allocate(): Promise<bigint> {
    while (this.#next >= this.#end) {
      this.#reserving ??= this.#reserve().finally(() => {
        this.#reserving = undefined;
      });
      await this.#reserving;
    }
    return this.#next++;
  }

  async #reserve(): Promise<void> {
    const key = this.keys.producerIds;
    for (let attempt = 0; attempt < RESERVE_ATTEMPTS; attempt++) {
      const current = await this.etcd.get(key);
      let start = 0n;
      if (current !== undefined) {
        const text = JSON.parse(new TextDecoder().decode(current.value))?.nextBlockStart;
        if (typeof text !== "string" || !/^\d{1,19}$/.test(text)) {
          throw new SluiceError("INTERNAL", `etcd's ${key} is not a producer id mark: ${text}`);
        }
        start = BigInt(text);
      }
      const end = start + CLUSTER_PRODUCER_ID_BLOCK;
      if (end > INT64_MAX) throw new SluiceError("INTERNAL", "producer ids are exhausted");
      const written = await this.etcd.putIfRevision(
        key,
        JSON.stringify({ nextBlockStart: end.toString() }),
        current?.modRevision ?? 0,
      );
      if (written.ok) {
        this.#next = start;
        this.#end = end;
        return;
      }
    }
    throw new SluiceError(
      "CLUSTER_UNAVAILABLE",
      `no block of producer ids could be reserved in ${RESERVE_ATTEMPTS} attempts`,
    );
  }
}
