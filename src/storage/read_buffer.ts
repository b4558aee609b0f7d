/**
 * Memory for the bytes of a read, which the read fills whole (or fails) before anyone sees them:
 * zero-filling it first would be wasted work, so it is asked for uninitialized (node:buffer's
 * allocUnsafeSlow: its own ArrayBuffer, never a slice of a shared pool). Bun gives it so; Deno
 * 2.x zero-fills it all the same. Either way fresh memory costs its page faults on first touch,
 * which a lent buffer does not. Returned as a plain Uint8Array, so `slice()` copies as callers
 * expect (a Buffer's does not).
 *
 * Whoever gets the bytes owns them: the log keeps no reference, so a caller may hold them as long
 * as it likes (a socket write in flight, a long poll's answer). A caller done with each read
 * before the next may instead lend the read its own buffer (PartitionLog.read's `into`).
 */
import { Buffer } from "node:buffer";

/** `length` bytes of fresh, uninitialized memory: fill every byte before reading any. */
export function unfilledBytes(length: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(length);
  return new Uint8Array(b.buffer, b.byteOffset, length);
}

/**
 * `length` bytes to read into: the front of `into` when it is large enough, else fresh memory
 * ({@link unfilledBytes}).
 */
export function readTarget(length: number, into: Uint8Array | undefined): Uint8Array {
  return into !== undefined && into.length >= length
    ? into.subarray(0, length)
    : unfilledBytes(length);
}
