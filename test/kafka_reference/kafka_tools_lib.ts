/**
 * Helpers for driving Sluice with Apache Kafka 4.4's own command-line tools (through the launcher
 * of test/kafka_reference/kafka_server.ts) and reading what they print. Each parser takes a tool's
 * stdout as Kafka 4.4 writes it and fails loudly (an Error naming the line) on anything else, so a
 * changed or garbled output is a test failure, never a silent pass.
 * Not a test file itself (no `_test` suffix).
 */
import assert from "node:assert/strict";
import type { KafkaServer, RunResult } from "../kafka_protocol/kafka_harness.ts";
import { runKafkaClass } from "./kafka_server.ts";

/** One tool run is one JVM start (1-3 s); a tool that waits on the server is bounded by this. */
export const TOOL_TIMEOUT_MS = 60_000;

/**
 * The JVM writes UTF-8 on stdout whatever the locale (file.encoding for JDK 17, stdout.encoding
 * for 19+), so non-ASCII keys, values and headers print as they were produced.
 */
function utf8Opts(): string {
  const own = Deno.env.get("KAFKA_OPTS");
  return [own, "-Dfile.encoding=UTF-8", "-Dstdout.encoding=UTF-8", "-Dstderr.encoding=UTF-8"]
    .filter((s) => s !== undefined && s !== "").join(" ");
}

/** Runs a Kafka tool class through the launcher against `server` (no bootstrap added). */
export function runTool(
  className: string,
  args: readonly string[],
  options: { stdin?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return runKafkaClass(className, args, {
    stdin: options.stdin,
    timeoutMs: options.timeoutMs ?? TOOL_TIMEOUT_MS,
    env: { KAFKA_OPTS: utf8Opts() },
  });
}

/** A failure message: the command, its exit code, stdout, stderr and the server's stderr tail. */
export function describeRun(
  what: string,
  result: RunResult,
  server?: KafkaServer,
): string {
  return `${what}: exit code ${result.code} after ${result.ms} ms\n` +
    `stdout:\n${result.stdout.slice(-4000)}\nstderr:\n${result.stderr.slice(-4000)}` +
    (server ? `\nserver stderr (tail):\n${server.stderrTail(20)}` : "");
}

/** Asserts exit 0 and returns stdout. */
export function stdoutOf(what: string, result: RunResult, server?: KafkaServer): string {
  assert.equal(result.code, 0, describeRun(what, result, server));
  return result.stdout;
}

function nonEmptyLines(text: string): string[] {
  return text.split("\n").map((l) => l.replace(/\r$/, "")).filter((l) => l.trim() !== "");
}

// ---------------------------------------------------------------------------------------------
// kafka-topics --describe

export interface TopicPartitionLine {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

export interface TopicDescription {
  topic: string;
  topicId: string;
  partitionCount: number;
  replicationFactor: number;
  /** "Configs: a=1,b=2" (the topic's non-default configs) as a map. */
  configs: Record<string, string>;
  partitions: TopicPartitionLine[];
}

function ids(list: string): number[] {
  return list.trim() === "" ? [] : list.split(",").map((s) => Number(s));
}

/**
 * TopicCommand's describe: per topic one line
 * `Topic: T\tTopicId: ID\tPartitionCount: N\tReplicationFactor: R\tConfigs: k=v,...`, then one
 * `\tTopic: T\tPartition: P\tLeader: L\tReplicas: a,b\tIsr: a,b\t...` line per partition.
 */
export function parseTopicDescribe(stdout: string): TopicDescription[] {
  const topics: TopicDescription[] = [];
  for (const line of nonEmptyLines(stdout)) {
    const head = line.match(
      /^Topic: (\S+)\tTopicId: (\S+)\tPartitionCount: (\d+)\tReplicationFactor: (\d+)\tConfigs: ?(.*)$/,
    );
    if (head) {
      const configs: Record<string, string> = {};
      for (const pair of head[5].trim() === "" ? [] : head[5].trim().split(",")) {
        const eq = pair.indexOf("=");
        if (eq < 0) throw new Error(`config without "=" in ${JSON.stringify(line)}`);
        configs[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      topics.push({
        topic: head[1],
        topicId: head[2],
        partitionCount: Number(head[3]),
        replicationFactor: Number(head[4]),
        configs,
        partitions: [],
      });
      continue;
    }
    const part = line.match(
      /^\s+Topic: (\S+)\tPartition: (\d+)\tLeader: (-?\d+|none)\tReplicas: ([\d,]*)\tIsr: ([\d,]*)/,
    );
    const current = topics.at(-1);
    if (!part || !current || current.topic !== part[1]) {
      throw new Error(`unexpected kafka-topics --describe line: ${JSON.stringify(line)}`);
    }
    current.partitions.push({
      partition: Number(part[2]),
      leader: part[3] === "none" ? -1 : Number(part[3]),
      replicas: ids(part[4]),
      isr: ids(part[5]),
    });
  }
  return topics;
}

// ---------------------------------------------------------------------------------------------
// Console producer input and console consumer output

export interface ToolRecord {
  key: string;
  value: string;
  /** In order; a key may repeat. */
  headers: [string, string][];
}

/**
 * The separators both sides are configured with: the producer's LineMessageReader reads
 * `h1=v1;h2=v2|key|value` (headers.delimiter "|", headers.separator ";", headers.key.separator
 * "=", key.separator "|"); the consumer's DefaultMessageFormatter prints its fields joined by
 * key.separator "|", headers joined by headers.separator ";" as `name:value` (a fixed ":").
 * Header names and values and keys must not contain "|", ";", "=" or ":"; a value may hold
 * anything but a newline (both sides split at the first separators only).
 */
export const READER_PROPERTIES = [
  "parse.key=true",
  "parse.headers=true",
  "key.separator=|",
  "headers.delimiter=|",
  "headers.separator=;",
  "headers.key.separator==",
] as const;

export const FORMATTER_PROPERTIES = [
  "print.timestamp=true",
  "print.partition=true",
  "print.offset=true",
  "print.headers=true",
  "print.key=true",
  "key.separator=|",
  "headers.separator=;",
] as const;

/** The console producer's stdin for `records` (every record needs at least one header). */
export function producerInput(records: readonly ToolRecord[]): string {
  return records.map((r) => {
    assert.ok(r.headers.length > 0, "LineMessageReader needs a header on every line");
    for (const s of [r.key, ...r.headers.flat()]) assert.doesNotMatch(s, /[|;=:\n]/);
    assert.doesNotMatch(r.value, /\n/);
    return `${r.headers.map(([k, v]) => `${k}=${v}`).join(";")}|${r.key}|${r.value}\n`;
  }).join("");
}

export interface ConsumedRecord extends ToolRecord {
  timestamp: number;
  partition: number;
  offset: number;
}

/**
 * The console consumer's lines with FORMATTER_PROPERTIES:
 * `CreateTime:TS|Partition:P|Offset:O|h1:v1;h2:v2|key|value` (`NO_HEADERS` when none).
 */
export function parseConsumerOutput(stdout: string): ConsumedRecord[] {
  return nonEmptyLines(stdout).map((line) => {
    const m = line.match(
      /^CreateTime:(\d+)\|Partition:(\d+)\|Offset:(\d+)\|([^|]*)\|([^|]*)\|(.*)$/,
    );
    if (!m) throw new Error(`unexpected console consumer line: ${JSON.stringify(line)}`);
    const headers: [string, string][] = m[4] === "NO_HEADERS" ? [] : m[4].split(";").map((h) => {
      const colon = h.indexOf(":");
      if (colon < 0) throw new Error(`header without ":" in ${JSON.stringify(line)}`);
      return [h.slice(0, colon), h.slice(colon + 1)];
    });
    return {
      timestamp: Number(m[1]),
      partition: Number(m[2]),
      offset: Number(m[3]),
      headers,
      key: m[5],
      value: m[6],
    };
  });
}

// ---------------------------------------------------------------------------------------------
// kafka-consumer-groups

/**
 * A whitespace-separated table under a header line starting with `GROUP` (describe, reset-offsets
 * and `--list --state` print these): one object per row keyed by the header's column names.
 * Lines before the header (and blank lines) are skipped; a row with another column count throws.
 */
export function parseGroupTable(stdout: string): Record<string, string>[] {
  const lines = nonEmptyLines(stdout);
  const at = lines.findIndex((l) => /^GROUP\s/.test(l));
  if (at < 0) throw new Error(`no GROUP header in:\n${stdout}`);
  const columns = lines[at].trim().split(/\s+/);
  return lines.slice(at + 1).map((line) => {
    const cells = line.trim().split(/\s+/);
    if (cells.length !== columns.length) {
      throw new Error(
        `row ${JSON.stringify(line)} has not the ${columns.length} columns ${columns}`,
      );
    }
    return Object.fromEntries(columns.map((c, i) => [c, cells[i]]));
  });
}

export interface GroupOffsetRow {
  group: string;
  topic: string;
  partition: number;
  currentOffset: number | undefined;
  logEndOffset: number | undefined;
  lag: number | undefined;
  consumerId: string;
}

function numberOrDash(cell: string | undefined): number | undefined {
  if (cell === undefined || cell === "-") return undefined;
  const n = Number(cell);
  if (!Number.isInteger(n)) throw new Error(`not a number: ${cell}`);
  return n;
}

/** `--describe --group G`'s offsets table, rows sorted by topic, then partition. */
export function parseGroupDescribe(stdout: string): GroupOffsetRow[] {
  return parseGroupTable(stdout).map((r) => {
    for (const c of ["TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"]) {
      if (!(c in r)) throw new Error(`no ${c} column in:\n${stdout}`);
    }
    return {
      group: r.GROUP,
      topic: r.TOPIC,
      partition: Number(r.PARTITION),
      currentOffset: numberOrDash(r["CURRENT-OFFSET"]),
      logEndOffset: numberOrDash(r["LOG-END-OFFSET"]),
      lag: numberOrDash(r.LAG),
      consumerId: r["CONSUMER-ID"],
    };
  }).sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

// ---------------------------------------------------------------------------------------------
// kafka-configs --describe

export interface ConfigEntryLine {
  value: string;
  sensitive: boolean;
  /** The text between `synonyms={` and `}`. */
  synonyms: string;
}

export interface ConfigsDescription {
  /** The title line, e.g. "Dynamic configs for topic orders are:". */
  title: string;
  entries: Record<string, ConfigEntryLine>;
}

/**
 * ConfigCommand's describe: per entity a title line (`Dynamic configs for topic T are:`,
 * `All configs for broker 0 are:`, ...), then `  name=value sensitive=B synonyms={...}` lines.
 */
export function parseConfigsDescribe(stdout: string): ConfigsDescription[] {
  const out: ConfigsDescription[] = [];
  for (const line of nonEmptyLines(stdout)) {
    if (/^\S.* are:$/.test(line)) {
      out.push({ title: line, entries: {} });
      continue;
    }
    const m = line.match(/^ {2}([^=\s]+)=(.*) sensitive=(true|false) synonyms=\{(.*)\}$/);
    const current = out.at(-1);
    if (!m || !current) throw new Error(`unexpected kafka-configs line: ${JSON.stringify(line)}`);
    current.entries[m[1]] = { value: m[2], sensitive: m[3] === "true", synonyms: m[4] };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// kafka-get-offsets

export interface PartitionOffset {
  topic: string;
  partition: number;
  offset: number;
}

/** GetOffsetShell's `TOPIC:PARTITION:OFFSET` lines, sorted by topic, then partition. */
export function parseGetOffsets(stdout: string): PartitionOffset[] {
  return nonEmptyLines(stdout).map((line) => {
    const m = line.match(/^(.+):(\d+):(-?\d+)$/);
    if (!m) throw new Error(`unexpected kafka-get-offsets line: ${JSON.stringify(line)}`);
    return { topic: m[1], partition: Number(m[2]), offset: Number(m[3]) };
  }).sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

// ---------------------------------------------------------------------------------------------
// kafka-producer-perf-test

export interface PerfSummary {
  records: number;
  recordsPerSec: number;
  mbPerSec: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
}

/**
 * ProducerPerformance's last line: `N records sent, R records/sec (M MB/sec), A ms avg latency,
 * X ms max latency, ... 99.9th.` (the periodic progress lines before it have no percentiles).
 */
export function parsePerfSummary(stdout: string): PerfSummary {
  const n = String.raw`(\d+(?:\.\d+)?)`;
  const re = new RegExp(
    String.raw`^(\d+) records sent, ${n} records/sec \(${n} MB/sec\), ${n} ms avg latency, ` +
      String.raw`${n} ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.$`,
  );
  const found = nonEmptyLines(stdout).map((l) => l.match(re)).filter((m) => m !== null);
  if (found.length !== 1) throw new Error(`no single perf summary line in:\n${stdout}`);
  const m = found[0];
  return {
    records: Number(m[1]),
    recordsPerSec: Number(m[2]),
    mbPerSec: Number(m[3]),
    avgLatencyMs: Number(m[4]),
    maxLatencyMs: Number(m[5]),
  };
}
