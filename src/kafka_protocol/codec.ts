/**
 * One codec engine for Kafka wire messages, driven by declarative tables (see `messages/`): the
 * public entry, re-exporting its parts (codec/).
 *
 * A table lists a message's fields in wire order, each with the versions it exists in. The engine
 * walks the table for one version; no message has a hand-written codec. Its parts, one job each,
 * each documenting the wire layouts it codes:
 *
 * - codec/schema.ts       the tables' types, values, version ranges, per-field modes (flexible
 *                         versions, nullability, tagged fields)
 * - codec/defaults.ts     field defaults and `normalize` (what a round trip yields)
 * - codec/writer.ts       output primitives (fixed-width integers, unsigned varints) and the
 *                         zero-copy chunks of stored record batches
 * - codec/reader.ts       input primitives, bounds-checked
 * - codec/encode.ts       composite layouts (strings, bytes, records, arrays, structs, tagged
 *                         fields, compact forms) written from a table
 * - codec/decode.ts       the same read back, every length checked against what is left
 * - codec/codec_error.ts  KafkaCodecError: bad bytes or an unsupported version
 *
 * All integers are big-endian, as Kafka's protocol guide specifies. Decoding never reads past the
 * end of its input: every read checks its bounds first and throws {@link KafkaCodecError}.
 * Encoding a value of the wrong JS type is a programmer error (assert).
 */
export { KAFKA_ARRAY_LENGTH_MAX, KAFKA_TAGGED_FIELDS_MAX } from "../limits.ts";
export {
  KAFKA_CODEC_ERROR_REASONS,
  KafkaCodecError,
  type KafkaCodecErrorReason,
} from "./codec/codec_error.ts";
export {
  type FieldSchema,
  type FieldType,
  inRange,
  type MessageSchema,
  type ScalarType,
  type Struct,
  type Value,
  type VersionRange,
} from "./codec/schema.ts";
export { normalize } from "./codec/defaults.ts";
export { ZERO_COPY_MIN_BYTES } from "./codec/writer.ts";
export { encode, encodeChunks } from "./codec/encode.ts";
export { decode, decodePrefix } from "./codec/decode.ts";
