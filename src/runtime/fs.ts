/**
 * File access for the storage layer. node:fs is implemented by Deno and Bun alike, so this module
 * is the single place that touches the file system; nothing above it imports node:fs or Deno.*.
 *
 * Writes and reads are positional (pwrite/pread) and synchronous: an append or a page-cache read of
 * up to a few MiB costs less than the thread-pool hop of an async call (measured: 1 MiB pwrite
 * 3-5 GB/s, pread 8-20 GB/s in Deno 2.9 on this machine kind). fsync, which waits for the disk,
 * is asynchronous so one flush can cover many appends (group commit).
 */
import * as fs from "node:fs";

/**
 * A file-system failure that names its file: `<op> <path>: <the OS's message>`. It keeps the OS
 * error's `code` (ENOSPC, EMFILE, ...) so callers still classify it; the original is its cause.
 * Every function here throws these, never a bare OS error (whose message may name no file).
 */
export class FileError extends Error {
  override readonly name = "FileError";
  readonly code: string | undefined;
  constructor(readonly op: string, readonly path: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(why.includes(path) ? `${op}: ${why}` : `${op} ${path}: ${why}`, { cause });
    this.code = errorCode(cause);
  }
}

/** Runs `fn`, turning what it throws into a {@link FileError} naming `op` and `path`. */
function named<T>(op: string, path: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw err instanceof FileError ? err : new FileError(op, path, err);
  }
}

export interface FileHandle {
  readonly path: string;
  readonly fd: number;
}

/** Opens (creating if needed) a file for positional reads and writes. */
export function openReadWrite(path: string): FileHandle {
  const flags = fs.constants.O_RDWR | fs.constants.O_CREAT;
  return { path, fd: named("open", path, () => fs.openSync(path, flags, 0o644)) };
}

export function closeFile(file: FileHandle): void {
  named("close", file.path, () => fs.closeSync(file.fd));
}

export function fileSize(file: FileHandle): number {
  return named("fstat", file.path, () => fs.fstatSync(file.fd).size);
}

/** Writes all of `bytes` at `position`; throws on any error (a short write is retried). */
export function writeAt(file: FileHandle, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    let n: number;
    try {
      n = fs.writeSync(file.fd, bytes, done, bytes.length - done, position + done);
    } catch (err) {
      throw new FileError(`write at byte ${position + done} of`, file.path, err);
    }
    if (n <= 0) throw new Error(`write returned ${n} at ${file.path}:${position + done}`);
    done += n;
  }
}

/** Reads into `into` from `position` until it is full or the file ends; returns bytes read. */
export function readAt(file: FileHandle, into: Uint8Array, position: number): number {
  let done = 0;
  while (done < into.length) {
    let n: number;
    try {
      n = fs.readSync(file.fd, into, done, into.length - done, position + done);
    } catch (err) {
      throw new FileError(`read at byte ${position + done} of`, file.path, err);
    }
    if (n === 0) break;
    done += n;
  }
  return done;
}

export function truncateFile(file: FileHandle, length: number): void {
  named(`truncate to ${length} bytes`, file.path, () => fs.ftruncateSync(file.fd, length));
}

/** fdatasync: the file's bytes reach the disk; resolves when the disk acknowledged them. */
export function syncData(file: FileHandle): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.fdatasync(
      file.fd,
      (err) => (err ? reject(new FileError("fdatasync", file.path, err)) : resolve()),
    );
  });
}

export function syncDataNow(file: FileHandle): void {
  named("fdatasync", file.path, () => fs.fdatasyncSync(file.fd));
}

/** fsyncs a directory so that files created, renamed or deleted in it survive a power loss. */
export function syncDir(path: string): void {
  const fd = named("open directory", path, () => fs.openSync(path, fs.constants.O_RDONLY));
  try {
    named("fsync directory", path, () => fs.fsyncSync(fd));
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncAsync(fd: number, op: string, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.fsync(fd, (err) => (err ? reject(new FileError(op, path, err)) : resolve()));
  });
}

/** syncDir with the fsync off the event loop (the runtime's thread pool). */
export async function syncDirAsync(path: string): Promise<void> {
  const fd = named("open directory", path, () => fs.openSync(path, fs.constants.O_RDONLY));
  try {
    await fsyncAsync(fd, "fsync directory", path);
  } finally {
    fs.closeSync(fd);
  }
}

/** writeFileAtomic with its two fsyncs (the file's, the directory's) off the event loop. */
export async function writeFileAtomicAsync(
  path: string,
  bytes: Uint8Array,
  dir: string,
): Promise<void> {
  const tmp = `${path}.tmp`;
  const fd = named("create", tmp, () => fs.openSync(tmp, "w", 0o644));
  try {
    named("write", tmp, () => {
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, done);
    });
    await fsyncAsync(fd, "fsync", tmp);
  } catch (err) {
    fs.closeSync(fd);
    try {
      fs.rmSync(tmp, { force: true }); // nothing half-written stays behind
    } catch {
      // the write error is the one to report
    }
    throw err;
  }
  fs.closeSync(fd);
  named(`rename to ${path}`, tmp, () => fs.renameSync(tmp, path));
  await syncDirAsync(dir);
}

export function makeDir(path: string): void {
  named("mkdir", path, () => fs.mkdirSync(path, { recursive: true }));
}

/**
 * mkdir of one level (its parent exists): no stat per path component, as `makeDir` does. An
 * existing directory is no error.
 */
export function makeDirIn(path: string): void {
  try {
    fs.mkdirSync(path);
  } catch (err) {
    if (errorCode(err) !== "EEXIST") throw new FileError("mkdir", path, err);
  }
}

/**
 * Writes a whole small file in place, not durably (no fsync): for a file that a durable record
 * elsewhere can write again after a crash (a topic's topic.json, from the topic journal).
 */
export function writeFileNow(path: string, bytes: Uint8Array): void {
  const fd = named("create", path, () => fs.openSync(path, "w", 0o644));
  try {
    named("write", path, () => {
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, done);
    });
  } finally {
    fs.closeSync(fd);
  }
}

/** fsyncs a file or directory by path, off the event loop; false when it does not exist. */
export async function syncPathAsync(path: string): Promise<boolean> {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY);
  } catch (err) {
    if (errorCode(err) === "ENOENT") return false;
    throw new FileError("open", path, err);
  }
  try {
    await fsyncAsync(fd, "fsync", path);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/** fsyncs a file by path (its bytes and size); throws when it does not exist. */
export function syncPath(path: string): void {
  const fd = named("open", path, () => fs.openSync(path, fs.constants.O_RDONLY));
  try {
    named("fsync", path, () => fs.fsyncSync(fd));
  } finally {
    fs.closeSync(fd);
  }
}

export function listDir(path: string): string[] {
  return named("readdir", path, () => fs.readdirSync(path));
}

export function pathExists(path: string): boolean {
  return fs.existsSync(path);
}

export function removeFile(path: string): void {
  named("remove", path, () => fs.rmSync(path, { force: true }));
}

export function removeTree(path: string): void {
  named("remove tree", path, () => fs.rmSync(path, { recursive: true, force: true }));
}

/** Removes a tree off the event loop (the runtime's thread pool): for big trees nothing waits on. */
export async function removeTreeAsync(path: string): Promise<void> {
  try {
    await fs.promises.rm(path, { recursive: true, force: true });
  } catch (err) {
    throw new FileError("remove tree", path, err);
  }
}

/** Removes files (a missing one is no error) off the event loop, one after another. */
export async function removeFilesAsync(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    try {
      await fs.promises.rm(path, { force: true });
    } catch (err) {
      throw new FileError("remove", path, err);
    }
  }
}

/** Renames `from` to `to` when `from` exists; false when it does not. */
export function renameIfExists(from: string, to: string): boolean {
  try {
    fs.renameSync(from, to);
    return true;
  } catch (err) {
    if (errorCode(err) === "ENOENT") return false;
    throw new FileError(`rename to ${to}`, from, err);
  }
}

export function renamePath(from: string, to: string): void {
  named(`rename to ${to}`, from, () => fs.renameSync(from, to));
}

/** Size of the file at `path`, or undefined when it does not exist. */
export function sizeOfPath(path: string): number | undefined {
  try {
    return fs.statSync(path).size;
  } catch (err) {
    if (errorCode(err) === "ENOENT") return undefined;
    throw new FileError("stat", path, err);
  }
}

/** Reads a whole small file (indexes, checkpoints); undefined when it does not exist. */
export function readWholeFile(path: string): Uint8Array | undefined {
  try {
    return new Uint8Array(fs.readFileSync(path));
  } catch (err) {
    if (errorCode(err) === "ENOENT") return undefined;
    throw new FileError("read", path, err);
  }
}

/** Writes a file so that a crash leaves either the old or the new content: tmp, fsync, rename. */
export function writeFileAtomic(path: string, bytes: Uint8Array, dir: string): void {
  const tmp = `${path}.tmp`;
  const fd = named("create", tmp, () => fs.openSync(tmp, "w", 0o644));
  try {
    named("write", tmp, () => {
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, done);
      fs.fsyncSync(fd);
    });
  } catch (err) {
    fs.closeSync(fd);
    // Nothing half-written stays behind (a full disk leaves the old file as it was).
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // the write error is the one to report
    }
    throw err;
  }
  fs.closeSync(fd);
  named(`rename to ${path}`, tmp, () => fs.renameSync(tmp, path));
  syncDir(dir);
}

/** Last-modified time in ms since the epoch. */
export function modifiedMs(path: string): number {
  return named("stat", path, () => fs.statSync(path).mtimeMs);
}

/** The errno name of a file-system error (ENOSPC, ENOENT, ...), or undefined. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** True for "the disk is full" and "the quota is exhausted". */
export function isNoSpace(err: unknown): boolean {
  const code = errorCode(err);
  return code === "ENOSPC" || code === "EDQUOT";
}

/** True for "this process (EMFILE) or the system (ENFILE) has no descriptor left". */
export function isOutOfDescriptors(err: unknown): boolean {
  const code = errorCode(err);
  return code === "EMFILE" || code === "ENFILE";
}

export function joinPath(...parts: string[]): string {
  return parts.join("/").replace(/\/+/g, "/");
}

/** The directory holding `path` ("." for a bare name). */
export function parentDir(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const i = trimmed.lastIndexOf("/");
  return i > 0 ? trimmed.slice(0, i) : i === 0 ? "/" : ".";
}
