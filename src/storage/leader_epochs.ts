/**
 * A partition's leader-epoch cache: for each leader epoch, the first offset written in it (the
 * semantics of Kafka's LeaderEpochFileCache, our own code). Consumers and followers ask it for an
 * epoch's end offset (OffsetForLeaderEpoch) to find where their copy of the log diverges.
 *
 * Entries are strictly increasing in both epoch and start offset. {@link assign} adds an entry
 * when a larger epoch starts (a new leader, or the first open of a log), removing any entry it
 * contradicts; the log end moving back (a torn tail cut at recovery) drops the entries that start
 * at or past it ({@link truncateFromEnd}); the log start moving forward (retention) drops those
 * wholly before it and moves the last of them to the new start ({@link truncateFromStart}).
 *
 * On disk: the `leaderEpochs` field of the partition's `recovery-checkpoint` (log_loader.ts),
 * `[[epoch, startOffset], ...]` ascending: the pairs Kafka keeps in its leader-epoch-checkpoint
 * file, written atomically (tmp + fsync + rename + directory fsync) with every recovery
 * checkpoint. A file of their own would cost a second atomic write (two more fsyncs) per
 * partition at its first checkpoint and at each change; riding on the checkpoint costs nothing
 * and gives the guarantee recovery needs: every batch below the recovery checkpoint has its epoch
 * in it, and the batches past it, which recovery re-validates anyway, give theirs again at open
 * ({@link openLeaderEpochs}). The list may hold entries past a torn tail or before the log start,
 * which the open removes. A checkpoint that is missing, ignored (it does not match the log) or
 * without a valid list makes the open rebuild the cache from the batches' own
 * partitionLeaderEpoch fields. Nothing is written on the append path.
 */
import { baseOffsetAt, batchSizeAt, PARTITION_LEADER_EPOCH_AT } from "../record/record_batch.ts";
import type { Logger } from "../logger.ts";
import type { Segment } from "./segment.ts";

/** Kafka's "no epoch" (RecordBatch.NO_PARTITION_LEADER_EPOCH, UNDEFINED_EPOCH). */
export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

/** OffsetForLeaderEpoch's answer for one partition. */
export interface EpochEndOffset {
  /** The largest known epoch <= the one asked for; UNDEFINED_EPOCH when none. */
  leaderEpoch: number;
  /** Where that epoch ends (exclusive); UNDEFINED_EPOCH_OFFSET when unknown. */
  endOffset: number;
}

/** The checkpoint's list, `[[epoch, startOffset], ...]`; a string saying why when it is bad. */
export function parseLeaderEpochs(value: unknown): EpochEntry[] | string {
  if (!Array.isArray(value)) return "not a list";
  const entries: EpochEntry[] = [];
  for (let i = 0; i < value.length; i++) {
    const pair = value[i];
    const [epoch, startOffset] = Array.isArray(pair) && pair.length === 2 ? pair : [NaN, NaN];
    if (
      !Number.isSafeInteger(epoch) || !Number.isSafeInteger(startOffset) || epoch < 0 ||
      epoch > 0x7fffffff || startOffset < 0
    ) {
      return `bad entry ${JSON.stringify(pair)} at ${i}`;
    }
    const prev = entries[entries.length - 1];
    if (prev !== undefined && (epoch <= prev.epoch || startOffset <= prev.startOffset)) {
      return `entries not increasing at ${i}`;
    }
    entries.push({ epoch, startOffset });
  }
  return entries;
}

export class LeaderEpochCache {
  #entries: EpochEntry[];

  constructor(entries: readonly EpochEntry[] = []) {
    this.#entries = [...entries];
  }

  get entries(): readonly EpochEntry[] {
    return this.#entries;
  }

  /** The latest epoch, UNDEFINED_EPOCH when there is none. */
  get latestEpoch(): number {
    const n = this.#entries.length;
    return n === 0 ? UNDEFINED_EPOCH : this.#entries[n - 1].epoch;
  }

  /**
   * Records that `epoch` starts at `startOffset`, in memory (the next recovery checkpoint writes
   * it). Entries with an epoch >= `epoch` or a start >= `startOffset` contradict it and go.
   * Returns whether anything changed: the latest epoch again at its own start or later changes
   * nothing.
   */
  assign(epoch: number, startOffset: number): boolean {
    if (epoch < 0 || startOffset < 0) throw new RangeError(`epoch ${epoch} at ${startOffset}`);
    const last = this.#entries[this.#entries.length - 1];
    if (last !== undefined && last.epoch === epoch && last.startOffset <= startOffset) return false;
    let n = this.#entries.length;
    while (
      n > 0 &&
      (this.#entries[n - 1].epoch >= epoch || this.#entries[n - 1].startOffset >= startOffset)
    ) n--;
    this.#entries.length = n;
    this.#entries.push({ epoch, startOffset });
    return true;
  }

  /** Drops the entries starting at or past `endOffset` (the log end moved back). */
  truncateFromEnd(endOffset: number): boolean {
    let n = this.#entries.length;
    while (n > 0 && this.#entries[n - 1].startOffset >= endOffset) n--;
    if (n === this.#entries.length) return false;
    this.#entries.length = n;
    return true;
  }

  /**
   * The log now starts at `startOffset`: the entries starting at or before it go but the last of
   * them, which now starts at `startOffset` (its epoch still holds the first offsets left).
   */
  truncateFromStart(startOffset: number): boolean {
    let n = 0;
    while (n < this.#entries.length && this.#entries[n].startOffset <= startOffset) n++;
    if (n === 0) return false;
    const kept = this.#entries[n - 1];
    if (n === 1 && kept.startOffset === startOffset) return false;
    this.#entries.splice(0, n, { epoch: kept.epoch, startOffset });
    return true;
  }

  /**
   * The end of `requested` (Kafka's endOffsetFor): the log end for the latest epoch; for an older
   * one, the start of the next larger epoch, with the largest known epoch <= it (the requested one
   * itself when it predates every entry, as the data before is gone); UNDEFINED for
   * UNDEFINED_EPOCH, for an epoch larger than any, and for an empty cache.
   */
  endOffsetFor(requested: number, logEndOffset: number): EpochEndOffset {
    const entries = this.#entries;
    if (requested === UNDEFINED_EPOCH || entries.length === 0) return undefinedEnd();
    if (requested === this.latestEpoch) return { leaderEpoch: requested, endOffset: logEndOffset };
    let higher = 0;
    while (higher < entries.length && entries[higher].epoch <= requested) higher++;
    if (higher === entries.length) return undefinedEnd();
    const floor = higher === 0 ? requested : entries[higher - 1].epoch;
    return { leaderEpoch: floor, endOffset: entries[higher].startOffset };
  }

  /** The epoch `offset` was written in: the last entry starting at or before it; -1 if none. */
  epochForOffset(offset: number): number {
    let epoch = UNDEFINED_EPOCH;
    for (const e of this.#entries) {
      if (e.startOffset > offset) break;
      epoch = e.epoch;
    }
    return epoch;
  }
}

function undefinedEnd(): EpochEndOffset {
  return { leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
}

/** What a partition's open knows of its log, for {@link openLeaderEpochs}. */
export interface OpenedLog {
  dir: string;
  /** The recovery checkpoint's epochs; undefined when there is no trusted checkpoint with some. */
  checkpointed: readonly EpochEntry[] | undefined;
  segments: readonly Segment[];
  /** The segments recovery re-validated (those past the recovery checkpoint). */
  recovered: readonly Segment[];
  /** Where in the first recovered segment the batches past the checkpoint begin (bytes). */
  recoveredFrom: number;
  logStartOffset: number;
  logEndOffset: number;
  /** The epoch to append in from the log end (the cache's latest when that is larger). */
  leaderEpoch: number;
  logger: Logger;
}

/**
 * The epoch cache of a log being opened: the checkpoint's entries cut to the log (its tail may
 * have been truncated, its start moved since they were written) plus the epochs of the batches
 * past the recovery checkpoint, or, without checkpointed entries, rebuilt from every batch; then
 * the largest of `leaderEpoch` and the epochs known starts at the log end unless it is already
 * the latest, as when Kafka's leader takes a partition. Nothing is written here (the next
 * recovery checkpoint writes it).
 */
export function openLeaderEpochs(log: OpenedLog): LeaderEpochCache {
  let cache: LeaderEpochCache;
  // An epoch once reached is never left for an older one, even when the batches that began it
  // were cut with a torn tail: clients may have seen it (Metadata), and Kafka's clients refuse
  // to go back to an older leader epoch.
  let reached = -1;
  if (log.checkpointed === undefined) {
    cache = new LeaderEpochCache();
    if (log.logEndOffset > 0) {
      // After a crash without a checkpoint, or a checkpoint from before epochs were kept.
      log.logger.info(
        "no leader epochs in the recovery checkpoint; reading them from the batches",
        {
          dir: log.dir,
        },
      );
    }
    addEpochsOfBatches(log.segments, cache);
  } else {
    cache = new LeaderEpochCache(log.checkpointed);
    reached = cache.latestEpoch;
    cache.truncateFromEnd(log.logEndOffset);
    cache.truncateFromStart(log.logStartOffset);
    addEpochsOfBatches(log.recovered, cache, log.recoveredFrom);
  }
  cache.assign(Math.max(log.leaderEpoch, reached, cache.latestEpoch, 0), log.logEndOffset);
  return cache;
}

/**
 * Adds the epochs of the batches of `segments` that are newer than the cache's latest (each batch
 * header read alone), the first segment's from byte `from` (a batch boundary). Batches without
 * an epoch (-1: written before epochs were stamped) add nothing; a header that does not fit ends
 * that segment's walk (recovery reported it). Epochs never decrease along a log, so a segment
 * whose first batch has the epoch of the next segment's first batch holds only that epoch and is
 * not walked.
 */
function addEpochsOfBatches(
  segments: readonly Segment[],
  cache: LeaderEpochCache,
  from = 0,
): void {
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const dv = segment.scratchView;
    const next = segments[i + 1];
    if (next !== undefined && next.baseOffset === segment.nextOffset) {
      const nextEpoch = firstEpoch(next);
      const first = firstEpoch(segment); // read last: its header stays in the scratch
      if (first !== undefined && first === nextEpoch) {
        if (first > cache.latestEpoch) cache.assign(first, baseOffsetAt(dv, 0));
        continue;
      }
    }
    let position = i === 0 ? from : 0;
    while (position < segment.sizeBytes) {
      if (segment.headerProblem(position, segment.sizeBytes) !== undefined) break;
      const epoch = dv.getInt32(PARTITION_LEADER_EPOCH_AT);
      if (epoch > cache.latestEpoch) cache.assign(epoch, baseOffsetAt(dv, 0));
      position += batchSizeAt(dv, 0);
    }
  }
}

/** The first batch's epoch (its header left in the segment's scratch); undefined if none. */
function firstEpoch(segment: Segment): number | undefined {
  if (segment.sizeBytes === 0) return undefined;
  if (segment.headerProblem(0, segment.sizeBytes) !== undefined) return undefined;
  return segment.scratchView.getInt32(PARTITION_LEADER_EPOCH_AT);
}
