/**
 * Per-batch compression, as Kafka's RecordBatch attributes bits 0-2 name it. Only the records
 * section after the 61-byte header is compressed. Sluice writes none, gzip and LZ4; it stores any
 * of Kafka's codecs as bytes (a batch is never re-encoded) and decodes those it has a codec for.
 *
 * LZ4 is the LZ4 *frame* format (magic 0x184D2204), which is what Kafka's Java client, librdkafka
 * and kafkajs's LZ4 codecs write; the raw LZ4 block format is not Kafka-compatible.
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { compressFrameSync, decompressFrameSync } from "lz4-napi";
import { SluiceError } from "../errors.ts";
import { DECOMPRESSED_BATCH_BYTES_MAX } from "../limits.ts";

export const COMPRESSION_CODECS = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CompressionName = keyof typeof COMPRESSION_CODECS;
export type CompressionCodec = typeof COMPRESSION_CODECS[CompressionName];

const NAMES = ["none", "gzip", "snappy", "lz4", "zstd"] as const;

/** The codec's name, or undefined for codec ids 5-7, which Kafka does not define. */
export function compressionName(codec: number): CompressionName | undefined {
  return NAMES[codec];
}

function unsupported(codec: number): SluiceError {
  return new SluiceError(
    "UNSUPPORTED_COMPRESSION",
    `compression codec ${
      compressionName(codec) ?? codec
    } is not supported here (none, gzip, lz4 are)`,
    { codec },
  );
}

/** Compresses a batch's records section. */
export function compress(codec: CompressionCodec, bytes: Uint8Array): Uint8Array {
  switch (codec) {
    case COMPRESSION_CODECS.none:
      return bytes;
    case COMPRESSION_CODECS.gzip:
      return new Uint8Array(gzipSync(bytes));
    case COMPRESSION_CODECS.lz4:
      return compressFrameSync(bytes as Parameters<typeof compressFrameSync>[0]);
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
        out = gunzipSync(bytes, { maxOutputLength: DECOMPRESSED_BATCH_BYTES_MAX });
        break;
      case COMPRESSION_CODECS.lz4:
        out = decompressFrameSync(bytes as Parameters<typeof decompressFrameSync>[0]);
        break;
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
