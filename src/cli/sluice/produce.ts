/**
 * `sluice produce TOPIC`: stdin's lines as records (kcat -P, rpk topic produce), through
 * `POST /v1/topics/{topic}/records`.
 *
 * Raw input (the default): each line (or -D delimiter) is a value, split into key and value at the
 * first -K separator when one is given; its bytes are sent as they are (base64 on the wire), so
 * binary lines survive; empty lines are skipped; with the newline delimiter a trailing \r is
 * dropped. JSON input (`--input json`): each line is one record object
 * `{"key"?,"value","headers"?,"partition"?,"timestamp"?}`; a string value is stored as its text,
 * any other JSON value as its JSON text, null as a null value; headers are an object or an array
 * of {"key","value"}. `-H KEY=VALUE` headers and `-p N` apply to every record (a JSON record's own
 * partition wins).
 *
 * Records go in requests of at most --batch records and PRODUCE_REQUEST_BYTES_MAX bytes, one at a
 * time, in input order; what stdin has delivered is sent before waiting for more, so a line typed
 * at a terminal goes at once. A line that cannot be read stops the command (INPUT_INVALID, with
 * the line number) after the records before it were produced.
 */
import { Buffer } from "node:buffer";
import { stdinChunks } from "../../runtime/stdio.ts";
import { type CommandSpec, parseCommand, type Parsed } from "./args.ts";
import { ApiClient } from "./client.ts";
import { resolveSettings } from "./config.ts";
import { CliError } from "./errors.ts";
import { Output } from "./output.ts";

/** Records per request by default (--batch). */
export const PRODUCE_BATCH_DEFAULT = 1000;
/** --batch's bound. */
export const PRODUCE_BATCH_MAX = 100_000;
/** A request's JSON size before it is sent; well below the server's 16 MiB request bound. */
export const PRODUCE_REQUEST_BYTES_MAX = 4 * 1024 * 1024;
/** Partitions named in the summary line for people (--json lists them all). */
export const PRODUCE_SUMMARY_PARTITIONS_MAX = 8;
/** One input line's bound (a longer one is INPUT_INVALID rather than memory without end). */
export const PRODUCE_LINE_BYTES_MAX = 8 * 1024 * 1024;

export const PRODUCE_SPEC: CommandSpec = {
  path: "sluice produce",
  summary: "Produce stdin's lines to a topic, one record per line.",
  positionals: [{ name: "TOPIC" }],
  options: [
    { name: "key-delimiter", short: "K", value: "SEP", help: "split each line into KEY SEP VALUE" },
    {
      name: "header",
      short: "H",
      value: "KEY=VALUE",
      repeat: true,
      help: "a header on every record",
    },
    { name: "partition", short: "p", value: "N", help: "the partition (default: by key, sticky)" },
    {
      name: "input",
      value: "raw|json",
      help: "raw lines (default) or one JSON record object per line",
    },
    { name: "delimiter", short: "D", value: "SEP", help: "record delimiter (default newline)" },
    {
      name: "acks",
      value: "all|1",
      help: "wait for every in-sync replica (default) or the leader",
    },
    {
      name: "batch",
      value: "N",
      help: `records per request (default ${PRODUCE_BATCH_DEFAULT}, at most ${PRODUCE_BATCH_MAX})`,
    },
  ],
  notes: [
    "Examples:",
    "  printf 'a\\nb\\n' | sluice produce orders",
    "  printf 'customer-7:hello\\n' | sluice produce orders -K: -H source=cli",
    '  echo \'{"key":"k1","value":{"total":12}}\' | sluice produce orders --input json',
  ],
};

interface RecordOut {
  key?: string | null;
  value: string | null;
  headers?: { key: string; value: string | null }[];
  partition?: number;
  timestamp?: number;
}

/** Escapes as a shell user types them: \t, \n, \r, \\. */
export function unescapeSeparator(text: string): string {
  return text.replace(
    /\\([tnr\\])/g,
    (_, c) => ({ t: "\t", n: "\n", r: "\r", "\\": "\\" })[c as "t"],
  );
}

function indexOfSeq(hay: Uint8Array, needle: Uint8Array, from: number): number {
  if (needle.length === 1) return hay.indexOf(needle[0], from);
  outer: for (let i = hay.indexOf(needle[0], from); i >= 0; i = hay.indexOf(needle[0], i + 1)) {
    if (i + needle.length > hay.length) return -1;
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * Input bytes cut at a delimiter in one pass: each byte is copied into the buffer once (the buffer
 * doubles, and moves its unread tail to the front before it grows) and scanned once, so a long line
 * arriving in many chunks costs its length, not its length times its chunks. A line is a view into
 * the buffer, valid until the next push.
 */
export class LineBuffer {
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #scan = 0;

  constructor(readonly delimiter: Uint8Array) {}

  get pendingLength(): number {
    return this.#end - this.#start;
  }

  push(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buf.length) {
      const pending = this.#end - this.#start;
      let buf = this.#buf;
      if (pending + chunk.length > buf.length) {
        buf = new Uint8Array(Math.max(buf.length * 2, pending + chunk.length));
      }
      buf.set(this.#buf.subarray(this.#start, this.#end));
      this.#scan -= this.#start;
      this.#buf = buf;
      this.#start = 0;
      this.#end = pending;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** The next whole line, without its delimiter, or undefined until more input. */
  next(): Uint8Array | undefined {
    const at = indexOfSeq(this.#buf.subarray(0, this.#end), this.delimiter, this.#scan);
    if (at < 0) {
      this.#scan = Math.max(this.#start, this.#end - this.delimiter.length + 1);
      return undefined;
    }
    const line = this.#buf.subarray(this.#start, at);
    this.#start = this.#scan = at + this.delimiter.length;
    return line;
  }

  /** What follows the last delimiter (the last line of an input without a final one). */
  rest(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }
}

function parseHeaders(args: Parsed): { key: string; value: string }[] {
  return args.all("header").map((h) => {
    const eq = h.indexOf("=");
    if (eq <= 0) args.fail(`-H takes KEY=VALUE, not "${h}"`);
    return { key: h.slice(0, eq), value: h.slice(eq + 1) };
  });
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function jsonRecord(line: Uint8Array, lineNo: number): RecordOut {
  let o: unknown;
  try {
    o = JSON.parse(utf8.decode(line));
  } catch (err) {
    throw new CliError("INPUT_INVALID", `line ${lineNo}: not JSON: ${(err as Error).message}`);
  }
  const bad = (why: string): never => {
    throw new CliError("INPUT_INVALID", `line ${lineNo}: ${why}`);
  };
  if (typeof o !== "object" || o === null || Array.isArray(o)) bad("not a JSON object");
  const r = o as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!["key", "value", "headers", "partition", "timestamp"].includes(k)) {
      bad(`unknown field "${k}" (key, value, headers, partition, timestamp)`);
    }
  }
  if (!("value" in r)) bad(`no "value"`);
  if (r.key !== undefined && r.key !== null && typeof r.key !== "string") {
    bad(`"key" must be a string or null`);
  }
  const value = r.value === null || typeof r.value === "string" ? r.value : JSON.stringify(r.value);
  let headers: { key: string; value: string | null }[] | undefined;
  if (Array.isArray(r.headers)) {
    headers = r.headers.map((h) => {
      if (typeof h?.key !== "string" || (h.value !== null && typeof h.value !== "string")) {
        bad(`"headers" entries must be {"key": string, "value": string or null}`);
      }
      return { key: h.key, value: h.value };
    });
  } else if (r.headers !== undefined) {
    if (typeof r.headers !== "object" || r.headers === null) bad(`"headers" must be an object`);
    headers = Object.entries(r.headers as Record<string, unknown>).map(([key, v]) => {
      if (v !== null && typeof v !== "string") bad(`header "${key}" must be a string or null`);
      return { key, value: v as string | null };
    });
  }
  for (const k of ["partition", "timestamp"] as const) {
    if (r[k] !== undefined && (!Number.isSafeInteger(r[k]) || (r[k] as number) < 0)) {
      bad(`"${k}" must be a non-negative integer`);
    }
  }
  return {
    key: r.key as string | null | undefined,
    value: value as string | null,
    headers,
    partition: r.partition as number | undefined,
    timestamp: r.timestamp as number | undefined,
  };
}

export async function produceCommand(argv: string[]): Promise<void> {
  const args = parseCommand(PRODUCE_SPEC, argv);
  const topic = args.positionals[0];
  const input = args.get("input") ?? "raw";
  if (input !== "raw" && input !== "json") args.fail(`--input is raw or json, not "${input}"`);
  const acks = args.get("acks") ?? "all";
  if (acks !== "all" && acks !== "1") args.fail(`--acks is all or 1, not "${acks}"`);
  const partition = args.int("partition", undefined, 0, 1_000_000);
  const batchMax = args.int("batch", PRODUCE_BATCH_DEFAULT, 1, PRODUCE_BATCH_MAX);
  const headers = parseHeaders(args);
  const enc = new TextEncoder();
  const keySep = args.has("key-delimiter")
    ? enc.encode(unescapeSeparator(args.get("key-delimiter")!))
    : undefined;
  const delimiterText = unescapeSeparator(args.get("delimiter") ?? "\n");
  if (delimiterText === "") args.fail("--delimiter may not be empty");
  if (keySep?.length === 0) args.fail("--key-delimiter may not be empty");
  if (keySep !== undefined && input === "json") args.fail("-K is for raw input only");
  const delimiter = enc.encode(delimiterText);
  const client = new ApiClient(resolveSettings(args));
  const out = new Output(args);

  const path = ApiClient.path`/v1/topics/${topic}/records`;
  const perPartition = new Map<number, { first: number; last: number; records: number }>();
  let produced = 0;
  let batch: RecordOut[] = [];
  let batchBytes = 0;
  let lineNo = 0;

  const send = async () => {
    if (batch.length === 0) return;
    const body = input === "raw"
      ? { keyEncoding: "base64", valueEncoding: "base64", records: batch }
      : { records: batch };
    batch = [];
    batchBytes = 0;
    const res = await client.post(path, body, { query: { acks } });
    for (const { partition: p, offset } of res.offsets as { partition: number; offset: number }[]) {
      const s = perPartition.get(p);
      if (s === undefined) perPartition.set(p, { first: offset, last: offset, records: 1 });
      else {
        s.first = Math.min(s.first, offset);
        s.last = Math.max(s.last, offset);
        s.records++;
      }
    }
    produced += res.offsets.length;
    out.progress(() => `produced ${produced} records to ${topic}`);
  };

  const take = async (line: Uint8Array) => {
    lineNo++;
    if (delimiterText === "\n" && line.length > 0 && line[line.length - 1] === 13) {
      line = line.subarray(0, line.length - 1);
    }
    if (line.length === 0) return;
    let record: RecordOut;
    if (input === "json") {
      record = jsonRecord(line, lineNo);
    } else {
      const at = keySep === undefined ? -1 : indexOfSeq(line, keySep, 0);
      record = at < 0 ? { value: Buffer.from(line).toString("base64") } : {
        key: Buffer.from(line.subarray(0, at)).toString("base64"),
        value: Buffer.from(line.subarray(at + keySep!.length)).toString("base64"),
      };
    }
    if (headers.length > 0) record.headers = [...(record.headers ?? []), ...headers];
    if (partition !== undefined && record.partition === undefined) record.partition = partition;
    const size = line.length * 4 / 3 + 64;
    if (batch.length >= batchMax || batchBytes + size > PRODUCE_REQUEST_BYTES_MAX) await send();
    batch.push(record);
    batchBytes += size;
  };

  const lines = new LineBuffer(delimiter);
  for await (const chunk of stdinChunks()) {
    lines.push(chunk);
    for (let line = lines.next(); line !== undefined; line = lines.next()) await take(line);
    if (lines.pendingLength > PRODUCE_LINE_BYTES_MAX) {
      throw new CliError(
        "INPUT_INVALID",
        `line ${lineNo + 1} is longer than ${PRODUCE_LINE_BYTES_MAX} bytes`,
      );
    }
    await send();
  }
  if (lines.pendingLength > 0) await take(lines.rest());
  await send();
  out.clearProgress();

  const partitions = [...perPartition.entries()].sort((a, b) => a[0] - b[0]).map(([p, s]) => ({
    partition: p,
    firstOffset: s.first,
    lastOffset: s.last,
    records: s.records,
  }));
  if (out.json) {
    await out.printJson({ topic, records: produced, partitions });
  } else {
    const where = partitions.slice(0, PRODUCE_SUMMARY_PARTITIONS_MAX).map((p) =>
      `${p.partition}@${p.firstOffset}-${p.lastOffset}`
    );
    if (partitions.length > where.length) where.push(`${partitions.length - where.length} more`);
    out.note(
      `produced ${produced} records to ${topic}${
        where.length === 0 ? "" : ` (partition@offsets: ${where.join(", ")})`
      }`,
    );
  }
}
