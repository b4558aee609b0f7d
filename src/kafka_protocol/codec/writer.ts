/**
 * The encoder's output: a growing buffer of primitives, and long byte strings kept by reference.
 *
 * Primitives (big-endian, as Kafka's protocol guide specifies):
 *   int8/16/32/64     fixed width, two's complement
 *   uvarint           unsigned, 7 bits a byte, low group first, high bit set on all but the last;
 *                     at most 5 bytes (32 bits). Lengths and counts in flexible versions, tags.
 *   uvarlong          the same, at most 10 bytes (64 bits)
 * The signed varint and varlong types are zigzag-mapped to these (encode.ts).
 */
import { assert } from "../../errors.ts";

/**
 * Byte strings at least this long are not copied into the output: the writer keeps a reference
 * and emits them as their own chunk, so stored record batches go from log to socket as they are.
 */
export const ZERO_COPY_MIN_BYTES = 4096;

export class Writer {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  /** Bytes of the current buffer in use. */
  length = 0;
  /** Finished chunks before the current buffer (zero-copy references and filled buffers). */
  readonly #chunks: Uint8Array[] = [];
  #chunkBytes = 0;

  #reserve(bytes: number): void {
    if (this.length + bytes <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.length + bytes) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  int8(v: number): void {
    this.#reserve(1);
    this.#view.setInt8(this.length, v);
    this.length += 1;
  }
  int16(v: number): void {
    this.#reserve(2);
    this.#view.setInt16(this.length, v);
    this.length += 2;
  }
  int32(v: number): void {
    this.#reserve(4);
    this.#view.setInt32(this.length, v);
    this.length += 4;
  }
  int64(v: bigint): void {
    this.#reserve(8);
    this.#view.setBigInt64(this.length, v);
    this.length += 8;
  }
  uvarint(v: number): void {
    assert(Number.isInteger(v) && v >= 0 && v <= 0xffffffff, `uvarint out of range: ${v}`);
    while (v >= 0x80) {
      this.int8Raw((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    this.int8Raw(v);
  }
  uvarlong(v: bigint): void {
    while (v >= 0x80n) {
      this.int8Raw(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.int8Raw(Number(v));
  }
  int8Raw(byte: number): void {
    this.#reserve(1);
    this.#buf[this.length++] = byte;
  }
  /** The characters of `s`, each one byte: only for a string of ASCII characters (encode.ts). */
  ascii(s: string): void {
    this.#reserve(s.length);
    const buf = this.#buf;
    let at = this.length;
    for (let i = 0; i < s.length; i++) buf[at++] = s.charCodeAt(i);
    this.length = at;
  }
  raw(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  /** Appends `bytes`; a long one by reference (see {@link ZERO_COPY_MIN_BYTES}). */
  rawShared(bytes: Uint8Array): void {
    if (bytes.length < ZERO_COPY_MIN_BYTES) return this.raw(bytes);
    if (this.length > 0) {
      this.#chunks.push(this.#buf.subarray(0, this.length));
      this.#chunkBytes += this.length;
      this.#buf = new Uint8Array(256);
      this.#view = new DataView(this.#buf.buffer);
      this.length = 0;
    }
    this.#chunks.push(bytes);
    this.#chunkBytes += bytes.length;
  }
  /** Every byte written so far. */
  get size(): number {
    return this.#chunkBytes + this.length;
  }
  /** The output as one array (copies shared chunks). */
  bytes(): Uint8Array {
    if (this.#chunks.length === 0) return this.#buf.slice(0, this.length);
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks()) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
  /** The output as chunks, shared byte strings by reference. */
  chunks(): Uint8Array[] {
    const out = [...this.#chunks];
    if (this.length > 0) out.push(this.#buf.subarray(0, this.length));
    return out;
  }
}
