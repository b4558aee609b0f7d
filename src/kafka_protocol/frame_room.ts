/**
 * A response frame's small chunks moved into the spare room around its records, so the frame
 * leaves in as few socket writes as it has record ranges, with no record byte copied.
 *
 * A Fetch response is encoded as chunks (codec encodeChunks): the size prefix and header with the
 * fields up to a partition's records (~100 bytes), the records themselves (a view of the read's
 * buffer, never copied), the few bytes that close the partition, topic and body, and so on for
 * each partition. Written as they are that is three writes or more a response, each a system call
 * and, over loopback, a wake-up of the client for a part of its answer. A read's fresh buffer has
 * room before and after its bytes (storage/read_buffer.ts, byte_room.ts): the small chunks before
 * a records view are copied into the room before it, those after it into the room after it, and
 * the view is widened over them. What does not fit stays a chunk of its own (the socket gathers small chunks,
 * runtime/tcp_deno.ts), as does every chunk of memory with no room.
 *
 * The frame's handler is the read's only owner (the log keeps no reference to a fresh read), and
 * a buffer's room is used only when the frame holds a single view of it: two views of one read
 * are sent as they are.
 */
import { roomAround } from "../byte_room.ts";

/** `chunks` (a response frame, in order) with small chunks moved beside roomy ones. */
export function intoRoom(chunks: readonly Uint8Array[]): Uint8Array[] {
  // A buffer with room is used only when the frame holds one view of it: widening one view must
  // never write over another.
  const views = new Map<ArrayBufferLike, number>();
  for (const c of chunks) {
    if (roomAround(c) !== undefined) views.set(c.buffer, (views.get(c.buffer) ?? 0) + 1);
  }
  if (views.size === 0) return chunks as Uint8Array[];
  const out: Uint8Array[] = [];
  /** Small chunks not placed yet, in order, and their bytes. */
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  /** The last chunk out, when small chunks may still go into the room after it. */
  let anchor: Uint8Array | undefined;
  let anchorAfter = 0;

  for (const c of chunks) {
    if (c.length === 0) continue;
    const room = views.get(c.buffer) === 1 ? roomAround(c) : undefined;
    if (room !== undefined) {
      let view = c;
      if (pendingBytes > 0 && pendingBytes <= room.before) {
        view = new Uint8Array(c.buffer, c.byteOffset - pendingBytes, pendingBytes + c.length);
        let at = 0;
        for (const p of pending) {
          view.set(p, at);
          at += p.length;
        }
      } else for (const p of pending) out.push(p);
      pending = [];
      pendingBytes = 0;
      out.push(view);
      anchor = view;
      anchorAfter = room.after;
      continue;
    }
    if (anchor !== undefined && c.length <= anchorAfter && !views.has(c.buffer)) {
      // Right after the anchor's bytes, in order (nothing is pending once there is an anchor).
      const widened = new Uint8Array(anchor.buffer, anchor.byteOffset, anchor.length + c.length);
      widened.set(c, anchor.length);
      out[out.length - 1] = widened;
      anchor = widened;
      anchorAfter -= c.length;
      continue;
    }
    anchor = undefined;
    if (views.has(c.buffer)) {
      // A view of read memory that is not ours alone to write around: as it is, in its place.
      for (const p of pending) out.push(p);
      pending = [];
      pendingBytes = 0;
      out.push(c);
      continue;
    }
    pending.push(c);
    pendingBytes += c.length;
  }
  for (const p of pending) out.push(p);
  return out;
}
