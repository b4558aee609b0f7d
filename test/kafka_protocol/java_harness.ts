/**
 * Kafka's own Java client (kafka-clients 4.x, installed by scripts/install-kafka-java.sh) driving
 * the real server: test/kafka_protocol/java/SluiceClient.java and SluiceAdmin.java are compiled
 * with javac (once per source and classpath, into the cache dir next to the jars) and run as a
 * subprocess whose stdout is JSON lines (records and events, see each Java file's header).
 *
 * `javaClientAvailable` says whether java, javac and the jars are here; tests skip loudly with
 * {@link announceSkip} when not (a failure under SLUICE_REQUIRE_KAFKA_CLIENTS=1, as in CI).
 * Not a test file itself (no `_test` suffix).
 */
import assert from "node:assert/strict";
import { announceSkip as announceClientSkip } from "./kafka_harness.ts";

const SOURCES = ["SluiceClient.java", "SluiceAdmin.java"].map((f) =>
  new URL(`./java/${f}`, import.meta.url).pathname
);

/** Where scripts/install-kafka-java.sh puts the jars (its default, or SLUICE_KAFKA_JAVA_DIR). */
export const KAFKA_JAVA_DIR = Deno.env.get("SLUICE_KAFKA_JAVA_DIR") ??
  `${Deno.env.get("HOME") ?? "/root"}/.cache/sluice/kafka-java`;
const LIB_DIR = `${KAFKA_JAVA_DIR}/lib`;

function runsOk(cmd: string, args: string[]): boolean {
  try {
    return new Deno.Command(cmd, { args, stdout: "null", stderr: "null", stdin: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

function libJars(): string[] {
  try {
    return [...Deno.readDirSync(LIB_DIR)].filter((e) => e.name.endsWith(".jar")).map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

/** Whether java, javac and kafka-clients' jars are installed. */
export const javaClientAvailable: boolean = runsOk("java", ["-version"]) &&
  runsOk("javac", ["-version"]) && libJars().some((j) => j.startsWith("kafka-clients-"));

/** The kafka-clients version installed ("4.4.0"), or undefined. */
export const kafkaJavaVersion: string | undefined = libJars()
  .map((j) => j.match(/^kafka-clients-(.+)\.jar$/)?.[1]).find((v) => v !== undefined);

/** Skip announcement (or, in CI, a failing test) for the Java client. */
export function announceJavaSkip(): void {
  announceClientSkip(
    javaClientAvailable,
    "Kafka's Java client (kafka-clients 4.x)",
    "scripts/install-kafka-java.sh (needs mvn and a JDK 17+)",
  );
}

// ---------------------------------------------------------------------------------------------
// Compiling

let compiled: Promise<string> | undefined;

/** Compiles the Java programs once (cached by the sources' and the jars' hash); the classes dir. */
export function compileJavaClient(): Promise<string> {
  compiled ??= compile();
  return compiled;
}

async function compile(): Promise<string> {
  return await compileJava({
    sources: SOURCES,
    classpath: `${LIB_DIR}/*`,
    cacheDir: KAFKA_JAVA_DIR,
    jars: libJars(),
    marker: "SluiceAdmin.class",
  });
}

/**
 * javac of `sources` against `classpath` into `cacheDir`/classes-HASH, HASH of the sources' bytes
 * and the jar list, so a compile happens once per change; its path. `complete` adds files to the
 * classes dir before it is moved into place (compiled into a private dir and renamed: test files
 * run in parallel and never see half a dir); `marker`, a file the finished dir holds.
 */
export async function compileJava(options: {
  sources: readonly string[];
  classpath: string;
  cacheDir: string;
  jars: readonly string[];
  marker: string;
  complete?: (dir: string) => Promise<void>;
}): Promise<string> {
  const { sources, classpath, cacheDir } = options;
  const parts = await Promise.all(sources.map((s) => Deno.readFile(s)));
  parts.push(new TextEncoder().encode(options.jars.join("\n")));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  const hash = [...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const classes = `${cacheDir}/classes-${hash}`;
  try {
    await Deno.stat(`${classes}/${options.marker}`);
    return classes;
  } catch { /* not compiled yet */ }
  const tmp = await Deno.makeTempDir({ dir: cacheDir, prefix: "classes-tmp-" });
  const out = await new Deno.Command("javac", {
    args: ["-nowarn", "-d", tmp, "-cp", classpath, ...sources],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  if (!out.success) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw new Error(`javac ${sources.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  await options.complete?.(tmp);
  try {
    await Deno.rename(tmp, classes);
  } catch {
    // Another test process won the race: its classes are the same.
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  return classes;
}

async function javaArgs(args: string[], mainClass: string): Promise<string[]> {
  const classes = await compileJavaClient();
  return [
    // Small, quick-starting JVMs: the tests start several on 2 cores.
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xss512k",
    "-Xmx256m",
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
    "-Dorg.slf4j.simpleLogger.showDateTime=true",
    "-cp",
    `${classes}:${LIB_DIR}/*`,
    mainClass,
    ...args,
  ];
}

// ---------------------------------------------------------------------------------------------
// Running

/** A record line: partition, offset, key, value. */
export interface JavaRecord {
  p: number;
  o: number;
  k: string | null;
  v: string | null;
}

/** An event line ({"event": ...}). */
export interface JavaEvent {
  event: string;
  partitions?: number[];
  offsets?: Record<string, number>;
  error?: string;
  when?: string;
  [more: string]: unknown;
}

export interface JavaClient {
  readonly name: string;
  /** Record lines so far, in order. */
  readonly records: JavaRecord[];
  /** Event lines so far, in order. */
  readonly events: JavaEvent[];
  /** Resolves with the exit code once the process ended. */
  readonly exited: Promise<number>;
  /** stderr so far (the client's WARN/ERROR log). */
  stderr(): string;
  /** Waits until `predicate` holds (checked on every stdout line and every 100 ms). */
  waitFor(what: string, predicate: () => boolean, timeoutMs?: number): Promise<void>;
  /** Closes stdin (the client stops, closing cleanly) and waits for the exit code. */
  stop(): Promise<number>;
  /** SIGKILL: a crash, no LeaveGroup, no commit. */
  kill(): Promise<number>;
}

/** Starts `SluiceClient args...` (or another main class); stdin stays open until stop(). */
export async function startJavaClient(
  name: string,
  args: string[],
  mainClass = "SluiceClient",
): Promise<JavaClient> {
  const proc = new Deno.Command("java", {
    args: await javaArgs(args, mainClass),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = proc.stdin.getWriter();
  const records: JavaRecord[] = [];
  const events: JavaEvent[] = [];
  const stdoutLines: string[] = [];
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
        stdoutLines.push(line);
        try {
          const parsed = JSON.parse(line);
          if (typeof parsed.event === "string") events.push(parsed);
          else records.push(parsed);
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
      if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
    }
  })();
  let done = false;
  const exited = (async () => {
    const status = await proc.status;
    await Promise.all([readStdout, readStderr]).catch(() => {});
    done = true;
    wake();
    return status.code;
  })();
  const describe = () =>
    `${name}: last stdout lines:\n${stdoutLines.slice(-15).join("\n")}\nstderr tail:\n` +
    stderr.trimEnd().split("\n").slice(-25).join("\n");
  return {
    name,
    records,
    events,
    exited,
    stderr: () => stderr,
    async waitFor(what, predicate, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) {
          assert.fail(
            `${name}: timed out after ${timeoutMs} ms waiting for ${what}\n${describe()}`,
          );
        }
        if (done && !predicate()) {
          assert.fail(`${name}: exited before ${what}\n${describe()}`);
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
      const timer = setTimeout(() => {
        try {
          proc.kill("SIGKILL");
        } catch { /* gone */ }
      }, 60_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    async kill() {
      try {
        proc.kill("SIGKILL");
      } catch { /* gone */ }
      await stdin.close().catch(() => {});
      return await exited;
    },
  };
}

/**
 * Produces `count` records (keys k-FROM.., values v-FROM..) with the Java producer (acks=all,
 * idempotent) and returns what was acknowledged.
 */
export async function javaProduce(
  bootstrap: string,
  topic: string,
  count: number,
  from = 0,
): Promise<JavaRecord[]> {
  const client = await startJavaClient("producer", [
    "produce",
    "--bootstrap",
    bootstrap,
    "--topic",
    topic,
    "--count",
    String(count),
    "--from",
    String(from),
  ]);
  const code = await client.exited;
  assert.equal(
    code,
    0,
    `java producer exited ${code}\n${client.stderr().slice(-3000)}\n` +
      JSON.stringify(client.events),
  );
  assert.equal(client.records.length, count, "every produced record acknowledged");
  return client.records;
}

/** Common `consume` arguments. */
export function consumeArgs(
  bootstrap: string,
  options: {
    topic: string;
    group: string;
    protocol: "classic" | "consumer";
    clientId: string;
    sessionTimeoutMs?: number;
    assignor?: string;
    max?: number;
    seconds?: number;
  },
): string[] {
  const args = [
    "consume",
    "--bootstrap",
    bootstrap,
    "--topic",
    options.topic,
    "--group",
    options.group,
    "--protocol",
    options.protocol,
    "--client-id",
    options.clientId,
    "--seconds",
    String(options.seconds ?? 300),
  ];
  if (options.sessionTimeoutMs !== undefined) {
    args.push("--session-timeout-ms", String(options.sessionTimeoutMs));
  }
  if (options.assignor !== undefined) args.push("--assignor", options.assignor);
  if (options.max !== undefined) args.push("--max", String(options.max));
  return args;
}
