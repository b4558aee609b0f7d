/**
 * Peers: Redis Streams and NATS JetStream measured on this machine, in the same run, with the
 * workload shape of Sluice's `http.produce.<size>.batch` scenario: one client on one log, 1,000
 * records sent together, the next 1,000 only once every one of them is acknowledged.
 *
 * - `redis-streams`: `redis-server --bind 127.0.0.1 --port P --dir D --appendonly yes
 *   --appendfsync everysec --save ""` (AOF with one fsync a second, like Sluice's default flush
 *   policy `interval` at 1 s; no RDB snapshots). Each record is one `XADD <key> * v <value>`;
 *   1,000 of them go out in one socket write (a pipeline) and the run waits for the 1,000 replies.
 * - `nats-jetstream`: `nats-server -js -a 127.0.0.1 -p P -sd D` with one file-storage stream
 *   (1 replica, limits retention). Each record is one `PUB <subject> <ack inbox>`; 1,000 of them
 *   go out in one write (a window of 1,000 outstanding publishes) and the run waits for the 1,000
 *   PubAcks. nats-server 2.9 syncs its file store in the background, never per message.
 *
 * Both clients are written here over node:net (RESP2 and the NATS text protocol, a few dozen lines
 * each; no npm package): the 1,000 commands of a batch are encoded once, before timing, as Sluice's
 * HTTP bench encodes its RecordBatch once, so the client costs the same little on every side. The
 * values are 1,000 distinct incompressible byte strings from bench_util's randomBytes (seed 42).
 *
 * Each peer is started on a free loopback port with its own temporary directory, used for every
 * record size, then stopped (SIGTERM, SIGKILL after STOP_TIMEOUT_MS) and its directory deleted. A
 * peer whose binary is not on PATH is skipped (scripts/install-peers.sh installs both); one that
 * fails to start or answer throws after the clean-up. After the runs the log's length is checked
 * against the records sent.
 *
 * Figures: warm-up run(s), then >= 3 measured runs; the median of the measured runs. MB/s counts
 * record values only (10^6 B), not protocol framing (params.wireBytesPerRecord gives that). The
 * client runs in this process and shares the machine's cores with the server (2 on the reference
 * VM); params.serverCpuCores is the server's CPU seconds per wall second (median).
 *
 * Run: deno run -A bench/peers.ts [--quick]
 */
import { Buffer } from "node:buffer";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { randomBytes } from "./bench_util.ts";
import type { PeerResult, SuiteOptions } from "./types.ts";

export const PEER_NAMES = ["redis-streams", "nats-jetstream"] as const;
export type PeerName = typeof PEER_NAMES[number];

/** Records sent together and acknowledged before the next batch: http_bench's records/request. */
const BATCH_RECORDS = 1_000;
const VALUES_SEED = 42;
const RECORD_SIZES_DEFAULT = [100, 1024];

/** The same binary answered --version within this on the reference VM in < 50 ms. */
const VERSION_TIMEOUT_MS = 5_000;
/** Both servers accept connections < 100 ms after spawn; 10 s covers a loaded machine. */
const START_TIMEOUT_MS = 10_000;
/** A free port is picked by binding port 0 and closing it; another process may take it first. */
const START_ATTEMPTS_MAX = 3;
const CONNECT_RETRY_MS = 50;
/** SIGTERM: Redis fsyncs its AOF, NATS flushes its streams; both take < 1 s for these logs. */
const STOP_TIMEOUT_MS = 10_000;
const KILL_TIMEOUT_MS = 5_000;
/** A run (at most 200,000 records) is aborted after this: a hung peer fails, never stalls. */
const RUN_TIMEOUT_MS = 60_000;
/** One request/response (PING, XLEN, a JetStream API call). */
const REQUEST_TIMEOUT_MS = 10_000;
/** The end of a server's stdout + stderr kept for error messages. */
const OUTPUT_CHARS_MAX = 8_192;
/** NATS control lines are at most 4,096 B (max_control_line); a longer one is a protocol error. */
const CONTROL_LINE_BYTES_MAX = 4_096;
const RESP_DEPTH_MAX = 4;

/** Rates are decimal: 1 MB = 10^6 bytes. */
const MB = 1e6;

interface Plan {
  warmupRuns: number;
  measuredRuns: number;
  /** Records per run: recordsMax, or fewer so that a run writes at most valueBytesMax. */
  recordsMax: number;
  valueBytesMax: number;
}

/**
 * Full: 200,000 x 100 B and 48,000 x 1 KiB a run, 1 + 5 runs each; quick: 40,000 and 9,000,
 * 1 + 3 runs. On the reference VM (2 cores) that is about 20 s and 4 s for both peers together.
 */
const FULL_PLAN: Plan = {
  warmupRuns: 1,
  measuredRuns: 5,
  recordsMax: 200_000,
  valueBytesMax: 50e6,
};
const QUICK_PLAN: Plan = {
  warmupRuns: 1,
  measuredRuns: 3,
  recordsMax: 100_000,
  valueBytesMax: 20e6,
};

function recordsPerRun(plan: Plan, recordSizeBytes: number): number {
  const records = Math.min(plan.recordsMax, Math.floor(plan.valueBytesMax / recordSizeBytes));
  return Math.max(BATCH_RECORDS, Math.floor(records / BATCH_RECORDS) * BATCH_RECORDS);
}

/** `100B`, `1KiB`: the size part of a scenario name. */
function sizeLabel(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024}KiB` : `${bytes}B`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `promise`, or a rejection naming `what` after `ms`; `onTimeout` runs first (e.g. a destroy). */
async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onTimeout?: () => void,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`${what}: no answer in ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Clients

/** One log on a peer, filled by batches of the pre-encoded values. */
interface Producer {
  /** Sends values[0..count) (count <= BATCH_RECORDS); resolves once each is acknowledged. */
  sendBatch(count: number): Promise<void>;
  /** Records the peer holds in this log. */
  stored(): Promise<number>;
  /** Bytes on the wire for one record (command or PUB framing included), client to server. */
  wireBytesPerRecord: number;
}

interface PeerClient {
  /** Creates (or empties) the log for one record size and returns its producer. */
  open(label: string, values: readonly Uint8Array[]): Promise<Producer>;
  close(): void;
}

/** Waits for the TCP connection; rejects on refusal (the server is not listening yet). */
function connectSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const onError = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.once("error", onError);
    socket.once("connect", () => {
      socket.off("error", onError);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

/** The bytes received and not yet parsed, with a cursor. */
class InputBuffer {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;

  push(chunk: Uint8Array): void {
    const rest = this.buf.subarray(this.pos);
    const data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.buf = rest.length === 0 ? data : Buffer.concat([rest, data]);
    this.pos = 0;
  }

  /** The index of the next CRLF at or after `from`, or -1 when none has arrived yet. */
  crlf(from: number): number {
    return this.buf.indexOf("\r\n", from, "latin1");
  }
}

/** A reply count to wait for: resolves when `remaining` reaches 0, rejects with the first error. */
interface Waiter<T> {
  remaining: number;
  values: T[];
  collect: boolean;
  error?: Error;
  resolve(values: T[]): void;
  reject(err: Error): void;
}

function waiterFor<T>(remaining: number, collect: boolean): [Waiter<T>, Promise<T[]>] {
  let resolve!: (values: T[]) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T[]>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return [{ remaining, values: [], collect, resolve, reject }, promise];
}

// --- Redis (RESP2) ---------------------------------------------------------------------------

class RespError {
  constructor(readonly message: string) {}
}
type RespValue = string | number | null | RespError | RespValue[];

/** `*N\r\n` then `$len\r\n<arg>\r\n` for each argument: a RESP2 command. */
function encodeCommand(args: readonly (string | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`, "latin1")];
  for (const arg of args) {
    const bytes = typeof arg === "string" ? Buffer.from(arg, "utf8") : Buffer.from(arg);
    parts.push(Buffer.from(`$${bytes.length}\r\n`, "latin1"), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/**
 * One RESP2 reply at `pos`: `+simple`, `-error`, `:integer`, `$len bulk` ($-1 is null), `*count`
 * array. Returns [value, next position], or undefined when the reply has not fully arrived.
 */
function parseResp(buf: Buffer, pos: number, depth = 0): [RespValue, number] | undefined {
  if (depth > RESP_DEPTH_MAX) throw new Error(`RESP reply nested deeper than ${RESP_DEPTH_MAX}`);
  const eol = buf.indexOf("\r\n", pos, "latin1");
  if (eol < 0) return undefined;
  const line = buf.toString("latin1", pos + 1, eol);
  const next = eol + 2;
  switch (buf[pos]) {
    case 0x2b: // +
      return [line, next];
    case 0x2d: // -
      return [new RespError(line), next];
    case 0x3a: // :
      return [Number(line), next];
    case 0x24: { // $
      const len = Number(line);
      if (len < 0) return [null, next];
      if (buf.length < next + len + 2) return undefined;
      return [buf.toString("latin1", next, next + len), next + len + 2];
    }
    case 0x2a: { // *
      const count = Number(line);
      if (count < 0) return [null, next];
      const items: RespValue[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseResp(buf, at, depth + 1);
        if (item === undefined) return undefined;
        items.push(item[0]);
        at = item[1];
      }
      return [items, at];
    }
    default:
      throw new Error(`RESP: unexpected reply type byte ${buf[pos]}`);
  }
}

/** Redis answers in order: each reply goes to the oldest waiter. */
class RedisClient implements PeerClient {
  private readonly input = new InputBuffer();
  private readonly waiters: Waiter<RespValue>[] = [];
  private failure: Error | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (chunk: Uint8Array) => this.onData(chunk));
    socket.on("error", (err: Error) => this.fail(err));
    socket.on("close", () => this.fail(new Error("redis: connection closed")));
  }

  static async connect(port: number): Promise<RedisClient> {
    const client = new RedisClient(await connectSocket(port));
    try {
      const [pong] = await withTimeout(
        client.send(encodeCommand(["PING"]), 1, true),
        REQUEST_TIMEOUT_MS,
        "redis PING",
      );
      if (pong !== "PONG") throw new Error(`redis PING answered ${JSON.stringify(pong)}`);
      return client;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  /** Writes `bytes` (holding `replies` commands) and waits for that many replies. */
  send(bytes: Uint8Array, replies: number, collect: boolean): Promise<RespValue[]> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const [waiter, promise] = waiterFor<RespValue>(replies, collect);
    this.waiters.push(waiter);
    this.socket.write(bytes);
    return promise;
  }

  async command(...args: (string | Uint8Array)[]): Promise<RespValue> {
    const [reply] = await withTimeout(
      this.send(encodeCommand(args), 1, true),
      REQUEST_TIMEOUT_MS,
      `redis ${args[0]}`,
    );
    if (reply instanceof RespError) throw new Error(`redis ${args[0]}: ${reply.message}`);
    return reply;
  }

  async open(label: string, values: readonly Uint8Array[]): Promise<Producer> {
    const key = `sluice-bench-${label}`;
    await this.command("DEL", key);
    const commands = values.map((v) => encodeCommand(["XADD", key, "*", "v", v]));
    const ends: number[] = [0];
    for (const c of commands) ends.push(ends[ends.length - 1] + c.length);
    const pipeline = Buffer.concat(commands);
    return {
      sendBatch: async (count) => {
        await this.send(pipeline.subarray(0, ends[count]), count, false);
      },
      stored: async () => Number(await this.command("XLEN", key)),
      wireBytesPerRecord: Math.round(pipeline.length / commands.length),
    };
  }

  close(): void {
    this.fail(new Error("redis: client closed"));
    this.socket.destroy();
  }

  private onData(chunk: Uint8Array): void {
    const input = this.input;
    input.push(chunk);
    try {
      for (;;) {
        if (input.pos >= input.buf.length) break;
        const parsed = parseResp(input.buf, input.pos);
        if (parsed === undefined) break;
        input.pos = parsed[1];
        const waiter = this.waiters[0];
        if (waiter === undefined) throw new Error("redis: a reply nobody asked for");
        const value = parsed[0];
        if (value instanceof RespError && waiter.error === undefined) {
          waiter.error = new Error(`redis: ${value.message}`);
        }
        if (waiter.collect) waiter.values.push(value);
        if (--waiter.remaining === 0) {
          this.waiters.shift();
          if (waiter.error === undefined) waiter.resolve(waiter.values);
          else waiter.reject(waiter.error);
        }
      }
    } catch (err) {
      this.fail(err as Error);
      this.socket.destroy();
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
}

// --- NATS JetStream (text protocol) ----------------------------------------------------------

interface NatsMessage {
  subject: string;
  /** The NATS status line's code for HMSG (503: no responders), else undefined. */
  status?: number;
  payload: string;
}

/**
 * The NATS client protocol: the server sends `INFO {json}` on connect; the client answers
 * `CONNECT {json}` and `PING`, the server `PONG`. The client subscribes to its inbox
 * (`SUB <inbox>.> 1`); a JetStream publish is `PUB <subject> <inbox>.ack <len>\r\n<payload>\r\n`
 * and its PubAck comes back as `MSG <inbox>.ack 1 <len>\r\n{"stream":"S","seq":N}\r\n` (or with
 * `"error"`); an API call is a PUB to `$JS.API.…` with a reply subject. The server's `PING` is
 * answered `PONG`; `-ERR` ends the connection.
 */
class NatsClient implements PeerClient {
  private readonly input = new InputBuffer();
  private readonly inbox = `_INBOX.sluice${process.pid}`;
  private readonly ackSubject = `${this.inbox}.ack`;
  private readonly ackWaiters: Waiter<string>[] = [];
  private readonly replies = new Map<string, (msg: NatsMessage) => void>();
  private readonly pongs: (() => void)[] = [];
  private infoReceived: (() => void) | undefined;
  private failure: Error | undefined;
  /** The rejecters of the guarded() calls under way: a handful (handshake, one API call). */
  private readonly failed = new Set<(err: Error) => void>();
  private requestId = 0;

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (chunk: Uint8Array) => this.onData(chunk));
    socket.on("error", (err: Error) => this.fail(err));
    socket.on("close", () => this.fail(new Error("nats: connection closed")));
  }

  static async connect(port: number): Promise<NatsClient> {
    const socket = await connectSocket(port);
    const client = new NatsClient(socket);
    try {
      await withTimeout(client.handshake(), REQUEST_TIMEOUT_MS, "nats handshake");
      return client;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  private async handshake(): Promise<void> {
    await this.guarded(new Promise<void>((resolve) => (this.infoReceived = resolve)));
    const options = {
      verbose: false,
      pedantic: false,
      tls_required: false,
      lang: "sluice-bench",
      version: "1",
      protocol: 1,
      headers: true,
      no_responders: true,
    };
    this.socket.write(`CONNECT ${JSON.stringify(options)}\r\nSUB ${this.inbox}.> 1\r\n`);
    await this.ping();
  }

  /** PING and wait for the PONG: every command before it has been processed. */
  ping(): Promise<void> {
    const pong = new Promise<void>((resolve) => this.pongs.push(resolve));
    this.socket.write("PING\r\n");
    return this.guarded(pong);
  }

  /** A JetStream API call: the JSON answer, or an error naming the API's own error. */
  async api(subject: string, body: unknown): Promise<Record<string, unknown>> {
    const reply = `${this.inbox}.api.${++this.requestId}`;
    const answer = new Promise<NatsMessage>((resolve) => this.replies.set(reply, resolve));
    const payload = Buffer.from(JSON.stringify(body ?? {}), "utf8");
    this.socket.write(`PUB ${subject} ${reply} ${payload.length}\r\n`);
    this.socket.write(payload);
    this.socket.write("\r\n");
    try {
      const msg = await withTimeout(this.guarded(answer), REQUEST_TIMEOUT_MS, `nats ${subject}`);
      if (msg.status !== undefined) throw new Error(`nats ${subject}: status ${msg.status}`);
      const json = JSON.parse(msg.payload) as Record<string, unknown>;
      if (json.error !== undefined) {
        throw new Error(`nats ${subject}: ${JSON.stringify(json.error)}`);
      }
      return json;
    } finally {
      this.replies.delete(reply);
    }
  }

  async open(label: string, values: readonly Uint8Array[]): Promise<Producer> {
    const stream = `SLUICE_BENCH_${label}`;
    const subject = `sluice.bench.${label}`;
    const names = await this.api("$JS.API.STREAM.NAMES", {});
    if (Array.isArray(names.streams) && names.streams.includes(stream)) {
      await this.api(`$JS.API.STREAM.DELETE.${stream}`, {});
    }
    await this.api(`$JS.API.STREAM.CREATE.${stream}`, {
      name: stream,
      subjects: [subject],
      retention: "limits",
      storage: "file",
      num_replicas: 1,
      discard: "old",
      max_consumers: -1,
      max_msgs: -1,
      max_msgs_per_subject: -1,
      max_bytes: -1,
      max_age: 0,
      max_msg_size: -1,
      duplicate_window: 0,
    });
    const publishes = values.map((v) =>
      Buffer.concat([
        Buffer.from(`PUB ${subject} ${this.ackSubject} ${v.length}\r\n`, "latin1"),
        v,
        Buffer.from("\r\n"),
      ])
    );
    const ends: number[] = [0];
    for (const p of publishes) ends.push(ends[ends.length - 1] + p.length);
    const window = Buffer.concat(publishes);
    return {
      sendBatch: async (count) => {
        if (this.failure !== undefined) throw this.failure;
        const [waiter, acked] = waiterFor<string>(count, false);
        this.ackWaiters.push(waiter);
        this.socket.write(window.subarray(0, ends[count]));
        await acked;
      },
      stored: async () => {
        const info = await this.api(`$JS.API.STREAM.INFO.${stream}`, {});
        const state = info.state as { messages?: number } | undefined;
        return Number(state?.messages);
      },
      wireBytesPerRecord: Math.round(window.length / publishes.length),
    };
  }

  close(): void {
    this.fail(new Error("nats: client closed"));
    this.socket.destroy();
  }

  /** `promise`, or the connection's failure if that comes first. */
  private guarded<T>(promise: Promise<T>): Promise<T> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    let reject!: (err: Error) => void;
    const failed = new Promise<never>((_, rej) => (reject = rej));
    this.failed.add(reject);
    return Promise.race([promise, failed]).finally(() => this.failed.delete(reject));
  }

  private onData(chunk: Uint8Array): void {
    const input = this.input;
    input.push(chunk);
    try {
      for (;;) {
        const { buf, pos } = input;
        if (pos >= buf.length) break;
        const eol = input.crlf(pos);
        if (eol < 0) {
          if (buf.length - pos > CONTROL_LINE_BYTES_MAX) throw new Error("nats: control line");
          break;
        }
        const line = buf.toString("latin1", pos, eol);
        const space = line.indexOf(" ");
        const op = (space < 0 ? line : line.slice(0, space)).toUpperCase();
        if (op === "MSG" || op === "HMSG") {
          // MSG <subject> <sid> [reply] <bytes> | HMSG <subject> <sid> [reply] <hdr> <total>
          const f = line.split(" ");
          const total = Number(f[f.length - 1]);
          const headerBytes = op === "HMSG" ? Number(f[f.length - 2]) : 0;
          const start = eol + 2;
          if (buf.length < start + total + 2) break;
          input.pos = start + total + 2;
          let status: number | undefined;
          if (op === "HMSG") {
            // NATS/1.0 503\r\n...: a status message (503 = no responders)
            const head = buf.toString("latin1", start, start + headerBytes);
            const code = /^NATS\/1\.0 (\d{3})/.exec(head)?.[1];
            if (code !== undefined) status = Number(code);
          }
          this.onMessage({
            subject: f[1],
            status,
            payload: buf.toString("utf8", start + headerBytes, start + total),
          });
          continue;
        }
        input.pos = eol + 2;
        if (op === "PING") this.socket.write("PONG\r\n");
        else if (op === "PONG") this.pongs.shift()?.();
        else if (op === "INFO") this.infoReceived?.();
        else if (op === "-ERR") throw new Error(`nats: ${line}`);
        else if (op !== "+OK") throw new Error(`nats: unexpected ${line.slice(0, 80)}`);
      }
    } catch (err) {
      this.fail(err as Error);
      this.socket.destroy();
    }
  }

  private onMessage(msg: NatsMessage): void {
    if (msg.subject === this.ackSubject) {
      const waiter = this.ackWaiters[0];
      if (waiter === undefined) throw new Error("nats: a PubAck nobody waited for");
      if (msg.status !== undefined || !msg.payload.includes('"seq":')) {
        waiter.error ??= new Error(
          `nats publish: ${msg.status === undefined ? msg.payload : `status ${msg.status}`}`,
        );
      }
      if (--waiter.remaining === 0) {
        this.ackWaiters.shift();
        if (waiter.error === undefined) waiter.resolve(waiter.values);
        else waiter.reject(waiter.error);
      }
      return;
    }
    this.replies.get(msg.subject)?.(msg);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.ackWaiters.splice(0)) w.reject(err);
    for (const reject of [...this.failed]) reject(err);
    this.failed.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// Peers and their servers

interface PeerSpec {
  name: PeerName;
  binary: string;
  /** Finds the version in `<binary> --version`'s output. */
  versionPattern: RegExp;
  args(port: number, dataDir: string): string[];
  /** Connects and completes the handshake; rejects while the server does not answer yet. */
  connect(port: number): Promise<PeerClient>;
  /** Persistence and workload settings, copied into each result's params. */
  settings: Record<string, string | number | boolean>;
}

const PEERS: readonly PeerSpec[] = [
  {
    name: "redis-streams",
    binary: "redis-server",
    versionPattern: /\bv=(\S+)/,
    args: (port, dataDir) => [
      "--bind",
      "127.0.0.1",
      "--port",
      String(port),
      "--dir",
      dataDir,
      "--appendonly",
      "yes",
      "--appendfsync",
      "everysec",
      "--save",
      "",
      "--daemonize",
      "no",
    ],
    connect: (port) => RedisClient.connect(port),
    settings: {
      command: "XADD key * v <value>",
      pipeline: BATCH_RECORDS,
      appendonly: true,
      appendfsync: "everysec",
      rdbSnapshots: false,
    },
  },
  {
    name: "nats-jetstream",
    binary: "nats-server",
    versionPattern: /\bv(\d+\.\d+\.\d+\S*)/,
    args: (port, dataDir) => ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dataDir],
    connect: (port) => NatsClient.connect(port),
    settings: {
      command: "PUB subject ackInbox (PubAck per message)",
      window: BATCH_RECORDS,
      storage: "file",
      replicas: 1,
      fsync: "background (server default)",
    },
  },
];

function versionOf(spec: PeerSpec): string | null {
  try {
    const out = execFileSync(spec.binary, ["--version"], {
      encoding: "utf8",
      timeout: VERSION_TIMEOUT_MS,
      stdio: ["ignore", "pipe", "pipe"],
    });
    return spec.versionPattern.exec(out)?.[1] ?? (out.trim() || null);
  } catch {
    return null; // not on PATH (ENOENT) or it failed: the peer is skipped
  }
}

/** Each peer this suite knows, with the version its binary reports, or null when it is absent. */
export function peersAvailable(): { name: string; version: string | null }[] {
  return PEERS.map((spec) => ({ name: spec.name, version: versionOf(spec) }));
}

/** A port nothing listens on now: bound on 127.0.0.1 with port 0, then released. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

/** Clock ticks per second for /proc/<pid>/stat (USER_HZ; 100 on every mainstream Linux). */
let clockTicksPerSec: number | undefined;

/** CPU seconds (user + system) the process has used so far; undefined off Linux. */
function processCpuSeconds(pid: number): number | undefined {
  if (clockTicksPerSec === undefined) {
    clockTicksPerSec = 100;
    try {
      const out = execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim();
      if (/^\d+$/.test(out)) clockTicksPerSec = Number(out);
    } catch {
      // no getconf: keep 100
    }
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSec;
  } catch {
    return undefined;
  }
}

interface Exit {
  code: number | null;
  signal: string | null;
}

interface PeerServer {
  pid: number;
  port: number;
  dataDir: string;
  client: PeerClient;
  /**
   * SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; deletes the data directory. Redis exits 0 on
   * SIGTERM; nats-server shuts down just as cleanly ("Server Exiting..") but exits 1 by design.
   */
  stop(): Promise<Exit & { killed: boolean }>;
}

/**
 * Signals by pid rather than child.kill(): on Deno 2.9.6 a ChildProcess signalled through kill()
 * misreports how it exited, and a second kill() (SIGKILL after SIGTERM) sends nothing (see
 * http_bench.ts).
 */
function signal(child: ChildProcess, name: "SIGTERM" | "SIGKILL"): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, name);
  } catch {
    // already gone: the exit event says how it ended
  }
}

/** How the process exited, or undefined when it still runs after `ms` (the timer is cleared). */
async function exitWithin(exited: Promise<Exit>, ms: number): Promise<Exit | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function startServer(spec: PeerSpec): Promise<PeerServer> {
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= START_ATTEMPTS_MAX; attempt++) {
    const dataDir = fs.mkdtempSync(join(tmpdir(), `sluice-peer-${spec.name}-`));
    const port = await freePort();
    const child = spawn(spec.binary, spec.args(port, dataDir), {
      cwd: dataDir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const keep = (chunk: Uint8Array) => {
      output += new TextDecoder().decode(chunk);
      if (output.length > 2 * OUTPUT_CHARS_MAX) output = output.slice(-OUTPUT_CHARS_MAX);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    let spawnError: Error | undefined;
    child.on("error", (err: Error) => (spawnError = err));
    let exit: Exit | undefined;
    const exited = new Promise<Exit>((resolve) => {
      child.on("exit", (code: number | null, sig: string | null) => {
        exit = { code, signal: sig };
        resolve(exit);
      });
    });
    const stop = async () => {
      if (child.pid === undefined) {
        // never started (spawn failed): there is no process to stop
        fs.rmSync(dataDir, { recursive: true, force: true });
        return { code: null, signal: null, killed: false };
      }
      signal(child, "SIGTERM");
      let killed = false;
      let outcome = await exitWithin(exited, STOP_TIMEOUT_MS);
      if (outcome === undefined) {
        killed = true;
        signal(child, "SIGKILL");
        outcome = await exitWithin(exited, KILL_TIMEOUT_MS);
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
      if (outcome === undefined) {
        throw new Error(`${spec.binary} (pid ${child.pid}) survived SIGKILL`);
      }
      return { ...outcome, killed };
    };

    const deadline = performance.now() + START_TIMEOUT_MS;
    let client: PeerClient | undefined;
    // Bounded by the deadline: one connection attempt every CONNECT_RETRY_MS.
    while (client === undefined && exit === undefined && spawnError === undefined) {
      try {
        client = await spec.connect(port);
      } catch (err) {
        lastError = err as Error;
        if (performance.now() > deadline) break;
        await sleep(CONNECT_RETRY_MS);
      }
    }
    if (client !== undefined && child.pid !== undefined) {
      return { pid: child.pid, port, dataDir, client, stop };
    }
    client?.close();
    const why = spawnError ??
      (exit === undefined ? lastError : new Error(`exited (${exit.code ?? exit.signal})`));
    lastError = new Error(
      `${spec.binary} on port ${port}, attempt ${attempt}: ${why?.message}\n${
        output.slice(-OUTPUT_CHARS_MAX)
      }`,
    );
    await stop();
    if (spawnError !== undefined) break; // ENOENT or EACCES: another port will not help
  }
  throw lastError ?? new Error(`${spec.binary} did not start`);
}

// ---------------------------------------------------------------------------------------------
// Runs

/** BATCH_RECORDS distinct values of `bytes` bytes each, the same on every run and peer. */
function recordValues(bytes: number): Uint8Array[] {
  const all = randomBytes(BATCH_RECORDS * bytes, VALUES_SEED);
  return Array.from({ length: BATCH_RECORDS }, (_, i) => all.subarray(i * bytes, (i + 1) * bytes));
}

async function produce(producer: Producer, records: number): Promise<void> {
  for (let sent = 0; sent < records;) {
    const count = Math.min(BATCH_RECORDS, records - sent);
    await producer.sendBatch(count);
    sent += count;
  }
}

async function benchSize(
  spec: PeerSpec,
  version: string,
  server: PeerServer,
  recordSizeBytes: number,
  records: number,
  plan: Plan,
  opts: SuiteOptions,
): Promise<PeerResult> {
  const label = sizeLabel(recordSizeBytes);
  const progressName = `peer.${spec.name}.produce.${label}`;
  const producer = await server.client.open(label, recordValues(recordSizeBytes));
  const rates: number[] = [];
  const cpuCores: number[] = [];
  const runs = plan.warmupRuns + plan.measuredRuns;
  for (let run = 0; run < runs; run++) {
    const cpu0 = processCpuSeconds(server.pid);
    const t0 = performance.now();
    await withTimeout(
      produce(producer, records),
      RUN_TIMEOUT_MS,
      `${progressName} run ${run}`,
      () => server.client.close(),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = processCpuSeconds(server.pid);
    if (run < plan.warmupRuns) continue;
    rates.push(records / seconds);
    if (cpu0 !== undefined && cpu1 !== undefined) cpuCores.push((cpu1 - cpu0) / seconds);
    opts.progress(progressName, run - plan.warmupRuns + 1, plan.measuredRuns, records / seconds);
  }
  const stored = await producer.stored();
  if (stored !== runs * records) {
    throw new Error(`${progressName}: the peer holds ${stored} records, ${runs * records} sent`);
  }
  const recordsPerSec = median(rates);
  return {
    name: spec.name,
    version,
    scenario: `http.produce.${label}.batch`,
    recordsPerSec,
    mbPerSec: recordsPerSec * recordSizeBytes / MB,
    params: {
      ...spec.settings,
      clients: 1,
      records,
      recordValueBytes: recordSizeBytes,
      wireBytesPerRecord: producer.wireBytesPerRecord,
      valuesSeed: VALUES_SEED,
      warmupRuns: plan.warmupRuns,
      measuredRuns: plan.measuredRuns,
      recordsPerSecMin: Math.round(Math.min(...rates)),
      recordsPerSecMax: Math.round(Math.max(...rates)),
      ...(cpuCores.length === rates.length
        ? { serverCpuCores: Math.round(median(cpuCores) * 100) / 100 }
        : {}),
    },
  };
}

/**
 * Measures each installed peer (see the module doc) for each record size (default 100 B and
 * 1 KiB); peers whose binary is not on PATH give no result. `peers` limits the peers run and
 * `records` fixes the records per run (rounded to whole batches when above BATCH_RECORDS), both
 * for tests; by default the plan's counts (smaller under `quick`).
 */
export async function runPeerBench(
  opts: SuiteOptions & { recordSizes?: number[]; peers?: readonly string[]; records?: number },
): Promise<PeerResult[]> {
  const plan = opts.quick ? QUICK_PLAN : FULL_PLAN;
  const sizes = opts.recordSizes ?? RECORD_SIZES_DEFAULT;
  for (const size of sizes) {
    if (!(Number.isInteger(size) && size > 0)) throw new Error(`record size ${size}: not > 0`);
  }
  if (opts.records !== undefined && !(Number.isInteger(opts.records) && opts.records > 0)) {
    throw new Error(`records ${opts.records}: not a positive integer`);
  }
  const results: PeerResult[] = [];
  for (const spec of PEERS) {
    if (opts.peers !== undefined && !opts.peers.includes(spec.name)) continue;
    const version = versionOf(spec);
    if (version === null) continue;
    const server = await startServer(spec);
    try {
      for (const size of sizes) {
        const records = opts.records ?? recordsPerRun(plan, size);
        results.push(await benchSize(spec, version, server, size, records, plan, opts));
      }
    } finally {
      server.client.close();
      const exit = await server.stop();
      if (exit.killed) console.error(`${spec.name}: killed after ${STOP_TIMEOUT_MS} ms`);
    }
  }
  return results;
}

function fixed(n: number, digits: number): string {
  return n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick") || process.env.SLUICE_BENCH_QUICK === "1";
  for (const p of peersAvailable()) {
    console.error(`${p.name}: ${p.version === null ? "not installed, skipped" : p.version}`);
  }
  const t0 = performance.now();
  const results = await runPeerBench({
    quick,
    progress: (scenario, run, of, rate) =>
      console.error(`  ${scenario} run ${run}/${of}: ${fixed(rate ?? 0, 0)} records/s`),
  });
  const rows = [["peer", "version", "compared with", "records/s", "MB/s", "min-max", "server CPU"]];
  for (const r of results) {
    rows.push([
      r.name,
      r.version,
      r.scenario,
      fixed(r.recordsPerSec, 0),
      fixed(r.mbPerSec, 1),
      `${fixed(Number(r.params.recordsPerSecMin), 0)}-${
        fixed(Number(r.params.recordsPerSecMax), 0)
      }`,
      r.params.serverCpuCores === undefined ? "" : String(r.params.serverCpuCores),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  console.log(
    rows.map((row) => row.map((v, c) => v.padEnd(widths[c])).join("  ").trimEnd()).join(
      "\n",
    ),
  );
  console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s in all, quick: ${quick})`);
  console.log(JSON.stringify(results, null, 2));
}
