/**
 * Slow readers: clients that ask for the largest fetch they may and then never read the answer,
 * against a running server on loopback, while /healthz latency, the server's RSS (VmRSS from
 * /proc/<pid>/status), the response-budget gauges in /metrics and a normal consumer are sampled.
 *
 * Each round opens `connections` Kafka connections, each sending one Fetch v4 (max_bytes and
 * partition_max_bytes `maxBytes`, from offset 0), and `connections` HTTP connections, each sending
 * `GET .../records?offset=0&maxBytes=...` with `Accept: application/vnd.kafka.recordbatch`; none of
 * them reads a byte. The round holds them for `holdSeconds`, then closes them all and waits for the
 * server's gauges to come back to 0; rounds repeat until `seconds` are up, so a server that leaks
 * per attack shows an RSS that keeps growing (`rssGrowthMiB`: the last round's peak minus the
 * first's). Everything is bounded: connections (SLOW_CONNECTIONS_MAX), time (SOAK_SECONDS_MAX),
 * samples.
 *
 * `slowReaderAttack` is what scripts/soak.ts calls; test/faults/slow_reader_test.ts uses the same
 * pieces. Standalone, it starts its own server with both listeners and fills a topic first:
 *
 *   deno run -A scripts/soak_slow_readers.ts [--seconds 30] [--connections 60] [--topic-mib 128]
 */
import { percentile, rssMiB } from "./soak_util.ts";
import { parseArgs } from "node:util";
import type { Struct } from "../src/kafka_protocol/codec.ts";
import { FETCH_REQUEST } from "../src/kafka_protocol/messages/fetch.ts";
import { makeBatch } from "../test/faults/fault_util.ts";
import { ourRequestFrame } from "../test/kafka_protocol/kafka_wire_util.ts";

const HOST = "127.0.0.1";
/** Slow connections per listener per round, at most. */
export const SLOW_CONNECTIONS_MAX = 1000;
/** The longest attack. */
export const SOAK_SECONDS_MAX = 3600;
/** Bytes each slow reader asks for (the figure: 64 MiB). */
export const SLOW_READER_MAX_BYTES = 64 * 1024 * 1024;
const RSS_SAMPLE_MS = 250;
const HEALTHZ_SAMPLE_MS = 100;
const CONSUMER_SAMPLE_MS = 250;
/** How long the gauges may take to reach 0 once the slow clients closed. */
const DRAIN_TIMEOUT_MS = 30_000;
/** /healthz samples kept (one per HEALTHZ_SAMPLE_MS over SOAK_SECONDS_MAX fits). */
const HEALTHZ_SAMPLES_MAX = 40_000;

export interface SlowReaderOptions {
  httpPort: number;
  /** 0 or absent: the Kafka half is skipped. */
  kafkaPort?: number;
  /** The server process (its VmRSS is sampled). */
  pid: number;
  /** A topic holding data at partition 0 from offset 0 (the more, the more each reader pins). */
  topic: string;
  seconds: number;
  /** Slow connections per listener per round. */
  connections: number;
  /** How long a round holds its slow clients before closing them (default 5 s). */
  holdSeconds?: number;
  maxBytes?: number;
}

export interface SlowReaderResult {
  rounds: number;
  rssStartMiB: number;
  rssMaxMiB: number;
  /** The last round's peak RSS minus the first round's. */
  rssGrowthMiB: number;
  /** After the last round's clients closed and the gauges came back. */
  rssEndMiB: number;
  healthzSamples: number;
  healthzP50Ms: number;
  healthzP99Ms: number;
  healthzMaxMs: number;
  /** Highest gauge values seen while the slow clients were connected. */
  kafkaResponseBytesMax: number;
  httpResponseBytesMax: number;
  /** Gauge values once the slow clients of the last round closed (0 when released). */
  kafkaResponseBytesEnd: number;
  httpResponseBytesEnd: number;
  /** Fetches of the normal consumer that returned records, and those that failed. */
  consumerFetches: number;
  consumerErrors: number;
}

/** The value of one unlabelled family in /metrics text (NaN when absent). */
export function metricValue(text: string, name: string): number {
  const m = text.match(new RegExp(`^${name} (\\S+)$`, "m"));
  return m ? Number(m[1]) : NaN;
}

export async function readMetrics(httpPort: number): Promise<string> {
  const res = await fetch(`http://${HOST}:${httpPort}/metrics`);
  return await res.text();
}

/**
 * Creates `topic` (1 partition) and appends about `mib` MiB to it, as batches of ~1 MB (1,000
 * records of 1,000 B, under max.message.bytes), eight to a request.
 */
export async function fillTopic(httpPort: number, topic: string, mib: number): Promise<void> {
  const base = `http://${HOST}:${httpPort}/v1/topics`;
  const created = await fetch(base, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: topic, partitions: 1 }),
  });
  await created.body?.cancel();
  if (created.status !== 201) throw new Error(`create ${topic}: ${created.status}`);
  const batch = makeBatch(topic, 1000, 1000);
  const perRequest = 8;
  const body = new Uint8Array(batch.length * perRequest);
  for (let i = 0; i < perRequest; i++) body.set(batch, i * batch.length);
  const requests = Math.ceil((mib * 1024 * 1024) / body.length);
  for (let i = 0; i < requests; i++) {
    const res = await fetch(`${base}/${encodeURIComponent(topic)}/partitions/0/batches`, {
      method: "POST",
      headers: { "content-type": "application/vnd.kafka.recordbatch" },
      body,
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`append to ${topic}: ${res.status} ${text}`);
  }
}

/** A Fetch v4 body for partition 0 of `topic` from `offset`, asking `maxBytes` of it at once. */
export function kafkaFetchBody(topic: string, offset: number, maxBytes: number): Struct {
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes,
    isolationLevel: 0,
    topics: [{
      topic,
      partitions: [{ partition: 0, fetchOffset: BigInt(offset), partitionMaxBytes: maxBytes }],
    }],
  };
}

/** The same as a size-prefixed request frame. */
export function kafkaFetchFrame(topic: string, offset: number, maxBytes: number): Uint8Array {
  return ourRequestFrame(FETCH_REQUEST, 4, kafkaFetchBody(topic, offset, maxBytes), "slow-reader");
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

/** `n` Kafka connections that each send one Fetch of `maxBytes` and never read. */
export async function openKafkaSlowReaders(
  port: number,
  topic: string,
  n: number,
  maxBytes: number,
): Promise<Deno.Conn[]> {
  const frame = kafkaFetchFrame(topic, 0, maxBytes);
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < Math.min(n, SLOW_CONNECTIONS_MAX); i++) {
    const conn = await Deno.connect({ hostname: HOST, port });
    conns.push(conn);
    await writeAll(conn, frame);
  }
  return conns;
}

/** `n` HTTP connections that each send one record-batch fetch of `maxBytes` and never read. */
export async function openHttpSlowReaders(
  port: number,
  topic: string,
  n: number,
  maxBytes: number,
): Promise<Deno.Conn[]> {
  const request = new TextEncoder().encode(
    `GET /v1/topics/${
      encodeURIComponent(topic)
    }/partitions/0/records?offset=0&maxBytes=${maxBytes}` +
      ` HTTP/1.1\r\nhost: ${HOST}:${port}\r\naccept: application/vnd.kafka.recordbatch\r\n\r\n`,
  );
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < Math.min(n, SLOW_CONNECTIONS_MAX); i++) {
    const conn = await Deno.connect({ hostname: HOST, port });
    conns.push(conn);
    await writeAll(conn, request);
  }
  return conns;
}

/**
 * `n` consumer-group members (one group each, so each is assigned partition 0 of `topic`, from
 * the earliest offset) whose JSON fetch of `maxBytes` is sent on a socket never read.
 */
export async function openHttpGroupSlowReaders(
  port: number,
  topic: string,
  n: number,
  maxBytes: number,
): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < Math.min(n, SLOW_CONNECTIONS_MAX); i++) {
    const group = `slow-reader-${i}`;
    const joined = await fetch(`http://${HOST}:${port}/v1/groups/${group}/members`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ topics: [topic], autoOffsetReset: "earliest" }),
    });
    const member = await joined.json() as { memberId?: string };
    if (joined.status !== 200 || member.memberId === undefined) {
      throw new Error(`join ${group}: ${joined.status} ${JSON.stringify(member)}`);
    }
    const request = new TextEncoder().encode(
      `GET /v1/groups/${group}/members/${
        encodeURIComponent(member.memberId)
      }/records?maxBytes=${maxBytes} HTTP/1.1\r\nhost: ${HOST}:${port}\r\n\r\n`,
    );
    const conn = await Deno.connect({ hostname: HOST, port });
    conns.push(conn);
    await writeAll(conn, request);
  }
  return conns;
}

export function closeAll(conns: Deno.Conn[]): void {
  for (const c of conns) {
    try {
      c.close();
    } catch { /* already closed */ }
  }
  conns.length = 0;
}

/**
 * Polls /metrics until both response gauges are 0 (bounded); returns the last values seen.
 * A gauge the server does not expose reads as NaN.
 */
export async function waitForRelease(
  httpPort: number,
  timeoutMs = DRAIN_TIMEOUT_MS,
): Promise<{ kafka: number; http: number }> {
  const deadline = performance.now() + timeoutMs;
  let last = { kafka: NaN, http: NaN };
  while (performance.now() < deadline) {
    const text = await readMetrics(httpPort);
    last = {
      kafka: metricValue(text, "sluice_kafka_response_bytes_in_flight"),
      http: metricValue(text, "sluice_http_response_bytes_in_flight"),
    };
    if ((last.kafka === 0 || Number.isNaN(last.kafka)) && last.http === 0) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}

/** Runs the attack; see the module doc. */
export async function slowReaderAttack(opts: SlowReaderOptions): Promise<SlowReaderResult> {
  const seconds = Math.min(Math.max(1, opts.seconds), SOAK_SECONDS_MAX);
  const connections = Math.min(Math.max(1, opts.connections), SLOW_CONNECTIONS_MAX);
  const holdMs = Math.max(1, opts.holdSeconds ?? 5) * 1000;
  const maxBytes = opts.maxBytes ?? SLOW_READER_MAX_BYTES;
  const endAt = performance.now() + seconds * 1000;
  const rssStartMiB = rssMiB(opts.pid);
  let rssMax = rssStartMiB;
  let roundPeak = 0;
  const roundPeaks: number[] = [];
  const healthz: number[] = [];
  let kafkaMax = 0;
  let httpMax = 0;
  let consumerFetches = 0;
  let consumerErrors = 0;
  let stopped = false;

  const rssTimer = setInterval(() => {
    const r = rssMiB(opts.pid);
    rssMax = Math.max(rssMax, r);
    roundPeak = Math.max(roundPeak, r);
  }, RSS_SAMPLE_MS);
  const healthzLoop = (async () => {
    while (!stopped && healthz.length < HEALTHZ_SAMPLES_MAX) {
      const t0 = performance.now();
      try {
        const res = await fetch(`http://${HOST}:${opts.httpPort}/healthz`);
        await res.text();
        healthz.push(performance.now() - t0);
      } catch {
        healthz.push(performance.now() - t0);
      }
      await new Promise((r) => setTimeout(r, HEALTHZ_SAMPLE_MS));
    }
  })();
  // A well-behaved consumer walking the partition with 1 MiB fetches.
  const consumerLoop = (async () => {
    let offset = 0;
    const url = `http://${HOST}:${opts.httpPort}/v1/topics/${encodeURIComponent(opts.topic)}` +
      `/partitions/0/records`;
    while (!stopped) {
      try {
        const res = await fetch(`${url}?offset=${offset}&maxBytes=${1 << 20}`, {
          headers: { accept: "application/vnd.kafka.recordbatch" },
        });
        const body = await res.arrayBuffer();
        const next = Number(res.headers.get("sluice-next-offset"));
        const hw = Number(res.headers.get("sluice-high-watermark"));
        if (res.status === 200 && body.byteLength > 0) consumerFetches++;
        else if (res.status !== 200) consumerErrors++;
        offset = next >= hw ? 0 : next;
      } catch {
        consumerErrors++;
      }
      await new Promise((r) => setTimeout(r, CONSUMER_SAMPLE_MS));
    }
  })();

  let rounds = 0;
  let end = { kafka: NaN, http: NaN };
  try {
    while (rounds === 0 || performance.now() < endAt) {
      rounds++;
      roundPeak = rssMiB(opts.pid);
      const kafka = opts.kafkaPort
        ? await openKafkaSlowReaders(opts.kafkaPort, opts.topic, connections, maxBytes)
        : [];
      const http = await openHttpSlowReaders(opts.httpPort, opts.topic, connections, maxBytes);
      const holdUntil = Math.min(performance.now() + holdMs, Math.max(endAt, 0));
      do {
        const text = await readMetrics(opts.httpPort);
        const k = metricValue(text, "sluice_kafka_response_bytes_in_flight");
        const h = metricValue(text, "sluice_http_response_bytes_in_flight");
        if (!Number.isNaN(k)) kafkaMax = Math.max(kafkaMax, k);
        if (!Number.isNaN(h)) httpMax = Math.max(httpMax, h);
        await new Promise((r) => setTimeout(r, RSS_SAMPLE_MS));
      } while (performance.now() < holdUntil);
      closeAll(kafka);
      closeAll(http);
      end = await waitForRelease(opts.httpPort);
      roundPeaks.push(roundPeak);
    }
  } finally {
    stopped = true;
    clearInterval(rssTimer);
    await Promise.all([healthzLoop, consumerLoop]);
  }
  const sorted = healthz.slice().sort((a, b) => a - b);
  return {
    rounds,
    rssStartMiB,
    rssMaxMiB: rssMax,
    rssGrowthMiB: roundPeaks[roundPeaks.length - 1] - roundPeaks[0],
    rssEndMiB: rssMiB(opts.pid),
    healthzSamples: sorted.length,
    healthzP50Ms: percentile(sorted, 0.5),
    healthzP99Ms: percentile(sorted, 0.99),
    healthzMaxMs: sorted[sorted.length - 1] ?? NaN,
    kafkaResponseBytesMax: kafkaMax,
    httpResponseBytesMax: httpMax,
    kafkaResponseBytesEnd: end.kafka,
    httpResponseBytesEnd: end.http,
    consumerFetches,
    consumerErrors,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "30" },
      connections: { type: "string", default: "60" },
      "topic-mib": { type: "string", default: "128" },
      "hold-seconds": { type: "string", default: "5" },
    },
  });
  const { startKafkaServer } = await import("../test/kafka_protocol/kafka_harness.ts");
  const server = await startKafkaServer();
  try {
    const httpPort = Number(new URL(server.httpUrl).port);
    await fillTopic(httpPort, "slow-readers", Number(values["topic-mib"]));
    const result = await slowReaderAttack({
      httpPort,
      kafkaPort: server.kafkaPort,
      pid: server.server.proc.pid,
      topic: "slow-readers",
      seconds: Number(values.seconds),
      connections: Number(values.connections),
      holdSeconds: Number(values["hold-seconds"]),
    });
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
  }
}
