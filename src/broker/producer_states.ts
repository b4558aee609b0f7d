/**
 * Idempotent-producer state per partition, for the broker's one append path (HTTP and Kafka
 * alike): a ProducerStateTable (producer_state.ts) made the first time an idempotent batch
 * reaches a partition, rebuilt from the log's tail (PRODUCER_STATE_REBUILD_BYTES_DEFAULT) so that a batch retried
 * across a restart is still recognised as a duplicate.
 */
import type { Clock } from "../clock.ts";
import {
  PRODUCER_STATE_REBUILD_BYTES_DEFAULT,
  type ProducerStateTable,
  rebuildFromLog,
} from "./producer_state.ts";
import type { PartitionLog } from "../storage/partition_log.ts";

export class ProducerStates {
  readonly #tables = new WeakMap<PartitionLog, ProducerStateTable>();

  constructor(
    readonly clock: Clock,
    readonly rebuildBytes: number = PRODUCER_STATE_REBUILD_BYTES_DEFAULT,
  ) {}

  /**
   * Drops the partition's table: the next idempotent batch rebuilds it from the log. For a log
   * that another broker wrote meanwhile (this one followed it and now leads it).
   */
  forget(log: PartitionLog): void {
    this.#tables.delete(log);
  }

  /** The partition's table; the first call scans the log's tail (headers only). */
  forLog(log: PartitionLog): ProducerStateTable {
    let table = this.#tables.get(log);
    if (table === undefined) {
      table = rebuildFromLog(log, this.rebuildBytes, { clock: this.clock });
      this.#tables.set(log, table);
    }
    return table;
  }
}
