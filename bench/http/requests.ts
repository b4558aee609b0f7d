/**
 * The HTTP suite's requests to the server: topics, high watermarks, raw batch and JSON produce,
 * and the binary and JSON fetch of one partition.
 */
import { RECORD_BATCH_TYPE } from "../../src/http/routes/records.ts";
import { FETCH_MAX_BYTES } from "./plan.ts";

/** Reads the whole body (so the connection goes back to the pool) and checks the status. */
export async function expectOk(res: Response, what: string): Promise<string> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text;
}

export async function createTopic(url: string, name: string, partitions: number): Promise<void> {
  const res = await fetch(`${url}/v1/topics`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, partitions, config: {} }),
  });
  await expectOk(res, `create topic ${name}`);
}

export async function highWatermarks(url: string, topic: string): Promise<number[]> {
  const res = await fetch(`${url}/v1/topics/${topic}`);
  const body = JSON.parse(await expectOk(res, `describe ${topic}`)) as {
    partitions: { partition: number; highWatermark: number }[];
  };
  return body.partitions.sort((a, b) => a.partition - b.partition).map((p) => p.highWatermark);
}

export async function produceBatches(
  url: string,
  topic: string,
  partition: number,
  batch: Uint8Array<ArrayBuffer>,
  requests: number,
  signal: AbortSignal,
): Promise<void> {
  const target = `${url}/v1/topics/${topic}/partitions/${partition}/batches`;
  for (let i = 0; i < requests; i++) {
    const res = await fetch(target, {
      method: "POST",
      headers: { "content-type": RECORD_BATCH_TYPE },
      body: batch,
      signal,
    });
    await expectOk(res, `append to ${topic}/${partition}`);
  }
}

export async function produceJson(
  url: string,
  topic: string,
  body: string,
  requests: number,
  signal: AbortSignal,
  latenciesMs?: number[],
): Promise<void> {
  const target = `${url}/v1/topics/${topic}/records`;
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    const res = await fetch(target, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal,
    });
    await expectOk(res, `produce to ${topic}`);
    latenciesMs?.push(performance.now() - started);
  }
}

export interface ReadTotals {
  records: number;
  bytes: number;
  requests: number;
}

/** What one fetch request at some offset returned. */
interface FetchStep {
  /** The offset to read next. */
  next: number;
  records: number;
  bytes: number;
}

/**
 * Reads `partition` with maxBytes=FETCH_MAX_BYTES from offset 0 until `until`: `step` sends one
 * request to `target` (the URL with that offset) and says how far it got.
 */
async function readPartition(
  url: string,
  topic: string,
  partition: number,
  until: number,
  step: (target: string, offset: number) => Promise<FetchStep>,
): Promise<ReadTotals> {
  const base =
    `${url}/v1/topics/${topic}/partitions/${partition}/records?maxBytes=${FETCH_MAX_BYTES}`;
  const totals: ReadTotals = { records: 0, bytes: 0, requests: 0 };
  let offset = 0;
  while (offset < until) {
    const r = await step(`${base}&offset=${offset}`, offset);
    totals.records += r.records;
    totals.bytes += r.bytes;
    totals.requests++;
    offset = r.next;
  }
  return totals;
}

/** Binary fetches from offset 0 until `endOffset`; records from Sluice-Next-Offset deltas. */
export function fetchBatches(
  url: string,
  topic: string,
  partition: number,
  endOffset: number,
  signal: AbortSignal,
): Promise<ReadTotals> {
  return readPartition(url, topic, partition, endOffset, async (target, offset) => {
    const res = await fetch(target, { headers: { accept: RECORD_BATCH_TYPE }, signal });
    const body = await res.arrayBuffer();
    if (!res.ok) throw new Error(`fetch ${topic}/${partition}@${offset}: HTTP ${res.status}`);
    const next = Number(res.headers.get("sluice-next-offset"));
    if (!(next > offset)) throw new Error(`fetch ${topic}/${partition}@${offset}: next ${next}`);
    return { next, records: next - offset, bytes: body.byteLength };
  });
}

/** JSON fetches from offset 0 until at least `records` records; the client parses each body. */
export function fetchJson(
  url: string,
  topic: string,
  partition: number,
  records: number,
  signal: AbortSignal,
): Promise<ReadTotals> {
  return readPartition(url, topic, partition, records, async (target, offset) => {
    const res = await fetch(target, { signal });
    const text = await expectOk(res, `fetch ${topic}/${partition}@${offset} as JSON`);
    const body = JSON.parse(text) as { records: unknown[]; nextOffset: number };
    if (!(body.nextOffset > offset) || body.records.length !== body.nextOffset - offset) {
      throw new Error(`fetch ${topic}/${partition}@${offset} as JSON: next ${body.nextOffset}`);
    }
    return { next: body.nextOffset, records: body.records.length, bytes: text.length };
  });
}
