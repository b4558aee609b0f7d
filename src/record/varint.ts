/**
 * Kafka's variable-length integers: zig-zag encoded, then LEB128 (7 bits a byte, low first), as in
 * Protocol Buffers. A varint carries an int32 in 1-5 bytes; a varlong an int64 in 1-10 bytes.
 *
 * JavaScript numbers are exact to 2^53, so varlongs are decoded with arithmetic, not 32-bit shifts,
 * and values beyond ±2^53 are refused as corrupt (no real timestamp delta comes near that).
 */
import { SluiceError } from "../errors.ts";

/** A read position into a byte array; decoders advance `pos`. One per decode, not per field. */
export class ByteCursor {
  pos: number;
  constructor(readonly bytes: Uint8Array, pos = 0, readonly end = bytes.length) {
    this.pos = pos;
  }
}

function truncated(cursor: ByteCursor): SluiceError {
  return new SluiceError(
    "CORRUPT_BATCH",
    `varint runs past the end of its record at ${cursor.pos}`,
  );
}

/** Reads a zig-zag varint (int32). */
export function readVarint(cursor: ByteCursor): number {
  const bytes = cursor.bytes;
  let pos = cursor.pos;
  let raw = 0;
  let shift = 0;
  for (;;) {
    if (pos >= cursor.end) throw truncated(cursor);
    const b = bytes[pos++];
    raw |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
    if (shift > 28) {
      throw new SluiceError("CORRUPT_BATCH", `varint longer than 5 bytes at ${cursor.pos}`);
    }
  }
  cursor.pos = pos;
  return (raw >>> 1) ^ -(raw & 1);
}

/** Reads a zig-zag varlong (int64), exact within ±2^53. */
export function readVarlong(cursor: ByteCursor): number {
  const bytes = cursor.bytes;
  let pos = cursor.pos;
  let raw = 0;
  let scale = 1;
  for (let i = 0;; i++) {
    if (pos >= cursor.end) throw truncated(cursor);
    const b = bytes[pos++];
    raw += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) break;
    scale *= 128;
    if (i >= 7) {
      throw new SluiceError("CORRUPT_BATCH", `varlong beyond 2^53 at ${cursor.pos}`);
    }
  }
  cursor.pos = pos;
  // zig-zag: even raw -> raw/2, odd raw -> -(raw+1)/2
  return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
}

/** Bytes a zig-zag varint of `value` takes. */
export function varintSize(value: number): number {
  let raw = ((value << 1) ^ (value >> 31)) >>> 0;
  let size = 1;
  while (raw >= 0x80) {
    raw >>>= 7;
    size++;
  }
  return size;
}

/** Bytes a zig-zag varlong of `value` takes. */
export function varlongSize(value: number): number {
  let raw = value >= 0 ? value * 2 : -value * 2 - 1;
  let size = 1;
  while (raw >= 128) {
    raw = Math.floor(raw / 128);
    size++;
  }
  return size;
}

/** Writes a zig-zag varint at `pos`; returns the position after it. */
export function writeVarint(bytes: Uint8Array, pos: number, value: number): number {
  let raw = ((value << 1) ^ (value >> 31)) >>> 0;
  while (raw >= 0x80) {
    bytes[pos++] = (raw & 0x7f) | 0x80;
    raw >>>= 7;
  }
  bytes[pos++] = raw;
  return pos;
}

/** Writes a zig-zag varlong at `pos`; returns the position after it. */
export function writeVarlong(bytes: Uint8Array, pos: number, value: number): number {
  let raw = value >= 0 ? value * 2 : -value * 2 - 1;
  while (raw >= 128) {
    bytes[pos++] = (raw % 128) | 0x80;
    raw = Math.floor(raw / 128);
  }
  bytes[pos++] = raw;
  return pos;
}
