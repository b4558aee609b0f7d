/**
 * Segment-file descriptors, bounded: one LRU cache per process shared by every log, so 20,000
 * partitions need not hold 20,000 descriptors. A segment holds a {@link LogFile} (a path and
 * perhaps a descriptor); the descriptor is opened on first use and closed when the cache needs
 * room for another, least recently used first.
 *
 * - Capacity: `logFilesOpenMax(RLIMIT_NOFILE soft)` from src/limits.ts (half the process limit,
 *   at least 16, at most LOG_FILES_OPEN_CAP); {@link sharedLogFiles} reads the limit once.
 * - A descriptor with an fsync in flight is pinned: it leaves the LRU list and is never closed
 *   until the fsync ends (a segment closed meanwhile closes it then). At most
 *   LOG_FILES_PINNED_SHARE of the capacity is pinned at once; one more fsync waits its turn, so a
 *   synchronous read or append always finds an unpinned descriptor to close for its own.
 * - Synchronous users call {@link LogFile.handle} right before each pread/pwrite and never hold
 *   the handle across another file's handle() (which may close it); the event loop does the rest.
 * - EMFILE/ENFILE on open (descriptors used elsewhere in the process) closes the least recently
 *   used cached descriptor and retries; when none is left it is TOO_MANY_OPEN_FILES, naming the
 *   file, and nothing stays half-open.
 *
 * Closing and reopening a file between a write and its fdatasync is safe on Linux: fdatasync
 * flushes the inode's dirty pages whichever descriptor wrote them, and a write-back error is
 * reported to the next fsync of the file.
 */
import { SluiceError } from "../errors.ts";
import { LOG_FILES_PINNED_SHARE, logFilesOpenMax } from "../limits.ts";
import { descriptorLimit } from "../runtime/fd_limit.ts";
import {
  closeFile,
  errorCode,
  type FileHandle,
  isOutOfDescriptors,
  openReadWrite,
  syncData,
} from "../runtime/fs.ts";

/** Opens retried after closing a cached descriptor on EMFILE, before giving up. */
const EMFILE_RETRIES_MAX = 16;

/** One segment file: its path, and a descriptor while the cache keeps one open. */
export class LogFile {
  #handle: FileHandle | undefined;
  #pins = 0;
  #closed = false;
  /** LRU links, owned by {@link LogFiles} (set only while open and unpinned). */
  newer: LogFile | undefined;
  older: LogFile | undefined;
  inLru = false;

  constructor(readonly cache: LogFiles, readonly path: string) {}

  get isOpen(): boolean {
    return this.#handle !== undefined;
  }

  get isPinned(): boolean {
    return this.#pins > 0;
  }

  /**
   * The open descriptor (opened now if the cache had closed it): valid until the next handle()
   * of another file. Throws TOO_MANY_OPEN_FILES when no descriptor can be had.
   */
  handle(): FileHandle {
    const h = this.#handle;
    if (h !== undefined) {
      if (this.inLru) this.cache.touch(this);
      return h;
    }
    if (this.#closed) {
      throw new SluiceError("LOG_CLOSED", `segment file ${this.path} is closed`, {
        file: this.path,
      });
    }
    const opened = this.cache.openFor(this);
    this.#handle = opened;
    this.cache.added(this);
    return opened;
  }

  /**
   * fdatasync with the descriptor pinned open until it ends. With a pin slot free the pin is
   * taken before this returns; otherwise once an fsync elsewhere ends.
   */
  sync(): Promise<void> {
    if (this.cache.tryPinSlot()) return this.#syncPinned();
    return this.cache.awaitPinSlot().then(() => this.#syncPinned());
  }

  /** Runs synchronously up to the fdatasync: the pin is in place when sync() returns. */
  async #syncPinned(): Promise<void> {
    let handle: FileHandle;
    try {
      handle = this.handle();
    } catch (err) {
      this.cache.releasePinSlot();
      throw err;
    }
    if (this.#pins++ === 0) this.cache.pinned(this);
    else this.cache.releasePinSlot(); // already pinned: its slot is the first pin's
    try {
      await syncData(handle);
    } finally {
      if (--this.#pins === 0) {
        this.cache.unpinned(this);
        if (this.#closed) this.#closeNow();
        this.cache.releasePinSlot();
      }
    }
  }

  /** Closes the descriptor now (called by the cache to make room; never while pinned). */
  evict(): void {
    this.#closeNow();
  }

  /** No further use: closes the descriptor (once its fsync ends, if one is in flight). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pins === 0) this.#closeNow();
  }

  #closeNow(): void {
    const h = this.#handle;
    if (h === undefined) return;
    this.#handle = undefined;
    this.cache.removed(this);
    try {
      closeFile(h);
    } catch {
      // Linux releases the descriptor even when close reports an error; fsync reports data loss.
    }
  }
}

/** The bounded LRU of open segment-file descriptors. */
export class LogFiles {
  #capacity: number;
  #open = 0;
  #pinnedFiles = 0;
  /** Pin slots handed out (files pinned plus fsyncs about to pin). */
  #pinSlots = 0;
  #pinWaiters: (() => void)[] = [];
  /** Most recently used end. */
  #newest: LogFile | undefined;
  /** Least recently used end: the next to close. */
  #oldest: LogFile | undefined;

  constructor(capacity: number) {
    this.#capacity = Math.max(2, Math.floor(capacity));
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Descriptors open now (at most capacity, pinned included). */
  get openCount(): number {
    return this.#open;
  }

  get pinnedCount(): number {
    return this.#pinnedFiles;
  }

  /** Most fsyncs pinning a descriptor at once. */
  get pinnedMax(): number {
    return Math.max(1, Math.floor(this.#capacity * LOG_FILES_PINNED_SHARE));
  }

  /** Changes the capacity; closes the least recently used descriptors above it. */
  setCapacity(capacity: number): void {
    this.#capacity = Math.max(2, Math.floor(capacity));
    while (this.#open > this.#capacity && this.#evictOldest()) {
      // closing one at a time
    }
  }

  /** A file of this cache; no descriptor is opened until it is used. */
  file(path: string): LogFile {
    return new LogFile(this, path);
  }

  /** Closes every open descriptor not pinned by an fsync; returns how many. */
  closeIdle(): number {
    let n = 0;
    while (this.#evictOldest()) n++;
    return n;
  }

  /**
   * Opens a descriptor outside the cache (index writes, closed by the caller right after): on
   * EMFILE a cached descriptor is closed to make room.
   */
  openTransient(path: string): FileHandle {
    return this.#openRetrying(path);
  }

  /** @internal LogFile.handle(): a descriptor for `file`, making room first. */
  openFor(file: LogFile): FileHandle {
    while (this.#open >= this.#capacity) {
      if (!this.#evictOldest()) {
        throw tooManyOpenFiles(file.path, `${this.#open} segment files are open and pinned`);
      }
    }
    return this.#openRetrying(file.path);
  }

  #openRetrying(path: string): FileHandle {
    for (let attempt = 0;; attempt++) {
      try {
        return openReadWrite(path);
      } catch (err) {
        if (!isOutOfDescriptors(err)) throw err;
        if (attempt >= EMFILE_RETRIES_MAX || !this.#evictOldest()) {
          throw tooManyOpenFiles(path, `${errorCode(err)} with ${this.#open} segment files open`);
        }
      }
    }
  }

  /** @internal */
  added(file: LogFile): void {
    this.#open++;
    this.#pushNewest(file);
  }

  /** @internal */
  removed(file: LogFile): void {
    this.#open--;
    if (file.inLru) this.#unlink(file);
  }

  /** @internal Moves `file` to the most recently used end. */
  touch(file: LogFile): void {
    if (this.#newest === file) return;
    this.#unlink(file);
    this.#pushNewest(file);
  }

  /** @internal */
  pinned(file: LogFile): void {
    this.#pinnedFiles++;
    if (file.inLru) this.#unlink(file);
  }

  /** @internal */
  unpinned(file: LogFile): void {
    this.#pinnedFiles--;
    if (file.isOpen) this.#pushNewest(file);
  }

  /** @internal Takes a pin slot when one is free (at most pinnedMax at once). */
  tryPinSlot(): boolean {
    if (this.#pinSlots >= this.pinnedMax) return false;
    this.#pinSlots++;
    return true;
  }

  /** @internal Resolves once a pin slot passes to this caller. */
  awaitPinSlot(): Promise<void> {
    // Bounded by the fsyncs the logs run: one per dirty segment per flush round.
    return new Promise((resolve) => this.#pinWaiters.push(resolve));
  }

  /** @internal */
  releasePinSlot(): void {
    const next = this.#pinWaiters.shift();
    if (next !== undefined) next(); // the slot passes on
    else this.#pinSlots--;
  }

  #evictOldest(): boolean {
    const victim = this.#oldest;
    if (victim === undefined) return false;
    victim.evict();
    return true;
  }

  #pushNewest(file: LogFile): void {
    file.older = this.#newest;
    file.newer = undefined;
    if (this.#newest !== undefined) this.#newest.newer = file;
    this.#newest = file;
    if (this.#oldest === undefined) this.#oldest = file;
    file.inLru = true;
  }

  #unlink(file: LogFile): void {
    if (file.newer !== undefined) file.newer.older = file.older;
    else this.#newest = file.older;
    if (file.older !== undefined) file.older.newer = file.newer;
    else this.#oldest = file.newer;
    file.newer = undefined;
    file.older = undefined;
    file.inLru = false;
  }
}

function tooManyOpenFiles(path: string, why: string): SluiceError {
  return new SluiceError(
    "TOO_MANY_OPEN_FILES",
    `no file descriptor left to open ${path}: ${why}`,
    { file: path },
  );
}

let shared: LogFiles | undefined;

/**
 * The process's cache, used by every log not given its own: capacity logFilesOpenMax() of the
 * RLIMIT_NOFILE soft limit, read once from /proc/self/limits (1024 assumed elsewhere).
 */
export function sharedLogFiles(): LogFiles {
  shared ??= new LogFiles(logFilesOpenMax(descriptorLimit()));
  return shared;
}
