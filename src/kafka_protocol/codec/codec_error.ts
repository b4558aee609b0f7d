/** The codec's one error: bad bytes or an unsupported version, the peer's fault. */
import { SluiceError } from "../../errors.ts";

export const KAFKA_CODEC_ERROR_REASONS = [
  "TRUNCATED",
  "INVALID_LENGTH",
  "INVALID_VARINT",
  "INVALID_UTF8",
  "TOO_MANY_ELEMENTS",
  "TRAILING_BYTES",
  "UNSUPPORTED_VERSION",
  "NOT_NULLABLE",
] as const;
export type KafkaCodecErrorReason = typeof KAFKA_CODEC_ERROR_REASONS[number];

/** Bad bytes or an unsupported version: the peer's fault, answered with an error, never a crash. */
export class KafkaCodecError extends SluiceError {
  readonly reason: KafkaCodecErrorReason;

  constructor(reason: KafkaCodecErrorReason, message: string, position: number) {
    super("INVALID_REQUEST", message, { reason, position });
    this.reason = reason;
  }
}
