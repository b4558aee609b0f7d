/**
 * The Kafka listener fuzzer's model of log end offsets (kafka_fuzz_lib.ts), kept apart so that
 * its accounting can be tested on its own (log_end_model_test.ts).
 *
 * Per partition the model holds `lo`, the log end the answers prove, and `unsure`, the records
 * that produces nobody heard back from (acks=0, or cut off by a closed connection) may have
 * appended since. Such a produce can append its records or nothing, whenever it is served; what
 * it can append at most is {@link appendableRecords}, Kafka's rules for one partition's records
 * (exactly one well-formed RecordBatch v2 with baseOffset 0, a matching CRC and lastOffsetDelta + 1
 * = recordsCount >= 1: anything else is refused whole, writing nothing, by Kafka and by Sluice).
 *
 * - An answered success at base offset `b` of `r` records is a fresh append, so
 *   `lo <= b <= lo + unsure`: the `b - lo` records before it came from unanswered produces. Then
 *   `lo = b + r` and `unsure -= b - lo`. Answers of one request are applied in base offset order
 *   (a request naming a partition twice is served as two appends).
 * - An idempotent producer's batch answered below `lo` is a retry answered with its first
 *   offsets (nothing written); it must lie inside what was written (`b + r <= lo + unsure`). At
 *   or above `lo`, it is a fresh append or the retry of an unanswered batch: both leave
 *   `lo = b + r`, `unsure -= b - lo` as bounds.
 * - An answered error appends nothing, and changes nothing here.
 * - After a case, the real log end must lie in `[lo, lo + unsure]`.
 */
import { crc32c } from "../../src/record/crc32c.ts";
import {
  BASE_OFFSET_AT,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_AT,
  CRC_AT,
  LAST_OFFSET_DELTA_AT,
  LOG_OVERHEAD,
  MAGIC_AT,
  MAGIC_V2,
  PRODUCER_ID_AT,
  RECORDS_COUNT_AT,
  viewOf,
} from "../../src/record/record_batch.ts";

/** The CRC-32C covers a batch from its attributes (byte 21) to its end. */
const CRC_FROM = 21;

export interface BatchInfo {
  /** Records the batch adds to the log if appended (lastOffsetDelta + 1). */
  records: number;
  /** The header's recordsCount. */
  count: number;
  /** A client's batch starts at offset 0 (Kafka refuses any other). */
  baseOffsetZero: boolean;
  crcOk: boolean;
  magicOk: boolean;
  idempotent: boolean;
}

/** The batches in a Produce partition's records, as far as they parse. */
export function batchesOf(
  records: Uint8Array | null,
): { batches: BatchInfo[]; wellFormed: boolean } {
  if (records === null || records.length === 0) return { batches: [], wellFormed: false };
  const dv = viewOf(records);
  const batches: BatchInfo[] = [];
  let pos = 0;
  while (pos < records.length) {
    if (pos + BATCH_HEADER_BYTES > records.length) return { batches, wellFormed: false };
    const size = dv.getInt32(pos + BATCH_LENGTH_AT) + LOG_OVERHEAD;
    if (size < BATCH_HEADER_BYTES || pos + size > records.length) {
      return { batches, wellFormed: false };
    }
    batches.push({
      records: dv.getInt32(pos + LAST_OFFSET_DELTA_AT) + 1,
      count: dv.getInt32(pos + RECORDS_COUNT_AT),
      baseOffsetZero: dv.getBigInt64(pos + BASE_OFFSET_AT) === 0n,
      crcOk: dv.getUint32(pos + CRC_AT) === crc32c(records.subarray(pos + CRC_FROM, pos + size)),
      magicOk: dv.getInt8(pos + MAGIC_AT) === MAGIC_V2,
      idempotent: dv.getBigInt64(pos + PRODUCER_ID_AT) !== -1n,
    });
    pos += size;
  }
  return { batches, wellFormed: true };
}

/**
 * What one partition's records may append, at most: the records of its one batch when Kafka's
 * framing rules let it through, else 0 (refused whole). Producer state (a duplicate, a sequence
 * gap), the topic and partition may still refuse it: this is a bound.
 */
export function appendableRecords(records: Uint8Array | null): number {
  const { batches, wellFormed } = batchesOf(records);
  if (!wellFormed || batches.length !== 1) return 0;
  const b = batches[0];
  if (!b.baseOffsetZero || !b.crcOk || !b.magicOk || b.records < 1 || b.count !== b.records) {
    return 0;
  }
  return b.records;
}

/** Why a success answer does not fit Kafka's rules for the records sent, or undefined. */
export function refusableRecords(records: Uint8Array | null): string | undefined {
  const { batches, wellFormed } = batchesOf(records);
  if (!wellFormed) return "malformed records";
  if (batches.length !== 1) return `${batches.length} batches for one partition`;
  const b = batches[0];
  if (!b.baseOffsetZero) return "a batch whose baseOffset is not 0";
  if (!b.crcOk) return "a batch whose CRC does not match";
  if (!b.magicOk) return "a batch that is not RecordBatch v2";
  if (b.records < 1 || b.count !== b.records) {
    return `a batch of recordsCount ${b.count} with lastOffsetDelta ${b.records - 1}`;
  }
  return undefined;
}

/** One partition's answered success in a Produce response. */
export interface ProduceSuccess {
  baseOffset: number;
  records: number;
  idempotent: boolean;
}

interface PartitionEnd {
  lo: number;
  unsure: number;
}

/** See the module comment. Keys are topic names, then partition indexes. */
export class LogEndModel {
  readonly #ends = new Map<string, Map<number, PartitionEnd>>();
  /** Unanswered records a partition may still receive from before the current case. */
  #carried = new Map<string, Map<number, number>>();
  /** Unanswered records noted during the current case, by topic and partition. */
  #unanswered = new Map<string, Map<number, number>>();

  /**
   * A new case: the log ends are `actual` exactly, and `carried` (unanswered records of earlier
   * cases, which may land at any time) may still come.
   */
  reset(
    actual: Map<string, number[]>,
    carried: Map<string, Map<number, number>> = new Map(),
  ): void {
    this.#ends.clear();
    this.#carried = carried;
    this.#unanswered = new Map();
    for (const [topic, ends] of actual) {
      const partitions = new Map<number, PartitionEnd>();
      ends.forEach((lo, p) => partitions.set(p, { lo, unsure: carriedOf(carried, topic, p) }));
      this.#ends.set(topic, partitions);
    }
  }

  /** The unanswered records noted since the last reset (to carry into later cases). */
  get unanswered(): Map<string, Map<number, number>> {
    return this.#unanswered;
  }

  #end(topic: string, partition: number): PartitionEnd {
    let partitions = this.#ends.get(topic);
    if (partitions === undefined) this.#ends.set(topic, partitions = new Map());
    let end = partitions.get(partition);
    if (end === undefined) {
      // A topic created during the case: it starts empty.
      end = { lo: 0, unsure: carriedOf(this.#carried, topic, partition) };
      partitions.set(partition, end);
    }
    return end;
  }

  /** A produce of `records` to a partition that nobody hears back from. */
  noteUnanswered(topic: string, partition: number, records: Uint8Array | null): void {
    const n = appendableRecords(records);
    if (n === 0) return;
    this.#end(topic, partition).unsure += n;
    let partitions = this.#unanswered.get(topic);
    if (partitions === undefined) this.#unanswered.set(topic, partitions = new Map());
    partitions.set(partition, (partitions.get(partition) ?? 0) + n);
  }

  /**
   * The successes one Produce response answered for one partition (several when the request
   * named it more than once). Returns what does not add up, or undefined.
   */
  answered(topic: string, partition: number, successes: ProduceSuccess[]): string | undefined {
    const end = this.#end(topic, partition);
    const sorted = [...successes].sort((a, b) => a.baseOffset - b.baseOffset);
    for (const s of sorted) {
      const hi = end.lo + end.unsure;
      const range = end.unsure === 0 ? `${end.lo}` : `${end.lo} (+ up to ${end.unsure} unanswered)`;
      if (s.idempotent && s.baseOffset < end.lo) {
        // A retry answered with its first offsets: those were written before.
        if (s.baseOffset + s.records > hi) {
          return `duplicate answered at offsets ${s.baseOffset}..${
            s.baseOffset + s.records - 1
          }, past the log end ${range}`;
        }
        continue;
      }
      if (s.baseOffset < end.lo || s.baseOffset > hi) {
        return `accepted at base offset ${s.baseOffset}, the log ended at ${range}`;
      }
      end.unsure -= s.baseOffset - end.lo;
      end.lo = s.baseOffset + s.records;
    }
    return undefined;
  }

  /** The topic was deleted: whatever is created under its name again starts empty. */
  deleted(topic: string): void {
    this.#ends.delete(topic);
  }

  /** Log ends that are not what the answers account for, one line each. */
  check(actual: Map<string, number[]>): string[] {
    const problems: string[] = [];
    for (const [topic, ends] of actual) {
      ends.forEach((got, p) => {
        const { lo, unsure } = this.#end(topic, p);
        if (got < lo || got > lo + unsure) {
          problems.push(
            `${JSON.stringify(topic)}[${p}] log end offset ${got}, but successful produces ` +
              `account for ${lo}${unsure > 0 ? ` (+ up to ${unsure} unanswered)` : ""}`,
          );
        }
      });
    }
    return problems;
  }
}

function carriedOf(carried: Map<string, Map<number, number>>, topic: string, p: number): number {
  return carried.get(topic)?.get(p) ?? 0;
}

/** The sum of several cases' unanswered records. */
export function mergeUnanswered(
  ...maps: Map<string, Map<number, number>>[]
): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const m of maps) {
    for (const [topic, partitions] of m) {
      let into = out.get(topic);
      if (into === undefined) out.set(topic, into = new Map());
      for (const [p, n] of partitions) into.set(p, (into.get(p) ?? 0) + n);
    }
  }
  return out;
}
