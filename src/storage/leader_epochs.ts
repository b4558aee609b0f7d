/**
 * A partition's leader-epoch cache: for each leader epoch, the first offset written in it (the
 * semantics of Kafka's LeaderEpochFileCache, our own code). Consumers and followers ask it for an
 * epoch's end offset (OffsetForLeaderEpoch) to find where their copy of the log diverges.
 *
 * Entries are strictly increasing in both epoch and start offset. {@link assign} adds an entry
 * when a larger epoch starts (a new leader, or the first append of a log), removing any entry it
 * contradicts; the log end moving back (a torn tail cut at recovery) drops the entries that start
 * at or past it ({@link truncateFromEnd}); the log start moving forward (retention) drops those
 * wholly before it and moves the last of them to the new start ({@link truncateFromStart}).
 *
 * On disk, beside the segments: `leader-epoch-checkpoint`, Kafka's text layout (so its tools can
 * read it), ASCII, one item per line, each line ended by "\n":
 *
 *   0                 <- format version
 *   2                 <- number of entries
 *   0 0               <- epoch, space, start offset; ascending
 *   3 1200
 *
 * Written whole by tmp + fsync + rename + directory fsync (runtime/fs.ts writeFileAtomic), so a
 * crash leaves the old or the new file. An assignment is written before the batch that starts the
 * epoch (PartitionLog.append), so the file never lacks an epoch the log holds; it may hold entries
 * past a torn tail or before the log start, which the next open removes. A missing or unreadable
 * file (bad version, count, line, or entries not increasing) is rebuilt from the batches' own
 * partitionLeaderEpoch fields (PartitionLog.open).
 */
import { baseOffsetAt, batchSizeAt, PARTITION_LEADER_EPOCH_AT } from "../record/record_batch.ts";
import { joinPath, readWholeFile, writeFileAtomic } from "../runtime/fs.ts";
import type { Segment } from "./segment.ts";

export const LEADER_EPOCH_FILE = "leader-epoch-checkpoint";
const FORMAT_VERSION = 0;

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

/** Parses the file's text; undefined (with why) when it is not a valid checkpoint. */
export function parseLeaderEpochs(text: string): EpochEntry[] | string {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  if (lines.length < 2) return "shorter than its header";
  if (lines[0] !== String(FORMAT_VERSION)) return `unknown version ${JSON.stringify(lines[0])}`;
  if (!/^\d+$/.test(lines[1])) return `bad entry count ${JSON.stringify(lines[1])}`;
  const count = Number(lines[1]);
  if (lines.length - 2 !== count) return `${count} entries announced, ${lines.length - 2} found`;
  const entries: EpochEntry[] = [];
  for (let i = 2; i < lines.length; i++) {
    const m = /^(\d+) (\d+)$/.exec(lines[i]);
    const epoch = m === null ? NaN : Number(m[1]);
    const startOffset = m === null ? NaN : Number(m[2]);
    if (!Number.isSafeInteger(epoch) || !Number.isSafeInteger(startOffset) || epoch > 0x7fffffff) {
      return `bad entry ${JSON.stringify(lines[i])} on line ${i + 1}`;
    }
    const prev = entries[entries.length - 1];
    if (prev !== undefined && (epoch <= prev.epoch || startOffset <= prev.startOffset)) {
      return `entries not increasing at line ${i + 1}`;
    }
    entries.push({ epoch, startOffset });
  }
  return entries;
}

export function formatLeaderEpochs(entries: readonly EpochEntry[]): string {
  let text = `${FORMAT_VERSION}\n${entries.length}\n`;
  for (const e of entries) text += `${e.epoch} ${e.startOffset}\n`;
  return text;
}

export class LeaderEpochCache {
  readonly path: string;
  #entries: EpochEntry[];

  constructor(readonly dir: string, entries: readonly EpochEntry[] = []) {
    this.path = joinPath(dir, LEADER_EPOCH_FILE);
    this.#entries = [...entries];
  }

  /** The file's entries; a string saying why when it is missing or not a valid checkpoint. */
  static read(dir: string): EpochEntry[] | string {
    const bytes = readWholeFile(joinPath(dir, LEADER_EPOCH_FILE));
    if (bytes === undefined) return "missing";
    return parseLeaderEpochs(new TextDecoder().decode(bytes));
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
   * Records that `epoch` starts at `startOffset`, in memory (persist() writes it). Entries with an
   * epoch >= `epoch` or a start >= `startOffset` contradict it and go. Returns whether anything
   * changed: the latest epoch again at its own start or later changes nothing.
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

  /** Writes the entries crash-safely (see the module doc). Throws the file system's error. */
  persist(): void {
    writeFileAtomic(
      this.path,
      new TextEncoder().encode(formatLeaderEpochs(this.#entries)),
      this.dir,
    );
  }
}

function undefinedEnd(): EpochEndOffset {
  return { leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
}

/**
 * Rebuilds `cache` from the batches of `segments` (their partitionLeaderEpoch, each a batch header
 * read alone): for a log whose checkpoint file is missing or damaged. Batches without an epoch
 * (-1: written before epochs were stamped) add nothing; a header that does not fit ends that
 * segment's walk (recovery reported it).
 */
export function rebuildLeaderEpochs(segments: readonly Segment[], cache: LeaderEpochCache): void {
  for (const segment of segments) {
    const dv = segment.scratchView;
    let position = 0;
    while (position < segment.sizeBytes) {
      if (segment.headerProblem(position, segment.sizeBytes) !== undefined) break;
      const epoch = dv.getInt32(PARTITION_LEADER_EPOCH_AT);
      if (epoch > cache.latestEpoch) cache.assign(epoch, baseOffsetAt(dv, 0));
      position += batchSizeAt(dv, 0);
    }
  }
}
