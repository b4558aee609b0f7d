/**
 * What the command line prints when the server cannot start: one line naming what was being done
 * and the file or address (the error itself says which: a FileError names its operation and path,
 * a listener's error is wrapped with its address in serve.ts), plus what to do about the common
 * causes. Exit code 1 follows (src/main.ts).
 */
import type { Broker } from "../broker/broker.ts";
import { isSluiceError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { isNoSpace } from "../runtime/fs.ts";

/** How many `cause` links are followed looking for the reason (a bound on a cyclic chain). */
const CAUSE_DEPTH_MAX = 8;

/** True when `err`, or an error it was caused by, says the disk (or the quota) is full. */
export function isDiskFull(err: unknown): boolean {
  let e: unknown = err;
  for (let i = 0; i < CAUSE_DEPTH_MAX && e !== undefined && e !== null; i++) {
    if (isNoSpace(e)) return true;
    if (isSluiceError(e) && e.code === "INSUFFICIENT_STORAGE") return true;
    if (e instanceof Error && /\(os error 28\)|no space left on device/i.test(e.message)) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export function startFailureMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (isDiskFull(err)) {
    return `cannot start: ${message}. The disk is full: free some space on it (with data already ` +
      `there, a restart on a full disk opens the logs read-only)`;
  }
  return `cannot start: ${message}`;
}

/** Closes the broker after a failed start; a close that fails too (a full disk) is logged. */
export async function closeQuietly(broker: Broker, logger: Logger): Promise<void> {
  try {
    await broker.close();
  } catch (err) {
    logger.warn("closing the logs after a failed start", { error: (err as Error).message });
  }
}
