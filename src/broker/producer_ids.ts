/**
 * Producer ids for InitProducerId, as Kafka's ProducerIdManager hands them out on one broker.
 *
 * Ids are int64 (bigint here) and unique across restarts: the allocator reserves ids in blocks of
 * {@link PRODUCER_ID_BLOCK_SIZE_DEFAULT} and persists the end of the reserved block (the
 * high-water mark) in `<dir>/producer_ids.json` before it hands out the first id of the block.
 * The file is written atomically (temp file, fsync, rename, fsync of the directory), so a crash
 * leaves either the old or the new mark; ids of a block left unused by a crash are skipped on the
 * next open, never reused. Only one write per block: most allocations touch no file.
 *
 * File format: `{"version":1,"nextBlockStart":"<decimal int64>"}` (a string: JSON numbers lose
 * precision past 2^53).
 *
 * Epochs start at 0. Transactions are not supported: an InitProducerId carrying a transactional
 * id is answered with {@link TRANSACTIONS_UNSUPPORTED_ERROR} (see {@link initProducerId}).
 *
 * File access goes through src/runtime/fs.ts (synchronous, like the log's checkpoints): one
 * allocation runs to completion on the event loop, so two InitProducerIds can never race for the
 * same block, and the fsync happens once per block.
 */
import { SluiceError } from "../errors.ts";
import { isNoSpace, joinPath, makeDir, readWholeFile, writeFileAtomic } from "../runtime/fs.ts";

/** Ids reserved per write of the high-water mark file (Kafka's ProducerIdManager: 1000). */
export const PRODUCER_ID_BLOCK_SIZE_DEFAULT = 1000;
/** The largest block size accepted: bounds how many ids one crash can skip. */
export const PRODUCER_ID_BLOCK_SIZE_MAX = 1_000_000;
/** Name of the high-water mark file inside the allocator's directory. */
export const PRODUCER_IDS_FILE = "producer_ids.json";
/** The largest producer id (int64 max); the allocator refuses to go past it. */
export const PRODUCER_ID_MAX = (1n << 63n) - 1n;
/** The epoch every newly allocated producer id starts with. */
export const PRODUCER_EPOCH_INITIAL = 0;
/** Bytes of the mark file read at most: it is a few dozen bytes, more means it is not ours. */
const PRODUCER_IDS_FILE_BYTES_MAX = 4096;
const FILE_VERSION = 1;

export interface ProducerIdAllocatorOptions {
  /** Ids reserved per file write; default {@link PRODUCER_ID_BLOCK_SIZE_DEFAULT}. */
  blockSize?: number;
}

export class ProducerIdAllocator {
  readonly dir: string;
  readonly path: string;
  readonly blockSize: bigint;
  /** The next id to hand out. */
  #next: bigint;
  /** Exclusive end of the reserved block: the value persisted in the file. */
  #reservedEnd: bigint;
  #blockWrites = 0;

  private constructor(dir: string, blockSize: bigint, start: bigint) {
    this.dir = dir;
    this.path = joinPath(dir, PRODUCER_IDS_FILE);
    this.blockSize = blockSize;
    this.#next = start;
    this.#reservedEnd = start;
  }

  /**
   * Opens the allocator whose mark file lives in `dir` (created if missing). The first id handed
   * out is the persisted mark: every id below it may have been given to a producer before.
   * Throws CORRUPT_LOG when the file exists but is not a mark this allocator wrote.
   */
  static open(dir: string, options: ProducerIdAllocatorOptions = {}): ProducerIdAllocator {
    const blockSize = options.blockSize ?? PRODUCER_ID_BLOCK_SIZE_DEFAULT;
    if (
      !Number.isSafeInteger(blockSize) || blockSize < 1 || blockSize > PRODUCER_ID_BLOCK_SIZE_MAX
    ) {
      throw new SluiceError(
        "INVALID_CONFIG",
        `producer id block size must be an integer in [1, ${PRODUCER_ID_BLOCK_SIZE_MAX}], not ${blockSize}`,
      );
    }
    makeDir(dir);
    const path = joinPath(dir, PRODUCER_IDS_FILE);
    const start = readMark(path);
    return new ProducerIdAllocator(dir, BigInt(blockSize), start);
  }

  /** The id the next {@link allocate} returns (for tests and metrics). */
  get nextId(): bigint {
    return this.#next;
  }

  /** Exclusive end of the block reserved on disk. */
  get reservedEnd(): bigint {
    return this.#reservedEnd;
  }

  /** How many times this instance rewrote the mark file. */
  get blockWrites(): number {
    return this.#blockWrites;
  }

  /**
   * A producer id never handed out before, by this process or an earlier one. Writes the mark
   * file (fsynced) only when the reserved block is used up; a failed write hands out nothing and
   * throws (STORAGE_ERROR, or INSUFFICIENT_STORAGE on a full disk), and the next call retries it.
   */
  allocate(): bigint {
    if (this.#next >= this.#reservedEnd) this.#reserveBlock();
    const id = this.#next;
    this.#next = id + 1n;
    return id;
  }

  #reserveBlock(): void {
    let end = this.#next + this.blockSize;
    if (end > PRODUCER_ID_MAX) end = PRODUCER_ID_MAX;
    if (end <= this.#next) {
      throw new SluiceError("INTERNAL", `producer ids are exhausted at ${this.#next}`);
    }
    const text = JSON.stringify({ version: FILE_VERSION, nextBlockStart: end.toString() });
    try {
      writeFileAtomic(this.path, new TextEncoder().encode(text + "\n"), this.dir);
    } catch (err) {
      throw new SluiceError(
        isNoSpace(err) ? "INSUFFICIENT_STORAGE" : "STORAGE_ERROR",
        `writing ${this.path}: ${err}`,
        { file: this.path },
        { cause: err },
      );
    }
    this.#reservedEnd = end;
    this.#blockWrites++;
  }
}

/** The persisted mark, 0 when the file does not exist. */
function readMark(path: string): bigint {
  const bytes = readWholeFile(path);
  if (bytes === undefined) return 0n;
  const corrupt = (why: string): never => {
    throw new SluiceError(
      "CORRUPT_LOG",
      `${path} is not a producer id mark (${why}); refusing to start, since reusing ids would ` +
        `let one producer's retries pass as another's; restore or remove the file by hand`,
      { file: path },
    );
  };
  if (bytes.length > PRODUCER_IDS_FILE_BYTES_MAX) corrupt(`${bytes.length} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    return corrupt(String(err));
  }
  const record = parsed as { version?: unknown; nextBlockStart?: unknown } | null;
  if (record === null || typeof record !== "object" || record.version !== FILE_VERSION) {
    return corrupt("no version 1");
  }
  const value = record.nextBlockStart;
  if (typeof value !== "string" || !/^[0-9]{1,19}$/.test(value)) {
    return corrupt(`nextBlockStart ${JSON.stringify(value)}`);
  }
  const mark = BigInt(value);
  if (mark > PRODUCER_ID_MAX) return corrupt(`nextBlockStart ${value} exceeds int64`);
  return mark;
}

/** A producer id and the epoch it starts at. */
export interface InitProducerIdResult {
  producerId: bigint;
  producerEpoch: number;
}

/**
 * InitProducerId for an idempotent producer on one broker: a fresh id at epoch 0. As in Kafka, a
 * request without a transactional id gets a new id even when it names its current producer id
 * and epoch (KIP-360): the client bumps an idempotent producer's epoch by itself. A transactional
 * id is refused with TRANSACTIONAL_ID_UNSUPPORTED (Sluice has no transaction coordinator),
 * allocating nothing. A failed mark write throws (see {@link ProducerIdAllocator.allocate}).
 */
export function initProducerId(
  allocator: ProducerIdAllocator,
  transactionalId: string | null | undefined,
): InitProducerIdResult {
  refuseTransactionalId(transactionalId);
  return { producerId: allocator.allocate(), producerEpoch: PRODUCER_EPOCH_INITIAL };
}

/** Throws TRANSACTIONAL_ID_UNSUPPORTED for a transactional id (Sluice has no transactions). */
export function refuseTransactionalId(transactionalId: string | null | undefined): void {
  if (transactionalId !== null && transactionalId !== undefined) {
    throw new SluiceError(
      "TRANSACTIONAL_ID_UNSUPPORTED",
      `transactional id ${
        JSON.stringify(transactionalId.slice(0, 200))
      }: transactions are not supported`,
    );
  }
}
