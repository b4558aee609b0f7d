/**
 * Kafka's framing on the client side of the project's raw-wire tools (tests, benches): a 4-byte
 * big-endian size, then that many bytes. {@link SizePrefixedFrames} gathers what a socket read
 * gives and hands out whole frames; the callers own their sockets, reads and timeouts.
 */

export class SizePrefixedFrames {
  #buf = new Uint8Array(0);

  /** Bytes as read from the socket. */
  push(bytes: Uint8Array): void {
    const next = new Uint8Array(this.#buf.length + bytes.length);
    next.set(this.#buf);
    next.set(bytes, this.#buf.length);
    this.#buf = next;
  }

  /** The next whole frame (its size prefix removed, a copy), or undefined until it is all in. */
  take(): Uint8Array | undefined {
    if (this.#buf.length < 4) return undefined;
    const size = new DataView(this.#buf.buffer, this.#buf.byteOffset).getInt32(0);
    if (this.#buf.length < 4 + size) return undefined;
    const frame = this.#buf.slice(4, 4 + size);
    this.#buf = this.#buf.slice(4 + size);
    return frame;
  }
}
