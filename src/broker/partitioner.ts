/**
 * Kafka's default partitioning:
 * - an explicit partition wins;
 * - a keyed record goes to toPositive(murmur2(key)) % partitions, exactly as Kafka's Java client
 *   (and kafkajs's JavaCompatiblePartitioner), so the same key lands on the same partition
 *   whichever client wrote it;
 * - records without a key stick to one partition for a whole batch (KIP-480's sticky partitioner):
 *   every unkeyed record of one produce request goes to the same partition, and the next request
 *   moves to another one, so batches stay large and load still spreads.
 */
import { partitionForKey } from "../record/murmur2.ts";

export class StickyPartitioner {
  readonly #sticky = new Map<string, number>();

  constructor(readonly random: () => number = Math.random) {}

  /** The partition for one record; `sticky` is the request's partition for unkeyed records. */
  static partitionOf(key: Uint8Array | null, partitions: number, sticky: number): number {
    return key === null ? sticky : partitionForKey(key, partitions);
  }

  /** The sticky partition of `topic` for the current request. */
  current(topic: string, partitions: number): number {
    let p = this.#sticky.get(topic);
    if (p === undefined || p >= partitions) {
      p = Math.floor(this.random() * partitions);
      this.#sticky.set(topic, p);
    }
    return p;
  }

  /** A batch went out: move to another partition (a different one when there is a choice). */
  next(topic: string, partitions: number): void {
    const current = this.current(topic, partitions);
    if (partitions < 2) return;
    const step = 1 + Math.floor(this.random() * (partitions - 1));
    this.#sticky.set(topic, (current + step) % partitions);
  }

  forget(topic: string): void {
    this.#sticky.delete(topic);
  }
}
