/**
 * Memory with spare room around the bytes it is for: fresh read memory (storage/read_buffer.ts)
 * is made so, and a front that is a read's sole owner may write beside the bytes, e.g. the
 * framing of a response, so that bytes and framing leave as one contiguous range
 * (kafka_protocol/frame_room.ts) without the bytes being copied.
 *
 *   ArrayBuffer: [ room before | the bytes (the view handed out) | room after ]
 *
 * Shared, below storage and the fronts, because the one makes the room and the others use it.
 */
import { Buffer } from "node:buffer";

/** The ArrayBuffers made here: all of each, but the view handed out, is spare room. */
const withRoom = new WeakSet<ArrayBufferLike>();

/**
 * `length` bytes of uninitialized memory (node:buffer's allocUnsafeSlow: an ArrayBuffer of its
 * own), as a view with `before` spare bytes before it and `after` after it in that ArrayBuffer.
 */
export function bytesWithRoom(length: number, before: number, after: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(before + length + after);
  withRoom.add(b.buffer);
  return new Uint8Array(b.buffer, b.byteOffset + before, length);
}

/**
 * The bytes of `view`'s ArrayBuffer before and after it, when that buffer was made by
 * {@link bytesWithRoom}; undefined for any other memory. Whatever is there (room, or bytes the
 * maker passed over) nobody else was given: only the sole holder of the memory, holding no other
 * view of it, may write there.
 */
export function roomAround(view: Uint8Array): { before: number; after: number } | undefined {
  if (!withRoom.has(view.buffer)) return undefined;
  return {
    before: view.byteOffset,
    after: view.buffer.byteLength - view.byteOffset - view.length,
  };
}
