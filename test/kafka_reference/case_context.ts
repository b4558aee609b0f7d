/**
 * What a group of differential cases (test/kafka_reference/cases/*.ts) gets from the run: the
 * exchange with both sides, the versions each serves, and the helpers that check preparations.
 * differential_test.ts prepares both sides (the topics and records below), builds one context and
 * runs every group as a step in its turn.
 */
import type { ApiName, CaseSpec, Differ, Exchanged } from "./differential_lib.ts";
import type { RunningKafka } from "./kafka_server.ts";

// deno-lint-ignore no-explicit-any
export type Any = any;

export const CLIENT_ID = "sluice-diff";
/** CreateTime of the prepared records' first record (each next one is 1 ms later). */
export const T0 = 1_700_000_000_000;
export const SESSION_TIMEOUT_MS = 120_000;
export const REBALANCE_TIMEOUT_MS = 30_000;
/** 3 partitions, records in each (2+3+1 batches in 0, 5 in 1, 1 in 2). */
export const TOPIC_A = "diff-a";
/** 1 partition, 4 records. */
export const TOPIC_B = "diff-b";
/** 2 partitions, no records. */
export const TOPIC_EMPTY = "diff-empty";
/** 1 partition, for requests Kafka refuses and Sluice may not. */
export const TOPIC_BATCHES = "diff-batches";
export const UNKNOWN_TOPIC = "no-such-topic";
export const UNKNOWN_UUID = Uint8Array.from({ length: 16 }, (_, i) => 0x10 + i);

export interface CaseContext {
  readonly t: Deno.TestContext;
  readonly d: Differ;
  readonly kafka: RunningKafka;
  /** Every version of `api` Sluice serves, in order. */
  versions(api: ApiName): number[];
  /** The range of `api` Sluice serves. */
  served(api: ApiName): { min: number; max: number };
  /** Whether Kafka serves `api` at version `v`. */
  kafkaServes(api: ApiName, v: number): boolean;
  /** One compared case (or a preparation when `spec.prepare`). */
  check(spec: CaseSpec): Promise<Exchanged>;
  /** Asserts a preparation step worked on both sides. */
  prepared(what: string, e: Exchanged, ok: (b: Any) => boolean): void;
  /** Polls a preparation request on both sides until `ok` holds on both (Kafka is async). */
  until(what: string, spec: CaseSpec, ok: (b: Any) => boolean, kafkaOnly?: boolean): Promise<
    Exchanged
  >;
}
