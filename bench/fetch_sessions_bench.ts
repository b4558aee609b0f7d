/**
 * Fetch sessions (KIP-227) measured: one consumer of a 200-partition topic with few records,
 * fetching over the Kafka protocol at the wire level (our own message tables), with and without
 * a session, against the real server as a subprocess (bench_server.ts; its CPU from /proc).
 *
 * Two workloads, each run sessionless (every Fetch names all 200 partitions, session epoch -1,
 * as a client without sessions sends) and with a session (a full fetch with epoch 0, then
 * incremental fetches naming only the partitions whose fetch offset moved, as Kafka's Java
 * client sends):
 * - `idle`: nothing is produced; each fetch (min_bytes 1, max_wait_ms 0) answers at once. What a
 *   consumer of many quiet partitions sends most of the time.
 * - `trickle`: before each fetch, one record (100 B value) is appended to the next partition in
 *   turn over a second connection (not measured); the fetch returns it and the consumer moves
 *   that partition's offset.
 * Reported per fetch: request and response bytes (frames as sent, size prefix included), the
 * server's CPU microseconds (user + system from /proc/<pid>/stat over the whole run) and the
 * client's, and fetches per second.
 *
 * Run: deno run -A bench/fetch_sessions_bench.ts [--fetches N] (default 3000 per run)
 */
import { parseArgs } from "node:util";
import { encode, type Struct } from "../src/kafka_protocol/codec.ts";
import { decode } from "../src/kafka_protocol/codec.ts";
import { FETCH_REQUEST, FETCH_RESPONSE } from "../src/kafka_protocol/messages/fetch.ts";
import { PRODUCE_REQUEST } from "../src/kafka_protocol/messages/produce.ts";
import {
  REQUEST_HEADER,
  requestHeaderVersion,
  responseHeaderVersion,
} from "../src/kafka_protocol/messages/request_header.ts";
import type { MessageSchema } from "../src/kafka_protocol/codec.ts";
import { encodeRecordBatch, utf8 } from "../src/record/record_batch.ts";
import { SizePrefixedFrames } from "../scripts/size_prefixed_frames.ts";
import { cpuMeter, withServer } from "./bench_server.ts";

const PARTITIONS = 200;
const TOPIC = "sessions-bench";
const FETCH_VERSION = 12;

class Wire {
  readonly #frames = new SizePrefixedFrames();
  #correlation = 0;
  sent = 0;
  received = 0;
  private constructor(readonly conn: Deno.Conn) {}

  static async connect(hostPort: string): Promise<Wire> {
    const [hostname, port] = hostPort.split(":");
    return new Wire(await Deno.connect({ hostname, port: Number(port) }));
  }

  async call(schema: MessageSchema, version: number, body: Struct): Promise<Uint8Array> {
    const header = encode(REQUEST_HEADER, requestHeaderVersion(schema, version), {
      requestApiKey: schema.apiKey!,
      requestApiVersion: version,
      correlationId: ++this.#correlation,
      clientId: "sessions-bench",
    });
    const payload = encode(schema, version, body);
    const frame = new Uint8Array(4 + header.length + payload.length);
    new DataView(frame.buffer).setInt32(0, header.length + payload.length);
    frame.set(header, 4);
    frame.set(payload, 4 + header.length);
    for (let at = 0; at < frame.length;) at += await this.conn.write(frame.subarray(at));
    this.sent += frame.length;
    const response = await this.#readFrame();
    this.received += 4 + response.length;
    return response;
  }

  async #readFrame(): Promise<Uint8Array> {
    for (;;) {
      const frame = this.#frames.take();
      if (frame !== undefined) return frame;
      const chunk = new Uint8Array(1 << 20);
      const n = await this.conn.read(chunk);
      if (n === null) throw new Error("connection closed");
      this.#frames.push(chunk.subarray(0, n));
    }
  }

  close() {
    this.conn.close();
  }
}

function fetchBody(
  offsets: Map<number, number>,
  named: Iterable<number>,
  sessionId: number,
  epoch: number,
): Struct {
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 50 * 1024 * 1024,
    isolationLevel: 0,
    sessionId,
    sessionEpoch: epoch,
    topics: [{
      topic: TOPIC,
      partitions: [...named].map((p) => ({
        partition: p,
        currentLeaderEpoch: -1,
        fetchOffset: BigInt(offsets.get(p)!),
        lastFetchedEpoch: -1,
        logStartOffset: -1n,
        partitionMaxBytes: 1024 * 1024,
      })),
    }].filter((t) => t.partitions.length > 0),
    forgottenTopicsData: [],
    rackId: "",
  };
}

function decodeFetch(frame: Uint8Array): Struct {
  const headerBytes = responseHeaderVersion(FETCH_RESPONSE, FETCH_VERSION) === 0 ? 4 : 5;
  return decode(FETCH_RESPONSE, FETCH_VERSION, frame.subarray(headerBytes));
}

interface Run {
  workload: "idle" | "trickle";
  mode: "sessionless" | "session";
  fetches: number;
  requestBytesPerFetch: number;
  responseBytesPerFetch: number;
  partitionsAnsweredPerFetch: number;
  serverCpuUsPerFetch: number | undefined;
  clientCpuUsPerFetch: number;
  fetchesPerSecond: number;
}

async function run(
  kafka: string,
  pid: number,
  workload: Run["workload"],
  mode: Run["mode"],
  fetches: number,
  produceFrom: Map<number, number>,
): Promise<Run> {
  const consumer = await Wire.connect(kafka);
  const producer = await Wire.connect(kafka);
  try {
    // Start at the end of every partition.
    const offsets = new Map(produceFrom);
    const all = [...offsets.keys()];
    let sessionId = 0;
    let epoch = 0;
    if (mode === "session") {
      const first = decodeFetch(
        await consumer.call(
          FETCH_REQUEST,
          FETCH_VERSION,
          fetchBody(offsets, all, 0, 0),
        ),
      );
      sessionId = first.sessionId as number;
      if (sessionId === 0) throw new Error("no session");
      epoch = 1;
    }
    consumer.sent = consumer.received = 0;
    let changed = new Set<number>();
    let answered = 0;
    let next = 0;
    const value = new Uint8Array(100).fill(0x61);
    const cpu = cpuMeter(pid);
    const t0 = performance.now();
    for (let i = 0; i < fetches; i++) {
      if (workload === "trickle") {
        const p = next++ % PARTITIONS;
        await producer.call(PRODUCE_REQUEST, 9, {
          transactionalId: null,
          acks: 1,
          timeoutMs: 5000,
          topicData: [{
            name: TOPIC,
            partitionData: [{
              index: p,
              records: encodeRecordBatch([{ key: utf8(`k${i}`), value }], { timestampMs: 1 }),
            }],
          }],
        });
      }
      const body = mode === "session"
        ? fetchBody(offsets, changed, sessionId, epoch++)
        : fetchBody(offsets, all, 0, -1);
      const res = decodeFetch(await consumer.call(FETCH_REQUEST, FETCH_VERSION, body));
      if (res.errorCode !== 0) throw new Error(`fetch error ${res.errorCode}`);
      changed = new Set();
      for (const t of res.responses as Struct[]) {
        for (const p of t.partitions as Struct[]) {
          answered++;
          const hw = Number(p.highWatermark);
          const records = p.records as Uint8Array | null;
          if (
            records !== null && records.length > 0 && hw !== offsets.get(p.partitionIndex as number)
          ) {
            offsets.set(p.partitionIndex as number, hw);
            changed.add(p.partitionIndex as number);
          }
        }
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const used = cpu();
    for (const [p, o] of offsets) produceFrom.set(p, o);
    return {
      workload,
      mode,
      fetches,
      requestBytesPerFetch: consumer.sent / fetches,
      responseBytesPerFetch: consumer.received / fetches,
      partitionsAnsweredPerFetch: answered / fetches,
      // The producer's requests are served by the same process: in trickle runs, its CPU
      // includes the appends (the same in both modes).
      serverCpuUsPerFetch: used.serverCpuSeconds === undefined
        ? undefined
        : used.serverCpuSeconds * 1e6 / fetches,
      clientCpuUsPerFetch: used.clientCpuSeconds * 1e6 / fetches,
      fetchesPerSecond: fetches / seconds,
    };
  } finally {
    consumer.close();
    producer.close();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { fetches: { type: "string" } } });
  const fetches = Number(values.fetches ?? 3000);
  const runs: Run[] = [];
  await withServer({
    label: "fetch-sessions",
    tempPrefix: "sluice-sessions-bench-",
    note: "client and server share the cores",
    log: (line) => console.error(line),
    kafkaPort: "auto",
  }, async (server) => {
    const created = await fetch(`${server.url}/v1/topics`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: TOPIC, partitions: PARTITIONS }),
    });
    if (created.status !== 201) throw new Error(`create topic: ${created.status}`);
    const ends = new Map<number, number>();
    for (let p = 0; p < PARTITIONS; p++) ends.set(p, 0);
    // Warm-up (JIT) of both paths, then each measured run twice, alternating.
    for (const mode of ["sessionless", "session"] as const) {
      await run(server.kafka!, server.pid, "idle", mode, 500, ends);
    }
    for (const workload of ["idle", "trickle"] as const) {
      for (let round = 0; round < 2; round++) {
        for (const mode of ["sessionless", "session"] as const) {
          runs.push(await run(server.kafka!, server.pid, workload, mode, fetches, ends));
        }
      }
    }
  });
  const fmt = (n: number | undefined, digits = 0) =>
    n === undefined ? "-" : n.toLocaleString("en-US", { maximumFractionDigits: digits });
  console.log(
    "| workload | mode | request B/fetch | response B/fetch | partitions answered/fetch | " +
      "server CPU us/fetch | client CPU us/fetch | fetches/s |",
  );
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of runs) {
    console.log(
      `| ${r.workload} | ${r.mode} | ${fmt(r.requestBytesPerFetch)} | ${
        fmt(r.responseBytesPerFetch)
      } | ${fmt(r.partitionsAnsweredPerFetch, 1)} | ${fmt(r.serverCpuUsPerFetch)} | ${
        fmt(r.clientCpuUsPerFetch)
      } | ${fmt(r.fetchesPerSecond)} |`,
    );
  }
}
