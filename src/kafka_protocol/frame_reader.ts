/**
 * The bytes of one Kafka connection on their way to request frames (server.ts cuts the frames and
 * decides when; this holds the bytes and hands them on with as few copies as it can):
 *
 * - a frame that lies in one received chunk is handed on as a view of it, not copied (the runtime
 *   reads into 64 KiB slabs: small requests arrive many to a slab). A view keeps its chunk alive
 *   until the frame is served; chunks are bounded as the frames are (a slab serves many frames);
 * - a frame with READ_IN_PLACE_MIN_BYTES or more still to come is read in place where the runtime
 *   can (TcpConnection.readInto, src/runtime/tcp_deno.ts): one buffer of the frame's size takes
 *   what was received so far and the socket reads the rest straight into it (no slabs, no copy of
 *   the bulk of a 1 MiB produce);
 * - any other frame spanning chunks (node:net on Bun, a short remainder) is copied into one
 *   buffer of its own.
 */

/**
 * A frame with at least this many bytes still to come (one read slab's worth) is read in place
 * instead of through the runtime's read buffers and a copy. Below it, reading through the slab
 * is cheaper: one read takes several pipelined frames (16 KiB batches, as Java's producer sends),
 * where reading in place would cost a read per frame.
 */
export const READ_IN_PLACE_MIN_BYTES = 64 * 1024;

export class FrameReader {
  /** Received bytes not yet cut into frames. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  /** The frame being read in place (its #filled first bytes are in), or null. */
  #assembling: Uint8Array | null = null;
  #filled = 0;
  readonly #readInto: ((target: Uint8Array | null) => void) | undefined;

  /** `readInto`: the connection's TcpConnection.readInto, when its runtime has one. */
  constructor(readInto: ((target: Uint8Array | null) => void) | undefined) {
    this.#readInto = readInto;
  }

  /** Received bytes not yet cut (none while a frame is read in place). */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** A frame is being read in place: nothing can be cut until it is complete. */
  get assembling(): boolean {
    return this.#assembling !== null;
  }

  /** Bytes from the socket; returns the frame read in place when these complete it. */
  push(bytes: Uint8Array): Uint8Array | null {
    const frame = this.#assembling;
    if (frame === null) {
      this.#pending.push(bytes);
      this.#pendingBytes += bytes.length;
      return null;
    }
    if (bytes.buffer === frame.buffer && bytes.byteOffset === frame.byteOffset + this.#filled) {
      this.#filled += bytes.length; // the runtime read them where they belong
    } else {
      // A read that was under way before readInto: copied in, the excess kept for the next
      // frames, the runtime pointed at what is still missing.
      const n = Math.min(frame.length - this.#filled, bytes.length);
      frame.set(bytes.subarray(0, n), this.#filled);
      this.#filled += n;
      if (n < bytes.length) {
        this.#pending.push(bytes.subarray(n));
        this.#pendingBytes += bytes.length - n;
      }
      this.#readInto!(this.#filled < frame.length ? frame.subarray(this.#filled) : null);
    }
    if (this.#filled < frame.length) return null;
    this.#assembling = null;
    this.#filled = 0;
    return frame;
  }

  /**
   * A frame of `size` bytes, more than pendingBytes, was admitted: when enough of it is still to
   * come and the runtime can, it is read in place from now on (true); else it waits for pushes.
   */
  readInPlace(size: number): boolean {
    if (this.#readInto === undefined || size - this.#pendingBytes < READ_IN_PLACE_MIN_BYTES) {
      return false;
    }
    const frame = new Uint8Array(size);
    let at = 0;
    for (const chunk of this.#pending) {
      frame.set(chunk, at);
      at += chunk.length;
    }
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#assembling = frame;
    this.#filled = at;
    this.#readInto(frame.subarray(at));
    return true;
  }

  /** The next `n` pending bytes (n <= pendingBytes): a view of one chunk, or a copy. */
  take(n: number): Uint8Array {
    const head = this.#pending[0];
    this.#pendingBytes -= n;
    if (head.length > n) {
      this.#pending[0] = head.subarray(n);
      return head.subarray(0, n);
    }
    if (head.length === n) {
      this.#pending.shift();
      return head;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const chunk = this.#pending[0];
      const need = n - at;
      if (chunk.length <= need) {
        out.set(chunk, at);
        at += chunk.length;
        this.#pending.shift();
      } else {
        out.set(chunk.subarray(0, need), at);
        this.#pending[0] = chunk.subarray(need);
        at += need;
      }
    }
    return out;
  }

  /** Consumes a 4-byte big-endian signed size prefix (pendingBytes >= 4), read in place. */
  takeSize(): number {
    const first = this.#pending[0];
    this.#pendingBytes -= 4;
    if (first.length >= 4) {
      if (first.length === 4) this.#pending.shift();
      else this.#pending[0] = first.subarray(4);
      return (first[0] << 24) | (first[1] << 16) | (first[2] << 8) | first[3];
    }
    let size = 0;
    for (let i = 0; i < 4; i++) {
      const head = this.#pending[0];
      size = (size << 8) | head[0];
      if (head.length === 1) this.#pending.shift();
      else this.#pending[0] = head.subarray(1);
    }
    return size;
  }

  /** Drops everything held (the connection closed). */
  clear(): void {
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#assembling = null;
    this.#filled = 0;
  }
}
