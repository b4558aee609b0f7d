/**
 * One segment of a partition log: `<20-digit baseOffset>.log` holding RecordBatch v2 batches back
 * to back, exactly as appended, plus its sparse `.index` and `.timeindex`.
 *
 * The segment decides index sparsity: a batch gets an offset-index entry when it starts at least
 * `indexIntervalBytes` after the last indexed batch (the segment's start counts as indexed), so a
 * lookup scans at most one interval plus one batch of headers. It never decodes records.
 *
 * The .log descriptor comes from the process's bounded cache (log_files.ts): opened on first use,
 * perhaps closed and reopened between uses. What open trusts and re-validates is in
 * segment_recovery.ts.
 */
import { assert, SluiceError } from "../errors.ts";
import {
  baseOffsetAt,
  BATCH_HEADER_BYTES,
  batchSizeAt,
  CHECK_CRC,
  checkBatch,
  lastOffsetDeltaAt,
  LOG_OVERHEAD,
  maxTimestampAt,
  viewOf,
} from "../record/record_batch.ts";
import {
  fileSize,
  joinPath,
  readAt,
  readWholeFile,
  removeFile,
  renameIfExists,
  truncateFile,
  writeAt,
} from "../runtime/fs.ts";
import type { LogFile, LogFiles } from "./log_files.ts";
import { OFFSET_INDEX_ENTRY_BYTES, OffsetIndex } from "./offset_index.ts";
import { readTarget } from "./read_buffer.ts";
import { corruptAt, storageFailure } from "./storage_errors.ts";
import { TimeIndex } from "./time_index.ts";

export { storageFailure } from "./storage_errors.ts";
export * from "./segment_names.ts";
import {
  DELETED_SUFFIX,
  INDEX_SUFFIX,
  LOG_SUFFIX,
  segmentFileStem,
  type SegmentSettings,
  TIME_INDEX_SUFFIX,
} from "./segment_names.ts";

/** What a read found: whole batches as one byte range, never decoded. */
export interface SegmentRead {
  bytes: Uint8Array;
  /** Base offset of the first batch (may be below the requested offset). */
  firstOffset: number;
  /** The offset after the last returned batch. */
  nextOffset: number;
  position: number;
}

export class Segment {
  readonly baseOffset: number;
  readonly logPath: string;
  /** The .log file; its descriptor comes and goes with the cache. */
  readonly file: LogFile;
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
  /**
   * When this process created or opened the segment (or a truncation emptied it), for segment.ms
   * without timestamps.
   */
  createdMs: number;
  /** fdatasync of the .log is due. */
  dirty = false;
  /**
   * The cleaner may have rewritten it (cleaner_checkpoint.ts): batches may leave gaps between
   * their offsets (base offsets still increase) and hold fewer records than their offsets span.
   * False for every other segment, whose offsets must be contiguous (a gap there is damage).
   */
  compacted = false;
  /** Byte position of the batch log_reads.ts's last findBatchByTimestamp returned. */
  foundPosition = 0;
  /** fsyncs running on the .log: its descriptor must stay open until they end. */
  syncsInFlight = 0;
  /** Reusable 61-byte header scratch for scans (no allocation per batch). */
  readonly scratch: Uint8Array = new Uint8Array(BATCH_HEADER_BYTES);
  readonly scratchView: DataView = viewOf(this.scratch);
  readonly settings: SegmentSettings;
  #closed = false;

  private constructor(
    dir: string,
    baseOffset: number,
    settings: SegmentSettings,
    nowMs: number,
    files: LogFiles,
    indexImage: Uint8Array | undefined,
    timeIndexImage: Uint8Array | undefined,
    suffix: string,
  ) {
    const stem = joinPath(dir, segmentFileStem(baseOffset));
    this.baseOffset = baseOffset;
    this.nextOffset = baseOffset;
    this.offsetOfMaxTimestamp = baseOffset;
    this.createdMs = nowMs;
    this.settings = settings;
    this.logPath = stem + LOG_SUFFIX + suffix;
    this.file = files.file(this.logPath);
    const entries = Math.floor(settings.segmentIndexBytes / OFFSET_INDEX_ENTRY_BYTES);
    const maxEntries = Math.max(1, entries);
    const open = (path: string) => files.openTransient(path);
    this.index = new OffsetIndex(
      stem + INDEX_SUFFIX + suffix,
      baseOffset,
      maxEntries,
      indexImage,
      open,
    );
    this.timeIndex = new TimeIndex(
      stem + TIME_INDEX_SUFFIX + suffix,
      baseOffset,
      maxEntries,
      timeIndexImage,
      open,
    );
  }

  /** A new, empty segment (files created); on failure nothing stays open. */
  static create(
    dir: string,
    baseOffset: number,
    settings: SegmentSettings,
    nowMs: number,
    files: LogFiles,
    suffix = "",
  ): Segment {
    const segment = new Segment(
      dir,
      baseOffset,
      settings,
      nowMs,
      files,
      undefined,
      undefined,
      suffix,
    );
    try {
      truncateFile(segment.file.handle(), 0);
      segment.index.persist(false);
      segment.timeIndex.persist(false);
    } catch (err) {
      segment.close(); // no descriptor left behind by a segment that could not be created
      throw storageFailure(err, `creating segment ${segment.logPath}`, { file: segment.logPath });
    }
    return segment;
  }

  /**
   * An empty segment that touches no file until it is used: the one segment of a log that could
   * not create its files (a full disk) and serves reads only.
   */
  static detached(
    dir: string,
    baseOffset: number,
    settings: SegmentSettings,
    nowMs: number,
    files: LogFiles,
  ): Segment {
    return new Segment(dir, baseOffset, settings, nowMs, files, undefined, undefined, "");
  }

  /**
   * An existing segment with its index files as they are on disk (unchecked): the log loader then
   * trusts or re-validates them (segment_recovery.ts). Opens no descriptor.
   */
  static open(
    dir: string,
    baseOffset: number,
    settings: SegmentSettings,
    nowMs: number,
    files: LogFiles,
    suffix = "",
  ): Segment {
    const stem = joinPath(dir, segmentFileStem(baseOffset));
    const indexImage = readWholeFile(stem + INDEX_SUFFIX + suffix);
    const timeImage = readWholeFile(stem + TIME_INDEX_SUFFIX + suffix);
    return new Segment(dir, baseOffset, settings, nowMs, files, indexImage, timeImage, suffix);
  }

  /**
   * The segment `source` (a `.cleaned` or `.swap` one, closed) under the plain names it was
   * renamed to: the same contents and state, its index images taken as they are on disk. Marked
   * compacted. Opens no descriptor.
   */
  static renamed(dir: string, source: Segment, files: LogFiles): Segment {
    const segment = new Segment(
      dir,
      source.baseOffset,
      source.settings,
      source.createdMs,
      files,
      source.index.image().slice(),
      source.timeIndex.image().slice(),
      "",
    );
    segment.sizeBytes = source.sizeBytes;
    segment.nextOffset = source.nextOffset;
    segment.maxTimestampMs = source.maxTimestampMs;
    segment.offsetOfMaxTimestamp = source.offsetOfMaxTimestamp;
    segment.firstBatchTimestampMs = source.firstBatchTimestampMs;
    segment.compacted = true;
    return segment;
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

  /** Size of the .log file on disk. */
  fileBytes(): number {
    return fileSize(this.file.handle());
  }

  /**
   * Appends batches already checked, offset-patched and starting at this.nextOffset: one write.
   * `dv` views `bytes`. With `afterWrite` (log_append.ts: it ends the CRC check run beside the
   * write, answering a refusal or undefined) the first LOG_OVERHEAD bytes (baseOffset and
   * batchLength) are written last, once it said yes: until then the file holds a zero length
   * there, which recovery cuts, so no crash brings back a batch of a refused append. A failed write
   * or a refusal cuts the file back: no byte stays, none was indexed or counted.
   */
  append(
    bytes: Uint8Array,
    dv: DataView,
    nextOffset: number,
    afterWrite?: () => SluiceError | undefined,
  ): void {
    assert(!this.#closed, "append to a closed segment");
    const start = this.sizeBytes;
    const head = afterWrite === undefined ? 0 : LOG_OVERHEAD;
    let failure: unknown = undefined;
    try {
      writeAt(this.file.handle(), head === 0 ? bytes : bytes.subarray(head), start + head);
    } catch (err) {
      failure = err;
    }
    const refusal = afterWrite?.();
    if (refusal !== undefined) {
      this.#undoWrite(start, failure ?? new Error(`refused: ${refusal.message}`), refusal);
    }
    try {
      if (head > 0 && failure === undefined) {
        writeAt(this.file.handle(), bytes.subarray(0, head), start);
      }
    } catch (err) {
      failure = err;
    }
    if (failure !== undefined) this.#undoWrite(start, failure);
    this.dirty = true;
    // Index the batches just written: header reads only.
    let pos = 0;
    while (pos < bytes.length) {
      this.indexBatch(dv, pos, start + pos, baseOffsetAt(dv, pos));
      pos += batchSizeAt(dv, pos);
    }
    this.sizeBytes = start + bytes.length;
    this.nextOffset = nextOffset;
  }

  /**
   * Cuts the file back to `start` and throws: `refusal` itself once the cut is made, else a
   * storage failure for `err` (details.undone says whether the cut was made).
   */
  #undoWrite(start: number, err: unknown, refusal?: SluiceError): never {
    let undone = true;
    try {
      if (this.file.isOpen) truncateFile(this.file.handle(), start);
      else undone = false;
    } catch {
      undone = false;
    }
    if (refusal !== undefined && undone) throw refusal;
    throw storageFailure(err, `write to ${this.logPath}`, {
      file: this.logPath,
      position: start,
      undone,
    });
  }

  /**
   * Index bookkeeping for the batch whose header is at `dv[pos]`, stored at `position`, holding
   * offsets from `baseOffset` (passed in: recovery indexes by the offsets it expects, so a damaged
   * header cannot put a decreasing entry in the index).
   */
  indexBatch(dv: DataView, pos: number, position: number, baseOffset: number): void {
    if (position > 0 && position - this.index.lastPosition >= this.settings.indexIntervalBytes) {
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

  /** One pread of `length` bytes at `position`, into `into` if it fits (read_buffer.ts). */
  readBytes(position: number, length: number, into?: Uint8Array): Uint8Array {
    const out = readTarget(length, into);
    const n = readAt(this.file.handle(), out, position);
    if (n < length) {
      throw new SluiceError(
        "CORRUPT_LOG",
        `${this.logPath} ends at ${position + n}, want ${length}`,
        { file: this.logPath, position: position + n },
      );
    }
    return out;
  }

  /**
   * Reads the header at `position` into the scratch: undefined when it is whole and its length
   * fits in `endBytes`, else why not.
   */
  headerProblem(position: number, endBytes: number): string | undefined {
    const n = readAt(this.file.handle(), this.scratch, position);
    if (n < BATCH_HEADER_BYTES) return `only ${n} header bytes before the file ends`;
    const size = batchSizeAt(this.scratchView, 0);
    if (size < BATCH_HEADER_BYTES || position + size > endBytes) {
      return `batch length ${size} does not fit the segment`;
    }
    return undefined;
  }

  corrupt(position: number, reason: string): SluiceError {
    return corruptAt(this.logPath, position, reason);
  }

  /**
   * Whole batches from the one holding `offset`, up to `maxBytes` (at least one batch), as one
   * byte range read with one pread in the common case, a view of `into` when it is large enough
   * (lent by the caller for this read), else of fresh memory. Undefined when `offset` is past the
   * end. Each batch must carry the base offset its predecessors imply (the CRC does not cover
   * it): a read of the offsets of one that does not is CORRUPT_LOG naming file and position (in a
   * compacted segment, where gaps are allowed, a base offset that does not increase or runs past
   * the segment's end is, wherever the scan meets it), as is a length that does not fit on the
   * way or a first batch failing its CRC (with `verifyCrc`); a bad later batch ends the range
   * before it. An offset the segment claims but no batch holds is CORRUPT_LOG too. Batches after
   * the first stop at `upTo` (exclusive: what a reader may see, PartitionLog.read).
   */
  read(
    offset: number,
    maxBytes: number,
    verifyCrc: boolean,
    upTo: number = Number.MAX_SAFE_INTEGER,
    into?: Uint8Array,
  ): SegmentRead | undefined {
    if (offset >= this.nextOffset || offset < this.baseOffset) return undefined;
    const compacted = this.compacted;
    const interval = this.settings.indexIntervalBytes;
    let scanFrom = this.index.lookup(offset);
    let expected = this.index.lookedUpOffset;
    // Each pass reads a window from a batch boundary; the index bounds the distance to `offset`
    // to about one interval and one batch, so the first pass almost always finds it.
    for (let pass = 0; scanFrom < this.sizeBytes; pass++) {
      assert(pass < 1_000_000, "segment scan does not advance");
      const windowBytes = Math.min(this.sizeBytes - scanFrom, maxBytes + interval);
      const window = this.readBytes(scanFrom, windowBytes, into);
      const dv = viewOf(window);
      let pos = 0;
      while (pos + BATCH_HEADER_BYTES <= window.length) {
        const size = batchSizeAt(dv, pos);
        if (size < BATCH_HEADER_BYTES || scanFrom + pos + size > this.sizeBytes) {
          throw this.corrupt(scanFrom + pos, `batch length ${size} does not fit the segment`);
        }
        const base = baseOffsetAt(dv, pos);
        if (compacted && (base < expected || base >= this.nextOffset)) {
          throw this.corrupt(
            scanFrom + pos,
            `base offset ${base}, expected one in [${expected}, ${this.nextOffset})`,
          );
        }
        const last = (compacted ? base : expected) + lastOffsetDeltaAt(dv, pos);
        // A base offset other than the expected one (the CRC does not cover it) is damage: a read
        // of its offsets fails; a read past it goes on, offsets counted by lastOffsetDelta.
        if (base !== expected && last >= offset && !compacted) {
          throw this.corrupt(scanFrom + pos, `base offset ${base}, expected ${expected}`);
        }
        if (last >= offset) {
          if (pos + size > window.length) {
            // The batch holding `offset` is not whole in the window: read from its start.
            const position = scanFrom + pos;
            const length = Math.min(this.sizeBytes - position, Math.max(size, maxBytes));
            const bytes = this.readBytes(position, length, into);
            return this.#cut(bytes, position, maxBytes, verifyCrc, upTo);
          }
          return this.#cut(window.subarray(pos), scanFrom + pos, maxBytes, verifyCrc, upTo);
        }
        expected = last + 1;
        pos += size;
      }
      scanFrom += pos;
    }
    throw this.corrupt(
      this.sizeBytes,
      `offset ${offset} is below the segment's end ${this.nextOffset} but no batch holds it`,
    );
  }

  /**
   * Keeps the whole batches of `bytes` (which starts at a batch) that fit in maxBytes, carry
   * contiguous offsets (increasing ones in a compacted segment) and start below `upTo` (the first
   * batch is always kept).
   */
  #cut(
    bytes: Uint8Array,
    position: number,
    maxBytes: number,
    verifyCrc: boolean,
    upTo: number,
  ): SegmentRead {
    const dv = viewOf(bytes);
    const checks = verifyCrc ? CHECK_CRC : 0;
    let end = 0;
    let nextOffset = 0;
    while (end + BATCH_HEADER_BYTES <= bytes.length) {
      const size = batchSizeAt(dv, end);
      if (end > 0 && (end + size > maxBytes || end + size > bytes.length)) break;
      // A gap is reported when read itself; offsets from upTo on are not to be seen yet.
      if (end > 0) {
        const base = baseOffsetAt(dv, end);
        if (this.compacted ? base < nextOffset : base !== nextOffset) break;
        if (base >= upTo) break;
      }
      const checked = checkBatch(bytes, dv, end, bytes.length, Number.MAX_SAFE_INTEGER, checks);
      if (typeof checked !== "number") {
        if (end === 0) throw this.corrupt(position, checked.reason);
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
   * Removes the batch that holds `offset` and every batch after it, as Kafka's
   * LogSegment.truncateTo does: the cut is at that batch's start, so its offsets below `offset`
   * go too. A damaged header met on the way (below `offset`) is cut with everything after it.
   * Returns the segment's new end (nextOffset); nothing changes when no batch holds `offset` or a
   * later one. Offsets are counted by lastOffsetDelta from the offset index's entry, as recovery
   * counts them.
   *
   * The .log file is cut now (ftruncate) and the segment marked dirty; index entries past the cut
   * are dropped in memory (persistIndexes writes the shorter files). Nothing is fsynced here. The
   * max timestamp is recomputed as the loader does for a trusted segment: the time index's last
   * entry left, then the headers after the last offset-index entry. Throws the file system's
   * error (untyped) when the cut fails; the segment is then unchanged.
   */
  truncateTo(offset: number, nowMs: number): number {
    const dv = this.scratchView;
    let position = 0;
    let next = this.baseOffset;
    if (offset > this.baseOffset) {
      position = this.index.lookup(offset);
      next = this.index.lookedUpOffset;
    }
    while (position < this.sizeBytes) {
      if (this.headerProblem(position, this.sizeBytes) !== undefined) break;
      const last = this.#batchBase(next) + lastOffsetDeltaAt(dv, 0);
      if (last >= offset) break;
      next = last + 1;
      position += batchSizeAt(dv, 0);
    }
    if (position >= this.sizeBytes) return this.nextOffset;
    this.truncateLog(position);
    this.dirty = true;
    this.sizeBytes = position;
    this.nextOffset = next;
    this.index.truncateToPosition(position);
    this.timeIndex.truncateToOffset(next);
    this.maxTimestampMs = this.timeIndex.lastTimestamp;
    this.offsetOfMaxTimestamp = this.timeIndex.lastOffset;
    if (position === 0) {
      // Empty again: segment.ms counts from now, as for a new segment (Kafka resets `created`).
      this.firstBatchTimestampMs = -1;
      this.createdMs = nowMs;
      return next;
    }
    // The batches after the last offset-index entry are not covered by a time-index entry.
    let at = this.index.lastPosition;
    let expected = this.index.lastOffset;
    while (at < position && this.headerProblem(at, position) === undefined) {
      const base = this.#batchBase(expected);
      this.indexBatch(dv, 0, at, base);
      expected = base + lastOffsetDeltaAt(dv, 0) + 1;
      at += batchSizeAt(dv, 0);
    }
    return next;
  }

  /**
   * The base offset of the batch whose header is in the scratch, `expected` following its
   * predecessor: counted so in a never-cleaned segment (a damaged header cannot move offsets),
   * read from the header in a compacted one (where gaps are allowed), never below `expected`.
   */
  #batchBase(expected: number): number {
    return this.compacted ? Math.max(expected, baseOffsetAt(this.scratchView, 0)) : expected;
  }

  /** Cuts the .log file to `length` bytes. */
  truncateLog(length: number): void {
    truncateFile(this.file.handle(), length);
  }

  /** Writes index entries not yet on disk (and fsyncs them when `sync`). */
  persistIndexes(sync: boolean): void {
    this.index.persist(sync);
    this.timeIndex.persist(sync);
  }

  get hasUnpersistedIndexes(): boolean {
    return this.index.hasUnpersisted || this.timeIndex.hasUnpersisted;
  }

  /** fdatasync of the .log file (its descriptor pinned open meanwhile). */
  async sync(): Promise<void> {
    this.dirty = false;
    this.syncsInFlight++;
    try {
      await this.file.sync();
    } finally {
      this.syncsInFlight--;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.file.close();
  }

  /**
   * Closes the segment and renames its files (those that exist) to `<name>.deleted`, freeing
   * nothing yet; returns the new paths, for removal off the event loop (segment_swap.ts).
   */
  retire(): string[] {
    this.close();
    const retired: string[] = [];
    for (const path of [this.logPath, this.index.path, this.timeIndex.path]) {
      if (renameIfExists(path, path + DELETED_SUFFIX)) retired.push(path + DELETED_SUFFIX);
    }
    return retired;
  }

  /** Closes and removes the segment's three files. */
  delete(): void {
    this.close();
    removeFile(this.logPath);
    removeFile(this.index.path);
    removeFile(this.timeIndex.path);
  }
}
