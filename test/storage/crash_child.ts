/**
 * Child program for crash_test.ts: appends to a PartitionLog until it is killed.
 *
 * `deno run -A crash_child.ts <dir> <flushPolicy> <segmentBytes> <tag> <checkpointIntervalMs>`
 *
 * Runs {@link CHILD_LOOPS} append loops concurrently (so group commit sees several appends per
 * fsync); each appends batches of 1-5 records whose values start with a unique id
 * `<tag>.<loop>.<seq>`, seq counting the loop's records from 0 (see {@link valueFor}). After each append resolves it prints one line,
 * `ack <baseOffset> <lastOffset> <id> <id> ...`, to stdout. Warnings and errors go to stderr.
 */
import type { Logger } from "../../src/logger.ts";
import { encodeRecordBatch, type RecordInput } from "../../src/record/record_batch.ts";
import type { FlushPolicy } from "../../src/storage/log_config.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";

/** Concurrent append loops in the child. */
export const CHILD_LOOPS = 4;
/** Records per batch are 1..this. */
const RECORDS_PER_BATCH_MAX = 5;
/** Each loop yields to the event loop every this many appends, so fsync callbacks and timers run. */
const APPENDS_PER_YIELD = 8;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The record id `<tag>.<loop>.<seq>`, unique across runs when each run has its own tag. */
export function recordId(tag: string, loop: number, seq: number): string {
  return `${tag}.${loop}.${seq}`;
}

/** A record's value: its id, `|`, then 40-239 bytes of padding derived from the id. */
export function valueFor(id: string): string {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (Math.imul(h, 31) + id.charCodeAt(i)) >>> 0;
  return `${id}|${"x".repeat(40 + h % 200)}`;
}

/** The id at the start of a value written by {@link valueFor}. */
export function idOf(value: Uint8Array | null): string {
  const text = value === null ? "" : decoder.decode(value);
  const bar = text.indexOf("|");
  return bar < 0 ? text : text.slice(0, bar);
}

export interface Ack {
  baseOffset: number;
  lastOffset: number;
  ids: string[];
}

/** Parses one `ack` line; undefined for anything else (a line cut by the kill). */
export function parseAck(line: string): Ack | undefined {
  const parts = line.trim().split(" ");
  if (parts[0] !== "ack" || parts.length < 4) return undefined;
  const baseOffset = Number(parts[1]);
  const lastOffset = Number(parts[2]);
  const ids = parts.slice(3);
  if (!Number.isSafeInteger(baseOffset) || !Number.isSafeInteger(lastOffset)) return undefined;
  if (lastOffset - baseOffset + 1 !== ids.length) return undefined;
  return { baseOffset, lastOffset, ids };
}

const stderrLogger: Logger = {
  info() {},
  warn: (m, f) => console.error(JSON.stringify({ level: "warn", message: m, ...f })),
  error: (m, f) => console.error(JSON.stringify({ level: "error", message: m, ...f })),
};

async function appendLoop(log: PartitionLog, tag: string, loop: number): Promise<never> {
  let nextSeq = 0;
  for (let appends = 1;; appends++) {
    const count = 1 + Math.floor(Math.random() * RECORDS_PER_BATCH_MAX);
    const ids: string[] = [];
    const records: RecordInput[] = [];
    for (let i = 0; i < count; i++) {
      const id = recordId(tag, loop, nextSeq++);
      ids.push(id);
      records.push({ value: encoder.encode(valueFor(id)) });
    }
    const { baseOffset, lastOffset } = await log.append(
      encodeRecordBatch(records, { timestampMs: Date.now() }),
    );
    console.log(`ack ${baseOffset} ${lastOffset} ${ids.join(" ")}`);
    if (appends % APPENDS_PER_YIELD === 0) {
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
}

async function main(args: string[]): Promise<void> {
  const [dir, policy, segmentBytes, tag, checkpointIntervalMs] = args;
  if (checkpointIntervalMs === undefined) {
    throw new Error(
      "usage: crash_child.ts <dir> <flushPolicy> <segmentBytes> <tag> <checkpointIntervalMs>",
    );
  }
  const log = await PartitionLog.open(dir, {
    config: {
      flushPolicy: policy as FlushPolicy,
      segmentBytes: Number(segmentBytes),
      checkpointIntervalMs: Number(checkpointIntervalMs),
    },
    logger: stderrLogger,
  });
  const loops: Promise<never>[] = [];
  for (let loop = 0; loop < CHILD_LOOPS; loop++) loops.push(appendLoop(log, tag, loop));
  await Promise.all(loops);
}

if (import.meta.main) {
  main(Deno.args).catch((err) => {
    console.error(`crash_child failed: ${err?.stack ?? err}`);
    Deno.exit(1);
  });
}
