/**
 * The clients of the kafka-latency bench (bench/kafka_latency_bench.ts): each a process of its
 * own, one per side and run, speaking the same arguments and JSON lines (see the two programs'
 * headers):
 *
 * - `java` (the default): Kafka's own Java client, kafka-clients 4.x
 *   (bench/kafka_latency/LatencyClient.java), compiled here with javac against the jars of
 *   scripts/install-kafka-java.sh (else those of scripts/install-kafka.sh) into a temporary
 *   directory, run with a fixed heap and the serial collector (two JVMs share 2 cores with the
 *   server). It keeps up with the paced rates the Python client cannot (>= 50% of the
 *   consumer's max rate), and skips a warm-up of WARMUP_SECONDS of each paced run (JIT).
 * - `python`: librdkafka 2.0.2 through /usr/bin/python3 confluent-kafka (bench/kafka_latency.py).
 *   It falls seconds behind its schedule from about 50% of the consumer's max rate on 2 cores.
 * - `c`: librdkafka 2.x from C (bench/kafka_latency/latency_client.c), compiled here with gcc
 *   against the librdkafka scripts/install-node-rdkafka.sh builds (its header and library): the
 *   client that takes the least of the cores the server shares, so the figures are the broker's
 *   more than the client's. Skips the same warm-up as the Java client.
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { probeClient, pythonPath } from "../kafka_client/librdkafka.ts";

export type LatencyClientKind = "java" | "python" | "c";

/** A client process that has not answered in this long is killed. */
const CLIENT_TIMEOUT_MS = 180_000;
/**
 * JVM options of the Java client processes (two of them share the cores with the server): the
 * serial collector (no GC threads competing for the cores) and a fixed 1 GiB heap: with 256 MiB a
 * producer that falls behind (its queue up to buffer.memory, every queued record's callback) spent
 * seconds in full collections.
 */
const JVM_OPTIONS = [
  "-XX:+UseSerialGC",
  "-Xms1g",
  "-Xmx1g",
  "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
];

/** How one kind of client is started. */
export interface LatencyClient {
  kind: LatencyClientKind;
  /** For the table: "Kafka Java client 4.4.0", "librdkafka 2.0.2 (python)". */
  label: string;
  /** The first words of every command line: the program, its options, the script or class. */
  argv: string[];
  /** Whether `consume` takes the WARMUP argument (records not counted). */
  warmup: boolean;
  /** Removes what was made for it (the compiled classes). */
  dispose(): Promise<void>;
}

const HOME = process.env.HOME ?? "/root";
const HERE = dirname(fileURLToPath(import.meta.url));

/** The directories that may hold kafka-clients' jars, in order of preference. */
function jarDirs(): string[] {
  return [
    `${process.env.SLUICE_KAFKA_JAVA_DIR ?? `${HOME}/.cache/sluice/kafka-java`}/lib`,
    `${process.env.SLUICE_KAFKA_DIR ?? `${HOME}/.cache/sluice/kafka-4.4`}/lib`,
  ];
}

function clientsJar(dir: string): string | undefined {
  try {
    for (const e of Deno.readDirSync(dir)) {
      const m = e.name.match(/^kafka-clients-(.+)\.jar$/);
      if (m !== null) return m[1];
    }
  } catch { /* no such dir */ }
  return undefined;
}

function runsOk(cmd: string, args: string[]): boolean {
  try {
    return new Deno.Command(cmd, { args, stdout: "null", stderr: "null", stdin: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Compiles LatencyClient.java; the client, or why it cannot run here. */
async function javaClient(): Promise<LatencyClient | { error: string }> {
  if (!runsOk("java", ["-version"]) || !runsOk("javac", ["-version"])) {
    return { error: "java or javac is not installed (a JDK 17+)" };
  }
  const dir = jarDirs().find((d) => clientsJar(d) !== undefined);
  if (dir === undefined) {
    return {
      error: `no kafka-clients jar in ${jarDirs().join(" or ")}: scripts/install-kafka-java.sh ` +
        "installs it (or choose --client python)",
    };
  }
  const source = join(HERE, "LatencyClient.java");
  const classes = await Deno.makeTempDir({ prefix: "sluice-latency-client-" });
  const out = await new Deno.Command("javac", {
    args: ["-nowarn", "-d", classes, "-cp", `${dir}/*`, source],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  if (!out.success) {
    await Deno.remove(classes, { recursive: true }).catch(() => {});
    return { error: `javac ${source} failed: ${new TextDecoder().decode(out.stderr)}` };
  }
  return {
    kind: "java",
    label: `Kafka Java client ${clientsJar(dir)}`,
    argv: ["java", ...JVM_OPTIONS, "-cp", `${classes}:${dir}/*`, "LatencyClient"],
    warmup: true,
    dispose: () => Deno.remove(classes, { recursive: true }).catch(() => {}),
  };
}

/** The librdkafka build of scripts/install-node-rdkafka.sh: `include/` and the library. */
function librdkafkaDir(): string {
  const dir = process.env.SLUICE_NODE_RDKAFKA_DIR ?? `${HOME}/.cache/sluice/node-rdkafka`;
  return `${dir}/node_modules/node-rdkafka/build/deps`;
}

/** Compiles latency_client.c; the client, or why it cannot run here. */
async function cClient(): Promise<LatencyClient | { error: string }> {
  const deps = librdkafkaDir();
  try {
    Deno.statSync(`${deps}/include/librdkafka/rdkafka.h`);
    Deno.statSync(`${deps}/librdkafka.so.1`);
  } catch {
    return { error: `no librdkafka build in ${deps}: scripts/install-node-rdkafka.sh builds it` };
  }
  if (!runsOk("gcc", ["--version"])) return { error: "gcc is not installed" };
  const source = join(HERE, "latency_client.c");
  const dir = await Deno.makeTempDir({ prefix: "sluice-latency-client-" });
  const program = join(dir, "latency_client");
  const out = await new Deno.Command("gcc", {
    args: [
      "-O2",
      "-o",
      program,
      source,
      `-I${deps}/include`,
      `-L${deps}`,
      "-l:librdkafka.so.1",
      `-Wl,-rpath,${deps}`,
      "-lm",
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const version = out.success
    ? new Deno.Command(program, { args: ["version"], stdout: "piped", stderr: "null" }).outputSync()
    : undefined;
  if (version === undefined || !version.success) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    return {
      error: out.success
        ? `${program} version did not answer`
        : `gcc ${source} failed: ${new TextDecoder().decode(out.stderr)}`,
    };
  }
  const { librdkafka } = JSON.parse(new TextDecoder().decode(version.stdout));
  return {
    kind: "c",
    label: `librdkafka ${librdkafka} (C)`,
    argv: [program],
    warmup: true,
    dispose: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/** The client of `kind`, ready to run, or why it cannot run here (the bench skips then). */
export async function latencyClient(
  kind: LatencyClientKind,
): Promise<LatencyClient | { error: string }> {
  if (kind === "java") return await javaClient();
  if (kind === "c") return await cClient();
  const python = pythonPath();
  const probe = probeClient(python);
  if ("error" in probe) return probe;
  return {
    kind: "python",
    label: `librdkafka ${probe.librdkafka} (python)`,
    argv: [python, join(HERE, "..", "kafka_latency.py")],
    warmup: false,
    dispose: () => Promise.resolve(),
  };
}

export interface ClientProcess {
  /** Resolves with the JSON lines the process printed, rejects on a failure. */
  done: Promise<Record<string, unknown>[]>;
  /** Resolves at the first line that has `ready`. */
  ready: Promise<void>;
}

/** Starts one client process: `client.argv` then `args` (MODE BOOTSTRAP TOPIC ...). */
export function runClient(client: LatencyClient, args: string[]): ClientProcess {
  const [cmd, ...pre] = client.argv;
  const child = spawn(cmd, [...pre, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const what = `${client.kind} client ${args[0]}`;
  const lines: Record<string, unknown>[] = [];
  let buffered = "";
  let stderr = "";
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const done = new Promise<Record<string, unknown>[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${what} gave no answer in ${CLIENT_TIMEOUT_MS} ms`));
    }, CLIENT_TIMEOUT_MS);
    child.stdout.on("data", (chunk: Uint8Array) => {
      buffered += new TextDecoder().decode(chunk);
      let at: number;
      while ((at = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, at).trim();
        buffered = buffered.slice(at + 1);
        if (!line.startsWith("{")) continue;
        const parsed = JSON.parse(line) as Record<string, unknown>;
        lines.push(parsed);
        if (parsed.ready === true) onReady();
      }
    });
    child.stderr.on("data", (chunk: Uint8Array) => {
      stderr = (stderr + new TextDecoder().decode(chunk)).slice(-2000);
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code: number | null) => {
      clearTimeout(timer);
      const failed = lines.find((l) => l.error !== undefined);
      if (code === 0 && failed === undefined) resolve(lines);
      else {
        reject(new Error(`${what}: ${failed?.error ?? `exit code ${code}`} ${stderr.trim()}`));
      }
    });
  });
  done.catch(() => onReady());
  return { done, ready };
}
