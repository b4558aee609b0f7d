/**
 * Per-batch compression, as Kafka's RecordBatch attributes bits 0-2 name it. Only the records
 * section after the 61-byte header is compressed. Sluice writes none, gzip and LZ4; it stores any
 * of Kafka's codecs as bytes (a batch is never re-encoded) and decodes those it has a codec for.
 *
 * LZ4 is the LZ4 *frame* format (magic 0x184D2204), which is what Kafka's Java client, librdkafka
 * and kafkajs's LZ4 codecs write; the raw LZ4 block format is not Kafka-compatible.
 */
import type * as Zlib from "node:zlib";
import type * as Lz4 from "lz4-napi";
import { SluiceError } from "../errors.ts";
import { DECOMPRESSED_BATCH_BYTES_MAX } from "../limits.ts";
import { loadModule } from "../runtime/lazy_module.ts";

// The codecs load on their first batch (runtime/lazy_module.ts): a server whose clients never
// compress does not hold node:zlib or the lz4 addon (idle RSS).
// A codec that cannot load (no prebuilt addon for this platform) is UNSUPPORTED_COMPRESSION.
const zlib = (): typeof Zlib => codec<typeof Zlib>("node:zlib", COMPRESSION_CODECS.gzip);
const lz4 = (): typeof Lz4 => codec<typeof Lz4>("lz4-napi", COMPRESSION_CODECS.lz4);

function codec<T>(specifier: string, id: number): T {
  try {
    return loadModule<T>(specifier);
  } catch (err) {
    throw unsupported(id, `${specifier} did not load: ${(err as Error).message}`);
  }
}

export const COMPRESSION_CODECS = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CompressionName = keyof typeof COMPRESSION_CODECS;
export type CompressionCodec = typeof COMPRESSION_CODECS[CompressionName];

const NAMES = ["none", "gzip", "snappy", "lz4", "zstd"] as const;

/** The codec's name, or undefined for codec ids 5-7, which Kafka does not define. */
export function compressionName(codec: number): CompressionName | undefined {
  return NAMES[codec];
}

function unsupported(codec: number, why?: string): SluiceError {
  return new SluiceError(
    "UNSUPPORTED_COMPRESSION",
    `compression codec ${compressionName(codec) ?? codec} is not supported here ${
      why === undefined ? "(none, gzip, lz4 are)" : `(${why})`
    }`,
    { codec },
  );
}

/** Compresses a batch's records section. */
export function compress(codec: CompressionCodec, bytes: Uint8Array): Uint8Array {
  switch (codec) {
    case COMPRESSION_CODECS.none:
      return bytes;
    case COMPRESSION_CODECS.gzip:
      return new Uint8Array(zlib().gzipSync(bytes));
    case COMPRESSION_CODECS.lz4:
      return lz4().compressFrameSync(bytes as Parameters<typeof Lz4.compressFrameSync>[0]);
    default:
      throw unsupported(codec);
  }
}

/** Decompresses a batch's records section; corrupt input is a CORRUPT_BATCH error. */
export function decompress(codec: number, bytes: Uint8Array): Uint8Array {
  let out: Uint8Array;
  try {
    switch (codec) {
      case COMPRESSION_CODECS.none:
        return bytes;
      case COMPRESSION_CODECS.gzip:
        out = zlib().gunzipSync(bytes, { maxOutputLength: DECOMPRESSED_BATCH_BYTES_MAX });
        break;
      case COMPRESSION_CODECS.lz4: {
        const bound = lz4FrameBound(bytes);
        if (bound > DECOMPRESSED_BATCH_BYTES_MAX) {
          throw new SluiceError(
            "CORRUPT_BATCH",
            `lz4 frame may decompress to ${bound} bytes, more than ${DECOMPRESSED_BATCH_BYTES_MAX}`,
          );
        }
        out = lz4().decompressFrameSync(bytes as Parameters<typeof Lz4.decompressFrameSync>[0]);
        break;
      }
      default:
        throw unsupported(codec);
    }
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    throw new SluiceError(
      "CORRUPT_BATCH",
      `${compressionName(codec)} data does not decompress: ${(err as Error).message}`,
      undefined,
      { cause: err },
    );
  }
  if (out.length > DECOMPRESSED_BATCH_BYTES_MAX) {
    throw new SluiceError(
      "CORRUPT_BATCH",
      `batch decompresses to more than ${DECOMPRESSED_BATCH_BYTES_MAX} bytes`,
    );
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

const LZ4_FRAME_MAGIC = 0x184d2204;
/** Block maximum sizes by the frame descriptor's BD bits 6-4 (4 = 64 KiB ... 7 = 4 MiB). */
const LZ4_BLOCK_MAX_BYTES = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20];

/**
 * An upper bound on what an LZ4 frame (or frames back to back) decompresses to, from its block
 * headers alone: each block holds at most the frame's block maximum. The addon offers no output
 * limit, so this keeps a small batch from expanding ~255:1 into gigabytes before any check.
 * Throws CORRUPT_BATCH for a malformed frame.
 */
export function lz4FrameBound(bytes: Uint8Array): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string) => new SluiceError("CORRUPT_BATCH", `malformed lz4 frame: ${why}`);
  let pos = 0;
  let bound = 0;
  for (let frames = 0; pos < bytes.length; frames++) {
    if (frames >= 1024) throw bad("more than 1024 frames");
    if (bytes.length - pos < 7) throw bad("header cut short");
    if (dv.getUint32(pos, true) !== LZ4_FRAME_MAGIC) throw bad(`magic at ${pos}`);
    const flg = bytes[pos + 4];
    const blockMaxBytes = LZ4_BLOCK_MAX_BYTES[(bytes[pos + 5] >> 4) & 0x7];
    if (blockMaxBytes === 0) throw bad("block size id");
    const blockChecksum = (flg & 0x10) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    pos += 6 + ((flg & 0x08) !== 0 ? 8 : 0) + ((flg & 0x01) !== 0 ? 4 : 0) + 1;
    for (;;) {
      if (bytes.length - pos < 4) throw bad("block header cut short");
      const word = dv.getUint32(pos, true);
      pos += 4;
      if (word === 0) break; // EndMark
      const size = word & 0x7fff_ffff;
      if (size > blockMaxBytes) throw bad(`block of ${size} bytes over the frame's maximum`);
      pos += size + (blockChecksum ? 4 : 0);
      if (pos > bytes.length) throw bad("block runs past the end");
      bound += blockMaxBytes;
    }
    if (contentChecksum) pos += 4;
  }
  return bound;
}
