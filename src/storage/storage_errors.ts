/**
 * The storage layer's typed failures, and the damage report a log keeps.
 *
 * A file-system error becomes INSUFFICIENT_STORAGE (ENOSPC, EDQUOT: HTTP 507), TOO_MANY_OPEN_FILES
 * (EMFILE, ENFILE: 503) or STORAGE_ERROR (anything else: 500), its message naming the file (the
 * runtime's FileError does) and its details carrying `file` when known. Stored bytes that fail a
 * check are CORRUPT_LOG naming file and byte position.
 */
import { type ErrorDetails, SluiceError } from "../errors.ts";
import { FileError, isNoSpace, isOutOfDescriptors } from "../runtime/fs.ts";

/** A file-system failure as a typed error; a SluiceError passes through unchanged. */
export function storageFailure(err: unknown, what: string, details: ErrorDetails): SluiceError {
  if (err instanceof SluiceError) return err;
  const withFile = err instanceof FileError && details.file === undefined
    ? { ...details, file: err.path }
    : details;
  const why = err instanceof Error ? err.message : String(err);
  if (isNoSpace(err)) {
    return new SluiceError("INSUFFICIENT_STORAGE", `no space left: ${what}: ${why}`, withFile, {
      cause: err,
    });
  }
  if (isOutOfDescriptors(err)) {
    return new SluiceError("TOO_MANY_OPEN_FILES", `${what}: ${why}`, withFile, { cause: err });
  }
  return new SluiceError("STORAGE_ERROR", `${what} failed: ${why}`, withFile, { cause: err });
}

/** CORRUPT_LOG for the batch at `position` of `file`. */
export function corruptAt(file: string, position: number, reason: string): SluiceError {
  return new SluiceError(
    "CORRUPT_LOG",
    `corrupt batch in ${file} at byte ${position}: ${reason}`,
    { file, position },
  );
}

/** What every read and write of an offline log throws: STORAGE_ERROR, details.offline true. */
export function offlineError(dir: string, cause: unknown): SluiceError {
  const why = cause instanceof Error ? cause.message : String(cause);
  const code = (cause as { code?: unknown } | null)?.code;
  return new SluiceError(
    "STORAGE_ERROR",
    `partition ${dir} is offline: ${why}`,
    { dir, offline: true, cause: typeof code === "string" ? code : null },
    { cause },
  );
}

/**
 * One piece of damage a log found: at open (a batch header, a gap between segments, a checkpoint
 * or file name that does not match the data) or when a read reached it. `position` is a byte
 * position in `file` (0 for whole-file findings).
 */
export interface LogDamage {
  readonly file: string;
  readonly position: number;
  readonly reason: string;
}
