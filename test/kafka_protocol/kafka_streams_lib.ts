/**
 * Kafka Streams (kafka-streams 4.x, installed by scripts/install-kafka-streams.sh in
 * ~/.cache/sluice/kafka-streams or $SLUICE_KAFKA_STREAMS_DIR) running
 * test/kafka_protocol/java/SluiceWordCount.java against the real server, for
 * kafka_streams_test.ts. The program is compiled with javac once per source and jar list (into
 * the install dir, by java_harness.ts's compileJava) and run as a subprocess whose stdout is JSON
 * event lines (see the Java file's header) and whose log (slf4j-simple at INFO, TaskManager at
 * DEBUG, where Streams reports a failed repartition purge) goes to a file.
 *
 * The JVM's locale is pinned to en-US: the topology lower-cases with the default locale (as
 * Kafka's WordCountDemo does), and the test computes the expected words with JavaScript's
 * locale-free toLowerCase. Not a test file itself (no `_test` suffix).
 */
import assert from "node:assert/strict";
import { compileJava } from "./java_harness.ts";
import { announceSkip } from "./kafka_harness.ts";

/** Where scripts/install-kafka-streams.sh installs (its default, or SLUICE_KAFKA_STREAMS_DIR). */
export const STREAMS_DIR = Deno.env.get("SLUICE_KAFKA_STREAMS_DIR") ??
  `${Deno.env.get("HOME") ?? "/root"}/.cache/sluice/kafka-streams`;
const LIB_DIR = `${STREAMS_DIR}/lib`;
const SOURCE = new URL("./java/SluiceWordCount.java", import.meta.url).pathname;
/** A graceful close (commit, leave the group) takes a second; the program's own limit is 30 s. */
const STOP_TIMEOUT_MS = 45_000;
const KILL_TIMEOUT_MS = 10_000;
/** Characters of stderr kept for failure messages. */
const STDERR_KEPT = 32_768;

function libJars(): string[] {
  try {
    return [...Deno.readDirSync(LIB_DIR)].map((e) => e.name).filter((n) => n.endsWith(".jar"))
      .sort();
  } catch {
    return [];
  }
}

function runsOk(cmd: string, args: string[]): boolean {
  try {
    return new Deno.Command(cmd, { args, stdout: "null", stderr: "null", stdin: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Whether java, javac and kafka-streams' jars are here. */
export const streamsAvailable: boolean = libJars().some((j) => j.startsWith("kafka-streams-")) &&
  runsOk("java", ["-version"]) && runsOk("javac", ["-version"]);

/** The kafka-streams version installed ("4.4.0"), or undefined. */
export const kafkaStreamsVersion: string | undefined = libJars()
  .map((j) => j.match(/^kafka-streams-(\d.*)\.jar$/)?.[1]).find((v) => v !== undefined);

/** Skip announcement (or, in CI, a failing test) for Kafka Streams. */
export function announceStreamsSkip(): void {
  announceSkip(
    streamsAvailable,
    "Kafka Streams (kafka-streams 4.x)",
    "scripts/install-kafka-streams.sh (needs mvn and a JDK 17+)",
  );
}

let compiled: Promise<string> | undefined;

/** javac of SluiceWordCount.java into STREAMS_DIR/classes-HASH, once; the classes dir. */
function compileWordCount(): Promise<string> {
  compiled ??= compileJava({
    sources: [SOURCE],
    classpath: `${LIB_DIR}/*`,
    cacheDir: STREAMS_DIR,
    jars: libJars(),
    marker: "SluiceWordCount.class",
  });
  return compiled;
}

/** A JSON line the program printed. */
export interface StreamsEvent {
  event: string;
  [more: string]: unknown;
}

export interface WordCountProcess {
  readonly name: string;
  readonly logFile: string;
  /** Every event line so far, in order. */
  readonly events: StreamsEvent[];
  /** Resolves with the exit code once the JVM ended. */
  readonly exited: Promise<number>;
  /** Whether the JVM has exited. */
  done(): boolean;
  /**
   * Waits until `check` holds, checked on every event line and every 100 ms; fails past
   * `timeoutMs` or when the JVM exits first, with `detail()` and the program's log.
   */
  waitFor(
    what: string,
    check: () => boolean | Promise<boolean>,
    timeoutMs: number,
    detail?: () => string | Promise<string>,
  ): Promise<void>;
  /** Closes stdin (the program closes Streams, leaving the group) and waits for the exit code. */
  stop(): Promise<number>;
  /** SIGKILL and wait: a crash (no commit, no flush, no LeaveGroup). Idempotent. */
  kill(): Promise<number>;
  /** Events, the log's WARN/ERROR lines, its tail and stderr: for failure messages. */
  describe(): string;
}

async function javaArgs(mainArgs: string[], logFile: string): Promise<string[]> {
  const classes = await compileWordCount();
  return [
    // One small JVM (RocksDB's memory is off-heap); the tests share 2 cores.
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xmx256m",
    "-Duser.language=en",
    "-Duser.country=US",
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
    "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.streams.processor.internals.TaskManager=debug",
    "-Dorg.slf4j.simpleLogger.showDateTime=true",
    `-Dorg.slf4j.simpleLogger.logFile=${logFile}`,
    "-cp",
    `${classes}:${LIB_DIR}/*`,
    "SluiceWordCount",
    ...mainArgs,
  ];
}

/** Log lines that every run prints and that say nothing about Sluice. */
const LOG_NOISE =
  /Processing exception handler is not enabled|Explicit naming for internal|OS temp/;

/** Starts `SluiceWordCount args...`; stdin stays open until stop(). */
export async function startWordCount(
  name: string,
  args: string[],
  logFile: string,
): Promise<WordCountProcess> {
  const proc = new Deno.Command("java", {
    args: await javaArgs(args, logFile),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = proc.stdin.getWriter();
  const events: StreamsEvent[] = [];
  let stderr = "";
  const wakers = new Set<() => void>();
  const wake = () => {
    for (const w of [...wakers]) w();
  };
  const readStdout = (async () => {
    let buffered = "";
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line === "") continue;
        try {
          events.push(JSON.parse(line));
        } catch {
          stderr += `[unparsed stdout] ${line}\n`;
        }
      }
      wake();
    }
  })();
  const readStderr = (async () => {
    for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) {
      stderr += chunk;
      if (stderr.length > STDERR_KEPT) stderr = stderr.slice(-STDERR_KEPT / 2);
    }
  })();
  let ended = false;
  const exited = (async () => {
    const status = await proc.status;
    await Promise.all([readStdout, readStderr]).catch(() => {});
    ended = true;
    wake();
    return status.code;
  })();
  const describe = () => {
    let log = "";
    try {
      log = Deno.readTextFileSync(logFile);
    } catch { /* not written yet */ }
    const lines = log.trimEnd().split("\n");
    // A WARN or ERROR line and the line after it when that continues it (Streams puts the
    // broker's error message there: "Error message was: ...").
    const problems = lines.flatMap((l, i) => {
      if (!/ (WARN|ERROR) /.test(l) || LOG_NOISE.test(l)) return [];
      const next = lines[i + 1] ?? "";
      return /^Error message was/.test(next) ? [l, next] : [l];
    }).slice(-15).map((l) => l.slice(0, 600));
    const shown = events.filter((e) => !e.event.startsWith("first-")).slice(-20);
    return `${name}: events:\n${shown.map((e) => JSON.stringify(e)).join("\n")}\n` +
      `log WARN/ERROR lines (${logFile}):\n${problems.join("\n")}\nlog tail:\n` +
      `${lines.slice(-12).map((l) => l.slice(0, 400)).join("\n")}\nstderr tail:\n` +
      stderr.slice(-3000);
  };
  const waitExit = async (ms: number): Promise<number | "timeout"> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), ms);
    });
    try {
      return await Promise.race([exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  const signalKill = () => {
    try {
      proc.kill("SIGKILL");
    } catch { /* already gone */ }
  };
  return {
    name,
    logFile,
    events,
    exited,
    done: () => ended,
    describe,
    async waitFor(what, check, timeoutMs, detail) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (await check()) return;
        const why = ended
          ? "exited"
          : Date.now() > deadline
          ? `timed out after ${timeoutMs} ms`
          : "";
        if (why !== "") {
          const more = detail === undefined ? "" : `${await detail()}\n`;
          assert.fail(`${name}: ${why} waiting for ${what}\n${more}${describe()}`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(finish, 100);
          function finish() {
            clearTimeout(timer);
            wakers.delete(finish);
            resolve();
          }
          wakers.add(finish);
        });
      }
    },
    async stop() {
      await stdin.close().catch(() => {});
      const code = await waitExit(STOP_TIMEOUT_MS);
      if (code !== "timeout") return code;
      signalKill();
      await waitExit(KILL_TIMEOUT_MS);
      assert.fail(
        `${name} did not stop within ${STOP_TIMEOUT_MS} ms of closing stdin\n${describe()}`,
      );
    },
    async kill() {
      if (!ended) signalKill();
      await stdin.close().catch(() => {});
      const code = await waitExit(KILL_TIMEOUT_MS);
      assert.notEqual(code, "timeout", `${name}: no exit within ${KILL_TIMEOUT_MS} ms of SIGKILL`);
      return code as number;
    },
  };
}

/** A topic as `SluiceWordCount describe` prints it: the configs are those set on the topic. */
export interface DescribedTopic {
  name: string;
  partitions: number;
  internal: boolean;
  configs: Record<string, string>;
}

/** A consumer group as `SluiceWordCount describe --group` prints it. */
export interface DescribedGroup {
  state: string;
  type: string;
  assignor: string;
  members: number;
}

/** Runs `describe`: the topics named PREFIX* and, with `group`, the group, through AdminClient. */
export async function describeWithAdmin(
  bootstrap: string,
  prefix: string,
  group: string | undefined,
  logFile: string,
): Promise<{ topics: Map<string, DescribedTopic>; group?: DescribedGroup }> {
  const args = ["describe", "--bootstrap", bootstrap, "--prefix", prefix];
  if (group !== undefined) args.push("--group", group);
  const proc = await startWordCount("describe", args, logFile);
  const code = await proc.stop();
  assert.equal(code, 0, `describe exited ${code}\n${proc.describe()}`);
  const topics = new Map<string, DescribedTopic>();
  let described: DescribedGroup | undefined;
  for (const e of proc.events) {
    if (e.event === "topic") topics.set(e.name as string, e as unknown as DescribedTopic);
    if (e.event === "group") described = e as unknown as DescribedGroup;
  }
  return { topics, group: described };
}
