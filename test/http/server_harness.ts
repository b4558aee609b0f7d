/**
 * Runs the real server (`deno run -A src/main.ts serve`) as a child process for the HTTP tests:
 * on 127.0.0.1, port 0 (the OS picks a free one), a temporary data dir; stdout is read until the
 * one `sluice listening on ...` line, stderr is kept for failure messages. Also small fetch()
 * helpers that always consume the body (Deno's resource sanitizer fails a test on a leaked body)
 * and a raw HTTP/1.1 client for request targets fetch() would normalize (`/v1/topics/%2e%2e`).
 *
 * Not a test file itself (no `_test` suffix).
 */
import assert from "node:assert/strict";
import { decodeBatches, type DecodedBatch } from "../../src/record/record_batch.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const LISTENING = /^sluice listening on (https?:\/\/\S+) \(data: (.*)\)$/;
/** `deno run` resolves npm packages and compiles on first start; 20 s covers a cold cache. */
const START_TIMEOUT_MS = 20_000;
/** A graceful stop finishes in-flight requests; a long poll lasts at most 30 s, tests use less. */
const STOP_TIMEOUT_MS = 15_000;

// deno-lint-ignore no-explicit-any
export type Json = any;

export interface ServerOptions {
  /** Data dir to serve; default a fresh temp dir (removed by withServer, kept by startServer). */
  dataDir?: string;
  /** Extra arguments after `serve --host 127.0.0.1 --port 0 --data-dir DIR`. */
  args?: readonly string[];
  /** Extra environment variables for the child. */
  env?: Record<string, string>;
  /** Pass only `serve` plus `args` (to test SLUICE_HOST / SLUICE_PORT / SLUICE_DATA_DIR). */
  noDefaultFlags?: boolean;
  /** Runs the server under `ulimit -n N` (through bash; `exec`, so the pid is the server's). */
  descriptorLimit?: number;
}

export interface RunningServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  dataDir: string;
  /** The data dir as the listening line printed it. */
  printedDataDir: string;
  proc: Deno.ChildProcess;
  /** Every stdout line so far (the listening line first, unless something printed before it). */
  stdoutLines: string[];
  /** Everything on stderr so far. */
  stderr(): string;
  /** Sends `signal` (default SIGTERM), waits for the exit and the pipes, returns the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
  /** Resolves with the exit status once the process has ended (for whatever reason). */
  exited: Promise<Deno.CommandStatus>;
}

/** Starts the server and waits for its listening line (rejects with stderr after 20 s). */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "sluice-http-" });
  const args = options.noDefaultFlags ? ["run", "-A", MAIN, "serve", ...(options.args ?? [])] : [
    "run",
    "-A",
    MAIN,
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--data-dir",
    dataDir,
    "--kafka-port",
    "0",
    ...(options.args ?? []),
  ];
  const limit = options.descriptorLimit;
  const proc = new Deno.Command(limit === undefined ? Deno.execPath() : "bash", {
    args: limit === undefined
      ? args
      : ["-c", `ulimit -n ${limit} && exec "$0" "$@"`, Deno.execPath(), ...args],
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  let stderrText = "";
  const stderrDone = (async () => {
    for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) {
      stderrText += chunk;
    }
  })();

  const stdoutLines: string[] = [];
  let onLine: ((line: string) => void) | undefined;
  const stdoutDone = (async () => {
    let pending = "";
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl).replace(/\r$/, "");
        pending = pending.slice(nl + 1);
        stdoutLines.push(line);
        onLine?.(line);
      }
    }
    if (pending !== "") {
      stdoutLines.push(pending);
      onLine?.(pending);
    }
  })();

  const exited = proc.status;
  const pipesDone = Promise.all([stdoutDone, stderrDone]);

  let timer: ReturnType<typeof setTimeout> | undefined;
  const listening = await Promise.race([
    new Promise<RegExpMatchArray>((resolve) => {
      const check = (line: string) => {
        const m = line.match(LISTENING);
        if (m) resolve(m);
      };
      stdoutLines.forEach(check);
      onLine = check;
    }),
    exited.then((status) => status),
    new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), START_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
  onLine = undefined;

  if (!Array.isArray(listening)) {
    if (listening === "timeout") {
      try {
        proc.kill("SIGKILL");
      } catch { /* already gone */ }
      await exited;
    }
    await pipesDone;
    const status = await exited;
    if (options.dataDir === undefined) {
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
    throw new Error(
      `server did not print "sluice listening on ..." ` +
        (listening === "timeout" ? `within ${START_TIMEOUT_MS} ms` : `(exit code ${status.code})`) +
        `\ncommand: deno ${args.join(" ")}\nstdout:\n${
          stdoutLines.join("\n")
        }\nstderr:\n${stderrText}`,
    );
  }

  const url = listening[1].replace(/\/$/, "");
  let stopped: Promise<number> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM"): Promise<number> => {
    stopped ??= (async () => {
      try {
        proc.kill(signal);
      } catch { /* already exited */ }
      let stopTimer: ReturnType<typeof setTimeout> | undefined;
      const status = await Promise.race([
        exited,
        new Promise<"timeout">((resolve) => {
          stopTimer = setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(stopTimer);
      if (status === "timeout") {
        proc.kill("SIGKILL");
        await exited;
        await pipesDone;
        throw new Error(
          `server did not exit within ${STOP_TIMEOUT_MS} ms of ${signal}\nstderr:\n${stderrText}`,
        );
      }
      await pipesDone;
      return status.code;
    })();
    return stopped;
  };

  return {
    url,
    dataDir,
    printedDataDir: listening[2],
    proc,
    stdoutLines,
    stderr: () => stderrText,
    stop,
    exited,
  };
}

/**
 * Starts a server, runs `fn`, stops it with SIGTERM and asserts exit code 0; removes the data dir
 * when this call made it. A server is stopped even when `fn` throws.
 */
export async function withServer(
  options: ServerOptions,
  fn: (server: RunningServer) => Promise<void>,
): Promise<void> {
  const server = await startServer(options);
  let failed = true;
  try {
    await fn(server);
    failed = false;
  } finally {
    const code = await server.stop().catch((err) => {
      if (!failed) throw err;
      return -1;
    });
    if (options.dataDir === undefined) {
      await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
    }
    if (!failed) {
      assert.equal(code, 0, `server exit code after SIGTERM; stderr:\n${server.stderr()}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// fetch() helpers

export interface JsonResponse {
  status: number;
  headers: Headers;
  /** The parsed body, or undefined when it is empty or not JSON. */
  body: Json;
  text: string;
}

export interface JsonInit extends Omit<RequestInit, "body"> {
  /** Sent as JSON with `Content-Type: application/json`. */
  json?: unknown;
  body?: BodyInit | null;
}

/** fetch() with the body read as text and parsed as JSON when it is JSON. */
export async function json(url: string, init: JsonInit = {}): Promise<JsonResponse> {
  const { json: value, ...rest } = init;
  const headers = new Headers(rest.headers);
  let body = rest.body;
  if (value !== undefined) {
    body = JSON.stringify(value);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  const res = await fetch(url, { ...rest, headers, body });
  const text = await res.text();
  let parsed: Json = undefined;
  if (text !== "") {
    try {
      parsed = JSON.parse(text);
    } catch { /* not JSON: body stays undefined */ }
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** fetch() with the body read as bytes. */
export async function bytes(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; body: Uint8Array }> {
  const res = await fetch(url, init);
  return {
    status: res.status,
    headers: res.headers,
    body: new Uint8Array(await res.arrayBuffer()),
  };
}

/** Asserts a status with a readable dump of the response when it differs. */
export function expectStatus(res: JsonResponse, status: number, what: string): void {
  assert.equal(res.status, status, `${what}: status ${res.status}, body ${res.text.slice(0, 500)}`);
}

/** Asserts API.md's error shape `{"error":{"code","message"}}` with the given status and code. */
export function expectError(res: JsonResponse, status: number, code: string, what: string): void {
  expectStatus(res, status, what);
  assertErrorShape(res, what);
  assert.equal(
    res.body.error.code,
    code,
    `${what}: error code (message: ${res.body.error.message})`,
  );
}

/** Asserts `{"error":{"code":"UPPER_SNAKE","message":"non-empty"}}`. */
export function assertErrorShape(res: JsonResponse, what: string): void {
  assert.ok(
    res.body !== null && typeof res.body === "object" && typeof res.body.error === "object" &&
      res.body.error !== null,
    `${what}: error body is not {"error":{...}}: ${res.text.slice(0, 500)}`,
  );
  assert.match(String(res.body.error.code), /^[A-Z][A-Z0-9_]*$/, `${what}: error.code`);
  assert.equal(typeof res.body.error.message, "string", `${what}: error.message`);
  assert.ok(res.body.error.message.length > 0, `${what}: error.message is empty`);
}

// ---------------------------------------------------------------------------------------------
// Sluice API helpers

export function topicUrl(server: RunningServer, topic: string): string {
  return `${server.url}/v1/topics/${encodeURIComponent(topic)}`;
}

export function partitionUrl(server: RunningServer, topic: string, partition: number): string {
  return `${topicUrl(server, topic)}/partitions/${partition}`;
}

/** POST /v1/topics; asserts 201 and returns the description. */
export async function createTopic(
  server: RunningServer,
  name: string,
  partitions = 1,
  config?: Record<string, unknown>,
): Promise<Json> {
  const res = await json(`${server.url}/v1/topics`, {
    method: "POST",
    json: config === undefined ? { name, partitions } : { name, partitions, config },
  });
  expectStatus(res, 201, `create topic ${name}`);
  return res.body;
}

/** GET /v1/topics/{topic}; asserts 200. */
export async function describeTopic(server: RunningServer, topic: string): Promise<Json> {
  const res = await json(topicUrl(server, topic));
  expectStatus(res, 200, `describe ${topic}`);
  return res.body;
}

/** High watermark of every partition, from the topic's description. */
export async function highWatermarks(server: RunningServer, topic: string): Promise<number[]> {
  const d = await describeTopic(server, topic);
  return (d.partitions as Json[])
    .slice()
    .sort((a, b) => a.partition - b.partition)
    .map((p) => Number(p.highWatermark));
}

/** POST .../records with a JSON body; asserts 200 and returns `offsets`. */
export async function produce(
  server: RunningServer,
  topic: string,
  body: Record<string, unknown>,
): Promise<{ partition: number; offset: number }[]> {
  const res = await json(`${topicUrl(server, topic)}/records`, { method: "POST", json: body });
  expectStatus(res, 200, `produce to ${topic}`);
  assert.ok(Array.isArray(res.body?.offsets), `produce response has offsets: ${res.text}`);
  return res.body.offsets;
}

/** GET .../records (JSON); asserts 200. `query` values are appended as given. */
export async function fetchRecords(
  server: RunningServer,
  topic: string,
  partition: number,
  query: Record<string, string | number>,
): Promise<Json> {
  const qs = new URLSearchParams(
    Object.entries(query).map(([k, v]) => [k, String(v)]),
  );
  const res = await json(`${partitionUrl(server, topic, partition)}/records?${qs}`);
  expectStatus(res, 200, `fetch ${topic}/${partition}?${qs}`);
  return res.body;
}

/** Every record of a partition from `from`, following nextOffset until the high watermark. */
export async function fetchAll(
  server: RunningServer,
  topic: string,
  partition: number,
  query: Record<string, string | number> = {},
  from = 0,
): Promise<Json[]> {
  const out: Json[] = [];
  let offset = from;
  for (let round = 0; round < 10_000; round++) {
    const r = await fetchRecords(server, topic, partition, { ...query, offset });
    out.push(...r.records);
    if (r.nextOffset >= r.highWatermark || r.records.length === 0) return out;
    assert.ok(r.nextOffset > offset, `nextOffset ${r.nextOffset} advances past ${offset}`);
    offset = r.nextOffset;
  }
  throw new Error("fetchAll: too many rounds");
}

/** GET .../records with `Accept: application/vnd.kafka.recordbatch`; asserts 200. */
export async function fetchBatches(
  server: RunningServer,
  topic: string,
  partition: number,
  offset: number | string,
  extraQuery = "",
): Promise<{ body: Uint8Array; batches: DecodedBatch[]; headers: Headers }> {
  const res = await bytes(
    `${partitionUrl(server, topic, partition)}/records?offset=${offset}${extraQuery}`,
    { headers: { accept: RECORDBATCH_TYPE } },
  );
  assert.equal(
    res.status,
    200,
    `binary fetch ${topic}/${partition}@${offset}: ${new TextDecoder().decode(res.body)}`,
  );
  return { body: res.body, batches: decodeBatches(res.body), headers: res.headers };
}

export const RECORDBATCH_TYPE = "application/vnd.kafka.recordbatch";

/** POST .../partitions/{p}/batches with the recordbatch content type. */
export function postBatches(
  server: RunningServer,
  topic: string,
  partition: number,
  body: Uint8Array,
  contentType = RECORDBATCH_TYPE,
): Promise<JsonResponse> {
  return json(`${partitionUrl(server, topic, partition)}/batches`, {
    method: "POST",
    headers: { "content-type": contentType },
    body: body as Uint8Array<ArrayBuffer>,
  });
}

// ---------------------------------------------------------------------------------------------
// Encoding helpers

export function toBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return btoa(s);
}

export function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The names below `dir`, recursively, as sorted relative paths ("a", "a/b", ...). */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(rel === "" ? dir : `${dir}/${rel}`)) {
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      out.push(path);
      if (e.isDirectory) await walk(path);
    }
  };
  await walk("");
  return out.sort();
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1, for request targets fetch() would normalize away ("%2e%2e", "..").

export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  text: string;
  body: Json;
}

/**
 * Sends `METHOD target HTTP/1.1` exactly as given over a fresh connection (Connection: close)
 * and reads the whole response (Content-Length or chunked).
 */
export async function rawRequest(
  server: RunningServer,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<RawResponse> {
  const { hostname, port } = new URL(server.url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    const bodyBytes = body === undefined ? undefined : new TextEncoder().encode(body);
    let head = `${method} ${target} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    if (bodyBytes) head += `Content-Length: ${bodyBytes.length}\r\n`;
    head += "\r\n";
    const req = new TextEncoder().encode(head);
    const all = bodyBytes ? concat([req, bodyBytes]) : req;
    let written = 0;
    while (written < all.length) written += await conn.write(all.subarray(written));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      const sofar = concat(chunks);
      const parsed = parseHttpResponse(sofar);
      if (parsed) return parsed;
    }
    const parsed = parseHttpResponse(concat(chunks), true);
    if (!parsed) throw new Error(`rawRequest: incomplete response to ${method} ${target}`);
    return parsed;
  } finally {
    conn.close();
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function parseHttpResponse(data: Uint8Array, eof = false): RawResponse | undefined {
  const latin = new TextDecoder("latin1").decode(data);
  const headEnd = latin.indexOf("\r\n\r\n");
  if (headEnd < 0) return undefined;
  const [statusLine, ...lines] = latin.slice(0, headEnd).split("\r\n");
  const status = Number(statusLine.split(" ")[1]);
  const headers = new Map<string, string>();
  for (const l of lines) {
    const i = l.indexOf(":");
    headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
  }
  const rest = data.subarray(headEnd + 4);
  let bodyBytes: Uint8Array;
  if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") {
    const parts: Uint8Array[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = new TextDecoder("latin1").decode(rest.subarray(at)).indexOf("\r\n");
      if (lineEnd < 0) return undefined;
      const size = parseInt(new TextDecoder("latin1").decode(rest.subarray(at, at + lineEnd)), 16);
      at += lineEnd + 2;
      if (size === 0) break;
      if (rest.length < at + size + 2) return undefined;
      parts.push(rest.subarray(at, at + size));
      at += size + 2;
    }
    bodyBytes = concat(parts);
  } else if (headers.has("content-length")) {
    const n = Number(headers.get("content-length"));
    if (rest.length < n) return undefined;
    bodyBytes = rest.subarray(0, n);
  } else if (status === 204 || status === 304) {
    bodyBytes = new Uint8Array();
  } else {
    if (!eof) return undefined;
    bodyBytes = rest;
  }
  const text = new TextDecoder().decode(bodyBytes);
  let body: Json = undefined;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch { /* not JSON */ }
  return { status, headers, text, body };
}

// ---------------------------------------------------------------------------------------------
// Server-sent events

export interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

/** Reads SSE events from a response body, one at a time. `close()` cancels the stream. */
export class SseReader {
  #reader: ReadableStreamDefaultReader<string>;
  #pending = "";
  #queue: SseEvent[] = [];

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next event, or throws after `timeoutMs` (the stream stays usable only on success). */
  async next(timeoutMs: number): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no SSE event within ${timeoutMs} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const r = await Promise.race([
        this.#reader.read(),
        new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), left);
        }),
      ]);
      clearTimeout(timer);
      if (r === "timeout") throw new Error(`no SSE event within ${timeoutMs} ms`);
      if (r.done) throw new Error("SSE stream ended");
      this.#pending += r.value.replace(/\r\n?/g, "\n");
      this.#parse();
    }
    return this.#queue.shift()!;
  }

  #parse(): void {
    let end: number;
    while ((end = this.#pending.indexOf("\n\n")) >= 0) {
      const block = this.#pending.slice(0, end);
      this.#pending = this.#pending.slice(end + 2);
      let id: string | undefined;
      let event: string | undefined;
      const data: string[] = [];
      let any = false;
      for (const line of block.split("\n")) {
        if (line === "" || line.startsWith(":")) continue;
        const i = line.indexOf(":");
        const field = i < 0 ? line : line.slice(0, i);
        let value = i < 0 ? "" : line.slice(i + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "id") id = value;
        else if (field === "event") event = value;
        else if (field === "data") data.push(value);
        else continue;
        any = true;
      }
      // Comment-only blocks (keep-alives) and retry-only blocks are not events.
      if (any && data.length > 0) this.#queue.push({ id, event, data: data.join("\n") });
    }
  }

  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}
