/**
 * The decoder's input: primitives read from a frame, each checking its bounds first, so decoding
 * never reads past the end (a short input is KafkaCodecError TRUNCATED). The primitives' layouts
 * are those the writer documents (writer.ts); a varint longer than its width is INVALID_VARINT.
 */
import { KafkaCodecError } from "./codec_error.ts";

const textDecoder = new TextDecoder("utf-8", { fatal: true });
/**
 * Strings up to this long (client ids, topic names, group ids) are read and written byte by byte
 * when they are plain ASCII, without a TextDecoder or TextEncoder call (a call into the runtime
 * each); encode.ts uses the same bound.
 */
export const ASCII_FAST_BYTES_MAX = 64;

export class Reader {
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  position: number;
  readonly end: number;

  constructor(bytes: Uint8Array, position: number, end: number) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.position = position;
    this.end = end;
  }

  need(n: number): void {
    if (n < 0 || this.position + n > this.end) {
      throw new KafkaCodecError(
        "TRUNCATED",
        `need ${n} bytes at position ${this.position}, have ${this.end - this.position}`,
        this.position,
      );
    }
  }
  int8(): number {
    this.need(1);
    return this.#view.getInt8(this.position++);
  }
  int16(): number {
    this.need(2);
    const v = this.#view.getInt16(this.position);
    this.position += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.#view.getInt32(this.position);
    this.position += 4;
    return v;
  }
  int64(): bigint {
    this.need(8);
    const v = this.#view.getBigInt64(this.position);
    this.position += 8;
    return v;
  }
  /** Unsigned varint of at most 5 bytes (32 bits). */
  uvarint(): number {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      this.need(1);
      const byte = this.#bytes[this.position++];
      value += (byte & 0x7f) * 2 ** (7 * i);
      if ((byte & 0x80) === 0) {
        if (value > 0xffffffff) break;
        return value;
      }
    }
    throw new KafkaCodecError("INVALID_VARINT", "varint longer than 32 bits", this.position);
  }
  /** Unsigned varlong of at most 10 bytes (64 bits). */
  uvarlong(): bigint {
    let value = 0n;
    for (let i = 0; i < 10; i++) {
      this.need(1);
      const byte = this.#bytes[this.position++];
      value |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if ((byte & 0x80) === 0) {
        if (value > 0xffffffffffffffffn) break;
        return value;
      }
    }
    throw new KafkaCodecError("INVALID_VARINT", "varlong longer than 64 bits", this.position);
  }
  /** `n` bytes, copied (a retained value does not pin the frame). */
  raw(n: number): Uint8Array {
    this.need(n);
    const out = this.#bytes.slice(this.position, this.position + n);
    this.position += n;
    return out;
  }
  /** `n` bytes, as a view into the frame. */
  view(n: number): Uint8Array {
    this.need(n);
    const out = this.#bytes.subarray(this.position, this.position + n);
    this.position += n;
    return out;
  }
  utf8(n: number): string {
    this.need(n);
    const start = this.position;
    this.position += n;
    if (n <= ASCII_FAST_BYTES_MAX) {
      const bytes = this.#bytes;
      let s = "";
      let i = start;
      for (; i < start + n; i++) {
        const b = bytes[i];
        if (b >= 0x80) break;
        s += String.fromCharCode(b);
      }
      if (i === start + n) return s;
    }
    try {
      return textDecoder.decode(this.#bytes.subarray(start, start + n));
    } catch {
      throw new KafkaCodecError("INVALID_UTF8", `string at ${start} is not UTF-8`, start);
    }
  }
  /** A reader of the next `size` bytes, which this one skips. */
  sub(size: number): Reader {
    this.need(size);
    const reader = new Reader(this.#bytes, this.position, this.position + size);
    this.position += size;
    return reader;
  }
}
