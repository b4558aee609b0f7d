/**
 * One segment of a partition log: `<20-digit baseOffset>.log` holding RecordBatch v2 batches back
 * to back, exactly as appended, plus its sparse `.index` and `.timeindex`.
 *
 * The segment decides index sparsity: a batch gets an offset-index entry when it starts at least
 * `indexIntervalBytes` after the last indexed batch (the segment's start counts as indexed), so a
 * lookup scans at most one interval plus one batch of headers. It never decodes records.
 */
import { assert, type ErrorDetails, SluiceError } from "../errors.ts";
import { BATCH_BYTES_MAX } from "../limits.ts";
import {
  baseOffsetAt,
  BATCH_HEADER_BYTES,
  batchSizeAt,
  CHECK_COUNTS,
  CHECK_CRC,
  checkBatch,
  lastOffsetDeltaAt,
  LOG_OVERHEAD,
  maxTimestampAt,
  viewOf,
} from "../record/record_batch.ts";
import {
  closeFile,
  type FileHandle,
  fileSize,
  isNoSpace,
  joinPath,
  openReadWrite,
  readAt,
  readWholeFile,
  removeFile,
  syncData,
  truncateFile,
  writeAt,
} from "../runtime/fs.ts";
import type { Logger } from "../logger.ts";
import { OFFSET_INDEX_ENTRY_BYTES, OffsetIndex } from "./offset_index.ts";
import { TimeIndex } from "./time_index.ts";

export interface SegmentSettings {
  indexIntervalBytes: number;
  /** segment.index.bytes: the offset index's size cap; the time index gets the same entry count. */
  segmentIndexBytes: number;
  maxMessageBytes: number;
}

/** 20 digits, zero-padded: the names sort as the offsets do. */
export function segmentFileStem(baseOffset: number): string {
  return String(baseOffset).padStart(20, "0");
}

/**
 * A file-system failure as a typed error: a full disk (ENOSPC, EDQUOT) is INSUFFICIENT_STORAGE
 * (507 at the HTTP front), anything else STORAGE_ERROR.
 */
export function storageFailure(err: unknown, what: string, details: ErrorDetails): SluiceError {
  if (err instanceof SluiceError) return err;
  return isNoSpace(err)
    ? new SluiceError("INSUFFICIENT_STORAGE", `no space left: ${what}`, details, { cause: err })
    : new SluiceError("STORAGE_ERROR", `${what} failed: ${err}`, details, { cause: err });
}

/** Recovery reads the log in chunks of this size (or one batch, if larger). */
const RECOVERY_CHUNK_BYTES = 4 * 1024 * 1024;

export const LOG_SUFFIX = ".log";
export const INDEX_SUFFIX = ".index";
export const TIME_INDEX_SUFFIX = ".timeindex";

/** What a read found: whole batches as one byte range, never decoded. */
export interface SegmentRead {
  bytes: Uint8Array;
  /** Base offset of the first batch (may be below the requested offset). */
  firstOffset: number;
  /** The offset after the last returned batch. */
  nextOffset: number;
  position: number;
}

/** Reusable 61-byte header scratch for scans, one per segment (no allocation per batch). */
class HeaderScratch {
  readonly bytes = new Uint8Array(BATCH_HEADER_BYTES);
  readonly dv = viewOf(this.bytes);
}

export class Segment {
  readonly baseOffset: number;
  readonly logPath: string;
  readonly log: FileHandle;
  readonly index: OffsetIndex;
  readonly timeIndex: TimeIndex;
  /** Bytes of whole batches in the .log file. */
  sizeBytes = 0;
  /** Exclusive end: the offset the next appended record gets. */
  nextOffset: number;
  /** Largest batch maxTimestamp in the segment, -1 when empty or none carry one. */
  maxTimestampMs = -1;
  offsetOfMaxTimestamp: number;
  /** maxTimestamp of the first batch, the base for segment.ms (as Kafka's rollingBasedTimestamp). */
  firstBatchTimestampMs = -1;
  /** When this process created or opened the segment, for segment.ms without timestamps. */
  readonly createdMs: number;
  /** fdatasync of the .log is due. */
  dirty = false;
  readonly #scratch = new HeaderScratch();
  readonly #settings: SegmentSettings;
  #closed = false;

  private constructor(
    dir: string,
    baseOffset: number,
    settings: SegmentSettings,
    nowMs: number,
    indexImage: Uint8Array | undefined,
    timeIndexImage: Uint8Array | undefined,
  ) {
    const stem = joinPath(dir, segmentFileStem(baseOffset));
    this.baseOffset = baseOffset;
    this.nextOffset = baseOffset;
    this.offsetOfMaxTimestamp = baseOffset;
    this.createdMs = nowMs;
    this.#settings = settings;
    this.logPath = stem + LOG_SUFFIX;
    this.log = openReadWrite(this.logPath);
    const maxEntries = Math.max(
      1,
      Math.floor(settings.segmentIndexBytes / OFFSET_INDEX_ENTRY_BYTES),
    );
    this.index = new OffsetIndex(stem + INDEX_SUFFIX, baseOffset, maxEntries, indexImage);
    this.timeIndex = new TimeIndex(
      stem + TIME_INDEX_SUFFIX,
      baseOffset,
      maxEntries,
      timeIndexImage,
    );
  }

  /** A new, empty segment (files created). */
  static create(
    dir: string,
    baseOffset: number,
    settings: SegmentSettings,
    nowMs: number,
  ): Segment {
    const segment = new Segment(dir, baseOffset, settings, nowMs, undefined, undefined);
    try {
      truncateFile(segment.log, 0);
      segment.index.persist(false);
      segment.timeIndex.persist(false);
    } catch (err) {
      segment.close(); // no descriptor left behind by a segment that could not be created
      throw storageFailure(err, `creating segment ${segment.logPath}`, { file: segment.logPath });
    }
    return segment;
  }

  /**
   * Opens an existing segment with its index files as they are on disk (unchecked). The caller
   * (the log loader) then either trusts them via {@link Segment.loadTrusted} or re-scans via
   * {@link Segment.recover}.
   */
  static open(dir: string, baseOffset: number, settings: SegmentSettings, nowMs: number): Segment {
    const stem = joinPath(dir, segmentFileStem(baseOffset));
    const indexImage = readWholeFile(stem + INDEX_SUFFIX);
    const timeImage = readWholeFile(stem + TIME_INDEX_SUFFIX);
    return new Segment(dir, baseOffset, settings, nowMs, indexImage, timeImage);
  }

  get isEmpty(): boolean {
    return this.sizeBytes === 0;
  }

  get isIndexFull(): boolean {
    return this.index.isFull || this.timeIndex.isFull;
  }

  get lastOffset(): number {
    return this.nextOffset - 1;
  }

  /**
   * Appends batches already checked, offset-patched and starting at this.nextOffset: one write.
   * `dv` views `bytes`. On a failed write the file is cut back so no partial batch stays.
   */
  append(bytes: Uint8Array, dv: DataView, nextOffset: number): void {
    assert(!this.#closed, "append to a closed segment");
    const start = this.sizeBytes;
    try {
      writeAt(this.log, bytes, start);
    } catch (err) {
      this.#undoWrite(start, err);
    }
    this.dirty = true;
    // Index the batches just written: header reads only.
    let pos = 0;
    while (pos < bytes.length) {
      this.#indexBatch(dv, pos, start + pos);
      pos += batchSizeAt(dv, pos);
    }
    this.sizeBytes = start + bytes.length;
    this.nextOffset = nextOffset;
  }

  #undoWrite(start: number, err: unknown): never {
    let undone = true;
    try {
      truncateFile(this.log, start);
    } catch {
      undone = false;
    }
    throw storageFailure(err, `write to ${this.logPath}`, {
      file: this.logPath,
      position: start,
      undone,
    });
  }

  /** Index bookkeeping for the batch whose header is at `dv[pos]`, stored at `position`. */
  #indexBatch(dv: DataView, pos: number, position: number): void {
    const baseOffset = baseOffsetAt(dv, pos);
    if (position > 0 && position - this.index.lastPosition >= this.#settings.indexIntervalBytes) {
      // The time entry describes batches before this one, as the offset entry marks where it starts.
      if (this.maxTimestampMs >= 0) {
        this.timeIndex.maybeAppend(this.maxTimestampMs, this.offsetOfMaxTimestamp);
      }
      if (!this.index.isFull) this.index.append(baseOffset, position);
    }
    const maxTimestamp = maxTimestampAt(dv, pos);
    if (position === 0) this.firstBatchTimestampMs = maxTimestamp;
    if (maxTimestamp > this.maxTimestampMs) {
      this.maxTimestampMs = maxTimestamp;
      this.offsetOfMaxTimestamp = baseOffset + lastOffsetDeltaAt(dv, pos);
    }
  }

  /** Called when the segment stops being the active one: the time index gets its last entry. */
  onBecomeInactive(): void {
    if (this.maxTimestampMs >= 0) {
      this.timeIndex.maybeAppend(this.maxTimestampMs, this.offsetOfMaxTimestamp);
    }
  }

  /** Reads `length` bytes at `position` into a fresh buffer (one pread). */
  readBytes(position: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    const n = readAt(this.log, out, position);
    if (n < length) {
      throw new SluiceError(
        "CORRUPT_LOG",
        `${this.logPath} ends at ${position + n}, want ${length}`,
        {
          file: this.logPath,
          position: position + n,
        },
      );
    }
    return out;
  }

  /** Reads the 61-byte header at `position` into the scratch; returns its view. */
  #header(position: number): DataView {
    const n = readAt(this.log, this.#scratch.bytes, position);
    if (n < BATCH_HEADER_BYTES) {
      throw this.#corrupt(position, `only ${n} header bytes before the file ends`);
    }
    const size = batchSizeAt(this.#scratch.dv, 0);
    if (size < BATCH_HEADER_BYTES || position + size > this.sizeBytes) {
      throw this.#corrupt(position, `batch length ${size} does not fit the segment`);
    }
    return this.#scratch.dv;
  }

  #corrupt(position: number, reason: string): SluiceError {
    return new SluiceError(
      "CORRUPT_LOG",
      `corrupt batch in ${this.logPath} at byte ${position}: ${reason}`,
      { file: this.logPath, position },
    );
  }

  /**
   * Whole batches from the one holding `offset`, up to `maxBytes` (at least one batch), as one
   * byte range read with one pread in the common case. Undefined when `offset` is past the end.
   * With `verifyCrc`, every returned batch passes its CRC: a bad first batch is a CORRUPT_LOG error
   * naming file and position; a bad later batch ends the range before it.
   */
  read(offset: number, maxBytes: number, verifyCrc: boolean): SegmentRead | undefined {
    if (offset >= this.nextOffset || offset < this.baseOffset) return undefined;
    const interval = this.#settings.indexIntervalBytes;
    let scanFrom = this.index.lookup(offset);
    // Each pass reads a window from a batch boundary; the index bounds the distance to `offset`
    // to about one interval and one batch, so the first pass almost always finds it.
    for (let pass = 0; scanFrom < this.sizeBytes; pass++) {
      assert(pass < 1_000_000, "segment scan does not advance");
      const windowBytes = Math.min(this.sizeBytes - scanFrom, maxBytes + interval);
      const window = this.readBytes(scanFrom, windowBytes);
      const dv = viewOf(window);
      let pos = 0;
      while (pos + BATCH_HEADER_BYTES <= window.length) {
        const size = batchSizeAt(dv, pos);
        if (size < BATCH_HEADER_BYTES || scanFrom + pos + size > this.sizeBytes) {
          throw this.#corrupt(scanFrom + pos, `batch length ${size} does not fit the segment`);
        }
        const base = baseOffsetAt(dv, pos);
        const last = base + lastOffsetDeltaAt(dv, pos);
        if (last >= offset) {
          if (pos + size > window.length) {
            // The batch holding `offset` is not whole in the window: read from its start.
            const position = scanFrom + pos;
            const length = Math.min(this.sizeBytes - position, Math.max(size, maxBytes));
            return this.#cut(this.readBytes(position, length), position, maxBytes, verifyCrc);
          }
          return this.#cut(window.subarray(pos), scanFrom + pos, maxBytes, verifyCrc);
        }
        pos += size;
      }
      scanFrom += pos;
    }
    return undefined;
  }

  /** Keeps the whole batches of `bytes` (which starts at a batch) that fit in maxBytes. */
  #cut(bytes: Uint8Array, position: number, maxBytes: number, verifyCrc: boolean): SegmentRead {
    const dv = viewOf(bytes);
    const checks = verifyCrc ? CHECK_CRC : 0;
    let end = 0;
    let nextOffset = 0;
    while (end + BATCH_HEADER_BYTES <= bytes.length) {
      const size = batchSizeAt(dv, end);
      if (end > 0 && (end + size > maxBytes || end + size > bytes.length)) break;
      const checked = checkBatch(bytes, dv, end, bytes.length, Number.MAX_SAFE_INTEGER, checks);
      if (typeof checked !== "number") {
        if (end === 0) throw this.#corrupt(position, checked.reason);
        break;
      }
      nextOffset = baseOffsetAt(dv, end) + lastOffsetDeltaAt(dv, end) + 1;
      end += size;
    }
    assert(end > 0, "a read returns at least one batch");
    return {
      bytes: bytes.subarray(0, end),
      firstOffset: baseOffsetAt(dv, 0),
      nextOffset,
      position,
    };
  }

  /**
   * The first record offset whose timestamp is >= `timestampMs` is in the batch this returns
   * (decoding that one batch finds it), or undefined if no batch here reaches `timestampMs`.
   */
  findBatchByTimestamp(timestampMs: number): Uint8Array | undefined {
    if (this.maxTimestampMs < timestampMs) return undefined;
    const startOffset = this.timeIndex.lookupBefore(timestampMs) ?? this.baseOffset;
    let position = this.index.lookup(startOffset);
    while (position < this.sizeBytes) {
      const dv = this.#header(position);
      const size = batchSizeAt(dv, 0);
      if (maxTimestampAt(dv, 0) >= timestampMs) return this.readBytes(position, size);
      position += size;
    }
    return undefined;
  }

  /**
   * Trusts the segment's bytes (they are below the recovery checkpoint) and its index files when
   * they pass their sanity checks; a missing or damaged index is rebuilt from batch headers.
   * Recovers `nextOffset`, size and max timestamp by scanning headers after the last index entry.
   * When the bytes after that entry do not form whole, contiguous batches, the damage is
   * reported and contained: the segment keeps `nextBaseOffset` (the next segment's base) as its
   * end, and reads that reach the damaged header fail with CORRUPT_LOG.
   */
  loadTrusted(logger: Logger, nextBaseOffset: number): void {
    this.sizeBytes = fileSize(this.log);
    const problem = this.index.sanityCheck(this.sizeBytes);
    if (problem !== undefined) {
      logger.warn("offset index failed its sanity check; rebuilding it from the log", {
        file: this.index.path,
        reason: problem,
      });
      this.#dropIndexes();
    }
    let scan = this.#scanHeaders();
    const timeProblem = scan === undefined
      ? this.timeIndex.sanityCheck(this.nextOffset)
      : undefined;
    if (timeProblem !== undefined) {
      logger.warn("time index failed its sanity check; rebuilding it from the log", {
        file: this.timeIndex.path,
        reason: timeProblem,
      });
      this.#dropIndexes();
      scan = this.#scanHeaders();
    }
    if (scan !== undefined) {
      // Bytes below the recovery checkpoint were flushed and acknowledged: never truncate them.
      // Reads that reach the damaged header fail with CORRUPT_LOG naming it; the rest is served.
      logger.error("corrupt batch header in a flushed segment; serving around it", {
        file: this.logPath,
        position: scan.position,
        reason: scan.reason,
      });
      this.nextOffset = nextBaseOffset;
    }
    if (this.sizeBytes > 0 && (scan === undefined || scan.position > 0)) {
      this.firstBatchTimestampMs = maxTimestampAt(this.#header(0), 0);
    }
  }

  #dropIndexes(): void {
    this.index.truncateToPosition(0);
    this.timeIndex.truncateToOffset(this.baseOffset);
  }

  /**
   * Walks batch headers from the last offset-index entry to the end of the file, adding the index
   * entries that are missing and tracking the max timestamp. False when a header does not fit or
   * offsets are not contiguous: then where and why.
   */
  #scanHeaders(): { position: number; reason: string } | undefined {
    let position = this.index.lastPosition;
    let expected = this.index.lastOffset;
    this.maxTimestampMs = this.timeIndex.lastTimestamp;
    this.offsetOfMaxTimestamp = this.timeIndex.lastOffset;
    while (position < this.sizeBytes) {
      const n = readAt(this.log, this.#scratch.bytes, position);
      const dv = this.#scratch.dv;
      if (n < BATCH_HEADER_BYTES) return { position, reason: `${n} bytes left, want a header` };
      const size = batchSizeAt(dv, 0);
      if (size < BATCH_HEADER_BYTES || position + size > this.sizeBytes) {
        return { position, reason: `batch length ${size} does not fit` };
      }
      const base = baseOffsetAt(dv, 0);
      if (base !== expected) {
        return { position, reason: `base offset ${base}, expected ${expected}` };
      }
      // Safe for the already-indexed batch at lastPosition: an entry needs a full interval.
      this.#indexBatch(dv, 0, position);
      expected += lastOffsetDeltaAt(dv, 0) + 1;
      position += size;
      this.nextOffset = expected;
    }
    this.nextOffset = expected;
    return undefined;
  }

  /**
   * Re-validates the batches from `position` (a batch boundary holding `offset`) to the end of the
   * file: bounds, magic, CRC, counts and contiguous offsets; rebuilds index entries from there.
   * `maxTimestampMs` and `offsetOfMaxTimestamp` describe the batches before `position`. At the
   * first bad batch the file is truncated there, with a warning naming file, position and reason.
   * Returns true when it truncated.
   */
  recover(
    position: number,
    offset: number,
    maxTimestampMs: number,
    offsetOfMaxTimestamp: number,
    logger: Logger,
  ): boolean {
    const fileBytes = fileSize(this.log);
    // Checked whole, before the cut: a missing or damaged index cannot vouch for the entries
    // before `position`, so the segment is then re-validated from its start.
    let problem: { file: string; reason: string } | undefined;
    if (position > fileBytes) {
      problem = { file: this.logPath, reason: `recovery position ${position} is past its end` };
    } else if (position > 0) {
      for (
        const [index, reason] of [
          [this.index, this.index.sanityCheck(fileBytes)],
          [this.timeIndex, this.timeIndex.sanityCheck(Number.MAX_SAFE_INTEGER)],
        ] as const
      ) {
        const why = index.fileMissing ? "missing" : reason;
        if (problem === undefined && why !== undefined) problem = { file: index.path, reason: why };
      }
    }
    this.index.truncateToPosition(position);
    this.timeIndex.truncateToOffset(offset);
    if (problem !== undefined) {
      logger.warn("index does not match the recovery checkpoint; re-validating the segment", {
        ...problem,
        segment: this.logPath,
      });
      position = 0;
      offset = this.baseOffset;
      maxTimestampMs = -1;
      offsetOfMaxTimestamp = this.baseOffset;
      this.#dropIndexes();
    }
    this.maxTimestampMs = maxTimestampMs;
    this.offsetOfMaxTimestamp = offsetOfMaxTimestamp;
    this.sizeBytes = fileBytes;
    this.nextOffset = offset;
    // Chunks of a few MiB keep recovery of a 1 GiB segment bounded in memory.
    const chunkBytes = Math.max(RECOVERY_CHUNK_BYTES, this.#settings.maxMessageBytes);
    let truncatedAt: number | undefined;
    let reason = "";
    scan: while (position < fileBytes) {
      let length = Math.min(chunkBytes, fileBytes - position);
      if (
        readAt(this.log, this.#scratch.bytes.subarray(0, LOG_OVERHEAD), position) === LOG_OVERHEAD
      ) {
        // A batch written under a larger max.message.bytes gets a chunk of its own.
        const first = batchSizeAt(this.#scratch.dv, 0);
        if (first > length && first <= BATCH_BYTES_MAX && first <= fileBytes - position) {
          length = first;
        }
      }
      const chunk = this.readBytes(position, length);
      const dv = viewOf(chunk);
      const more = position + chunk.length < fileBytes;
      let pos = 0;
      while (pos < chunk.length) {
        if (
          more && pos > 0 &&
          (chunk.length - pos < LOG_OVERHEAD || pos + batchSizeAt(dv, pos) > chunk.length)
        ) {
          break; // this batch continues in the next chunk
        }
        const checked = checkBatch(
          chunk,
          dv,
          pos,
          chunk.length,
          BATCH_BYTES_MAX,
          CHECK_CRC | CHECK_COUNTS,
        );
        if (typeof checked !== "number") {
          truncatedAt = position + pos;
          reason = checked.reason;
          break scan;
        }
        const base = baseOffsetAt(dv, pos);
        if (base !== this.nextOffset) {
          truncatedAt = position + pos;
          reason = `batch base offset ${base}, expected ${this.nextOffset}`;
          break scan;
        }
        this.#indexBatch(dv, pos, position + pos);
        this.nextOffset = base + lastOffsetDeltaAt(dv, pos) + 1;
        pos += checked;
      }
      position += pos;
    }
    if (truncatedAt !== undefined) {
      logger.warn("truncating a torn or corrupt log tail", {
        file: this.logPath,
        position: truncatedAt,
        droppedBytes: fileBytes - truncatedAt,
        reason,
      });
      truncateFile(this.log, truncatedAt);
      this.sizeBytes = truncatedAt;
      this.index.truncateToPosition(truncatedAt);
      this.timeIndex.truncateToOffset(this.nextOffset);
    }
    this.firstBatchTimestampMs = this.sizeBytes > 0 ? maxTimestampAt(this.#header(0), 0) : -1;
    return truncatedAt !== undefined;
  }

  /** Writes index entries not yet on disk (and fsyncs them when `sync`). */
  persistIndexes(sync: boolean): void {
    this.index.persist(sync);
    this.timeIndex.persist(sync);
  }

  get hasUnpersistedIndexes(): boolean {
    return this.index.hasUnpersisted || this.timeIndex.hasUnpersisted;
  }

  /** fsyncs running on the .log: its descriptor must stay open until they end. */
  syncsInFlight = 0;

  /** fdatasync of the .log file. */
  async sync(): Promise<void> {
    this.dirty = false;
    this.syncsInFlight++;
    try {
      await syncData(this.log);
    } finally {
      this.syncsInFlight--;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFile(this.log);
  }

  /** Closes and removes the segment's three files. */
  delete(): void {
    this.close();
    removeFile(this.logPath);
    removeFile(this.index.path);
    removeFile(this.timeIndex.path);
  }
}
