/**
 * Idempotent-producer state of one partition, as Kafka's ProducerStateManager and
 * ProducerAppendInfo keep it on a single broker (no transactions, no replication).
 *
 * Per producer id the table keeps its epoch and the metadata of its last
 * {@link PRODUCER_BATCHES_CACHED} appended batches (first and last sequence, base and last
 * offset, max timestamp), in a ring of one Float64Array allocated once per producer: recording a
 * batch allocates nothing.
 *
 * Rules of {@link ProducerStateTable.check}, in Kafka's order:
 * - producerId < 0: not an idempotent batch, appended as is.
 * - A control batch is refused (INVALID_RECORD: clients may not write control records); a
 *   transactional batch is refused (INVALID_TXN_STATE: Sluice has no transactions).
 * - producerId >= 0 with baseSequence < 0: INVALID_RECORD (Kafka's LogValidator).
 * - Same epoch as the producer's, and (firstSeq, lastSeq) equal to one of the cached batches:
 *   a duplicate. The caller answers success with the original offsets and appends nothing.
 * - Epoch lower than the producer's: INVALID_PRODUCER_EPOCH. Kafka answers produce with this
 *   code since 2.7 (PRODUCER_FENCED is for transactional requests), so this is Kafka's behaviour.
 * - Unknown producer id (never seen, expired, or evicted): any sequence is accepted, as Kafka
 *   does since KIP-360 once a producer's state is gone. Deduplication restarts from that batch.
 * - Epoch higher than the producer's: the sequence must start at 0, else
 *   OUT_OF_ORDER_SEQUENCE_NUMBER. Appending it replaces the cached batches.
 * - Same epoch: firstSeq must follow the last batch's lastSeq (int32 wraparound: after
 *   2147483647 comes 0), else OUT_OF_ORDER_SEQUENCE_NUMBER. A retry of a batch older than the
 *   cached ones is out of order, as in Kafka.
 * DUPLICATE_SEQUENCE_NUMBER is never answered: like Kafka, a duplicate is acknowledged.
 *
 * Bounds: at most `maxProducers` (default {@link PRODUCERS_PER_PARTITION_MAX}) producers, the
 * least recently appended evicted first; a producer that appended nothing for `expirationMs`
 * (Kafka's producer.id.expiration.ms, {@link PRODUCER_ID_EXPIRATION_MS_DEFAULT}) is dropped,
 * lazily: when looked up, and from the front of the LRU order when a new producer is recorded.
 *
 * After a restart the table is rebuilt from the partition's tail ({@link rebuildFromLog}, headers
 * only, never records), so a batch retried across the restart is still caught as a duplicate.
 */
import { type Clock, systemClock } from "../clock.ts";
import { type ErrorCode, SluiceError } from "../errors.ts";
import {
  ATTRIBUTES_AT,
  BASE_SEQUENCE_AT,
  baseOffsetAt,
  BATCH_HEADER_BYTES,
  batchSizeAt,
  LAST_OFFSET_DELTA_AT,
  MAX_TIMESTAMP_AT,
  PRODUCER_EPOCH_AT,
  PRODUCER_ID_AT,
  readInt64,
  viewOf,
} from "../record/record_batch.ts";
import type { AppendResult, PartitionLog } from "../storage/partition_log.ts";

/** Batches remembered per producer (Kafka: 5, the client's max.in.flight.requests bound). */
export const PRODUCER_BATCHES_CACHED = 5;
/** Producers one partition's table holds; the least recently appended is evicted past it. */
export const PRODUCERS_PER_PARTITION_MAX = 10_000;
/** `producer.id.expiration.ms`: a producer idle this long is forgotten (Kafka: 1 day). */
export const PRODUCER_ID_EXPIRATION_MS_DEFAULT = 86_400_000;
/** Bytes of a partition's tail scanned to rebuild its table after a restart. */
export const PRODUCER_STATE_REBUILD_BYTES_DEFAULT = 64 * 1024 * 1024;
/** Bytes asked of each PartitionLog.read while rebuilding. */
export const PRODUCER_STATE_REBUILD_READ_BYTES = 1024 * 1024;

/** RecordBatch.NO_PRODUCER_ID. */
export const NO_PRODUCER_ID = -1n;
const INT32_MAX = 0x7fff_ffff;
const TRANSACTIONAL_BIT = 0x10;
const CONTROL_BIT = 0x20;

/** The header fields the table needs, read by {@link readProducerHeader} without decoding. */
export interface ProducerBatchHeader {
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  lastOffsetDelta: number;
  /** The batch's maxTimestamp, kept as the batch's timestamp (Kafka's BatchMetadata.timestamp). */
  maxTimestamp: number;
  /** The batch attributes (bit 4 transactional, bit 5 control); 0 when omitted. */
  attributes?: number;
}

/** A fresh header object, to be filled again and again by {@link readProducerHeader}. */
export function newProducerHeader(): ProducerBatchHeader {
  return {
    producerId: NO_PRODUCER_ID,
    producerEpoch: -1,
    baseSequence: -1,
    lastOffsetDelta: 0,
    maxTimestamp: -1,
    attributes: 0,
  };
}

/**
 * Reads the producer fields of the batch header at `pos` into `into` (a new object when
 * omitted). Reads the header only; the caller has checked that 61 bytes are there (DataView
 * throws a RangeError otherwise). The only allocation is the producerId bigint.
 */
export function readProducerHeader(
  dv: DataView,
  pos: number,
  into: ProducerBatchHeader = newProducerHeader(),
): ProducerBatchHeader {
  into.producerId = dv.getBigInt64(pos + PRODUCER_ID_AT);
  into.producerEpoch = dv.getInt16(pos + PRODUCER_EPOCH_AT);
  into.baseSequence = dv.getInt32(pos + BASE_SEQUENCE_AT);
  into.lastOffsetDelta = dv.getInt32(pos + LAST_OFFSET_DELTA_AT);
  into.maxTimestamp = readInt64(dv, pos + MAX_TIMESTAMP_AT);
  into.attributes = dv.getInt16(pos + ATTRIBUTES_AT);
  return into;
}

/** True when the batch at `pos` carries a producer id (>= 0), read without a bigint. */
export function hasProducerIdAt(dv: DataView, pos: number): boolean {
  return dv.getInt32(pos + PRODUCER_ID_AT) >= 0;
}

/** The last sequence of a batch, wrapping past int32 max to 0 (Kafka's incrementSequence). */
export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  return baseSequence > INT32_MAX - lastOffsetDelta
    ? lastOffsetDelta - (INT32_MAX - baseSequence) - 1
    : baseSequence + lastOffsetDelta;
}

/** `next` follows `last`: last + 1, or 0 after int32 max (Kafka's inSequence). */
export function inSequence(last: number, next: number): boolean {
  return next === last + 1 || (next === 0 && last === INT32_MAX);
}

export type ProducerCheck =
  | { kind: "append" }
  | {
    kind: "duplicate";
    /** Offsets the original batch was appended at: the answer to the retry. */
    baseOffset: number;
    lastOffset: number;
    /** The original batch's maxTimestamp (Kafka answers it as logAppendTime for a duplicate). */
    timestamp: number;
  }
  | { kind: "error"; code: ErrorCode; message: string };

/** The one "append" verdict: check() allocates nothing on the common path. */
const APPEND: ProducerCheck = Object.freeze({ kind: "append" });

export interface ProducerStateOptions {
  clock?: Clock;
  /** Default {@link PRODUCERS_PER_PARTITION_MAX}. */
  maxProducers?: number;
  /** Default {@link PRODUCER_ID_EXPIRATION_MS_DEFAULT}. */
  expirationMs?: number;
}

// Ring slot layout: five doubles per batch (sequences are int32, offsets and times < 2^53).
const FIRST_SEQ = 0;
const LAST_SEQ = 1;
const BASE_OFFSET = 2;
const LAST_OFFSET = 3;
const TIMESTAMP = 4;
const SLOT = 5;

class ProducerEntry {
  epoch: number;
  lastAppendMs: number;
  /** Batches held (<= PRODUCER_BATCHES_CACHED). */
  count = 0;
  /** Slot of the newest batch. */
  newest = -1;
  readonly ring = new Float64Array(PRODUCER_BATCHES_CACHED * SLOT);

  constructor(epoch: number, nowMs: number) {
    this.epoch = epoch;
    this.lastAppendMs = nowMs;
  }

  reset(epoch: number): void {
    this.epoch = epoch;
    this.count = 0;
    this.newest = -1;
  }

  push(firstSeq: number, lastSeq: number, baseOffset: number, lastOffset: number, ts: number) {
    this.newest = (this.newest + 1) % PRODUCER_BATCHES_CACHED;
    if (this.count < PRODUCER_BATCHES_CACHED) this.count++;
    const at = this.newest * SLOT;
    const r = this.ring;
    r[at + FIRST_SEQ] = firstSeq;
    r[at + LAST_SEQ] = lastSeq;
    r[at + BASE_OFFSET] = baseOffset;
    r[at + LAST_OFFSET] = lastOffset;
    r[at + TIMESTAMP] = ts;
  }

  get lastSeq(): number {
    return this.ring[this.newest * SLOT + LAST_SEQ];
  }

  /** Ring slot (times SLOT) of the cached batch with these sequences, or -1. */
  find(firstSeq: number, lastSeq: number): number {
    const r = this.ring;
    for (let i = 0; i < this.count; i++) {
      const at = i * SLOT;
      if (r[at + FIRST_SEQ] === firstSeq && r[at + LAST_SEQ] === lastSeq) return at;
    }
    return -1;
  }
}

/** What {@link ProducerStateTable.producer} reports about one producer (tests, debugging). */
export interface ProducerSnapshot {
  epoch: number;
  lastAppendMs: number;
  /** Cached batches, oldest first. */
  batches: {
    firstSeq: number;
    lastSeq: number;
    baseOffset: number;
    lastOffset: number;
    timestamp: number;
  }[];
}

export class ProducerStateTable {
  readonly maxProducers: number;
  readonly expirationMs: number;
  readonly #clock: Clock;
  /** Insertion order is least recently appended first: record() moves a producer to the end. */
  readonly #producers = new Map<bigint, ProducerEntry>();
  #evicted = 0;
  #expired = 0;

  constructor(options: ProducerStateOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.maxProducers = options.maxProducers ?? PRODUCERS_PER_PARTITION_MAX;
    this.expirationMs = options.expirationMs ?? PRODUCER_ID_EXPIRATION_MS_DEFAULT;
    if (!Number.isSafeInteger(this.maxProducers) || this.maxProducers < 1) {
      throw new SluiceError("INVALID_CONFIG", `maxProducers ${this.maxProducers} must be >= 1`);
    }
    if (!(this.expirationMs > 0)) {
      throw new SluiceError("INVALID_CONFIG", `expirationMs ${this.expirationMs} must be > 0`);
    }
  }

  /** Producers held now (expired ones not yet swept included). */
  get size(): number {
    return this.#producers.size;
  }

  /** Producers evicted by the maxProducers bound so far. */
  get evictions(): number {
    return this.#evicted;
  }

  /** Producers dropped for idling past expirationMs so far. */
  get expirations(): number {
    return this.#expired;
  }

  /** The live (unexpired) entry of a producer, dropping it when it has expired. */
  #live(producerId: bigint, nowMs: number): ProducerEntry | undefined {
    const entry = this.#producers.get(producerId);
    if (entry !== undefined && nowMs - entry.lastAppendMs >= this.expirationMs) {
      this.#producers.delete(producerId);
      this.#expired++;
      return undefined;
    }
    return entry;
  }

  /**
   * The verdict on one batch before it is appended (see the module comment for the rules).
   * Allocates nothing unless the verdict is a duplicate or an error. check() changes nothing
   * but expiry: call {@link record} once the batch is written.
   */
  check(header: ProducerBatchHeader): ProducerCheck {
    const attributes = header.attributes ?? 0;
    if ((attributes & CONTROL_BIT) !== 0) {
      return error("INVALID_RECORD", "clients may not write control batches");
    }
    if ((attributes & TRANSACTIONAL_BIT) !== 0) {
      return error("INVALID_TXN_STATE", "transactions are not supported");
    }
    const producerId = header.producerId;
    if (producerId < 0n) return APPEND;
    const firstSeq = header.baseSequence;
    if (firstSeq < 0) {
      return error(
        "INVALID_RECORD",
        `invalid sequence number ${firstSeq} in a batch of producer ${producerId}`,
      );
    }
    const entry = this.#live(producerId, this.#clock.nowMs());
    if (entry === undefined) return APPEND;
    const epoch = header.producerEpoch;
    if (epoch === entry.epoch && entry.count > 0) {
      const lastSeq = lastSequenceOf(firstSeq, header.lastOffsetDelta);
      const at = entry.find(firstSeq, lastSeq);
      if (at >= 0) {
        const r = entry.ring;
        return {
          kind: "duplicate",
          baseOffset: r[at + BASE_OFFSET],
          lastOffset: r[at + LAST_OFFSET],
          timestamp: r[at + TIMESTAMP],
        };
      }
    }
    if (epoch < entry.epoch) {
      return error(
        "INVALID_PRODUCER_EPOCH",
        `epoch ${epoch} of producer ${producerId} is older than its current epoch ${entry.epoch}`,
      );
    }
    if (epoch > entry.epoch) {
      if (firstSeq === 0) return APPEND;
      return error(
        "OUT_OF_ORDER_SEQUENCE",
        `producer ${producerId} starts its new epoch ${epoch} at sequence ${firstSeq}, not 0`,
      );
    }
    if (entry.count === 0 || inSequence(entry.lastSeq, firstSeq)) return APPEND;
    return error(
      "OUT_OF_ORDER_SEQUENCE",
      `producer ${producerId} epoch ${epoch}: sequence ${firstSeq} does not follow ${entry.lastSeq}`,
    );
  }

  /**
   * Remembers a batch appended at `baseOffset` (call it in the same synchronous step as the log
   * write, so no other check sees the log without it). A batch without a producer id is ignored.
   * A new epoch replaces the producer's cached batches. Allocates nothing for a known producer.
   */
  record(header: ProducerBatchHeader, baseOffset: number): void {
    this.#record(header, baseOffset, this.#clock.nowMs());
  }

  #record(header: ProducerBatchHeader, baseOffset: number, nowMs: number): void {
    const producerId = header.producerId;
    if (producerId < 0n) return;
    const producers = this.#producers;
    let entry = this.#live(producerId, nowMs);
    if (entry === undefined) {
      this.removeExpired(nowMs);
      while (producers.size >= this.maxProducers) {
        const oldest = producers.keys().next().value as bigint;
        producers.delete(oldest);
        this.#evicted++;
      }
      entry = new ProducerEntry(header.producerEpoch, nowMs);
    } else {
      // Move to the back of the LRU order.
      producers.delete(producerId);
      if (entry.epoch !== header.producerEpoch) entry.reset(header.producerEpoch);
      entry.lastAppendMs = nowMs;
    }
    producers.set(producerId, entry);
    const firstSeq = header.baseSequence;
    entry.push(
      firstSeq,
      lastSequenceOf(firstSeq, header.lastOffsetDelta),
      baseOffset,
      baseOffset + header.lastOffsetDelta,
      header.maxTimestamp,
    );
  }

  /**
   * Drops producers idle for expirationMs, scanning from the least recently appended and stopping
   * at the first live one. Returns how many were dropped. Runs on every record of a new producer;
   * the caller may also run it from a timer (Kafka checks every 10 minutes).
   */
  removeExpired(nowMs: number = this.#clock.nowMs()): number {
    let dropped = 0;
    for (const [producerId, entry] of this.#producers) {
      if (nowMs - entry.lastAppendMs < this.expirationMs) break;
      this.#producers.delete(producerId);
      dropped++;
    }
    this.#expired += dropped;
    return dropped;
  }

  /** Forgets a producer (after an append whose outcome is unknown, such as a failed fsync). */
  forget(producerId: bigint): void {
    this.#producers.delete(producerId);
  }

  /** Forgets every producer. */
  clear(): void {
    this.#producers.clear();
  }

  /** What the table holds for a producer, or undefined (expired producers included). */
  producer(producerId: bigint): ProducerSnapshot | undefined {
    const entry = this.#producers.get(producerId);
    if (entry === undefined) return undefined;
    const batches: ProducerSnapshot["batches"] = [];
    const r = entry.ring;
    for (let i = entry.count - 1; i >= 0; i--) {
      const at = ((entry.newest - i + PRODUCER_BATCHES_CACHED) % PRODUCER_BATCHES_CACHED) * SLOT;
      batches.push({
        firstSeq: r[at + FIRST_SEQ],
        lastSeq: r[at + LAST_SEQ],
        baseOffset: r[at + BASE_OFFSET],
        lastOffset: r[at + LAST_OFFSET],
        timestamp: r[at + TIMESTAMP],
      });
    }
    return { epoch: entry.epoch, lastAppendMs: entry.lastAppendMs, batches };
  }

  /**
   * Records every idempotent data batch in `bytes` (whole stored batches back to back, as
   * PartitionLog.read returns them), at the baseOffset stored in each header. Reads headers
   * only. Control batches and batches without a producer id are skipped. Stops at the first
   * batch whose framing is broken (the log checked what it returned; this is a guard). Returns
   * the bytes consumed. Every batch counts as appended now (see {@link rebuildFromLog}).
   */
  loadBatches(bytes: Uint8Array, header: ProducerBatchHeader = newProducerHeader()): number {
    const dv = viewOf(bytes);
    const nowMs = this.#clock.nowMs();
    let pos = 0;
    while (bytes.length - pos >= BATCH_HEADER_BYTES) {
      const size = batchSizeAt(dv, pos);
      if (size < BATCH_HEADER_BYTES || size > bytes.length - pos) break;
      if (hasProducerIdAt(dv, pos) && (dv.getInt16(pos + ATTRIBUTES_AT) & CONTROL_BIT) === 0) {
        readProducerHeader(dv, pos, header);
        this.#record(header, baseOffsetAt(dv, pos), nowMs);
      }
      pos += size;
    }
    return pos;
  }

  /** {@link loadBatches} over each chunk, in order (each chunk holds whole batches). */
  rebuild(chunks: Iterable<Uint8Array>): void {
    const header = newProducerHeader();
    for (const chunk of chunks) this.loadBatches(chunk, header);
  }

  /**
   * {@link rebuild} from an async source. Appends that interleave with the awaits are not
   * ordered with the scanned batches: prefer {@link rebuildFromLog}, which is synchronous.
   */
  async rebuildAsync(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const header = newProducerHeader();
    for await (const chunk of chunks) this.loadBatches(chunk, header);
  }
}

function error(code: ErrorCode, message: string): ProducerCheck {
  return { kind: "error", code, message };
}

/**
 * The first offset of the last `maxBytes` of the log, from segment sizes: whole segments while
 * they fit, then a proportional estimate inside the segment where the budget ends (records are
 * roughly evenly sized within a segment; the scan is a bound, not an exact cut).
 */
export function tailStartOffset(log: PartitionLog, maxBytes: number): number {
  const segments = log.segments();
  let budget = Math.max(0, maxBytes);
  let start = log.logEndOffset;
  for (let i = segments.length - 1; i >= 0; i--) {
    const s = segments[i];
    if (s.nextOffset <= s.baseOffset) continue; // empty (a fresh active segment)
    if (s.sizeBytes <= budget) {
      start = s.baseOffset;
      budget -= s.sizeBytes;
      continue;
    }
    const span = s.nextOffset - s.baseOffset;
    start = Math.max(s.baseOffset, s.nextOffset - Math.ceil(span * budget / s.sizeBytes));
    break;
  }
  return Math.max(start, log.logStartOffset);
}

/**
 * Scans the last `maxBytes` (about: whole batches, from {@link tailStartOffset}) of `log` into
 * `table`. Synchronous, like PartitionLog.read: no append can land between the scan and the
 * caller's next check. Rebuilt producers count as having appended now, so they live for a full
 * expirationMs after a restart (their stored timestamps are client clocks). Returns the bytes
 * scanned.
 */
export function loadFromLog(
  table: ProducerStateTable,
  log: PartitionLog,
  maxBytes: number = PRODUCER_STATE_REBUILD_BYTES_DEFAULT,
): number {
  const end = log.logEndOffset;
  let offset = tailStartOffset(log, maxBytes);
  const header = newProducerHeader();
  let scanned = 0;
  while (offset < end) {
    const r = log.read(offset, PRODUCER_STATE_REBUILD_READ_BYTES);
    if (r === undefined || r.nextOffset <= offset) break;
    scanned += table.loadBatches(r.bytes, header);
    offset = r.nextOffset;
  }
  return scanned;
}

/**
 * A new table holding the producers of the last `maxBytes` of `log` (see {@link loadFromLog}).
 * Call it once per partition after start, before its first idempotent batch is checked.
 */
export function rebuildFromLog(
  log: PartitionLog,
  maxBytes: number = PRODUCER_STATE_REBUILD_BYTES_DEFAULT,
  options: ProducerStateOptions = {},
): ProducerStateTable {
  const table = new ProducerStateTable(options);
  loadFromLog(table, log, maxBytes);
  return table;
}

export type ProducerAppendOutcome =
  | { kind: "appended"; result: AppendResult }
  | { kind: "duplicate"; baseOffset: number; lastOffset: number; timestamp: number }
  | { kind: "error"; code: ErrorCode; message: string };

/**
 * Appends client batches to `log` under the rules of `tableOf` (a table, or a getter called only
 * for an idempotent batch): check, append, record in one
 * synchronous step. Bytes without an idempotent batch go straight to the log. An idempotent
 * request must be one batch (Kafka requires one v2 batch per partition), else INVALID_RECORD.
 * A duplicate appends nothing; an error verdict appends nothing. Framing errors are left to
 * log.append, which rejects them typed. Whether the log wrote is seen from its end offset moving
 * during the synchronous part of append(); if the append then fails (fsync), the producer is
 * forgotten so that its retry is not acknowledged as a duplicate of bytes that may be lost.
 */
export function appendWithProducerState(
  tableOf: ProducerStateTable | (() => ProducerStateTable),
  log: PartitionLog,
  bytes: Uint8Array,
): Promise<ProducerAppendOutcome> {
  const dv = viewOf(bytes);
  let pos = 0;
  let batches = 0;
  let idempotent = false;
  while (bytes.length - pos >= BATCH_HEADER_BYTES) {
    const size = batchSizeAt(dv, pos);
    if (size < BATCH_HEADER_BYTES || size > bytes.length - pos) break;
    if (hasProducerIdAt(dv, pos)) idempotent = true;
    batches++;
    pos += size;
  }
  if (!idempotent || pos !== bytes.length) return appendPlain(log, bytes);
  if (batches !== 1) {
    return Promise.resolve({
      kind: "error",
      code: "INVALID_RECORD",
      message: `an idempotent produce carries exactly one batch per partition, not ${batches}`,
    });
  }
  // Only an idempotent batch needs the table (its first use rebuilds it from the log's tail).
  const table = typeof tableOf === "function" ? tableOf() : tableOf;
  const header = readProducerHeader(dv, 0);
  const verdict = table.check(header);
  if (verdict.kind !== "append") return Promise.resolve(verdict);
  const before = log.logEndOffset;
  const appending = log.append(bytes);
  const wrote = log.logEndOffset !== before;
  if (wrote) table.record(header, before);
  return appending.then(
    (result): ProducerAppendOutcome => ({ kind: "appended", result }),
    (err) => {
      if (wrote) table.forget(header.producerId);
      throw err;
    },
  );
}

function appendPlain(log: PartitionLog, bytes: Uint8Array): Promise<ProducerAppendOutcome> {
  return log.append(bytes).then((result): ProducerAppendOutcome => ({
    kind: "appended",
    result,
  }));
}
