/**
 * A watch on every key under a prefix, over etcd's v3 JSON gateway (EtcdClient.watch): the
 * changes of each revision from `fromRevision` on, delivered in revision order, each once, across
 * lost connections and etcd restarts, until closed.
 *
 * Wire: POST `<endpoint>/v3/watch` with
 * `{create_request: {key, range_end, start_revision, progress_notify: true}}`. The answer is a
 * stream of JSON objects, one a line (etcd 3.4, checked with curl):
 *
 * | line                                                                | meaning                                  |
 * | ------------------------------------------------------------------- | ---------------------------------------- |
 * | `{result: {header, created: true}}`                                 | the watch is set up                      |
 * | `{result: {header, events: [{type?, kv}]}}`                         | changes; `type` absent is PUT, else "DELETE"; a delete's kv has only key and mod_revision |
 * | `{result: {header: {revision}}}`                                    | progress: nothing under the prefix changed up to `revision` |
 * | `{result: {header, canceled: true, compact_revision}}`              | `start_revision` was compacted away; the stream stays open |
 * | `{error: {grpc_code, http_code, message, http_status}}`             | the stream failed (etcd shutting down, say) and ends |
 *
 * One revision's events (a transaction's) come in one answer; a catching-up watcher gets up to
 * 1,000 revisions an answer. The header revision of an answer with events may run ahead of its
 * last event while the watcher catches up, so where a watch stands is its last event's mod
 * revision, or a progress answer's revision (etcd sends those only to a watcher that has caught
 * up, every 10 minutes by default).
 *
 * Reconnecting: when the stream fails, ends, or sets up nothing within the client's timeout, the
 * watch reports it to `onError` (CLUSTER_UNAVAILABLE, retrying) and asks again from the revision
 * after the last one delivered, first after ETCD_WATCH_RETRY_MIN_MS, doubling to
 * ETCD_WATCH_RETRY_MAX_MS while failures go on in a row. No change is lost or delivered twice.
 * An established stream that goes silent is not detected (the gateway cannot ask for progress
 * mid-stream); a member that stops answering is seen by the caller's lease keep-alives instead.
 *
 * Resetting: when etcd has compacted the revisions the watch still needs (it was disconnected
 * while they were written and compacted away), changes were lost. The watch then calls
 * `onReset(revision)` with the store's current revision: the caller re-reads everything under
 * the prefix as of that revision (`EtcdClient.range(prefix, { revision })`) and replaces what it
 * held; the watch goes on with the changes after it. Without `onReset` the watch stops and
 * reports the compaction to `onError` (not retrying).
 *
 * Bounds: a line of the stream is held while incomplete up to ETCD_WATCH_LINE_BYTES_MAX. Nothing
 * is queued: the stream is not read while `onEvents` or `onReset` runs (a returned promise is
 * awaited), so a slow handler slows etcd's sending. A handler that throws stops the watch: it
 * cannot know what the handler applied. The error goes to `onError` (not retrying).
 */
import { SluiceError } from "../errors.ts";
import {
  ETCD_WATCH_LINE_BYTES_MAX,
  ETCD_WATCH_RETRY_MAX_MS,
  ETCD_WATCH_RETRY_MIN_MS,
} from "../limits.ts";
import type { EtcdClient } from "./etcd.ts";
import {
  type EtcdKv,
  int,
  type Json,
  keyOf,
  kvOf,
  prefixEnd,
  readBounded,
  reasonOf,
  toBase64,
  unavailable,
} from "./etcd_wire.ts";

/** One change under the watched prefix. */
export interface EtcdWatchEvent {
  type: "put" | "delete";
  /** The key after a put; after a delete only `key` and `modRevision` (the delete's) are set. */
  kv: EtcdKv;
}

export interface EtcdWatchOptions {
  /** The first revision whose changes are delivered, >= 1: a range's revision + 1, typically. */
  fromRevision: number;
  /**
   * Changes, in revision order, each revision's all in one call, and the revision they bring the
   * watcher to (the last one's mod revision). The next call waits for the returned promise.
   */
  onEvents(events: EtcdWatchEvent[], revision: number): void | Promise<void>;
  /** Changes up to `revision` were compacted away: re-read everything as of `revision`. */
  onReset?(revision: number): void | Promise<void>;
  /** A failure: `retrying` true for a lost stream, false when the watch has stopped for good. */
  onError?(err: Error, retrying: boolean): void;
  /** The first and the longest wait between attempts (ETCD_WATCH_RETRY_MIN_MS, _MAX_MS). */
  retryMinMs?: number;
  retryMaxMs?: number;
}

export interface EtcdWatch {
  /** The revision the watch has delivered up to (fromRevision - 1 before any). */
  readonly revision: number;
  /**
   * Aborts the stream (or the wait before the next attempt); resolves once the watch has stopped
   * and no handler runs. A handler that closes its own watch must not await this.
   */
  close(): Promise<void>;
}

/** Starts a watch; see this file's header. INVALID_REQUEST for a fromRevision below 1. */
export function startWatch(
  client: EtcdClient,
  prefix: string,
  options: EtcdWatchOptions,
): EtcdWatch {
  if (!Number.isSafeInteger(options.fromRevision) || options.fromRevision < 1) {
    throw new SluiceError(
      "INVALID_REQUEST",
      `an etcd watch from revision ${options.fromRevision}; revisions start at 1`,
    );
  }
  return new Watch(client, prefix, options);
}

/** A handler's own error, carried out of the stream to stop the watch. */
class HandlerFailure {
  constructor(readonly error: Error) {}
}

const decoder = new TextDecoder();

class Watch implements EtcdWatch {
  readonly #client: EtcdClient;
  readonly #options: EtcdWatchOptions;
  readonly #request: Json;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  /** Aborted by close(): ends the stream, the wait, and the loop. */
  readonly #closing = new AbortController();
  readonly #done: Promise<void>;
  /** The next revision to ask etcd for. */
  #next: number;
  #delayMs: number;

  constructor(client: EtcdClient, prefix: string, options: EtcdWatchOptions) {
    this.#client = client;
    this.#options = options;
    this.#request = { key: keyOf(prefix), range_end: toBase64(prefixEnd(prefix)) };
    this.#retryMinMs = options.retryMinMs ?? ETCD_WATCH_RETRY_MIN_MS;
    this.#retryMaxMs = Math.max(this.#retryMinMs, options.retryMaxMs ?? ETCD_WATCH_RETRY_MAX_MS);
    this.#delayMs = this.#retryMinMs;
    this.#next = options.fromRevision;
    this.#done = this.#run().catch((err) => this.#report(asError(err), false));
  }

  get revision(): number {
    return this.#next - 1;
  }

  close(): Promise<void> {
    this.#closing.abort();
    return this.#done;
  }

  async #run(): Promise<void> {
    const signal = this.#closing.signal;
    while (!signal.aborted) {
      let compacted: number;
      try {
        compacted = await this.#stream();
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof HandlerFailure) return this.#report(err.error, false);
        this.#report(asError(err), true);
        await this.#backOff();
        continue;
      }
      if (this.#options.onReset === undefined) {
        return this.#report(
          this.#unavailable(
            `revision ${this.#next} was compacted (etcd keeps ${compacted} on) and no onReset`,
          ),
          false,
        );
      }
      let current: number;
      try {
        current = await this.#client.revision();
      } catch (err) {
        this.#report(asError(err), true);
        await this.#backOff();
        continue;
      }
      try {
        await this.#options.onReset(current);
      } catch (err) {
        return this.#report(asError(err), false);
      }
      this.#next = current + 1;
    }
  }

  /**
   * One stream, from `#next`: delivers its events until it fails (thrown) or etcd says the
   * revision was compacted (its compact revision returned).
   */
  async #stream(): Promise<number> {
    const stream = new AbortController();
    const closing = this.#closing.signal;
    const onClose = () => stream.abort();
    closing.addEventListener("abort", onClose);
    let created = false;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stream.abort();
    }, this.#client.timeoutMs);
    try {
      const response = await fetch(`${this.#client.endpoint}/v3/watch`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          create_request: {
            ...this.#request,
            start_revision: String(this.#next),
            progress_notify: true,
          },
        }),
        signal: stream.signal,
      });
      if (!response.ok) {
        const text = await readBounded(response);
        throw this.#unavailable(`status ${response.status}: ${text.slice(0, 200)}`);
      }
      const reader = response.body?.getReader();
      if (reader === undefined) throw this.#unavailable("an answer without a body");
      const lines = new LineBuffer(ETCD_WATCH_LINE_BYTES_MAX);
      for (;;) {
        const { done, value } = await reader.read();
        const chunk = done ? undefined : value;
        // At the end, a last line without its newline (etcd's error line) still counts.
        for (let line = lines.next(chunk); line !== undefined; line = lines.next(undefined)) {
          const result = this.#result(line);
          if (result.created === true && !created) {
            created = true;
            clearTimeout(timer);
            this.#delayMs = this.#retryMinMs;
          }
          const compacted = await this.#apply(result);
          if (compacted > 0) return compacted;
        }
        if (done) {
          const rest = lines.rest();
          if (rest !== undefined) await this.#apply(this.#result(rest));
          throw this.#unavailable("the watch stream ended");
        }
      }
    } catch (err) {
      if (err instanceof HandlerFailure || err instanceof SluiceError || closing.aborted) throw err;
      if (timedOut) throw this.#unavailable(`no watch set up within ${this.#client.timeoutMs} ms`);
      throw this.#unavailable(reasonOf(err));
    } finally {
      clearTimeout(timer);
      closing.removeEventListener("abort", onClose);
      stream.abort();
    }
  }

  /** A line's `result`; an `error` line or one that is not etcd's is thrown. */
  #result(line: Uint8Array): Json {
    let message: Json;
    try {
      message = JSON.parse(decoder.decode(line));
    } catch {
      throw this.#unavailable(`not JSON: ${decoder.decode(line.subarray(0, 200))}`);
    }
    if (message?.error !== undefined) {
      throw this.#unavailable(`etcd: ${message.error.message ?? JSON.stringify(message.error)}`);
    }
    if (typeof message?.result !== "object" || message.result === null) {
      throw this.#unavailable(`not a watch answer: ${JSON.stringify(message).slice(0, 200)}`);
    }
    return message.result;
  }

  /** Acts on one answer; its compact revision when it cancels the watch for one, else 0. */
  async #apply(result: Json): Promise<number> {
    if (result.canceled === true) {
      const compacted = int(result.compact_revision);
      if (compacted > 0) return compacted;
      throw this.#unavailable(`watch canceled: ${result.cancel_reason ?? "no reason given"}`);
    }
    const raw = result.events as Json[] | undefined;
    if (raw === undefined || raw.length === 0) {
      // Progress (not the created answer, whose revision a catching-up watcher has not reached).
      const revision = int(result.header?.revision);
      if (result.created !== true && revision >= this.#next) this.#next = revision + 1;
      return 0;
    }
    const events: EtcdWatchEvent[] = new Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      events[i] = { type: raw[i].type === "DELETE" ? "delete" : "put", kv: kvOf(raw[i].kv) };
    }
    const revision = events[events.length - 1].kv.modRevision;
    try {
      await this.#options.onEvents(events, revision);
    } catch (err) {
      throw new HandlerFailure(asError(err));
    }
    this.#next = revision + 1;
    return 0;
  }

  /** Waits the current delay (cut short by close()), then doubles it up to the longest. */
  #backOff(): Promise<void> {
    const ms = this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * 2, this.#retryMaxMs);
    const signal = this.#closing.signal;
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done);
    });
  }

  #report(err: Error, retrying: boolean): void {
    try {
      this.#options.onError?.(err, retrying);
    } catch {
      // The reporter's own failure has nowhere else to go; the watch goes on (or has stopped).
    }
  }

  #unavailable(why: string): SluiceError {
    return unavailable(this.#client.endpoint, "watch", why);
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Splits a byte stream into lines (newline-terminated), holding an incomplete line's bytes up to
 * `max`. Complete lines inside one chunk are views of it, not copies. Exported for its tests.
 */
export class LineBuffer {
  readonly #max: number;
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  #chunk: Uint8Array | undefined;
  #at = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /**
   * Takes `chunk` (when given) and answers the next complete, non-empty line, or undefined when
   * the chunk has none left (its tail is held for the next chunk).
   */
  next(chunk: Uint8Array | undefined): Uint8Array | undefined {
    if (chunk !== undefined) {
      this.#chunk = chunk;
      this.#at = 0;
    }
    const c = this.#chunk;
    while (c !== undefined) {
      const end = c.indexOf(0x0a, this.#at);
      if (end < 0) {
        this.#hold(c.subarray(this.#at));
        this.#chunk = undefined;
        return undefined;
      }
      const part = c.subarray(this.#at, end);
      this.#at = end + 1;
      const line = this.#heldBytes === 0 ? part : this.#join(part);
      if (line.length > 0) return line;
    }
    return undefined;
  }

  /** What is held after the stream's end: a last line without its newline, if any. */
  rest(): Uint8Array | undefined {
    if (this.#heldBytes === 0) return undefined;
    return this.#join(new Uint8Array(0));
  }

  #hold(part: Uint8Array): void {
    if (part.length === 0) return;
    this.#heldBytes += part.length;
    if (this.#heldBytes > this.#max) {
      throw new Error(`a watch answer over ETCD_WATCH_LINE_BYTES_MAX (${this.#max} bytes)`);
    }
    this.#held.push(part);
  }

  #join(last: Uint8Array): Uint8Array {
    this.#hold(last);
    const out = new Uint8Array(this.#heldBytes);
    let at = 0;
    for (const part of this.#held) {
      out.set(part, at);
      at += part.length;
    }
    this.#held = [];
    this.#heldBytes = 0;
    return out;
  }
}
