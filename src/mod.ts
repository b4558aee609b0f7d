/**
 * Sluice as a library: the storage layer (partition logs of Kafka RecordBatch v2 batches) and the
 * record codec. Embed a log without a server:
 *
 * ```ts
 * import { encodeRecordBatch, PartitionLog, utf8 } from "./mod.ts";
 * const log = await PartitionLog.open("./data/orders-0");
 * const { baseOffset } = await log.append(
 *   encodeRecordBatch([{ key: utf8("k"), value: utf8("v") }], { timestampMs: Date.now() }),
 * );
 * const read = log.read(baseOffset); // whole batches, as appended
 * await log.close();
 * ```
 */
export { ERROR_CODES, type ErrorCode, isSluiceError, SluiceError } from "./errors.ts";
export * as limits from "./limits.ts";
export { type Clock, ManualClock, systemClock } from "./clock.ts";
export { consoleLogger, type Logger, MemoryLogger, silentLogger } from "./logger.ts";
export {
  type BatchOptions,
  decodeBatches,
  type DecodedBatch,
  type DecodedRecord,
  decodeRecordBatch,
  encodeRecordBatch,
  type RecordHeader,
  type RecordInput,
  utf8,
} from "./record/record_batch.ts";
export { COMPRESSION_CODECS, type CompressionName } from "./record/compression.ts";
export { crc32c } from "./record/crc32c.ts";
export { murmur2, partitionForKey, toPositive } from "./record/murmur2.ts";
export {
  type AppendResult,
  PartitionLog,
  type PartitionLogOptions,
  type ReadResult,
  type SegmentInfo,
} from "./storage/partition_log.ts";
export {
  DEFAULT_LOG_CONFIG,
  type FlushPolicy,
  type LogConfig,
  resolveLogConfig,
} from "./storage/log_config.ts";
export {
  Broker,
  type BrokerOptions,
  type FetchRequest,
  type FetchResult,
  type ProducedOffset,
  type ProduceRecord,
} from "./broker/broker.ts";
export type {
  FetchBudget,
  FetchMessagesRequest,
  FetchPartition,
  FetchPartitionResult,
} from "./broker/fetch_reader.ts";
export { type Topic, validateTopicName } from "./broker/topic_registry.ts";
export { parseTopicConfig, type TopicConfig } from "./broker/topic_config.ts";
export { createApp, type SluiceApp } from "./http/app.ts";
