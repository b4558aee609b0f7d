/**
 * The Redis Streams client (RESP2 over node:net): each record is one `XADD <key> * v <value>`;
 * a batch goes out in one socket write (a pipeline) and the run waits for its replies.
 */
import { Buffer } from "node:buffer";
import type * as net from "node:net";
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

const RESP_DEPTH_MAX = 4;

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
export class RedisClient implements PeerClient {
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
