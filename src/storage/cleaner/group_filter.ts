/**
 * A clean's second pass for one group of segments (Kafka's Cleaner.cleanSegments and cleanInto,
 * with MemoryRecords.filterTo's rules): every batch of the group read in order, its records
 * filtered against the offset map, what stays written to `<base>.log.cleaned` (segment_swap.ts
 * puts it in place).
 *
 * A record stays when:
 * - its offset is past the map's latestOffset (it was not mapped: a later clean sees it), or
 * - it has a key, its offset is the latest the map knows for that key (or later), and it has a
 *   value, or it is a tombstone whose batch's delete horizon has not passed (KIP-534: the first
 *   clean that keeps a tombstone sets the horizon, now + delete.retention.ms, so a consumer
 *   positioned before it has that long to read it). Tombstones are never removed while the log
 *   holds a batch the cleaner cannot decode (that batch may hold an older value of the key).
 * A record without a key goes (Kafka's cleaner drops them too: a compacted log cannot hold one).
 *
 * A batch whose records all stay is copied as its bytes, unless a tombstone in it needs its
 * horizon set; one whose records partly stay is rewritten (batch_rewrite.ts: offsets, producer
 * fields and codec kept); one whose records all go is dropped, except, emptied to its header, the
 * last batch of an active idempotent producer (so its sequence and epoch survive) and the group's
 * last batch (so the cleaned segment ends where the group did). Control batches (transaction
 * markers, which Sluice never writes; clients may not) stay, except that a COMMIT or ABORT
 * marker gets a delete horizon and goes once it has passed, as Kafka does for a transaction none
 * of whose batches remain. Batches in a codec Sluice cannot decode (snappy, zstd) are copied whole
 * and counted.
 */
import { assert } from "../../errors.ts";
import { CLEANER_SLICE_BYTES } from "../../limits.ts";
import {
  deleteHorizonAt,
  GrowableBytes,
  type KeptRecords,
  writeEmptyBatch,
  writeFilteredBatch,
} from "../../record/batch_rewrite.ts";
import {
  ATTRIBUTES_AT,
  BASE_TIMESTAMP_AT,
  baseOffsetAt,
  batchSizeAt,
  compressionAt,
  lastOffsetDeltaAt,
  PRODUCER_ID_AT,
  readInt64,
  recordsCountAt,
  viewOf,
} from "../../record/record_batch.ts";
import { isControlAt, RecordCursor, recordsSection } from "../../record/record_cursor.ts";
import { RecordSpans } from "../../record/record_walk.ts";
import { closeFile, openReadWrite, syncData } from "../../runtime/fs.ts";
import type { LogFiles } from "../log_files.ts";
import { CLEANED_SUFFIX, Segment } from "../segment.ts";
import { BatchWindows } from "./batch_windows.ts";
import { type CleanEnv, isUndecodableCodec, pace } from "./clean_env.ts";
import { OFFSET_MAP_PREPARED_MAX } from "./offset_map.ts";

const LOG_APPEND_TIME_ATTRIBUTE = 0x08;
/** Control record types (the key's second int16): Kafka's ControlRecordType ABORT and COMMIT. */
const ABORT_MARKER = 0;
const COMMIT_MARKER = 1;

/** Scratch reused from batch to batch and group to group (one per clean). */
export class FilterScratch {
  readonly out = new GrowableBytes(CLEANER_SLICE_BYTES + 64 * 1024);
  readonly plain = new GrowableBytes();
  readonly cursor = new RecordCursor();
  readonly spans = new RecordSpans();
  readonly kept: KeptRecords = { starts: new Int32Array(1024), count: 0, maxTimestampMs: -1 };
}

/** A group's cleaned segment, written; `synced` resolves once its files are on disk. */
export interface WrittenGroup {
  cleaned: Segment;
  /**
   * Resolves once the data and index files are fsynced and the segment closed (step 1 of
   * segment_swap.ts done). Rejects after removing the `.cleaned` files when a sync fails. Never
   * left unobserved by the caller: the next group is filtered while it runs, and the swap waits
   * for it.
   */
  synced: Promise<void>;
}

/**
 * Writes the cleaned form of `group` (segments of env.segments, ascending) to a new
 * `<group[0].baseOffset>.log.cleaned` segment, indexes included, and starts their fsyncs, which
 * run in the runtime's thread pool (a synchronous fsync would hold the event loop, and the
 * appends waiting on it, for as long as the disk takes) while the caller goes on to the next
 * group. On a failure (or abort) before it returns, the `.cleaned` files are removed and the
 * error thrown on.
 */
export async function cleanGroup(
  env: CleanEnv,
  group: readonly Segment[],
  files: LogFiles,
  scratch: FilterScratch,
): Promise<WrittenGroup> {
  const first = group[0];
  const cleaned = Segment.create(
    env.dir,
    first.baseOffset,
    env.config,
    first.createdMs,
    files,
    CLEANED_SUFFIX,
  );
  try {
    let hooked = false;
    for (let g = 0; g < group.length; g++) {
      const segment = group[g];
      const windows = new BatchWindows(
        segment,
        0,
        segment.baseOffset,
        !env.verified.has(segment),
        false,
        undefined,
        undefined,
        env.buffer,
      );
      while (windows.next()) {
        const bytes = windows.bytes;
        const dv = windows.dv;
        env.counters.bytesRead += bytes.length;
        for (let pos = 0; pos < bytes.length; pos += batchSizeAt(dv, pos)) {
          const groupLast = g === group.length - 1 &&
            baseOffsetAt(dv, pos) + lastOffsetDeltaAt(dv, pos) + 1 === segment.nextOffset;
          filterBatch(env, bytes, dv, pos, groupLast, scratch);
        }
        if (scratch.out.length >= CLEANER_SLICE_BYTES) writeOut(env, cleaned, scratch.out);
        if (!hooked && cleaned.sizeBytes > 0) {
          hooked = true;
          env.hook?.("writing");
        }
        await pace(env, bytes.length, segment, windows);
      }
    }
    writeOut(env, cleaned, scratch.out);
    if (!hooked) env.hook?.("writing");
    assert(
      cleaned.nextOffset === group[group.length - 1].nextOffset,
      "a cleaned group ends where it did",
    );
    cleaned.onBecomeInactive();
    cleaned.persistIndexes(false);
  } catch (err) {
    scratch.out.clear();
    cleaned.delete();
    throw err;
  }
  const synced = Promise.all([
    cleaned.sync(),
    syncFileAt(cleaned.index.path),
    syncFileAt(cleaned.timeIndex.path),
  ]).then(
    () => {
      cleaned.close();
      env.hook?.("cleaned");
    },
    (err) => {
      cleaned.delete();
      throw err;
    },
  );
  // Observed by the caller later (awaited before the swap, or on abandoning the group); marked
  // handled now so that a failure while the next group is filtered is not an unhandled rejection.
  synced.catch(() => {});
  return { cleaned, synced };
}

/** fdatasync of the file at `path` (opened for it, closed after). */
async function syncFileAt(path: string): Promise<void> {
  const file = openReadWrite(path);
  try {
    await syncData(file);
  } finally {
    closeFile(file);
  }
}

/** Appends the batches filtered so far to the cleaned segment (one write). */
function writeOut(env: CleanEnv, cleaned: Segment, out: GrowableBytes): void {
  if (out.length === 0) return;
  const bytes = out.view();
  const dv = viewOf(bytes);
  // The offset after the last batch: walk to it (headers only).
  let last = 0;
  for (let pos = 0; pos < bytes.length; pos += batchSizeAt(dv, pos)) last = pos;
  cleaned.append(bytes, dv, baseOffsetAt(dv, last) + lastOffsetDeltaAt(dv, last) + 1);
  env.counters.bytesWritten += bytes.length;
  out.clear();
}

/** Filters the batch at `src[pos]` into scratch.out (see the module comment). */
function filterBatch(
  env: CleanEnv,
  src: Uint8Array,
  dv: DataView,
  pos: number,
  groupLast: boolean,
  scratch: FilterScratch,
): void {
  const size = batchSizeAt(dv, pos);
  const out = scratch.out;
  const count = recordsCountAt(dv, pos);
  env.counters.recordsRead += count;
  if (isUndecodableCodec(compressionAt(dv, pos))) {
    env.counters.batchesKeptWhole++;
    env.counters.recordsKept += count;
    out.append(src.subarray(pos, pos + size));
    return;
  }
  const base = baseOffsetAt(dv, pos);
  const lastOffset = base + lastOffsetDeltaAt(dv, pos);
  const horizon = deleteHorizonAt(dv, pos);
  const { section, start, end } = recordsSection(src, dv, pos, size);
  const cursor = scratch.cursor;
  if (isControlAt(dv, pos)) {
    filterControlBatch(env, src, dv, pos, size, section, start, end, groupLast, scratch);
    return;
  }
  const map = env.map;
  const latest = map.latestOffset;
  const tombstonesGo = horizon >= 0 && env.nowMs >= horizon && !env.producers.undecodable;
  const logAppendTime = (dv.getInt16(pos + ATTRIBUTES_AT) & LOG_APPEND_TIME_ATTRIBUTE) !== 0;
  const baseTimestamp = readInt64(dv, pos + BASE_TIMESTAMP_AT);
  const kept = scratch.kept;
  kept.count = 0;
  kept.maxTimestampMs = -1;
  let tombstoneKept = false;
  const spans = scratch.spans;
  spans.walk(section, start, end, count);
  const n = spans.count;
  const offsetDelta = spans.offsetDelta;
  const keyLength = spans.keyLength;
  const valueLength = spans.valueLength;
  // The records to look up in the map: keyed, mapped (offset not past the map's end) and not in
  // the dirty part, whose records the map pass marked when it saw their key again.
  const picks = spans.picks;
  let picked = 0;
  for (let r = 0; r < n; r++) {
    const offset = base + offsetDelta[r];
    if (keyLength[r] >= 0 && offset <= latest && !map.tracks(offset)) picks[picked++] = r;
  }
  if (kept.starts.length < n) kept.starts = new Int32Array(spans.start.length);
  let next = 0; // the next pick
  let chunkFrom = 0;
  let preparedTo = 0;
  for (let r = 0; r < n; r++) {
    const offset = base + offsetDelta[r];
    let keep: boolean;
    if (offset > latest) {
      keep = true;
    } else if (keyLength[r] < 0) {
      keep = false;
    } else {
      let superseded: boolean;
      if (map.tracks(offset)) {
        superseded = map.isSuperseded(offset);
      } else {
        if (next === preparedTo) {
          chunkFrom = next;
          preparedTo = Math.min(picked, next + OFFSET_MAP_PREPARED_MAX);
          map.prepare(section, spans.keyStart, keyLength, picks, chunkFrom, preparedTo);
        }
        superseded = offset < map.getPrepared(next - chunkFrom);
        next++;
      }
      if (superseded) {
        keep = false;
      } else if (valueLength[r] >= 0) {
        keep = true;
      } else {
        keep = !tombstonesGo;
        if (!keep) env.counters.tombstonesRemoved++;
      }
    }
    if (!keep) continue;
    if (valueLength[r] < 0) tombstoneKept = true;
    kept.starts[kept.count++] = spans.start[r];
    if (!logAppendTime) {
      kept.maxTimestampMs = Math.max(kept.maxTimestampMs, baseTimestamp + spans.timestampDelta[r]);
    }
  }
  env.counters.recordsKept += kept.count;
  const setHorizon = tombstoneKept && horizon < 0;
  if (kept.count === count && !setHorizon) {
    out.append(src.subarray(pos, pos + size));
  } else if (kept.count > 0) {
    const horizonMs = setHorizon ? env.nowMs + env.config.deleteRetentionMs : -1;
    writeFilteredBatch(out, scratch.plain, src, pos, section, kept, horizonMs, cursor);
  } else if (groupLast || keepsProducerState(env, dv, pos, lastOffset)) {
    env.counters.emptyBatchesKept++;
    writeEmptyBatch(out, src, pos);
  }
}

/** Whether the batch is the last of an active idempotent producer (clean_env.ts). */
function keepsProducerState(env: CleanEnv, dv: DataView, pos: number, lastOffset: number): boolean {
  const producerId = readInt64(dv, pos + PRODUCER_ID_AT);
  return producerId >= 0 &&
    env.producers.isLastOfActive(producerId, lastOffset, env.nowMs, env.producerExpirationMs);
}

function filterControlBatch(
  env: CleanEnv,
  src: Uint8Array,
  dv: DataView,
  pos: number,
  size: number,
  section: Uint8Array,
  start: number,
  end: number,
  groupLast: boolean,
  scratch: FilterScratch,
): void {
  const cursor = scratch.cursor;
  const count = recordsCountAt(dv, pos);
  cursor.reset(section, start, end, count);
  let marker = false;
  if (count > 0 && cursor.next() && cursor.keyLength >= 4) {
    const type = (section[cursor.keyStart + 2] << 8) | section[cursor.keyStart + 3];
    marker = type === ABORT_MARKER || type === COMMIT_MARKER;
  }
  env.counters.recordsKept += count;
  const horizon = deleteHorizonAt(dv, pos);
  if (!marker || (horizon >= 0 && env.nowMs < horizon)) {
    scratch.out.append(src.subarray(pos, pos + size));
    return;
  }
  if (horizon < 0) {
    // Every record stays; the rewrite only sets the horizon.
    const kept = scratch.kept;
    kept.count = 0;
    kept.maxTimestampMs = -1;
    cursor.reset(section, start, end, count);
    while (cursor.next()) {
      if (kept.count === kept.starts.length) break; // a marker batch holds one record
      kept.starts[kept.count++] = cursor.start;
      kept.maxTimestampMs = Math.max(
        kept.maxTimestampMs,
        readInt64(dv, pos + BASE_TIMESTAMP_AT) + cursor.timestampDelta,
      );
    }
    const horizonMs = env.nowMs + env.config.deleteRetentionMs;
    writeFilteredBatch(scratch.out, scratch.plain, src, pos, section, kept, horizonMs, cursor);
    return;
  }
  env.counters.recordsKept -= count;
  const lastOffset = baseOffsetAt(dv, pos) + lastOffsetDeltaAt(dv, pos);
  if (groupLast || keepsProducerState(env, dv, pos, lastOffset)) {
    env.counters.emptyBatchesKept++;
    writeEmptyBatch(scratch.out, src, pos);
  }
}
