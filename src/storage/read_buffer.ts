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
 *
 * Room around the bytes: fresh memory has READ_ROOM_BEFORE_BYTES of spare room before the read's
 * bytes and READ_ROOM_AFTER_BYTES after them, in the same ArrayBuffer (byte_room.ts). The sole
 * owner of a read may write there: the Kafka listener puts a Fetch answer's framing (its header,
 * the fields around the records) beside the records, so the answer leaves in one socket write with
 * the records still not copied (kafka_protocol/frame_room.ts).
 *
 *   ArrayBuffer: [ room before | the read's bytes (what the caller gets a view of) | room after ]
 */
import { bytesWithRoom } from "../byte_room.ts";

/** Spare bytes before a fresh read's bytes: a Fetch response's header and partition fields. */
export const READ_ROOM_BEFORE_BYTES = 512;
/** Spare bytes after them: the fields that close a Fetch response's partition, topic, body. */
export const READ_ROOM_AFTER_BYTES = 64;

/**
 * `length` bytes of fresh, uninitialized memory: fill every byte before reading any. The view
 * has room before and after it in its ArrayBuffer (byte_room.ts roomAround).
 */
export function unfilledBytes(length: number): Uint8Array {
  return bytesWithRoom(length, READ_ROOM_BEFORE_BYTES, READ_ROOM_AFTER_BYTES);
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
