/**
 * Kafka Connect standalone (connect-runtime 4.4, installed by scripts/install-kafka-connect.sh in
 * ~/.cache/sluice/kafka-connect or $SLUICE_KAFKA_CONNECT_DIR) as a subprocess, with a file source
 * and a file sink connector, for test/kafka_reference/kafka_connect_test.ts.
 *
 * The connectors: Kafka's FileStreamSource/FileStreamSink when the installer found connect-file
 * (lib/connect-file-*.jar), else our own (test/kafka_reference/connect/*.java, compiled here with
 * javac against the installed jars, once per source and jar list, into the install dir, with the
 * META-INF/services files that `plugin.discovery=service_load` finds them by). Either is on the
 * worker's classpath. {@link FileConnectors} says how each names its configs and source offsets.
 *
 * {@link startConnect} runs `ConnectStandalone WORKER CONNECTOR...` with its log at INFO in a file
 * (the installer's log4j2-file.properties); stop() sends SIGTERM and waits for the JVM's exit,
 * SIGKILL past a deadline. Not a test file itself (no `_test` suffix).
 */
import assert from "node:assert/strict";
import { compileJava } from "../kafka_protocol/java_harness.ts";
import { announceSkip } from "../kafka_protocol/kafka_harness.ts";

/** Where scripts/install-kafka-connect.sh installs (its default, or SLUICE_KAFKA_CONNECT_DIR). */
export const CONNECT_DIR = Deno.env.get("SLUICE_KAFKA_CONNECT_DIR") ??
  `${Deno.env.get("HOME") ?? "/root"}/.cache/sluice/kafka-connect`;
const LIB_DIR = `${CONNECT_DIR}/lib`;
const SOURCES_DIR = new URL("./connect/", import.meta.url).pathname;
const STANDALONE = "org.apache.kafka.connect.cli.ConnectStandalone";
/** A graceful stop of two tasks takes 1-2 s; Connect's own task shutdown timeout is 5 s. */
export const CONNECT_STOP_TIMEOUT_MS = 30_000;
const KILL_TIMEOUT_MS = 10_000;

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

/** Whether java, javac and connect-runtime's jars are here. */
export const connectAvailable: boolean = libJars().some((j) => j.startsWith("connect-runtime-")) &&
  runsOk("java", ["-version"]) && runsOk("javac", ["-version"]);

/** Skip announcement (or, in CI, a failing test) for Kafka Connect. */
export function announceConnectSkip(): void {
  announceSkip(
    connectAvailable,
    "Kafka Connect standalone (connect-runtime 4.4)",
    "scripts/install-kafka-connect.sh (needs mvn and a JDK 17+)",
  );
}

// ---------------------------------------------------------------------------------------------
// The connectors

/** A file source and sink connector pair and how they are configured and keep their place. */
export interface FileConnectors {
  /** "ours" (test/kafka_reference/connect) or "kafka" (connect-file's FileStream connectors). */
  kind: "ours" | "kafka";
  sourceClass: string;
  sinkClass: string;
  /** Extra classpath entries (our compiled classes), before the lib jars. */
  classpath: string[];
  /** The source partition's key naming the file ("file" for ours, "filename" for Kafka's). */
  partitionKey: string;
  /**
   * The source offset the source stores once it read all of `text`: ours counts bytes, Kafka's
   * FileStreamSourceTask counts the chars its reader returned (UTF-16 units, as JS's length).
   */
  positionAfter(text: string): number;
}

let prepared: Promise<FileConnectors> | undefined;

/** Kafka's connectors when connect-file is installed, else ours (compiled once). */
export function fileConnectors(): Promise<FileConnectors> {
  prepared ??= prepare();
  return prepared;
}

async function prepare(): Promise<FileConnectors> {
  if (libJars().some((j) => j.startsWith("connect-file-"))) {
    return {
      kind: "kafka",
      sourceClass: "org.apache.kafka.connect.file.FileStreamSourceConnector",
      sinkClass: "org.apache.kafka.connect.file.FileStreamSinkConnector",
      classpath: [],
      partitionKey: "filename",
      positionAfter: (text) => text.length,
    };
  }
  return {
    kind: "ours",
    sourceClass: "sluice.connect.LineFileSourceConnector",
    sinkClass: "sluice.connect.LineFileSinkConnector",
    classpath: [await compileConnectors()],
    partitionKey: "file",
    positionAfter: (text) => new TextEncoder().encode(text).length,
  };
}

const SERVICES: Record<string, string> = {
  "org.apache.kafka.connect.source.SourceConnector": "sluice.connect.LineFileSourceConnector\n",
  "org.apache.kafka.connect.sink.SinkConnector": "sluice.connect.LineFileSinkConnector\n",
};

/** javac of connect/*.java into CONNECT_DIR/classes-HASH (by sources and jar list); its path. */
function compileConnectors(): Promise<string> {
  const sources = [...Deno.readDirSync(SOURCES_DIR)].map((e) => e.name)
    .filter((n) => n.endsWith(".java")).sort().map((n) => `${SOURCES_DIR}${n}`);
  return compileJava({
    sources,
    classpath: `${LIB_DIR}/*`,
    cacheDir: CONNECT_DIR,
    jars: libJars(),
    marker: "META-INF/services",
    // Connect finds plugins on its classpath through these service files.
    complete: async (dir) => {
      await Deno.mkdir(`${dir}/META-INF/services`, { recursive: true });
      for (const [service, impl] of Object.entries(SERVICES)) {
        await Deno.writeTextFile(`${dir}/META-INF/services/${service}`, impl);
      }
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Properties files

/** `key=value` lines (values here never need escaping: paths, names, numbers). */
export function propertiesText(props: Record<string, string | number | boolean>): string {
  return Object.entries(props).map(([k, v]) => `${k}=${v}`).join("\n") + "\n";
}

/**
 * The source offsets Connect standalone stored in offset.storage.file.filename: a Java-serialized
 * HashMap of byte[] to byte[], each key the JSON `["CONNECTOR",{PARTITION}]` and each value the
 * JSON offset. Read here by finding the JSON texts (both are plain ASCII in the stream): the
 * offset JSON that follows the key naming `connector`, or undefined when there is none (yet).
 */
export function storedSourceOffset(
  offsetsFile: string,
  connector: string,
): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = new TextDecoder("latin1").decode(Deno.readFileSync(offsetsFile));
  } catch {
    return undefined;
  }
  const key = text.indexOf(`["${connector}",{`);
  if (key < 0) return undefined;
  // The key's JSON ends with "}]"; the value is the next {...} in the stream.
  const keyEnd = text.indexOf("}]", key);
  const value = text.slice(keyEnd).match(/\{"[^{}]*\}/);
  return value ? JSON.parse(value[0]) : undefined;
}

/**
 * Whether `got` is `want` with one range sent twice at most: want[0, k) then want[j, n) for some
 * j <= k (at-least-once after a crash: a restart goes back to the last stored position j, having
 * sent up to k before). With `from`, j must be `from` (k follows from the lengths); without, j is
 * found from the longest common prefix. `replayed` is k - j.
 */
export function replayedOnce(
  got: readonly string[],
  want: readonly string[],
  from?: number,
): { ok: boolean; from: number; replayed: number; detail: string } {
  let k = 0;
  if (from === undefined) {
    while (k < got.length && k < want.length && got[k] === want[k]) k++;
  } else {
    k = got.length - (want.length - from);
  }
  const j = from ?? want.length - (got.length - k);
  const show = (x: readonly string[], i: number) => JSON.stringify((x[i] ?? "<end>").slice(0, 60));
  const fail = (detail: string) => ({ ok: false, from: j, replayed: Math.max(0, k - j), detail });
  if (j < 0 || j > k || k > want.length) {
    return fail(
      `${got.length} lines for ${want.length}: not the first k lines then the lines from ` +
        `${j} on for any k >= ${j}`,
    );
  }
  for (let i = 0; i < k; i++) {
    if (got[i] !== want[i]) {
      return fail(`line ${i} (${show(got, i)}) is not ${show(want, i)}, before the replay`);
    }
  }
  for (let i = k; i < got.length; i++) {
    const w = j + (i - k);
    if (got[i] !== want[w]) {
      return fail(
        `equal up to line ${k}, then replayed from line ${j}, but line ${i} (${show(got, i)}) ` +
          `is not line ${w} (${show(want, w)})`,
      );
    }
  }
  return { ok: true, from: j, replayed: k - j, detail: `replayed ${k - j} lines from line ${j}` };
}

// ---------------------------------------------------------------------------------------------
// The worker process

export interface RunningConnect {
  pid: number;
  /** Connect's log (INFO and above). */
  logFile: string;
  /** Resolves with the JVM's exit status once it ended. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** Whether the JVM has exited. */
  done(): boolean;
  /** The log's WARN/ERROR lines and its last `lines` lines, plus stderr: for failure messages. */
  describe(lines?: number): string;
  /** SIGTERM; waits for the exit (SIGKILL past CONNECT_STOP_TIMEOUT_MS, then fails). */
  stop(): Promise<Deno.CommandStatus>;
  /** SIGKILL and wait; for cleanup. Idempotent. */
  kill(): Promise<void>;
}

/** Starts `ConnectStandalone worker connectors...`, logging to `logFile`. */
export function startConnect(
  connectors: FileConnectors,
  workerProps: string,
  connectorProps: readonly string[],
  logFile: string,
): RunningConnect {
  const proc = new Deno.Command("java", {
    args: [
      // One small JVM; the tests share 2 cores.
      "-XX:+UseSerialGC",
      "-XX:TieredStopAtLevel=1",
      "-Xss512k",
      "-Xmx256m",
      "-Djava.awt.headless=true",
      `-Dlog4j2.configurationFile=${CONNECT_DIR}/config/log4j2-file.properties`,
      `-Dconnect.log.file=${logFile}`,
      "-cp",
      [...connectors.classpath, `${LIB_DIR}/*`].join(":"),
      STANDALONE,
      workerProps,
      ...connectorProps,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const keep = (chunk: string) => {
    output += chunk;
    if (output.length > 32_768) output = output.slice(-16_384);
  };
  const drain = (stream: ReadableStream<Uint8Array>) =>
    (async () => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) keep(chunk);
    })().catch(() => {});
  const drained = Promise.all([drain(proc.stdout), drain(proc.stderr)]);
  let ended = false;
  const exited = (async () => {
    const status = await proc.status;
    await drained;
    ended = true;
    return status;
  })();
  const describe = (lines = 30) => {
    let log = "";
    try {
      log = Deno.readTextFileSync(logFile);
    } catch { /* not written yet */ }
    const all = log.trimEnd().split("\n");
    const problems = all.filter((l) => / (WARN|ERROR) /.test(l)).slice(-20);
    return `connect log WARN/ERROR lines:\n${problems.join("\n")}\nconnect log tail:\n` +
      `${all.slice(-lines).join("\n")}\nconnect stdout/stderr tail:\n${output.slice(-4000)}`;
  };
  const signal = (s: Deno.Signal) => {
    try {
      proc.kill(s);
    } catch { /* already gone */ }
  };
  const waitFor = async (ms: number) => {
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
  return {
    pid: proc.pid,
    logFile,
    exited,
    done: () => ended,
    describe,
    async stop() {
      signal("SIGTERM");
      const status = await waitFor(CONNECT_STOP_TIMEOUT_MS);
      if (status !== "timeout") return status;
      signal("SIGKILL");
      await waitFor(KILL_TIMEOUT_MS);
      assert.fail(
        `Connect did not stop within ${CONNECT_STOP_TIMEOUT_MS} ms of SIGTERM\n` +
          describe(),
      );
    },
    async kill() {
      if (ended) return;
      signal("SIGKILL");
      await waitFor(KILL_TIMEOUT_MS);
    },
  };
}

/**
 * Polls `check` every `intervalMs` (100) until it returns true; fails past `timeoutMs` or when
 * Connect exits first, with `what`, `detail()` and Connect's log in the message.
 */
export async function waitUntil(
  connect: RunningConnect,
  what: string,
  check: () => boolean | Promise<boolean>,
  detail: () => string,
  timeoutMs = 60_000,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (connect.done()) {
      assert.fail(`Connect exited before ${what}: ${detail()}\n${connect.describe()}`);
    }
    if (Date.now() > deadline) {
      assert.fail(
        `timed out after ${timeoutMs} ms waiting for ${what}: ${detail()}\n` +
          connect.describe(),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
