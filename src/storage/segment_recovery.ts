/**
 * What open trusts and what it re-validates, segment by segment (the log loader decides which
 * applies; see log_loader.ts):
 *
 * - {@link loadTrusted}: a segment wholly below the recovery checkpoint. Its bytes were flushed
 *   and acknowledged, so nothing in it is ever truncated. Its indexes are sanity-checked (rebuilt
 *   from batch headers when missing or damaged); the headers after the last index entry are walked
 *   (lengths, contiguous offsets) and the first batch's header is checked against the file name.
 *   Damage found is reported and served around: reads that reach it fail with CORRUPT_LOG.
 * - {@link checkpointProblem}: whether the checkpoint matches its segment (its position is a
 *   batch boundary whose preceding batches end at its offset).
 * - {@link recover}: the checkpoint's segment from the checkpoint on, and every later segment
 *   whole: length, magic, CRC-32C, counts and contiguous offsets per batch; the first bad batch
 *   truncates the segment there (a torn write, never acknowledged under flush.policy always).
 *
 * Offsets are always computed from the batches' lastOffsetDelta (covered by the CRC) rather than
 * read from their baseOffset (not covered): a flipped baseOffset is damage at its batch, not a
 * reason to lose track of every offset after it.
 *
 * Compacted segments (Segment.compacted: the cleaner may have rewritten them, see
 * cleaner/cleaner_checkpoint.ts) are held to what the cleaner writes instead: base offsets that
 * increase, with gaps allowed, read from the headers; batches holding at most as many records as
 * their offsets span (none, for an emptied batch); a first batch at or after the file's name.
 */
import type { SluiceError } from "../errors.ts";
import { BATCH_BYTES_MAX } from "../limits.ts";
import type { Logger } from "../logger.ts";
import {
  baseOffsetAt,
  batchSizeAt,
  CHECK_COUNTS,
  CHECK_CRC,
  checkBatch,
  lastOffsetDeltaAt,
  LOG_OVERHEAD,
  maxTimestampAt,
  recordsCountAt,
  viewOf,
} from "../record/record_batch.ts";
import { readAt } from "../runtime/fs.ts";
import { unfilledBytes } from "./read_buffer.ts";
import type { Segment } from "./segment.ts";
import { type LogDamage, storageFailure } from "./storage_errors.ts";

/**
 * Recovery reads the log in chunks of this size (or one batch, if larger), each into the same
 * buffer (grown only for a larger batch).
 */
const RECOVERY_CHUNK_BYTES = 4 * 1024 * 1024;

/** Where a header walk stopped short, and why. */
interface WalkStop {
  position: number;
  reason: string;
}

/**
 * Walks headers from `position` (a batch boundary holding offset `offset`) to `end`: lengths must
 * fit; offsets follow from lastOffsetDelta; each base offset that differs from the expected one is
 * reported into `damage` (once). With `index`, missing index entries are added and the max
 * timestamp tracked. Returns the offset after the last whole batch and where it stopped early.
 */
function walkHeaders(
  segment: Segment,
  position: number,
  offset: number,
  end: number,
  index: boolean,
  damage: LogDamage[],
): { position: number; offset: number; stop: WalkStop | undefined } {
  const dv = segment.scratchView;
  while (position < end) {
    const problem = segment.headerProblem(position, end);
    if (problem !== undefined) return { position, offset, stop: { position, reason: problem } };
    const base = baseOffsetAt(dv, 0);
    if (segment.compacted ? base < offset : base !== offset) {
      damage.push({
        file: segment.logPath,
        position,
        reason: segment.compacted
          ? `batch base offset ${base} is below ${offset}, where the batch before it ends`
          : `batch base offset ${base}, expected ${offset}`,
      });
    } else if (segment.compacted) {
      offset = base;
    }
    if (index) segment.indexBatch(dv, 0, position, offset);
    offset += lastOffsetDeltaAt(dv, 0) + 1;
    position += batchSizeAt(dv, 0);
  }
  return { position, offset, stop: undefined };
}

/** The first batch's header must fit and carry the base offset the file is named after. */
function checkFirstHeader(segment: Segment, damage: LogDamage[]): void {
  if (segment.sizeBytes === 0) return;
  if (damage.some((d) => d.file === segment.logPath && d.position === 0)) return;
  const problem = segment.headerProblem(0, segment.sizeBytes);
  const base = problem === undefined ? baseOffsetAt(segment.scratchView, 0) : segment.baseOffset;
  const named = segment.compacted ? base >= segment.baseOffset : base === segment.baseOffset;
  if (problem !== undefined || !named) {
    damage.push({
      file: segment.logPath,
      position: 0,
      reason: problem ??
        `first batch has base offset ${base}, the file name says ${segment.baseOffset}`,
    });
  }
  segment.firstBatchTimestampMs = problem === undefined
    ? maxTimestampAt(segment.scratchView, 0)
    : -1;
}

/**
 * Loads a segment below the recovery checkpoint (see the module comment). `nextBaseOffset` is
 * the next segment's base: the segment's end when damage hides it. Returns the damage found.
 */
export function loadTrusted(segment: Segment, logger: Logger, nextBaseOffset: number): LogDamage[] {
  segment.sizeBytes = segment.fileBytes();
  const problem = segment.index.sanityCheck(segment.sizeBytes);
  if (problem !== undefined) {
    logger.warn("offset index failed its sanity check; rebuilding it from the log", {
      file: segment.index.path,
      reason: problem,
    });
    dropIndexes(segment);
  }
  let damage: LogDamage[] = [];
  let walk = scanFromLastEntry(segment, damage);
  const timeProblem = walk.stop === undefined
    ? segment.timeIndex.sanityCheck(segment.nextOffset)
    : undefined;
  if (timeProblem !== undefined) {
    logger.warn("time index failed its sanity check; rebuilding it from the log", {
      file: segment.timeIndex.path,
      reason: timeProblem,
    });
    dropIndexes(segment);
    damage = [];
    walk = scanFromLastEntry(segment, damage);
  }
  if (walk.stop !== undefined) {
    // Bytes below the recovery checkpoint were flushed and acknowledged: never truncate them.
    damage.push({ file: segment.logPath, ...walk.stop });
    segment.nextOffset = nextBaseOffset;
  }
  checkFirstHeader(segment, damage);
  for (const d of damage) {
    logger.error("corrupt batch header in a flushed segment; serving around it", { ...d });
  }
  return damage;
}

function scanFromLastEntry(
  segment: Segment,
  damage: LogDamage[],
): ReturnType<typeof walkHeaders> {
  segment.maxTimestampMs = segment.timeIndex.lastTimestamp;
  segment.offsetOfMaxTimestamp = segment.timeIndex.lastOffset;
  const walk = walkHeaders(
    segment,
    segment.index.lastPosition,
    segment.index.lastOffset,
    segment.sizeBytes,
    true,
    damage,
  );
  segment.nextOffset = walk.offset;
  return walk;
}

function dropIndexes(segment: Segment): void {
  segment.index.truncateToPosition(0);
  segment.timeIndex.truncateToOffset(segment.baseOffset);
}

/**
 * Why the recovery checkpoint (`offset` at byte `position`) cannot be true of this segment, or
 * undefined when it matches: `position` must be a batch boundary (or the file's end) and the
 * batches before it must end at `offset`. Walks headers from the last sound index entry before
 * `position` (from the start when the index fails its sanity check).
 */
export function checkpointProblem(
  segment: Segment,
  offset: number,
  position: number,
): string | undefined {
  const fileBytes = segment.fileBytes();
  if (position > fileBytes) {
    return `position ${position} is past the end of ${segment.logPath} (${fileBytes} bytes)`;
  }
  if (offset < segment.baseOffset) {
    return `offset ${offset} is below the segment's base offset ${segment.baseOffset}`;
  }
  let [from, at] = [segment.baseOffset, 0];
  if (segment.index.sanityCheck(fileBytes) === undefined) {
    [from, at] = segment.index.entryAtOrBefore(position);
  }
  const walk = walkHeaders(segment, at, from, position, false, []);
  if (walk.stop !== undefined) {
    return `position ${position} is not a batch boundary of ${segment.logPath} (at byte ${walk.stop.position}: ${walk.stop.reason})`;
  }
  if (walk.offset !== offset) {
    return `offset ${offset}, but the batches before byte ${position} of ${segment.logPath} end at offset ${walk.offset}`;
  }
  return undefined;
}

/**
 * Why a batch of a compacted segment (CRC checked) cannot be one the cleaner wrote after a batch
 * ending at `expected`: a base offset below it, or more records than offsets.
 */
function compactedBatchProblem(
  dv: DataView,
  pos: number,
  base: number,
  expected: number,
): string | undefined {
  if (base < expected) return `batch base offset ${base} is below ${expected}`;
  const count = recordsCountAt(dv, pos);
  const span = lastOffsetDeltaAt(dv, pos) + 1;
  if (count > span) return `recordsCount ${count} is more than the ${span} offsets it spans`;
  return undefined;
}

/** What {@link recover} did. */
export interface RecoverResult {
  /** The file was cut at a bad batch (later segments must go). */
  truncated: boolean;
  damage: LogDamage[];
  /** The cut could not be written to disk: the log must not take appends. */
  writeFailure: SluiceError | undefined;
}

/**
 * Re-validates the batches from `position` (a batch boundary holding `offset`, checked by
 * {@link checkpointProblem}) to the end of the file: bounds, magic, CRC, counts and contiguous
 * offsets; rebuilds index entries from there. `maxTimestampMs` and `offsetOfMaxTimestamp`
 * describe the batches before `position`. At the first bad batch the file is truncated there,
 * with a warning naming file, position and reason.
 */
export function recover(
  segment: Segment,
  position: number,
  offset: number,
  maxTimestampMs: number,
  offsetOfMaxTimestamp: number,
  logger: Logger,
): RecoverResult {
  const fileBytes = segment.fileBytes();
  // A missing or damaged index cannot vouch for the entries before `position`: then the segment
  // is re-validated from its start.
  let problem: { file: string; reason: string } | undefined;
  if (position > 0) {
    for (
      const [index, reason] of [
        [segment.index, segment.index.sanityCheck(fileBytes)],
        [segment.timeIndex, segment.timeIndex.sanityCheck(Number.MAX_SAFE_INTEGER)],
      ] as const
    ) {
      const why = index.fileMissing ? "missing" : reason;
      if (problem === undefined && why !== undefined) problem = { file: index.path, reason: why };
    }
  }
  segment.index.truncateToPosition(position);
  segment.timeIndex.truncateToOffset(offset);
  if (problem !== undefined) {
    logger.warn("index does not match the recovery checkpoint; re-validating the segment", {
      ...problem,
      segment: segment.logPath,
    });
    position = 0;
    offset = segment.baseOffset;
    maxTimestampMs = -1;
    offsetOfMaxTimestamp = segment.baseOffset;
    dropIndexes(segment);
  }
  segment.maxTimestampMs = maxTimestampMs;
  segment.offsetOfMaxTimestamp = offsetOfMaxTimestamp;
  segment.sizeBytes = fileBytes;
  segment.nextOffset = offset;
  // Chunks of a few MiB keep recovery of a 1 GiB segment bounded in memory; one buffer for all.
  const chunkBytes = Math.max(RECOVERY_CHUNK_BYTES, segment.settings.maxMessageBytes);
  let buffer: Uint8Array | undefined;
  let truncatedAt: number | undefined;
  let reason = "";
  scan: while (position < fileBytes) {
    let length = Math.min(chunkBytes, fileBytes - position);
    const head = segment.scratch.subarray(0, LOG_OVERHEAD);
    if (readAt(segment.file.handle(), head, position) === LOG_OVERHEAD) {
      // A batch written under a larger max.message.bytes gets a chunk of its own.
      const first = batchSizeAt(segment.scratchView, 0);
      if (first > length && first <= BATCH_BYTES_MAX && first <= fileBytes - position) {
        length = first;
      }
    }
    if (buffer === undefined || buffer.length < length) buffer = unfilledBytes(length);
    const chunk = segment.readBytes(position, length, buffer);
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
        segment.compacted ? CHECK_CRC : CHECK_CRC | CHECK_COUNTS,
      );
      if (typeof checked !== "number") {
        truncatedAt = position + pos;
        reason = checked.reason;
        break scan;
      }
      const base = baseOffsetAt(dv, pos);
      const problem = segment.compacted
        ? compactedBatchProblem(dv, pos, base, segment.nextOffset)
        : base !== segment.nextOffset
        ? `batch base offset ${base}, expected ${segment.nextOffset}`
        : undefined;
      if (problem !== undefined) {
        truncatedAt = position + pos;
        reason = problem;
        break scan;
      }
      segment.indexBatch(dv, pos, position + pos, base);
      segment.nextOffset = base + lastOffsetDeltaAt(dv, pos) + 1;
      pos += checked;
    }
    position += pos;
  }
  let writeFailure: SluiceError | undefined;
  if (truncatedAt !== undefined) {
    logger.warn("truncating a torn or corrupt log tail", {
      file: segment.logPath,
      position: truncatedAt,
      droppedBytes: fileBytes - truncatedAt,
      reason,
    });
    try {
      segment.truncateLog(truncatedAt);
    } catch (err) {
      // The bytes past truncatedAt stay on disk; reads stop before them, appends must not start.
      writeFailure = storageFailure(err, `truncating ${segment.logPath}`, {
        file: segment.logPath,
        position: truncatedAt,
      });
      logger.error("could not truncate a torn log tail; the log is read-only", {
        file: segment.logPath,
        position: truncatedAt,
        error: writeFailure.message,
      });
    }
    segment.sizeBytes = truncatedAt;
    segment.index.truncateToPosition(truncatedAt);
    segment.timeIndex.truncateToOffset(segment.nextOffset);
  }
  const damage: LogDamage[] = [];
  checkFirstHeader(segment, damage);
  for (const d of damage) logger.error("corrupt batch header in a flushed segment", { ...d });
  return { truncated: truncatedAt !== undefined, damage, writeFailure };
}
