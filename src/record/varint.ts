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
  if (pos >= cursor.end) throw truncated(cursor);
  // zig-zag raw = 2 * magnitude + sign. Accumulate magnitude = raw >>> 1, never raw itself: raw
  // needs 54 bits for ±(2^53 - 1), and an odd raw above 2^53 rounds to even in a double, which
  // flips the sign (-(2^53 - 1) would read as 2^53 - 2).
  let b = bytes[pos++];
  const negative = (b & 1) === 1;
  let magnitude = (b & 0x7f) >>> 1;
  let scale = 64;
  for (let i = 0; (b & 0x80) !== 0; i++) {
    if (i >= 7) throw new SluiceError("CORRUPT_BATCH", `varlong beyond 2^53 at ${cursor.pos}`);
    if (pos >= cursor.end) throw truncated(cursor);
    b = bytes[pos++];
    magnitude += (b & 0x7f) * scale;
    scale *= 128;
  }
  // 8 bytes hold up to 2^55 - 1; past 2^53 - 1 the sum above is no longer exact.
  if (magnitude > Number.MAX_SAFE_INTEGER) {
    throw new SluiceError("CORRUPT_BATCH", `varlong beyond 2^53 at ${cursor.pos}`);
  }
  cursor.pos = pos;
  return negative ? -magnitude - 1 : magnitude;
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
  // raw = 2 * magnitude + sign, split as readVarlong does: forming raw itself is inexact past 2^53.
  const negative = value < 0;
  const magnitude = negative ? -value - 1 : value;
  let group = (magnitude % 64) * 2 + (negative ? 1 : 0);
  let rest = Math.floor(magnitude / 64);
  while (rest > 0) {
    bytes[pos++] = group | 0x80;
    group = rest % 128;
    rest = Math.floor(rest / 128);
  }
  bytes[pos++] = group;
  return pos;
}
