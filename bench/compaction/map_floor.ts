/**
 * The floor of a clean (bench/compaction_bench.ts's `floor` params): the least work any cleaner of
 * Kafka's kind must do on the dirty part, done once, with the cleaner's own parts and nothing else.
 * Each closed segment is read in the cleaner's windows with every batch checked (header bounds,
 * offsets and the CRC-32C: a clean must not carry damage over, batch_windows.ts), every batch's
 * records walked (record_walk.ts), every key digested and put into an offset map
 * (offset_map.ts). No filter pass, no write, no fsync, no pacing, no producer state.
 *
 * A real clean does all of that and then a second pass (read, filter, rewrite, write, fsync,
 * swap), so its MB/s is below the floor's: the floor's ratio to the plain read is a ceiling for
 * the clean's. Where that ceiling is under the bench's goal, no two-pass cleaner built from these
 * parts on this runtime reaches the goal, and a one-pass cleaner could at most reach the floor.
 */
import { batchSizeAt, recordsCountAt } from "../../src/record/record_batch.ts";
import { recordsSection } from "../../src/record/record_cursor.ts";
import { RecordSpans } from "../../src/record/record_walk.ts";
import { BatchWindows, WindowBuffer } from "../../src/storage/cleaner/batch_windows.ts";
import { OFFSET_MAP_PREPARED_MAX, type OffsetMap } from "../../src/storage/cleaner/offset_map.ts";
import type { PartitionLog } from "../../src/storage/partition_log.ts";

/** Seconds of one floor pass over `log`'s closed segments, and the records it mapped. */
export interface FloorRun {
  seconds: number;
  records: number;
}

/**
 * One floor pass over the closed segments of `log` (module comment), mapping into `map`
 * (cleared first; large enough for every key, as the bench's clean has it).
 */
export function mapFloorRun(log: PartitionLog, map: OffsetMap): FloorRun {
  map.clear();
  const segments = log.compaction.segments.slice(0, -1);
  const buffer = new WindowBuffer();
  const spans = new RecordSpans();
  const t0 = performance.now();
  let records = 0;
  for (const segment of segments) {
    const windows = new BatchWindows(
      segment,
      0,
      segment.baseOffset,
      true,
      false,
      undefined,
      undefined,
      buffer,
    );
    while (windows.next()) {
      const bytes = windows.bytes;
      const dv = windows.dv;
      for (let pos = 0; pos < bytes.length; pos += batchSizeAt(dv, pos)) {
        const size = batchSizeAt(dv, pos);
        const { section, start, end } = recordsSection(bytes, dv, pos, size);
        spans.walk(section, start, end, recordsCountAt(dv, pos));
        const n = spans.count;
        const picks = spans.picks;
        for (let r = 0; r < n; r++) picks[r] = r;
        for (let from = 0; from < n; from += OFFSET_MAP_PREPARED_MAX) {
          const to = Math.min(n, from + OFFSET_MAP_PREPARED_MAX);
          map.prepare(section, spans.keyStart, spans.keyLength, picks, from, to);
          for (let i = from; i < to; i++) map.putPrepared(i - from, records + i);
        }
        records += n;
      }
    }
  }
  return { seconds: (performance.now() - t0) / 1000, records };
}
