/**
 * The cleaner's offset map (Kafka's SkimpyOffsetMap): key -> the latest offset at which the
 * dirty part of a log holds it, in a fixed amount of memory (log.cleaner.dedupe.buffer.size).
 *
 * Layout: an open-addressing table of `slots` entries of six int32 words, 24 bytes as Kafka's,
 * in one array so that a probe touches one place: the 16-byte digest of the key (two
 * HalfSipHash-1-3 under a random key drawn again at every {@link OffsetMap.clear}, siphash.ts),
 * then the offset as its high 32-bit half plus one (0: an empty slot, so that a new table, zeroed as
 * allocated, needs no pass over it) and its low half. The key itself is never
 * kept. `slots` is the largest prime that fits, so that double hashing (first slot from digest
 * word 0, step from word 1, each scaled to the table by a multiplication, not a remainder) visits
 * every slot. The map counts as full at CLEANER_MAP_LOAD_FACTOR of its slots, where an
 * unsuccessful lookup takes about ten probes; the cleaner then stops mapping and cleans only up to
 * where the map got (the rest on the next run).
 *
 * Nothing allocates per key: digests go through scratch arrays. Callers map and look up a batch's
 * keys in chunks ({@link OffsetMap.prepare}): digests first, then the probes.
 */
import { SluiceError } from "../../errors.ts";
import {
  CLEANER_DEDUPE_BUFFER_BYTES_MIN,
  CLEANER_MAP_LOAD_FACTOR,
  CLEANER_SUPERSEDED_OFFSETS_MAX,
} from "../../limits.ts";
import { HalfSipHash128 } from "./siphash.ts";

/** Bytes of one entry: the 16-byte digest and the 8-byte offset. */
export const OFFSET_MAP_ENTRY_BYTES = 24;
/** Keys one {@link OffsetMap.prepare} digests at most (the callers' chunk of a batch's keys). */
export const OFFSET_MAP_PREPARED_MAX = 128;
/** Int32 words of one entry. */
const WORDS = OFFSET_MAP_ENTRY_BYTES / 4;
const TWO_32 = 0x1_0000_0000;

export class OffsetMap {
  /** Entries the table holds (a prime). */
  readonly slots: number;
  /** Entries after which the map is full ({@link isFull}). */
  readonly maxEntries: number;
  readonly #table: Int32Array;
  readonly #digest = new Int32Array(4);
  readonly #prepared = new Int32Array(4 * OFFSET_MAP_PREPARED_MAX);
  /** Where {@link prepare}'s reads go, so that they are not optimized away. */
  #touch = 0;
  /** Bit i: offset supersededFrom + i was mapped, and its key mapped again later. */
  #superseded = new Int32Array(0);
  #supersededFrom = 0;
  #supersededEnd = 0;
  /** Where the table still needs emptying from (its length: empty). */
  #emptyFrom = Infinity;
  #hash: HalfSipHash128;
  #entries = 0;
  #latestOffset = -1;
  /** Lookups and probes since the last clear, for the stats (probes / lookups near 1 is good). */
  lookups = 0;
  probes = 0;

  constructor(memoryBytes: number) {
    if (!Number.isSafeInteger(memoryBytes) || memoryBytes < CLEANER_DEDUPE_BUFFER_BYTES_MIN) {
      throw new SluiceError(
        "INVALID_CONFIG",
        `log.cleaner.dedupe.buffer.size = ${memoryBytes}: ` +
          `want at least ${CLEANER_DEDUPE_BUFFER_BYTES_MIN}`,
        { key: "log.cleaner.dedupe.buffer.size" },
      );
    }
    this.slots = largestPrimeAtMost(Math.floor(memoryBytes / OFFSET_MAP_ENTRY_BYTES));
    this.maxEntries = Math.max(1, Math.floor(this.slots * CLEANER_MAP_LOAD_FACTOR));
    this.#table = new Int32Array(this.slots * WORDS);
    this.#hash = new HalfSipHash128(randomKey());
  }

  /** Keys mapped. */
  get size(): number {
    return this.#entries;
  }

  get isFull(): boolean {
    return this.#entries >= this.maxEntries;
  }

  /** Share of the slots in use. */
  get utilization(): number {
    return this.#entries / this.slots;
  }

  /** The last offset the map covers: records past it were not mapped (-1 when none were). */
  get latestOffset(): number {
    return this.#latestOffset;
  }

  /** Moves {@link latestOffset} up to `offset` (never down). */
  updateLatestOffset(offset: number): void {
    if (offset > this.#latestOffset) this.#latestOffset = offset;
  }

  /**
   * Empties the map, with a new hash key; no offsets tracked ({@link trackSuperseded}). With
   * `inSteps`, the table is emptied by {@link emptySome} calls, which must end before any put.
   */
  clear(inSteps = false): void {
    // No entry: no slot was ever written. Else the table is emptied here, or `inSteps` by the
    // caller ({@link emptySome}) before it maps anything.
    if (this.#entries > 0) this.#emptyFrom = 0;
    if (!inSteps) this.emptySome(Infinity);

    this.#supersededFrom = 0;
    this.#supersededEnd = 0;
    this.#entries = 0;
    this.#latestOffset = -1;
    this.lookups = 0;
    this.probes = 0;
    this.#hash = new HalfSipHash128(randomKey());
  }

  /**
   * From now on (until {@link clear}), notes which offsets in [from, to) a later {@link put} of
   * the same key supersedes, for the first CLEANER_SUPERSEDED_OFFSETS_MAX of them: one bit each,
   * in an array reused from clean to clean.
   */
  trackSuperseded(from: number, to: number): void {
    const end = Math.max(from, Math.min(to, from + CLEANER_SUPERSEDED_OFFSETS_MAX));
    const words = Math.ceil((end - from) / 32);
    if (this.#superseded.length < words) {
      this.#superseded = new Int32Array(words);
    } else {
      this.#superseded.fill(0, 0, words);
    }
    this.#supersededFrom = from;
    this.#supersededEnd = end;
  }

  /** Whether {@link isSuperseded} knows about `offset`. */
  tracks(offset: number): boolean {
    return offset >= this.#supersededFrom && offset < this.#supersededEnd;
  }

  /**
   * Whether the record mapped at `offset` (a tracked one) has a key that was mapped again at a
   * later offset: what `offset < get(key)` says, without digesting the key.
   */
  isSuperseded(offset: number): boolean {
    const i = offset - this.#supersededFrom;
    return (this.#superseded[i >>> 5] & (1 << (i & 31))) !== 0;
  }

  /**
   * Maps the key `bytes[start..start+length)` to `offset` (the key's latest so far: callers map
   * in offset order). The caller checks {@link isFull} first.
   */
  put(bytes: Uint8Array, start: number, length: number, offset: number): void {
    this.#hash.hash(bytes, start, length, this.#digest, 0);
    this.#put(this.#probe(this.#digest, 0), this.#digest, 0, offset);
  }

  /** The offset mapped for the key `bytes[start..start+length)`, or -1. */
  get(bytes: Uint8Array, start: number, length: number): number {
    this.#hash.hash(bytes, start, length, this.#digest, 0);
    return this.#offsetAt(this.#probe(this.#digest, 0));
  }

  /**
   * Digests up to OFFSET_MAP_PREPARED_MAX keys at once, key i being
   * `bytes[keyStart[picks[from + i]]..+keyLength[picks[from + i]])` for i < `to - from`, for
   * {@link putPrepared} and {@link getPrepared}; and reads the first slot of each, so that the
   * table's cache misses (a lookup is one random access into up to hundreds of MiB) overlap
   * instead of coming one after another: about twice as fast as one key at a time.
   */
  prepare(
    bytes: Uint8Array,
    keyStart: Int32Array,
    keyLength: Int32Array,
    picks: Int32Array,
    from: number,
    to: number,
  ): void {
    const n = to - from;
    if (n > OFFSET_MAP_PREPARED_MAX) throw new Error("prepare: too many keys at once");
    const digests = this.#prepared;
    const hash = this.#hash;
    for (let i = 0; i < n; i++) {
      const r = picks[from + i];
      hash.hash(bytes, keyStart[r], keyLength[r], digests, 4 * i);
    }
    const t = this.#table;
    const slots = this.slots;
    let touch = 0;
    for (let i = 0; i < n; i++) {
      touch ^= t[firstSlot(digests[4 * i], slots) * WORDS + 4];
    }
    this.#touch = touch;
  }

  /** {@link put} of prepared key `i` (of the last {@link prepare}). */
  putPrepared(i: number, offset: number): void {
    this.#put(this.#probe(this.#prepared, 4 * i), this.#prepared, 4 * i, offset);
  }

  /** {@link get} of prepared key `i` (of the last {@link prepare}). */
  getPrepared(i: number): number {
    return this.#offsetAt(this.#probe(this.#prepared, 4 * i));
  }

  #put(at: number, d: Int32Array, i: number, offset: number): void {
    const t = this.#table;
    const hi = t[at + 4] - 1;
    if (hi < 0) {
      t[at] = d[i];
      t[at + 1] = d[i + 1];
      t[at + 2] = d[i + 2];
      t[at + 3] = d[i + 3];
      this.#entries++;
    } else {
      // The offset this put supersedes, if tracked.
      const old = hi * TWO_32 + (t[at + 5] >>> 0);
      if (old < offset && old >= this.#supersededFrom && old < this.#supersededEnd) {
        const bit = old - this.#supersededFrom;
        this.#superseded[bit >>> 5] |= 1 << (bit & 31);
      }
    }
    t[at + 4] = Math.floor(offset / TWO_32) + 1;
    t[at + 5] = offset % TWO_32;
    this.updateLatestOffset(offset);
  }

  #offsetAt(at: number): number {
    const hi = this.#table[at + 4] - 1;
    return hi < 0 ? -1 : hi * TWO_32 + (this.#table[at + 5] >>> 0);
  }

  /**
   * Empties up to `words` more of the table after a {@link clear} called `inSteps`: true once
   * it is all empty (a native fill of up to 128 MiB, of pages touched for the first time on a
   * first clean: up to a second, in steps between which the event loop runs).
   */
  emptySome(words: number): boolean {
    const t = this.#table;
    if (this.#emptyFrom >= t.length) return true;
    const to = Math.min(t.length, this.#emptyFrom + words);
    t.fill(0, this.#emptyFrom, to);
    this.#emptyFrom = to;
    return to >= t.length;
  }

  /** The table position of digest `d[i..i+4)`'s slot, or of the empty slot where it would go. */
  #probe(d: Int32Array, i: number): number {
    const d0 = d[i];
    const d1 = d[i + 1];
    const d2 = d[i + 2];
    const d3 = d[i + 3];
    const slots = this.slots;
    let slot = firstSlot(d0, slots);
    const step = 1 + Math.floor(((d1 >>> 0) * (slots - 1)) / TWO_32);
    const t = this.#table;
    for (let probe = 1;; probe++) {
      const at = slot * WORDS;
      if (
        t[at + 4] === 0 ||
        (t[at] === d0 && t[at + 1] === d1 && t[at + 2] === d2 && t[at + 3] === d3)
      ) {
        this.lookups++;
        this.probes += probe;
        return at;
      }
      // Unreachable while the map is filled below its slots (maxEntries < slots).
      if (probe >= slots) throw new Error("offset map has no free slot");
      slot += step;
      if (slot >= slots) slot -= slots;
    }
  }
}

/**
 * A digest's first slot by multiply-shift, exact in doubles (2^32 * slots < 2^53): a `%` of an
 * unsigned 32-bit value is a floating-point remainder in V8, a call each time. The step of double
 * hashing comes from the next word the same way.
 */
function firstSlot(d0: number, slots: number): number {
  return Math.floor(((d0 >>> 0) * slots) / TWO_32);
}

function randomKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(16));
}

/** The largest prime <= n (n >= 2); trial division, once per map. */
export function largestPrimeAtMost(n: number): number {
  for (let p = Math.max(2, n); p > 2; p--) {
    if (isPrime(p)) return p;
  }
  return 2;
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) {
    if (n % d === 0) return false;
  }
  return true;
}
