/**
 * What the peer clients share (bench/peers/redis.ts, bench/peers/nats.ts): the Producer and
 * PeerClient contract, the loopback connection, the input buffer, reply waiters. Both
 * clients are written over node:net, no npm package.
 */
import { Buffer } from "node:buffer";
import * as net from "node:net";

/** Records sent together and acknowledged before the next batch: http_bench's records/request. */
export const BATCH_RECORDS = 1_000;
/** One request/response (PING, XLEN, a JetStream API call). */
export const REQUEST_TIMEOUT_MS = 10_000;

/** One log on a peer, filled by batches of the pre-encoded values. */
export interface Producer {
  /** Sends values[0..count) (count <= BATCH_RECORDS); resolves once each is acknowledged. */
  sendBatch(count: number): Promise<void>;
  /** Records the peer holds in this log. */
  stored(): Promise<number>;
  /** Bytes on the wire for one record (command or PUB framing included), client to server. */
  wireBytesPerRecord: number;
}

export interface PeerClient {
  /** Creates (or empties) the log for one record size and returns its producer. */
  open(label: string, values: readonly Uint8Array[]): Promise<Producer>;
  close(): void;
}

/** Waits for the TCP connection; rejects on refusal (the server is not listening yet). */
export function connectSocket(port: number): Promise<net.Socket> {
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
export class InputBuffer {
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
export interface Waiter<T> {
  remaining: number;
  values: T[];
  collect: boolean;
  error?: Error;
  resolve(values: T[]): void;
  reject(err: Error): void;
}

export function waiterFor<T>(remaining: number, collect: boolean): [Waiter<T>, Promise<T[]>] {
  let resolve!: (values: T[]) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T[]>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return [{ remaining, values: [], collect, resolve, reject }, promise];
}
