/**
 * A clean's first pass (Kafka's Cleaner.buildOffsetMap): the offset map of the dirty part,
 * key -> the latest offset holding it, read in offset order from the first dirty offset to the
 * first uncleanable one. Records without a key, control batches and batches whose codec cannot be
 * decoded add nothing. When the map fills, mapping stops before the record that found it full:
 * the map's latestOffset is then the end of the last batch mapped whole, and the clean cleans only
 * up to there (Kafka's partial clean; the rest on the next run).
 *
 * Every batch header the clean does not read here is walked afterwards ({@link walkUnmapped}), so
 * that the producer tracker has seen the whole log (clean_env.ts).
 */
import {
  baseOffsetAt,
  batchSizeAt,
  compressionAt,
  lastOffsetDeltaAt,
  recordsCountAt,
} from "../../record/record_batch.ts";
import { isControlAt, recordsSection } from "../../record/record_cursor.ts";
import { RecordSpans } from "../../record/record_walk.ts";
import { CLEANER_SLICE_BYTES } from "../../limits.ts";
import type { Segment } from "../segment.ts";
import { BatchWindows } from "./batch_windows.ts";
import { type CleanEnv, isUndecodableCodec, pace } from "./clean_env.ts";
import { OFFSET_MAP_PREPARED_MAX } from "./offset_map.ts";

/** Where mapping stopped: the segment, and the batch boundary (and its offset) not yet read. */
export interface MapStop {
  segment: Segment;
  position: number;
  expected: number;
}

/**
 * Builds env.map over [firstDirty, firstUncleanable). Returns where reading stopped (for
 * {@link walkUnmapped}); env.map.latestOffset + 1 is where the cleaned range ends.
 */
export async function buildOffsetMap(
  env: CleanEnv,
  firstDirty: number,
  firstUncleanable: number,
): Promise<MapStop> {
  const map = env.map;
  // Emptying a large map (128 MiB by default) is a pass over all of it: in steps, the event loop
  // running between them.
  map.clear(true);
  while (!map.emptySome(CLEANER_SLICE_BYTES)) await pace(env, 0);
  map.updateLatestOffset(firstDirty - 1);
  const all = env.segments;
  const dirty = all.filter((s, i) =>
    i < all.length - 1 && s.baseOffset < firstUncleanable && s.nextOffset > firstDirty
  );
  if (dirty.length === 0) return { segment: all[0], position: 0, expected: all[0].baseOffset };
  map.trackSuperseded(
    firstDirty,
    Math.min(firstUncleanable, dirty[dirty.length - 1].nextOffset),
  );
  // The headers before the first batch mapped: the clean part, and the first dirty segment's
  // batches before the first dirty offset.
  const first = dirty[0];
  let firstPosition = 0;
  let firstExpected = first.baseOffset;
  if (firstDirty > first.baseOffset) {
    firstPosition = first.index.lookup(firstDirty);
    firstExpected = first.index.lookedUpOffset;
  }
  for (let i = 0; all[i] !== first; i++) {
    await walkHeaders(env, all[i], 0, all[i].baseOffset, all[i].sizeBytes);
  }
  if (firstPosition > 0) await walkHeaders(env, first, 0, first.baseOffset, firstPosition);
  const spans = new RecordSpans();
  for (let i = 0; i < dirty.length; i++) {
    const segment = dirty[i];
    const from = i === 0 ? firstPosition : 0;
    const windows = new BatchWindows(
      segment,
      from,
      i === 0 ? firstExpected : segment.baseOffset,
      true,
      false,
      undefined,
      undefined,
      env.buffer,
    );
    while (windows.next()) {
      const bytes = windows.bytes;
      const dv = windows.dv;
      env.counters.mapBytesRead += bytes.length;
      for (let pos = 0; pos < bytes.length; pos += batchSizeAt(dv, pos)) {
        env.producers.note(dv, pos);
      }
      for (let pos = 0; pos < bytes.length; pos += batchSizeAt(dv, pos)) {
        const base = baseOffsetAt(dv, pos);
        const last = base + lastOffsetDeltaAt(dv, pos);
        if (last < firstDirty) continue;
        if (!isControlAt(dv, pos) && !isUndecodableCodec(compressionAt(dv, pos))) {
          const { section, start, end } = recordsSection(bytes, dv, pos, batchSizeAt(dv, pos));
          if (
            !mapBatch(env, spans, section, start, end, recordsCountAt(dv, pos), base, firstDirty)
          ) {
            return { segment, position: windows.position, expected: windows.expected };
          }
        }
        map.updateLatestOffset(last);
      }
      await pace(env, bytes.length, segment, windows);
    }
    // Every batch of it passed its CRC check in this clean: the filter pass need not check again.
    if (from === 0) env.verified.add(segment);
    // Offsets missing at the segment's end (none, where the cleaner kept its last batch).
    const next = all[all.indexOf(segment) + 1];
    map.updateLatestOffset(Math.min(next.baseOffset, firstUncleanable) - 1);
  }
  const after = all[all.indexOf(dirty[dirty.length - 1]) + 1];
  return { segment: after, position: 0, expected: after.baseOffset };
}

/**
 * Maps the keyed records at or past `firstDirty` of one batch (records section
 * `section[start..end)`, `count` records from offset `base`), in offset order, their keys digested
 * in chunks before the probes (offset_map.ts). False when the map filled first: mapping stops
 * before the record that found it full.
 */
function mapBatch(
  env: CleanEnv,
  spans: RecordSpans,
  section: Uint8Array,
  start: number,
  end: number,
  count: number,
  base: number,
  firstDirty: number,
): boolean {
  const map = env.map;
  spans.walk(section, start, end, count);
  const n = spans.count;
  const picks = spans.picks;
  const keyLength = spans.keyLength;
  const offsetDelta = spans.offsetDelta;
  let picked = 0;
  for (let r = 0; r < n; r++) {
    if (keyLength[r] >= 0 && base + offsetDelta[r] >= firstDirty) picks[picked++] = r;
  }
  for (let from = 0; from < picked; from += OFFSET_MAP_PREPARED_MAX) {
    const to = Math.min(picked, from + OFFSET_MAP_PREPARED_MAX);
    map.prepare(section, spans.keyStart, keyLength, picks, from, to);
    for (let i = from; i < to; i++) {
      if (map.isFull) {
        // The records up to this one, as one at a time would have counted them.
        env.counters.mapRecords += picks[i] + 1;
        return false;
      }
      map.putPrepared(i - from, base + offsetDelta[picks[i]]);
    }
  }
  env.counters.mapRecords += n;
  return true;
}

/**
 * Walks the headers the map pass did not read, from `stop` to the log end (the active segment
 * up to its size now), for the producer tracker. Lenient: damage there ends the walk, and the
 * tracker is marked incomplete.
 */
export async function walkUnmapped(env: CleanEnv, stop: MapStop): Promise<void> {
  const i = env.segments.indexOf(stop.segment);
  if (i < 0) {
    env.producers.incomplete = true;
    return;
  }
  await walkHeaders(env, stop.segment, stop.position, stop.expected, stop.segment.sizeBytes);
  for (let j = i + 1; j < env.segments.length; j++) {
    const s = env.segments[j];
    await walkHeaders(env, s, 0, s.baseOffset, s.sizeBytes);
  }
}

async function walkHeaders(
  env: CleanEnv,
  segment: Segment,
  position: number,
  expected: number,
  end: number,
): Promise<void> {
  const windows = new BatchWindows(
    segment,
    position,
    expected,
    false,
    true,
    end,
    undefined,
    env.buffer,
  );
  while (windows.next()) {
    const dv = windows.dv;
    for (let pos = 0; pos < windows.bytes.length; pos += batchSizeAt(dv, pos)) {
      env.producers.note(dv, pos);
    }
    await pace(env, windows.bytes.length, segment, windows);
  }
  if (windows.stoppedAt !== undefined) env.producers.incomplete = true;
}
