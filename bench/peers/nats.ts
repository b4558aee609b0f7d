/**
 * The NATS JetStream client (the NATS text protocol over node:net): each record is one
 * `PUB <subject> <ack inbox>`; a batch goes out in one write (a window of outstanding publishes)
 * and the run waits for its PubAcks.
 */
import { Buffer } from "node:buffer";
import type * as net from "node:net";
import process from "node:process";
import {
  connectSocket,
  InputBuffer,
  type PeerClient,
  type Producer,
  REQUEST_TIMEOUT_MS,
  type Waiter,
  waiterFor,
} from "./client.ts";
import { withTimeout } from "../bench_util.ts";

/** NATS control lines are at most 4,096 B (max_control_line); a longer one is a protocol error. */
const CONTROL_LINE_BYTES_MAX = 4_096;

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
export class NatsClient implements PeerClient {
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
