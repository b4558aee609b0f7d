/**
 * What one clean of one log carries from pass to pass (map_pass.ts, group_filter.ts,
 * log_compaction.ts): the log's live segment list and config, the offset map, the pacing, the
 * clean's clock reading, its counters, and what it learned of idempotent producers and codecs.
 */
import { SluiceError } from "../../errors.ts";
import { CLEANER_PRODUCER_IDS_MAX } from "../../limits.ts";
import {
  baseOffsetAt,
  compressionAt,
  lastOffsetDeltaAt,
  maxTimestampAt,
  PRODUCER_ID_AT,
  readInt64,
} from "../../record/record_batch.ts";
import type { LogConfig } from "../log_config.ts";
import type { Segment } from "../segment.ts";
import type { BatchWindows, WindowBuffer } from "./batch_windows.ts";
import type { OffsetMap } from "./offset_map.ts";
import type { SwapHook } from "./segment_swap.ts";
import type { Throttler } from "./throttler.ts";

/** Thrown inside a clean asked to stop (the log closes or truncates): no error, nothing swapped. */
export class CleanAborted extends Error {
  override readonly name = "CleanAborted";
}

/** Counters of one clean (and, summed, of a log's cleans). */
export interface CleanCounters {
  /** Bytes of log read to build the offset map. */
  mapBytesRead: number;
  /** Records put in (or looked at for) the offset map. */
  mapRecords: number;
  /** Bytes of the segments rewritten, before. */
  bytesRead: number;
  /** Bytes of the segments written in their place. */
  bytesWritten: number;
  recordsRead: number;
  recordsKept: number;
  /** Tombstones removed, their delete horizon passed. */
  tombstonesRemoved: number;
  /** Batches copied whole because their codec cannot be decoded here (snappy, zstd). */
  batchesKeptWhole: number;
  /** Batches whose records all went, kept as empty batches (a producer's last, a range's last). */
  emptyBatchesKept: number;
  /** Segments replaced, and the segments that replaced them. */
  segmentsReplaced: number;
  segmentsWritten: number;
}

export function newCounters(): CleanCounters {
  return {
    mapBytesRead: 0,
    mapRecords: 0,
    bytesRead: 0,
    bytesWritten: 0,
    recordsRead: 0,
    recordsKept: 0,
    tombstonesRemoved: 0,
    batchesKeptWhole: 0,
    emptyBatchesKept: 0,
    segmentsReplaced: 0,
    segmentsWritten: 0,
  };
}

export function addCounters(into: CleanCounters, from: CleanCounters): void {
  for (const key of Object.keys(into) as (keyof CleanCounters)[]) into[key] += from[key];
}

/** Codec ids Sluice cannot decode: snappy (2), zstd (4). */
export function isUndecodableCodec(codec: number): boolean {
  return codec === 2 || codec === 4;
}

/**
 * The last batch of each idempotent producer in the log (by producer id), so that the clean
 * keeps it, emptied if need be, while the producer is active (Kafka keeps it so producer state,
 * its last sequence and epoch, survives). Bounded by CLEANER_PRODUCER_IDS_MAX; past it, or when a
 * walk could not see every batch, an unknown producer's batch is kept (more bytes, never lost
 * state). Also notes whether any batch has a codec Sluice cannot decode.
 */
export class ProducerTracker {
  readonly #lastOffset = new Map<number, number>();
  readonly #lastTimestamp = new Map<number, number>();
  /** Some producer or batch was not tracked: unknown producers count as active. */
  incomplete = false;
  /** Some batch in the log has a codec the cleaner cannot decode. */
  undecodable = false;

  /** Notes the batch whose header is at `dv[pos]`. */
  note(dv: DataView, pos: number): void {
    if (isUndecodableCodec(compressionAt(dv, pos))) this.undecodable = true;
    const producerId = readInt64(dv, pos + PRODUCER_ID_AT);
    if (producerId < 0) return;
    const last = baseOffsetAt(dv, pos) + lastOffsetDeltaAt(dv, pos);
    const known = this.#lastOffset.get(producerId);
    if (known === undefined && this.#lastOffset.size >= CLEANER_PRODUCER_IDS_MAX) {
      this.incomplete = true;
      return;
    }
    if (known === undefined || last > known) {
      this.#lastOffset.set(producerId, last);
      this.#lastTimestamp.set(producerId, maxTimestampAt(dv, pos));
    }
  }

  /**
   * Whether the batch of `producerId` ending at `lastOffset` is that producer's last and the
   * producer is still active (its last batch no older than `expirationMs`).
   */
  isLastOfActive(producerId: number, lastOffset: number, nowMs: number, expirationMs: number) {
    const known = this.#lastOffset.get(producerId);
    if (known === undefined) return true; // not seen by a walk: keep, to be safe
    return known === lastOffset && this.#lastTimestamp.get(producerId)! >= nowMs - expirationMs;
  }
}

/** One clean's context. */
export interface CleanEnv {
  readonly dir: string;
  /** The log's segment list, the same array (rolls push to it; a clean replaces in it). */
  readonly segments: Segment[];
  /** The log's config, shared and live: fields are read when used. */
  readonly config: LogConfig;
  readonly map: OffsetMap;
  readonly throttler: Throttler;
  /** The clean's time (Kafka's currentTime): delete horizons are set and compared against it. */
  readonly nowMs: number;
  readonly producerExpirationMs: number;
  readonly counters: CleanCounters;
  readonly producers: ProducerTracker;
  readonly hook: SwapHook | undefined;
  /**
   * Segments whose every batch passed its CRC-32C check in this clean's map pass: the filter pass
   * reads them again without computing it again (the checks of headers and offsets stay).
   */
  readonly verified: Set<Segment>;
  /** Where the clean's reads go (batch_windows.ts). */
  readonly buffer: WindowBuffer;
  /** True once the clean is to stop (close, truncation, the manager's stop). */
  readonly aborted: () => boolean;
}

/**
 * Between two windows of work: counts `bytes` of I/O against the rate, lets the event loop run
 * once a slice's time is up (throttler.ts), and stops the clean (CleanAborted) when asked to,
 * or when `segment` left the log meanwhile (retention deleted it). Sets the size of `windows`'
 * next reads to the throttler's.
 */
export async function pace(
  env: CleanEnv,
  bytes: number,
  segment?: Segment,
  windows?: BatchWindows,
): Promise<void> {
  const pause = env.throttler.pace(bytes);
  if (pause !== undefined) await pause;
  checkGoing(env, segment);
  // Smaller windows while the loop is shared, so that a slice overruns its time by less.
  if (windows !== undefined) windows.sliceBytes = env.throttler.windowBytes;
}

export function checkGoing(env: CleanEnv, segment?: Segment): void {
  if (env.aborted()) throw new CleanAborted("the clean was aborted");
  if (segment !== undefined && !env.segments.includes(segment)) {
    throw new CleanAborted(`segment ${segment.logPath} left the log during the clean`);
  }
}

/** A CleanAborted, or a segment read of a file closed meanwhile (the segment left the log). */
export function isAbort(err: unknown): boolean {
  return err instanceof CleanAborted ||
    (err instanceof SluiceError && err.code === "LOG_CLOSED");
}
