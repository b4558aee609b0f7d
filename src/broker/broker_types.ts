/**
 * The broker's request and result shapes (produce, fetch, appends), shared by the fronts.
 */
import type { RecordInput } from "../record/record_batch.ts";
import type { AppendResult } from "../storage/partition_log.ts";
import type { FetchBudget } from "./fetch_reader.ts";

/**
 * A record to produce; `partition` pins it, otherwise its key (or stickiness) decides. The key is
 * bytes, since the partitioner hashes them; the value may be a string (written as UTF-8).
 */
export interface ProduceRecord extends Omit<RecordInput, "key"> {
  key?: Uint8Array | null;
  partition?: number;
}

export interface ProducedOffset {
  partition: number;
  offset: number;
}

export type OffsetSpec = number | "earliest" | "latest";

export interface FetchRequest {
  offset: OffsetSpec;
  maxBytes: number;
  maxWaitMs?: number;
  minBytes?: number;
  /** Ends a wait early; a function is called only when the fetch waits. */
  signal?: AbortSignal | (() => AbortSignal);
  /** The front's response budget, asked right before each read (see fetch_reader.ts). */
  budget?: FetchBudget;
}

export interface FetchResult {
  /** Whole batches as stored; empty when there was nothing to return. */
  bytes: Uint8Array;
  /** The offset the fetch resolved to (earliest/latest made concrete). */
  offset: number;
  nextOffset: number;
  highWatermark: number;
  logStartOffset: number;
}

/** An append of client batches: `duplicate` when an idempotent retry was answered, not written. */
export interface BatchAppendResult extends AppendResult {
  duplicate: boolean;
}
