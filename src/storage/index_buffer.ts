/**
 * The shared body of the offset and time indexes: fixed-width big-endian entries in one growable
 * byte array whose used prefix is, byte for byte, the index file (memory-mapped style, without
 * mmap, which neither Deno nor Bun offers). Entries are appended in memory on the hot path and
 * written to the file in one write when the log flushes, checkpoints, rolls or closes; an index
 * file that is missing or fails its sanity check is rebuilt from the log, the only source of truth.
 */
import { assert } from "../errors.ts";
import {
  closeFile,
  type FileHandle,
  fileSize,
  openReadWrite,
  syncDataNow,
  truncateFile,
  writeAt,
} from "../runtime/fs.ts";

const INITIAL_ENTRIES = 64;

/** Opens the index file for a persist (closed right after): the log's descriptor cache's way. */
export type OpenIndexFile = (path: string) => FileHandle;

export class IndexBuffer {
  #bytes: Uint8Array;
  protected dv: DataView;
  #entries = 0;
  /** Entries already in the file; the file never holds more than this after persist(). */
  #persistedEntries = 0;
  /** The file holds entries beyond #persistedEntries that truncation dropped from memory. */
  #fileNeedsTruncate = false;
  #needsSync = false;
  /** The index had no file when loaded. */
  readonly fileMissing: boolean;
  /** Bytes after the last whole entry in the loaded file: non-zero means a damaged file. */
  readonly trailingBytes: number;

  constructor(
    readonly path: string,
    readonly entryBytes: number,
    readonly maxEntries: number,
    image?: Uint8Array,
    readonly openFile: OpenIndexFile = openReadWrite,
  ) {
    assert(maxEntries > 0, "an index holds at least one entry");
    const entries = image === undefined ? 0 : Math.floor(image.length / entryBytes);
    this.fileMissing = image === undefined;
    this.trailingBytes = image === undefined ? 0 : image.length % entryBytes;
    // A missing file is written at the next persist, even with no entries.
    this.#needsSync = image === undefined;
    this.#bytes = new Uint8Array(Math.max(INITIAL_ENTRIES, entries) * entryBytes);
    if (image !== undefined) this.#bytes.set(image.subarray(0, entries * entryBytes));
    this.dv = new DataView(this.#bytes.buffer);
    this.#entries = entries;
    this.#persistedEntries = entries;
  }

  get entries(): number {
    return this.#entries;
  }

  get isFull(): boolean {
    return this.#entries >= this.maxEntries;
  }

  /** The index file's image: the used prefix of the array. */
  image(): Uint8Array {
    return this.#bytes.subarray(0, this.#entries * this.entryBytes);
  }

  /** Byte position of a new entry, growing the array by doubling up to maxEntries. */
  protected reserveEntry(): number {
    assert(!this.isFull, `index ${this.path} is full (${this.maxEntries} entries)`);
    const at = this.#entries * this.entryBytes;
    if (at + this.entryBytes > this.#bytes.length) {
      const grown = new Uint8Array(
        Math.min(this.#bytes.length * 2, this.maxEntries * this.entryBytes),
      );
      grown.set(this.#bytes);
      this.#bytes = grown;
      this.dv = new DataView(grown.buffer);
    }
    this.#entries++;
    return at;
  }

  /** Keeps the first `entries` entries. */
  protected truncateEntries(entries: number): void {
    if (entries >= this.#entries) return;
    this.#entries = entries;
    if (entries < this.#persistedEntries) {
      this.#persistedEntries = entries;
      this.#fileNeedsTruncate = true;
    }
  }

  /** Number of entries for which `before(i)` holds, for a predicate true on a prefix. */
  protected countPrefix(before: (i: number) => boolean): number {
    let lo = 0;
    let hi = this.#entries;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(mid)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get hasUnpersisted(): boolean {
    return this.#entries > this.#persistedEntries || this.#fileNeedsTruncate || this.#needsSync;
  }

  /** Writes entries not yet in the file (one write), and fsyncs it when `sync`. */
  persist(sync: boolean): void {
    if (!this.hasUnpersisted) return;
    const file: FileHandle = this.openFile(this.path);
    try {
      const from = this.#persistedEntries * this.entryBytes;
      const to = this.#entries * this.entryBytes;
      if (to > from) writeAt(file, this.#bytes.subarray(from, to), from);
      if (this.#fileNeedsTruncate || fileSize(file) > to) truncateFile(file, to);
      this.#persistedEntries = this.#entries;
      this.#fileNeedsTruncate = false;
      if (sync) {
        syncDataNow(file);
        this.#needsSync = false;
      } else {
        this.#needsSync = true;
      }
    } finally {
      closeFile(file);
    }
  }
}
