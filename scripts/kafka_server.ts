/**
 * A real Apache Kafka broker (4.4, from the jars scripts/install-kafka.sh puts in
 * ~/.cache/sluice/kafka-4.4 or $SLUICE_KAFKA_DIR), shared by the tests that compare Sluice with
 * Kafka itself (test/kafka_reference/kafka_server.ts re-exports it with the tests' skip notice)
 * and by the bench that runs both side by side (bench/kafka_side_bench.ts). It imports nothing
 * from test/ or bench/.
 *
 * {@link startKafka} runs one KRaft node in combined mode (process.roles=broker,controller,
 * node.id=1) in a temporary directory: PLAINTEXT and CONTROLLER listeners on two free loopback
 * ports, a single-node dynamic quorum (`kafka.tools.StorageTool format --standalone` with a random
 * cluster id, controller.quorum.bootstrap.servers), every internal topic at replication factor 1,
 * group.initial.rebalance.delay.ms=0, auto-created topics with 1 partition. It is ready when an
 * ApiVersions request on the PLAINTEXT port is answered: Kafka opens that port's acceptors only
 * once the broker is unfenced (BrokerServer.startup). Startup is bounded (START_TIMEOUT_MS; then
 * an error with the tail of the broker's log); stop() sends SIGTERM, SIGKILL after
 * STOP_TIMEOUT_MS, and removes the temporary directory.
 *
 * Tools run through the installer's launcher (`bin/kafka-run-class CLASS ARGS...`, Kafka's
 * `kafka-run-class.sh` of our own): see {@link KAFKA_TOOLS} for the 4.4 class names;
 * {@link runKafkaClass} runs one to its end, killed (SIGKILL) past its timeout.
 *
 * `kafkaAvailable` says whether the install is here (the launcher, Kafka's jars, a java that runs).
 */

/** What {@link runBounded} returns. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** How long it ran, in ms. */
  ms: number;
}

export interface RunOptions {
  /** Bytes for stdin (closed after writing); default no stdin. */
  stdin?: Uint8Array | string;
  /** Killed (SIGKILL) after this many ms, and the result says so; default 30 s. */
  timeoutMs?: number;
  /** Added to this process's environment. */
  env?: Record<string, string>;
}

/**
 * Runs a command to its end, or kills it (SIGKILL) after `timeoutMs`; a killed run's code is
 * never 0 and its stderr ends with a `[killed after ...]` line.
 */
export async function runBounded(
  cmd: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const started = performance.now();
  const proc = new Deno.Command(cmd, {
    args: [...args],
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timeoutMs = options.timeoutMs ?? 30_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      proc.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeoutMs);
  try {
    // Output is read while stdin is written, so a chatty child cannot block on a full pipe.
    const output = proc.output();
    if (options.stdin !== undefined) {
      const w = proc.stdin.getWriter();
      const bytes = typeof options.stdin === "string"
        ? new TextEncoder().encode(options.stdin)
        : options.stdin;
      // A child that exits early closes its stdin: its exit code says more than the EPIPE would.
      await w.write(bytes).catch(() => {});
      await w.close().catch(() => {});
    }
    const out = await output;
    const result = {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
      ms: Math.round(performance.now() - started),
    };
    if (timedOut) {
      result.stderr += `\n[killed after ${timeoutMs} ms: ${cmd} ${args.join(" ")}]`;
      result.code = result.code === 0 ? -1 : result.code;
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** Where scripts/install-kafka.sh installs (its default, or SLUICE_KAFKA_DIR). */
export const KAFKA_DIR = Deno.env.get("SLUICE_KAFKA_DIR") ??
  `${Deno.env.get("HOME") ?? "/root"}/.cache/sluice/kafka-4.4`;
/** The installer's launcher: `kafka-run-class CLASS [ARGS...]`. */
export const KAFKA_LAUNCHER = `${KAFKA_DIR}/bin/kafka-run-class`;

/** The classes Kafka 4.4's bin/*.sh scripts run (checked against the 4.4.0 jars). */
export const KAFKA_TOOLS = {
  broker: "kafka.Kafka",
  storage: "kafka.tools.StorageTool",
  topics: "org.apache.kafka.tools.TopicCommand",
  consoleProducer: "org.apache.kafka.tools.ConsoleProducer",
  consoleConsumer: "org.apache.kafka.tools.consumer.ConsoleConsumer",
  consumerGroups: "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
  configs: "org.apache.kafka.tools.ConfigCommand",
  getOffsets: "org.apache.kafka.tools.GetOffsetShell",
  producerPerf: "org.apache.kafka.tools.ProducerPerformance",
  consumerPerf: "org.apache.kafka.tools.ConsumerPerformance",
  endToEndLatency: "org.apache.kafka.tools.EndToEndLatency",
  metadataQuorum: "org.apache.kafka.tools.MetadataQuorumCommand",
  brokerApiVersions: "org.apache.kafka.tools.BrokerApiVersionsCommand",
} as const;

/** Format plus start to the first answered ApiVersions: 5-12 s on the 2-core reference VM (loaded). */
export const START_TIMEOUT_MS = 90_000;
/** StorageTool format is one short JVM run (~2 s). */
const FORMAT_TIMEOUT_MS = 60_000;
/** SIGTERM: a controlled shutdown of a single combined node takes a few seconds. */
export const STOP_TIMEOUT_MS = 30_000;
const KILL_TIMEOUT_MS = 10_000;
/** Free ports are found by binding port 0 and closing; another process may take one first. */
const START_ATTEMPTS_MAX = 3;
const PROBE_INTERVAL_MS = 250;
const PROBE_TIMEOUT_MS = 2_000;
/** The end of the JVM's stdout + stderr kept for error messages. */
const OUTPUT_CHARS_MAX = 16_384;

function libJars(): string[] {
  try {
    return [...Deno.readDirSync(`${KAFKA_DIR}/lib`)].map((e) => e.name)
      .filter((n) => n.endsWith(".jar"));
  } catch {
    return [];
  }
}

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

function javaRuns(): boolean {
  const home = Deno.env.get("JAVA_HOME");
  try {
    return new Deno.Command(home ? `${home}/bin/java` : "java", {
      args: ["-version"],
      stdout: "null",
      stderr: "null",
      stdin: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}

/** The Kafka version installed ("4.4.0"), from kafka_2.13-VERSION.jar, or undefined. */
export const kafkaVersion: string | undefined = libJars()
  .map((j) => j.match(/^kafka_2\.13-(.+)\.jar$/)?.[1]).find((v) => v !== undefined);

/** Whether the launcher, Kafka's jars and a java are here. */
export const kafkaAvailable: boolean = kafkaVersion !== undefined && isExecutable(KAFKA_LAUNCHER) &&
  javaRuns();

/** A command line for `CLASS args...` through the launcher (tools log WARN+ to stderr). */
export function kafkaCommand(
  className: string,
  args: readonly string[],
  options: Omit<Deno.CommandOptions, "args"> = {},
): Deno.Command {
  return new Deno.Command(KAFKA_LAUNCHER, { ...options, args: [className, ...args] });
}

/** Runs `CLASS args...` through the launcher to its end, killed after `timeoutMs` (30 s). */
export function runKafkaClass(
  className: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return runBounded(KAFKA_LAUNCHER, [className, ...args], options);
}

export interface KafkaOptions {
  /**
   * Use this directory, which must not hold a formatted node yet (format refuses one); it is kept
   * after stop(), with the broker's data and logs. Default: a fresh temporary one, removed.
   */
  dir?: string;
  /** The PLAINTEXT and CONTROLLER ports; default free ones picked here. */
  port?: number;
  controllerPort?: number;
  /** Broker properties added to (or replacing) the defaults. */
  extraProps?: Record<string, string | number | boolean>;
  /** Format plus start must answer within this (default START_TIMEOUT_MS). */
  startTimeoutMs?: number;
  /**
   * The broker JVM's environment, added to this process's (e.g. KAFKA_HEAP_OPTS; the launcher's
   * default heap is -Xmx512m). KAFKA_LOG_DIR is always the node's logs/ dir.
   */
  env?: Record<string, string>;
  /** The prefix of the temporary directory (default "sluice-kafka-ref-"). */
  tempPrefix?: string;
}

export interface RunningKafka {
  /** `127.0.0.1:PORT`: the PLAINTEXT listener, for clients. */
  bootstrap: string;
  port: number;
  /** The CONTROLLER listener's port. */
  controllerPort: number;
  /** The JVM's pid (the launcher execs java). */
  pid: number;
  /** The node's directory: server.properties, data/ (log.dirs), logs/server.log. */
  dir: string;
  clusterId: string;
  /** How long format plus start took, until the first answered ApiVersions, in ms. */
  startMs: number;
  /** Runs a Kafka class through the launcher (see {@link runKafkaClass}). */
  runClass(className: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** logs/server.log's ERROR and FATAL entries and last `lines` lines; the JVM's output's tail. */
  logTail(lines?: number): string;
  /** Resolves with the exit once the JVM ended. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** SIGTERM, SIGKILL after STOP_TIMEOUT_MS; removes a temporary dir. Idempotent. */
  stop(): Promise<{ code: number; signal: Deno.Signal | null; killed: boolean }>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A loopback port nothing listens on now (bound with port 0, then released). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * A random 16-byte UUID in Kafka's form: 22 characters of unpadded base64url, never starting with
 * "-" (Kafka's Uuid.randomUuid() draws again then too: StorageTool's argument parser reads
 * `--cluster-id -xyz...` as a missing value followed by an option, and format fails).
 */
export function randomClusterId(): string {
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4, as Uuid.randomUuid()
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    const id = btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    if (!id.startsWith("-")) return id;
  }
}

function properties(
  dir: string,
  port: number,
  controllerPort: number,
  extra: KafkaOptions["extraProps"],
): string {
  const props: Record<string, string | number | boolean> = {
    "process.roles": "broker,controller",
    "node.id": 1,
    "controller.quorum.bootstrap.servers": `127.0.0.1:${controllerPort}`,
    "listeners": `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    "advertised.listeners":
      `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    "log.dirs": `${dir}/data`,
    "num.partitions": 1,
    "auto.create.topics.enable": true,
    "offsets.topic.replication.factor": 1,
    "transaction.state.log.replication.factor": 1,
    "transaction.state.log.min.isr": 1,
    "share.coordinator.state.topic.replication.factor": 1,
    "share.coordinator.state.topic.min.isr": 1,
    "group.initial.rebalance.delay.ms": 0,
    ...extra,
  };
  return Object.entries(props).map(([k, v]) => `${k}=${v}`).join("\n") + "\n";
}

function readText(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/**
 * What a failure message shows of a broker's log: its first ERROR and FATAL entries (each with the
 * 4 lines after it, where a stack trace starts: a broker that fails logs its cause, then pages of
 * shutdown), then its last `lines` lines.
 */
function logSummary(log: string, lines: number): string {
  const all = log.trimEnd().split("\n");
  const errors: string[] = [];
  for (let i = 0; i < all.length && errors.length < 60; i++) {
    if (/^\[[^\]]+\] (ERROR|FATAL) /.test(all[i])) errors.push(...all.slice(i, i + 5), "");
  }
  return (errors.length > 0 ? `(errors)\n${errors.join("\n")}\n(tail)\n` : "") +
    all.slice(-lines).join("\n");
}

/**
 * One ApiVersions v0 request (api key 18, correlation id 1, client id "sluice-probe"); true when
 * the answer carries error code 0 and at least one API. Every failure (refused, reset, silent
 * past PROBE_TIMEOUT_MS) is false; the connection is always closed.
 */
export async function apiVersionsAnswers(port: number): Promise<boolean> {
  const clientId = new TextEncoder().encode("sluice-probe");
  const request = new Uint8Array(4 + 2 + 2 + 4 + 2 + clientId.length);
  const view = new DataView(request.buffer);
  view.setInt32(0, request.length - 4);
  view.setInt16(4, 18); // ApiVersions
  view.setInt16(6, 0); // version 0
  view.setInt32(8, 1); // correlation id
  view.setInt16(12, clientId.length);
  request.set(clientId, 14);
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => conn?.close(), PROBE_TIMEOUT_MS);
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(request);
    const received: number[] = [];
    const buf = new Uint8Array(4096);
    // size (4) + correlation id (4) + error code (2) + API count (4)
    while (received.length < 14) {
      const n = await conn.read(buf);
      if (n === null) return false;
      received.push(...buf.subarray(0, n));
    }
    const answer = new DataView(new Uint8Array(received).buffer);
    return answer.getInt32(4) === 1 && answer.getInt16(8) === 0 && answer.getInt32(10) > 0;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch { /* closed by the timer */ }
  }
}

/**
 * Formats a node directory and starts a single combined KRaft node in it (see the module doc);
 * rejects, after stopping the JVM and removing a temporary dir, when it does not answer within
 * START_TIMEOUT_MS or exits first.
 */
export async function startKafka(options: KafkaOptions = {}): Promise<RunningKafka> {
  if (!kafkaAvailable) {
    throw new Error(`Kafka is not installed in ${KAFKA_DIR}; run scripts/install-kafka.sh`);
  }
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= START_ATTEMPTS_MAX; attempt++) {
    const ownDir = options.dir === undefined;
    const dir = options.dir ??
      await Deno.makeTempDir({ prefix: options.tempPrefix ?? "sluice-kafka-ref-" });
    try {
      return await startOnce(dir, ownDir, options);
    } catch (err) {
      lastError = err as Error;
      if (ownDir) await Deno.remove(dir, { recursive: true }).catch(() => {});
      // Another process took a port between freePort() and the bind: try other ports, unless
      // the ports were the caller's (extraProps' listeners) or the dir is (already formatted).
      if (!/BindException|Address already in use/.test(lastError.message)) break;
      const callersPorts = options.port !== undefined || options.controllerPort !== undefined ||
        options.extraProps?.listeners !== undefined;
      if (!ownDir || callersPorts) break;
    }
  }
  throw lastError ?? new Error("Kafka did not start");
}

async function startOnce(
  dir: string,
  ownDir: boolean,
  options: KafkaOptions,
): Promise<RunningKafka> {
  const started = performance.now();
  const port = options.port ?? freePort();
  let controllerPort = options.controllerPort ?? freePort();
  while (controllerPort === port) controllerPort = freePort();
  const config = `${dir}/server.properties`;
  const logDir = `${dir}/logs`;
  await Deno.mkdir(logDir, { recursive: true });
  await Deno.writeTextFile(config, properties(dir, port, controllerPort, options.extraProps));
  const clusterId = randomClusterId();
  const format = await runKafkaClass(
    KAFKA_TOOLS.storage,
    ["format", "--config", config, "--cluster-id", clusterId, "--standalone"],
    { timeoutMs: FORMAT_TIMEOUT_MS },
  );
  if (format.code !== 0) {
    throw new Error(
      `kafka-storage format (dir ${dir}) exited ${format.code}\n${format.stdout}\n${format.stderr}`,
    );
  }

  const proc = kafkaCommand(KAFKA_TOOLS.broker, [config], {
    env: { ...options.env, KAFKA_LOG_DIR: logDir },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const keep = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      output += chunk;
      if (output.length > 2 * OUTPUT_CHARS_MAX) output = output.slice(-OUTPUT_CHARS_MAX);
    }
  };
  const readers = Promise.all([keep(proc.stdout), keep(proc.stderr)]).catch(() => {});
  let status: Deno.CommandStatus | undefined;
  const exited = proc.status.then(async (s) => {
    status = s;
    await readers;
    return s;
  });
  const logTail = (lines = 40) =>
    `--- ${logDir}/server.log ---\n${logSummary(readText(`${logDir}/server.log`), lines)}\n` +
    `--- JVM stdout+stderr (tail) ---\n${output.trimEnd().split("\n").slice(-lines).join("\n")}`;

  let stopped: ReturnType<RunningKafka["stop"]> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      let killed = false;
      if (status === undefined) {
        try {
          proc.kill("SIGTERM");
        } catch { /* already gone */ }
      }
      let s = await within(exited, STOP_TIMEOUT_MS);
      if (s === undefined) {
        killed = true;
        try {
          proc.kill("SIGKILL");
        } catch { /* already gone */ }
        s = await within(exited, KILL_TIMEOUT_MS);
      }
      if (s === undefined) throw new Error(`Kafka (pid ${proc.pid}) survived SIGKILL`);
      if (ownDir) await Deno.remove(dir, { recursive: true });
      return { code: s.code, signal: s.signal, killed };
    })();
    return stopped;
  };

  const timeoutMs = options.startTimeoutMs ?? START_TIMEOUT_MS;
  const deadline = started + timeoutMs;
  while (true) {
    if (status !== undefined) {
      const tail = logTail();
      await stop().catch(() => {});
      throw new Error(
        `Kafka (dir ${dir}) exited (${status.code}) before answering on ${port}\n${tail}`,
      );
    }
    if (await apiVersionsAnswers(port)) break;
    if (performance.now() > deadline) {
      const tail = logTail();
      await stop().catch(() => {});
      throw new Error(
        `Kafka (dir ${dir}) did not answer ApiVersions on 127.0.0.1:${port} within ${timeoutMs} ms\n` +
          tail,
      );
    }
    await sleep(PROBE_INTERVAL_MS);
  }
  return {
    bootstrap: `127.0.0.1:${port}`,
    port,
    controllerPort,
    pid: proc.pid,
    dir,
    clusterId,
    startMs: Math.round(performance.now() - started),
    runClass: (className, args, runOptions) => runKafkaClass(className, args, runOptions),
    logTail,
    exited,
    stop,
  };
}

/** The promise's value, or undefined when it has not settled within `ms` (the timer is cleared). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
