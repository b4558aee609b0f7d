/**
 * The group suite's HTTP calls to the server: topics, raw batch produce to fill them, and the
 * consumer group API (join, heartbeat, leave, fetch bodies and commits).
 */
import { encodeRecordBatch, utf8 } from "../../src/record/record_batch.ts";
import { RECORD_BATCH_TYPE } from "../../src/http/routes/records.ts";
import { asciiStrings } from "../bench_util.ts";
import {
  PARTITIONS,
  RECORDS_PER_BATCH,
  RUN_TIMEOUT_MS,
  SESSION_TIMEOUT_MS,
  TIMESTAMP_MS,
  TOPIC,
  VALUE_BYTES,
} from "./plan.ts";

/** An HTTP error with the API's error code (API.md `{"error":{"code","message"}}`). */
export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string | undefined, message: string) {
    super(message);
  }
}

/** Sends a request and returns the parsed JSON body (undefined for an empty one) or throws. */
export async function call<T>(
  method: "GET" | "POST" | "DELETE",
  url: string,
  body: unknown,
  signal: AbortSignal | undefined,
): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? undefined : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  const text = await res.text(); // the whole body, so the connection goes back to the pool
  if (!res.ok) {
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      // not the API's error body
    }
    throw new HttpError(
      res.status,
      code,
      `${method} ${url}: HTTP ${res.status} ${text.slice(0, 300)}`,
    );
  }
  return (text === "" ? undefined : JSON.parse(text)) as T;
}

async function createTopic(url: string, name: string, partitions: number): Promise<void> {
  await call("POST", `${url}/v1/topics`, { name, partitions, config: {} }, undefined);
}

async function highWatermarks(url: string, topic: string): Promise<number[]> {
  const body = await call<{ partitions: { partition: number; highWatermark: number }[] }>(
    "GET",
    `${url}/v1/topics/${topic}`,
    undefined,
    undefined,
  );
  return body.partitions.sort((a, b) => a.partition - b.partition).map((p) => p.highWatermark);
}

/** One RecordBatch of RECORDS_PER_BATCH records with VALUE_BYTES ASCII values, no keys. */
function recordBatch(): Uint8Array<ArrayBuffer> {
  const records = asciiStrings(RECORDS_PER_BATCH, VALUE_BYTES, 42)
    .map((s) => ({ key: null, value: utf8(s) }));
  return new Uint8Array(encodeRecordBatch(records, { timestampMs: TIMESTAMP_MS }));
}

/** Fills every partition with `perPartition` records by raw batch produce (untimed set-up). */
export async function fill(url: string, topic: string, perPartition: number): Promise<number[]> {
  await createTopic(url, topic, PARTITIONS);
  const batch = recordBatch();
  const signal = AbortSignal.timeout(RUN_TIMEOUT_MS);
  await Promise.all(
    Array.from({ length: PARTITIONS }, async (_, p) => {
      const target = `${url}/v1/topics/${topic}/partitions/${p}/batches`;
      for (let i = 0; i < perPartition / RECORDS_PER_BATCH; i++) {
        const res = await fetch(target, {
          method: "POST",
          headers: { "content-type": RECORD_BATCH_TYPE },
          body: batch,
          signal,
        });
        const text = await res.text();
        if (!res.ok) throw new Error(`append to ${topic}/${p}: HTTP ${res.status} ${text}`);
      }
    }),
  );
  const hw = await highWatermarks(url, topic);
  if (hw.some((h) => h !== perPartition)) {
    throw new Error(`${topic}: high watermarks ${hw.join(",")}, want ${perPartition} each`);
  }
  return hw;
}

interface TopicPartition {
  topic: string;
  partition: number;
}

export interface MemberView {
  memberId: string;
  generation: number;
  assignment: TopicPartition[];
}

export interface FetchBody {
  records: { topic: string; partition: number; offset: number }[];
  generation: number;
  rebalance: boolean;
}

export function groupUrl(url: string, group: string): string {
  return `${url}/v1/groups/${group}`;
}

export function memberUrl(url: string, group: string, member: MemberView): string {
  return `${groupUrl(url, group)}/members/${member.memberId}`;
}

async function joinMember(
  url: string,
  group: string,
  topic: string,
  autoOffsetReset: "earliest" | "latest",
): Promise<MemberView> {
  return await call<MemberView>("POST", `${groupUrl(url, group)}/members`, {
    topics: [topic],
    autoOffsetReset,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
  }, undefined);
}

export async function heartbeat(
  url: string,
  group: string,
  member: MemberView,
  signal?: AbortSignal,
): Promise<{ generation: number; assignment: TopicPartition[] }> {
  return await call("POST", `${memberUrl(url, group, member)}/heartbeat`, undefined, signal);
}

export async function leave(url: string, group: string, member: MemberView): Promise<void> {
  await call("DELETE", memberUrl(url, group, member), undefined, undefined);
}

/** Joins `count` members one after the other, then gives each the final generation. */
export async function joinAll(
  url: string,
  group: string,
  count: number,
  autoOffsetReset: "earliest" | "latest",
): Promise<MemberView[]> {
  const members: MemberView[] = [];
  for (let i = 0; i < count; i++) {
    members.push(await joinMember(url, group, TOPIC, autoOffsetReset));
  }
  for (const m of members) {
    const hb = await heartbeat(url, group, m);
    m.generation = hb.generation;
    m.assignment = hb.assignment;
  }
  const generations = new Set(members.map((m) => m.generation));
  const owned = members.flatMap((m) => m.assignment.map((tp) => tp.partition)).sort();
  if (generations.size !== 1 || owned.join() !== [...Array(PARTITIONS).keys()].join()) {
    throw new Error(
      `${group}: after ${count} joins, generations ${[...generations]} and partitions ${owned}`,
    );
  }
  return members;
}

/** The next offset to commit per partition: one past the last record the fetch returned. */
export function nextOffsets(body: FetchBody): Map<number, number> {
  const next = new Map<number, number>();
  for (const r of body.records) {
    next.set(r.partition, Math.max(next.get(r.partition) ?? 0, r.offset + 1));
  }
  return next;
}

export function commitBody(member: MemberView, next: Map<number, number>) {
  return {
    memberId: member.memberId,
    generation: member.generation,
    offsets: [...next].map(([partition, offset]) => ({ topic: TOPIC, partition, offset })),
  };
}
