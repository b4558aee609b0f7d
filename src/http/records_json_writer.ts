/**
 * Fetched records as JSON bytes, written straight from the stored batches: no record objects, no
 * strings, no JSON.stringify of the whole answer. The path through recordsToJson (records_json.ts)
 * built several objects and strings per record and then one string of the whole answer; under
 * JSON reads those are what grew the server's heap (bench/http_bench.ts's fetch group). Each record
 * is written as JSON.stringify wrote recordsToJson's objects, byte for byte
 * (test/http/records_json_writer_test.ts compares the two):
 *
 *     {<prefix>"offset":N,"timestamp":T,"key":K,"value":V,"headers":[{"key":"k","value":H},...]}
 *
 * records separated by commas; the caller writes what goes around them (`raw`). K, V and H are
 * null, or a JSON string of the field's UTF-8 text (read as TextDecoder reads it: a sequence that
 * is not UTF-8 becomes U+FFFD, a leading byte-order mark is dropped), or of its base64; with
 * valueEncoding=json V is the value's own JSON, parsed and written back compact (not JSON:
 * INVALID_REQUEST). Header keys are always text.
 *
 * Every batch is CRC-32C checked before anything is written (records_json.ts checkStoredBatches:
 * damage on disk is CORRUPT_LOG). Control batches (transaction markers) are not shown.
 *
 * Allocates its output (grown by doubling) and, for a compressed batch, its decompressed records;
 * nothing per record on the common path (valid UTF-8, base64). Text that is not valid UTF-8 and
 * JSON values go through TextDecoder and JSON, allocating for that field only.
 */
import { SluiceError } from "../errors.ts";
import { HEADERS_PER_RECORD_MAX } from "../limits.ts";
import {
  ATTRIBUTES_AT,
  BASE_TIMESTAMP_AT,
  baseOffsetAt,
  batchSizeAt,
  MAX_TIMESTAMP_AT,
  readInt64,
  recordsCountAt,
  TIMESTAMP_TYPE_BIT,
  viewOf,
} from "../record/record_batch.ts";
import { isControlAt, RecordCursor, recordsSection } from "../record/record_cursor.ts";
import { readVarint } from "../record/varint.ts";
import { checkStoredBatches, type FieldEncodings } from "./records_json.ts";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const utf8 = new TextEncoder();
const decoder = new TextDecoder();
const HEX = utf8.encode("0123456789abcdef");
const BASE64 = utf8.encode("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
/** JSON's two-character escapes of control characters (by code), 0 for those written \u00XX. */
const SHORT_ESCAPES = new Uint8Array(0x20);
SHORT_ESCAPES[0x08] = 0x62; // \b
SHORT_ESCAPES[0x09] = 0x74; // \t
SHORT_ESCAPES[0x0a] = 0x6e; // \n
SHORT_ESCAPES[0x0c] = 0x66; // \f
SHORT_ESCAPES[0x0d] = 0x72; // \r

const OPEN = utf8.encode("{");
const OFFSET = utf8.encode('"offset":');
const TIMESTAMP = utf8.encode(',"timestamp":');
const KEY = utf8.encode(',"key":');
const VALUE = utf8.encode(',"value":');
const HEADERS = utf8.encode(',"headers":[');
const HEADER_KEY = utf8.encode('{"key":');
const CLOSE = utf8.encode("]}");
const NULL = utf8.encode("null");
const COMMA_BYTES = utf8.encode(",");
const CLOSE_OBJECT = utf8.encode("}");
/** 1 for the bytes a JSON string holds as they are: printable ASCII but the quote and backslash. */
const PLAIN = new Uint8Array(256);
for (let b = 0x20; b < 0x80; b++) PLAIN[b] = b === QUOTE || b === BACKSLASH ? 0 : 1;
/** Runs of plain bytes at least this long are copied with TypedArray.set, shorter ones by hand. */
const COPY_RUN_BYTES = 48;
/** A record's bytes besides its prefix, key, value and headers: punctuation, names, numbers. */
const RECORD_FIXED_BYTES = 1 + OPEN.length + OFFSET.length + 17 + TIMESTAMP.length + 17 +
  KEY.length;
/** The smallest output buffer; the first one is sized from the bytes of the first records. */
const OUTPUT_BYTES_MIN = 4096;

/** Where a field's bytes are: `bytes[pos..end)`; readVarint reads through it (a ByteCursor). */
interface Span {
  bytes: Uint8Array;
  pos: number;
  end: number;
}

export class RecordsJsonWriter {
  #out: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  #len = 0;
  #records = 0;
  readonly #cursor = new RecordCursor();
  readonly #span: Span = { bytes: new Uint8Array(0), pos: 0, end: 0 };

  constructor(readonly encodings: FieldEncodings) {}

  /** Records written so far. */
  get records(): number {
    return this.#records;
  }

  /** Writes `text` as it is: the JSON around the records, which the caller builds. */
  raw(text: string): void {
    this.#ensure(text.length * 3);
    this.#len += utf8.encodeInto(text, this.#out.subarray(this.#len)).written;
  }

  /** The JSON written so far (a view of the writer's buffer). */
  finish(): Uint8Array<ArrayBuffer> {
    return this.#out.subarray(0, this.#len);
  }

  /**
   * Writes the records of the whole batches in `bytes` (what a log read returns) at or after
   * `fromOffset`, each after a comma but the writer's first. `prefix` (JSON members with their
   * trailing comma, e.g. `"topic":"t","partition":0,`) opens every record's object.
   */
  writeRecords(bytes: Uint8Array, fromOffset: number, prefix = ""): void {
    checkStoredBatches(bytes);
    const dv = viewOf(bytes);
    // Stored JSON runs about 1.5 times the batches' size with 100-byte values; one growth at most.
    this.#ensure(Math.max(OUTPUT_BYTES_MIN, bytes.length * 2));
    const prefixBytes = prefix === "" ? undefined : utf8.encode(prefix);
    for (let pos = 0; pos < bytes.length;) {
      const size = batchSizeAt(dv, pos);
      if (!isControlAt(dv, pos)) this.#batch(bytes, dv, pos, size, fromOffset, prefixBytes);
      pos += size;
    }
  }

  #batch(
    bytes: Uint8Array,
    dv: DataView,
    pos: number,
    size: number,
    fromOffset: number,
    prefix: Uint8Array | undefined,
  ): void {
    const logAppendTime = (dv.getInt16(pos + ATTRIBUTES_AT) & TIMESTAMP_TYPE_BIT) !== 0;
    const baseOffset = baseOffsetAt(dv, pos);
    const baseTimestamp = readInt64(dv, pos + BASE_TIMESTAMP_AT);
    const maxTimestamp = readInt64(dv, pos + MAX_TIMESTAMP_AT);
    const { section, start, end } = recordsSection(bytes, dv, pos, size);
    const c = this.#cursor;
    c.reset(section, start, end, recordsCountAt(dv, pos));
    const enc = this.encodings;
    while (c.next()) {
      const offset = baseOffset + c.offsetDelta;
      const span = this.#span;
      span.bytes = section;
      span.pos = c.valueStart + Math.max(0, c.valueLength);
      span.end = c.recordEnd;
      if (offset < fromOffset) {
        this.#headers(span, false); // checked all the same, as a decode of the batch would
        continue;
      }
      // The record's fixed parts (punctuation, names, two numbers) in one check, written by hand:
      // TypedArray.set costs more than these few bytes.
      this.#ensure(RECORD_FIXED_BYTES + (prefix?.length ?? 0));
      if (this.#records++ > 0) this.#out[this.#len++] = COMMA;
      this.#put(OPEN);
      if (prefix !== undefined) this.#put(prefix);
      this.#put(OFFSET);
      this.#number(offset);
      this.#put(TIMESTAMP);
      this.#number(logAppendTime ? maxTimestamp : baseTimestamp + c.timestampDelta);
      this.#put(KEY);
      if (c.keyLength < 0) this.#bytes(NULL);
      else if (enc.key === "base64") this.#base64(section, c.keyStart, c.keyStart + c.keyLength);
      else this.#text(section, c.keyStart, c.keyStart + c.keyLength);
      this.#bytes(VALUE);
      const v = c.valueStart;
      if (c.valueLength < 0) this.#bytes(NULL);
      else if (enc.value === "base64") this.#base64(section, v, v + c.valueLength);
      else if (enc.value === "json") this.#json(section, v, v + c.valueLength, offset);
      else this.#text(section, v, v + c.valueLength);
      this.#bytes(HEADERS);
      this.#headers(span, true);
      this.#bytes(CLOSE);
    }
  }

  /** Reads (and writes, when `write`) the headers in `span`, which must end where they do. */
  #headers(span: Span, write: boolean): void {
    const count = readVarint(span);
    if (count < 0 || count > HEADERS_PER_RECORD_MAX) {
      throw new SluiceError("CORRUPT_BATCH", `a record claims ${count} headers`);
    }
    const base64 = this.encodings.header === "base64";
    for (let h = 0; h < count; h++) {
      const keyLength = fieldLength(span);
      if (keyLength < 0) throw new SluiceError("CORRUPT_BATCH", "a record has a null header key");
      const keyAt = span.pos;
      span.pos += keyLength;
      const valueLength = fieldLength(span);
      const valueAt = span.pos;
      span.pos += Math.max(0, valueLength);
      if (!write) continue;
      if (h > 0) this.#bytes(COMMA_BYTES);
      this.#bytes(HEADER_KEY);
      this.#text(span.bytes, keyAt, keyAt + keyLength);
      this.#bytes(VALUE);
      if (valueLength < 0) this.#bytes(NULL);
      else if (base64) this.#base64(span.bytes, valueAt, valueAt + valueLength);
      else this.#text(span.bytes, valueAt, valueAt + valueLength);
      this.#bytes(CLOSE_OBJECT);
    }
    if (span.pos !== span.end) {
      throw new SluiceError("CORRUPT_BATCH", `a record has ${span.end - span.pos} stray bytes`);
    }
  }

  #ensure(extra: number): void {
    const need = this.#len + extra;
    if (need <= this.#out.length) return;
    let size = Math.max(OUTPUT_BYTES_MIN, this.#out.length * 2);
    while (size < need) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#out.subarray(0, this.#len));
    this.#out = grown;
  }

  #bytes(b: Uint8Array): void {
    this.#ensure(b.length);
    this.#put(b);
  }

  /** Copies a few bytes the caller has made room for. */
  #put(b: Uint8Array): void {
    const out = this.#out;
    let len = this.#len;
    for (let i = 0; i < b.length; i++) out[len++] = b[i];
    this.#len = len;
  }

  /**
   * An integer as JSON.stringify writes it (offsets and timestamps: always safe integers). Digits
   * come from int32 arithmetic in two halves of 8 digits at most: floating-point division per
   * digit cost a third of the writer's time.
   */
  #number(n: number): void {
    if (!Number.isSafeInteger(n)) return this.raw(JSON.stringify(n));
    this.#ensure(17); // Within RECORD_FIXED_BYTES: a check, no growth.
    if (n < 0) {
      this.#out[this.#len++] = 0x2d; // -
      n = -n;
    }
    if (n < 1e8) return this.#digits(n, 0);
    const high = Math.floor(n / 1e8);
    const low = n - high * 1e8;
    if (high < 1e8) this.#digits(high, 0);
    else {
      const top = Math.floor(high / 1e8);
      this.#digits(top, 0);
      this.#digits(high - top * 1e8, 8);
    }
    this.#digits(low, 8);
  }

  /** `v` (< 1e8) in decimal, zero-padded to `width` digits. */
  #digits(v: number, width: number): void {
    let count = 1;
    for (let t = v; t >= 10; t = (t / 10) | 0) count++;
    if (count < width) count = width;
    const out = this.#out;
    const end = this.#len + count;
    for (let i = end - 1; i >= this.#len; i--) {
      const q = (v / 10) | 0;
      out[i] = 0x30 + v - q * 10;
      v = q;
    }
    this.#len = end;
  }

  /** `src[from..to)` as text in a JSON string; valid UTF-8 is copied as it is, escapes aside. */
  #text(src: Uint8Array, from: number, to: number): void {
    let i = from;
    // TextDecoder drops a leading byte-order mark.
    if (to - i >= 3 && src[i] === 0xef && src[i + 1] === 0xbb && src[i + 2] === 0xbf) i += 3;
    this.#ensure(to - i + 2);
    let out = this.#out;
    const start = this.#len;
    let len = start;
    out[len++] = QUOTE;
    while (i < to) {
      // A run of bytes that go out as they are: scanned, then copied at once when long enough
      // that a view and a copy cost less than a byte-by-byte copy.
      let j = i;
      while (j < to && PLAIN[src[j]] === 1) j++;
      if (j - i >= COPY_RUN_BYTES) {
        out.set(src.subarray(i, j), len);
        len += j - i;
        i = j;
      } else {
        while (i < j) out[len++] = src[i++];
      }
      if (i === to) break;
      const b = src[i];
      if (b >= 0x80) {
        const n = sequenceLength(src, i, to);
        if (n === 0) {
          // Not UTF-8: as TextDecoder reads it (U+FFFD for each bad sequence), then escaped.
          this.#len = start;
          return this.raw(JSON.stringify(decoder.decode(src.subarray(from, to))));
        }
        for (const last = i + n; i < last; i++) out[len++] = src[i];
        continue;
      }
      // An escape: up to 6 bytes for this one, 1 for each byte left, and the closing quote.
      if (len + 6 + (to - i) + 1 > out.length) {
        this.#len = len;
        this.#ensure(6 + (to - i) + 1);
        out = this.#out;
      }
      out[len++] = BACKSLASH;
      if (b === QUOTE || b === BACKSLASH) out[len++] = b;
      else if (SHORT_ESCAPES[b] !== 0) out[len++] = SHORT_ESCAPES[b];
      else {
        out[len++] = 0x75; // u
        out[len++] = 0x30;
        out[len++] = 0x30;
        out[len++] = HEX[b >> 4];
        out[len++] = HEX[b & 15];
      }
      i++;
    }
    out[len++] = QUOTE;
    this.#len = len;
  }

  /** `src[from..to)` in base64 (padded, as Buffer's toString("base64")), in a JSON string. */
  #base64(src: Uint8Array, from: number, to: number): void {
    this.#ensure(Math.ceil((to - from) / 3) * 4 + 2);
    const out = this.#out;
    let len = this.#len;
    out[len++] = QUOTE;
    let i = from;
    for (; i + 3 <= to; i += 3) {
      const n = (src[i] << 16) | (src[i + 1] << 8) | src[i + 2];
      out[len++] = BASE64[n >> 18];
      out[len++] = BASE64[(n >> 12) & 63];
      out[len++] = BASE64[(n >> 6) & 63];
      out[len++] = BASE64[n & 63];
    }
    if (to - i === 1) {
      const n = src[i] << 16;
      out[len++] = BASE64[n >> 18];
      out[len++] = BASE64[(n >> 12) & 63];
      out[len++] = 0x3d; // =
      out[len++] = 0x3d;
    } else if (to - i === 2) {
      const n = (src[i] << 16) | (src[i + 1] << 8);
      out[len++] = BASE64[n >> 18];
      out[len++] = BASE64[(n >> 12) & 63];
      out[len++] = BASE64[(n >> 6) & 63];
      out[len++] = 0x3d;
    }
    out[len++] = QUOTE;
    this.#len = len;
  }

  /** A value that holds JSON (valueEncoding=json), written back compact. */
  #json(src: Uint8Array, from: number, to: number, offset: number): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(decoder.decode(src.subarray(from, to)));
    } catch {
      throw new SluiceError(
        "INVALID_REQUEST",
        `the value at offset ${offset} is not JSON; fetch it with valueEncoding=string or base64`,
        { offset },
      );
    }
    this.raw(JSON.stringify(parsed));
  }
}

/** A key's or value's length varint (-1: null), checked against where the record ends. */
function fieldLength(span: Span): number {
  const length = readVarint(span);
  if (length > 0 && span.pos + length > span.end) {
    throw new SluiceError("CORRUPT_BATCH", `a field of ${length} bytes runs past its record`);
  }
  return length;
}

/**
 * The length of the UTF-8 sequence at `src[i]` (a byte >= 0x80), or 0 when it is not one that
 * TextDecoder reads as a character: overlong forms, surrogates and code points past U+10FFFF are
 * not (the WHATWG decoder's byte ranges).
 */
function sequenceLength(src: Uint8Array, i: number, to: number): number {
  const b = src[i];
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) n = 2;
  else if (b >= 0xe0 && b <= 0xef) {
    n = 3;
    if (b === 0xe0) lo = 0xa0;
    else if (b === 0xed) hi = 0x9f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    n = 4;
    if (b === 0xf0) lo = 0x90;
    else if (b === 0xf4) hi = 0x8f;
  } else return 0;
  if (i + n > to) return 0;
  const second = src[i + 1];
  if (second < lo || second > hi) return 0;
  for (let k = 2; k < n; k++) {
    const c = src[i + k];
    if (c < 0x80 || c > 0xbf) return 0;
  }
  return n;
}
