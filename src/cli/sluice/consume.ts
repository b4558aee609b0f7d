/**
 * `sluice consume TOPIC`: a topic's records on stdout (kcat -C, rpk topic consume).
 *
 * Without -g it reads partitions directly (`GET .../partitions/{p}/records`), every partition of
 * the topic or the -p one, each from its -o start: `beginning` (the default), `end`, an offset N,
 * `-N` (N before the end), `s@T` (the first record at or after T: ms since the epoch or an ISO
 * date). The partitions are read at once, each in its own long poll (at most
 * CONSUME_LONG_POLLS_MAX of them; past that they are polled in turns), and each answer is written
 * as one piece. With -g GROUP it is a member of the consumer group (consume_group.ts).
 *
 * -e exits once every partition read has reached its high watermark (as last seen), -c N after N
 * records. Output: the value and a newline per record, `KEY SEP VALUE` with -K SEP, a kcat format
 * string with -f (format.ts), or with --json one JSON object per line
 * `{"topic","partition","offset","timestamp","key","value","headers"}` (key and value as UTF-8
 * text).
 */
import { Buffer } from "node:buffer";
import { stdoutIsTerminal } from "../../runtime/stdio.ts";
import { type CommandSpec, parseCommand, type Parsed } from "./args.ts";
import { ApiClient, type Json } from "./client.ts";
import { resolveSettings } from "./config.ts";
import { groupConsume } from "./consume_group.ts";
import { CliError } from "./errors.ts";
import { concatChunks, type OutRecord, RecordFormat } from "./format.ts";
import { Output } from "./output.ts";
import { unescapeSeparator } from "./produce.ts";

/** Partitions long-polled at once; with more, each is polled without waiting, in turns. */
export const CONSUME_LONG_POLLS_MAX = 64;
/** How long one long poll waits for records (the server's bound is 30 s). */
export const CONSUME_POLL_WAIT_MS = 5_000;
/** Bytes asked per fetch (the server clamps at 8 MiB). */
export const CONSUME_FETCH_BYTES = 1024 * 1024;

export const CONSUME_SPEC: CommandSpec = {
  path: "sluice consume",
  summary: "Print a topic's records; with -g, as a member of a consumer group.",
  positionals: [{ name: "TOPIC" }],
  options: [
    {
      name: "offset",
      short: "o",
      value: "WHERE",
      help: "beginning (default), end, N, -N (N before the end), s@MS or s@ISO-DATE",
    },
    { name: "partition", short: "p", value: "N", help: "only this partition" },
    { name: "group", short: "g", value: "GROUP", help: "consume as a member of this group" },
    { name: "exit", short: "e", help: "exit at the end of the partitions" },
    { name: "count", short: "c", value: "N", help: "exit after N records" },
    {
      name: "format",
      short: "f",
      value: "FMT",
      help: "kcat format: %s value %k key %t %p %o %T %h %S %K, \\n",
    },
    { name: "key-delimiter", short: "K", value: "SEP", help: "print KEY SEP VALUE" },
  ],
  notes: [
    "Examples:",
    "  sluice consume orders -o beginning -e",
    "  sluice consume orders -f 'p%p o%o %k=%s [%h]\\n' -o -10 -e",
    "  sluice consume orders -g billing --json",
    "With -g, -o is beginning or end: where the group starts when it has no committed offset.",
  ],
};

/** Where the output goes: records rendered and written one answer at a time; -c counted. */
export class RecordSink {
  readonly #format: RecordFormat | undefined;
  readonly #limit: number;
  count = 0;

  constructor(readonly out: Output, args: Parsed, readonly topic: string) {
    this.#limit = args.int("count", Number.MAX_SAFE_INTEGER, 1, Number.MAX_SAFE_INTEGER);
    if (out.json) {
      if (args.has("format") || args.has("key-delimiter")) args.fail("--json replaces -f and -K");
      this.#format = undefined;
    } else {
      const sep = args.get("key-delimiter");
      const format = args.get("format") ??
        (sep === undefined ? "%s\\n" : `%k${unescapeSeparator(sep).replaceAll("%", "%%")}%s\\n`);
      this.#format = new RecordFormat(format);
    }
  }

  get done(): boolean {
    return this.count >= this.#limit;
  }

  /** The query that asks the server for the encoding this sink prints. */
  get encodingQuery(): Record<string, string> {
    return this.out.json
      ? { keyEncoding: "string", valueEncoding: "string" }
      : { keyEncoding: "base64", valueEncoding: "base64" };
  }

  /** Writes the records (up to -c); returns how many were written. */
  async write(records: Json[], topicOf: (r: Json) => string = () => this.topic): Promise<number> {
    const take = Math.min(records.length, this.#limit - this.count);
    if (take <= 0) return 0;
    if (this.#format === undefined) {
      let text = "";
      for (let i = 0; i < take; i++) {
        const r = records[i];
        text += JSON.stringify({
          topic: topicOf(r),
          partition: r.partition,
          offset: r.offset,
          timestamp: r.timestamp,
          key: r.key,
          value: r.value,
          headers: r.headers,
        }) + "\n";
      }
      await this.out.write(text);
    } else {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < take; i++) {
        const r = records[i];
        const rec: OutRecord = {
          topic: topicOf(r),
          partition: r.partition,
          offset: r.offset,
          timestamp: r.timestamp,
          key: r.key === null ? null : Buffer.from(r.key, "base64"),
          value: r.value === null ? null : Buffer.from(r.value, "base64"),
          headers: r.headers,
        };
        this.#format.render(rec, chunks);
      }
      await this.out.write(concatChunks(chunks));
    }
    this.count += take;
    if (!stdoutIsTerminal()) this.out.progress(() => `consumed ${this.count} records`);
    return take;
  }
}

/** -o for direct reads: a fetch offset, or a resolver of one per partition. */
async function startOffset(
  client: ApiClient,
  args: Parsed,
  topic: string,
  p: { partition: number; logStartOffset: number; highWatermark: number },
): Promise<number | "earliest"> {
  const where = args.get("offset") ?? "beginning";
  if (where === "beginning" || where === "earliest") return "earliest";
  if (where === "end" || where === "latest") return p.highWatermark;
  if (/^\d+$/.test(where)) return Number(where);
  if (/^-\d+$/.test(where)) return Math.max(p.logStartOffset, p.highWatermark + Number(where));
  if (where.startsWith("s@")) {
    const text = where.slice(2);
    const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
    if (!Number.isFinite(ms)) args.fail(`-o s@ takes ms since the epoch or a date, not "${text}"`);
    const path = ApiClient.path`/v1/topics/${topic}/partitions/${p.partition}/offsets`;
    const { offset } = await client.get(path, { query: { timestamp: ms } });
    return offset ?? p.highWatermark;
  }
  return args.fail(`-o takes beginning, end, N, -N or s@TIME, not "${where}"`);
}

async function directConsume(client: ApiClient, args: Parsed, sink: RecordSink): Promise<void> {
  const topic = sink.topic;
  const description = await client.get(ApiClient.path`/v1/topics/${topic}`);
  let partitions = description.partitions as {
    partition: number;
    logStartOffset: number;
    highWatermark: number;
  }[];
  const only = args.int("partition", undefined, 0, 1_000_000);
  if (only !== undefined) {
    partitions = partitions.filter((p) => p.partition === only);
    if (partitions.length === 0) {
      throw new CliError(
        "PARTITION_NOT_FOUND",
        `topic ${topic} has no partition ${only} (it has ${description.partitions.length})`,
      );
    }
  }
  const exitAtEnd = args.has("exit");
  const stop = new AbortController();
  const longPolls = !exitAtEnd && partitions.length <= CONSUME_LONG_POLLS_MAX;
  let slots = CONSUME_LONG_POLLS_MAX;
  const waiting: (() => void)[] = [];
  const acquire = async () => {
    while (slots === 0) await new Promise<void>((r) => waiting.push(r));
    slots--;
  };
  const release = () => {
    slots++;
    waiting.shift()?.();
  };

  const loop = async (p: (typeof partitions)[number]) => {
    let offset: number | "earliest" = await startOffset(client, args, topic, p);
    let stalled = false;
    const path = ApiClient.path`/v1/topics/${topic}/partitions/${p.partition}/records`;
    while (!sink.done && !stop.signal.aborted) {
      const waitMs = longPolls || stalled ? CONSUME_POLL_WAIT_MS : 0;
      await acquire();
      let res: Json;
      try {
        res = await client.get(path, {
          query: {
            offset,
            maxBytes: CONSUME_FETCH_BYTES,
            maxWaitMs: waitMs,
            ...sink.encodingQuery,
          },
          waitMs,
          signal: stop.signal,
        });
      } catch (err) {
        if (stop.signal.aborted) return;
        throw err;
      } finally {
        release();
      }
      for (const r of res.records) r.partition = p.partition;
      await sink.write(res.records);
      if (sink.done) stop.abort();
      const before = offset;
      offset = res.nextOffset;
      if (exitAtEnd && res.nextOffset >= res.highWatermark) return;
      // Not at the end but nothing moved (a fetch that found no whole record yet): wait instead.
      stalled = res.records.length === 0 && before === res.nextOffset;
      if (!longPolls && !exitAtEnd && res.records.length === 0) stalled = true;
    }
  };
  // One partition's error ends the others' reads too (else a long poll would keep the command up).
  const results = await Promise.allSettled(partitions.map((p) =>
    loop(p).catch((err) => {
      stop.abort();
      throw err;
    })
  ));
  const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
  if (failed !== undefined) throw failed.reason;
}

export async function consumeCommand(argv: string[]): Promise<void> {
  const args = parseCommand(CONSUME_SPEC, argv);
  const topic = args.positionals[0];
  const client = new ApiClient(resolveSettings(args));
  const out = new Output(args);
  const sink = new RecordSink(out, args, topic);
  if (args.has("group")) {
    if (args.has("partition")) args.fail("-p and -g do not go together: the group assigns");
    await groupConsume(client, args, sink, args.get("group")!);
  } else {
    await directConsume(client, args, sink);
  }
  out.clearProgress();
  if (args.has("exit") || args.has("count")) out.note(`consumed ${sink.count} records`);
}
