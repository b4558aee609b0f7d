/**
 * Runs the real server (`deno run -A src/main.ts serve`) with its Kafka listener on, for the tests
 * that drive it with third-party Kafka clients (kcat, kafkajs, confluent-kafka): HTTP on port 0,
 * the Kafka listener on any free port (`--kafka-port auto`), a fresh temporary data dir. Waits for both stdout lines
 * (`sluice kafka listening on HOST:PORT`, then `sluice listening on URL (data: DIR)`) and keeps
 * stderr for failure messages. Built on test/http/server_harness.ts's startServer.
 *
 * Also: which clients are installed (tests skip, by name, only when theirs is absent, unless
 * SLUICE_REQUIRE_KAFKA_CLIENTS is set, as .ci/run does: then a missing client fails) and a
 * subprocess runner with a timeout. Not a test file itself (no `_test` suffix).
 */
import { runBounded, type RunOptions, type RunResult } from "../../scripts/kafka_server.ts";
import assert from "node:assert/strict";
import type { DecodedBatch } from "../../src/record/record_batch.ts";
import { fetchBatches, type RunningServer, sleep, startServer } from "../http/server_harness.ts";

const KAFKA_LISTENING = /^sluice kafka listening on (\S+):(\d+)$/;

export interface KafkaServer {
  /** The Kafka listener's port. */
  kafkaPort: number;
  /** `127.0.0.1:PORT`: the bootstrap server for clients. */
  bootstrap: string;
  /** The host the Kafka line printed. */
  kafkaHost: string;
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  httpUrl: string;
  dataDir: string;
  /** The HTTP harness's handle, for its helpers (createTopic, fetchAll, ...). */
  server: RunningServer;
  /** Everything on stderr so far. */
  stderr(): string;
  /** The last `lines` lines of stderr, for assertion messages. */
  stderrTail(lines?: number): string;
  /** SIGTERM (or `signal`), waits for the exit; returns the exit code. Idempotent. */
  stop(signal?: Deno.Signal): Promise<number>;
}

export interface KafkaServerOptions {
  /** Serve this data dir (kept when starting fails); default a fresh temporary one. */
  dataDir?: string;
  /** Extra arguments after the defaults (e.g. `--default-partitions 3`). */
  args?: readonly string[];
  env?: Record<string, string>;
}

/** Starts the server with both listeners; rejects with its stdout and stderr when it cannot. */
export async function startKafkaServer(options: KafkaServerOptions = {}): Promise<KafkaServer> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "sluice-kafka-" });
  const removeDir = () =>
    options.dataDir === undefined
      ? Deno.remove(dataDir, { recursive: true }).catch(() => {})
      : Promise.resolve();
  let server: RunningServer;
  try {
    server = await startServer({
      dataDir,
      noDefaultFlags: true,
      env: options.env,
      args: [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--data-dir",
        dataDir,
        "--kafka-host",
        "127.0.0.1",
        "--kafka-port",
        "auto",
        ...(options.args ?? []),
      ],
    });
  } catch (err) {
    await removeDir();
    throw err;
  }
  const line = server.stdoutLines.map((l) => l.match(KAFKA_LISTENING)).find((m) => m !== null);
  if (!line) {
    await server.stop().catch(() => {});
    await removeDir();
    throw new Error(
      `server printed no "sluice kafka listening on HOST:PORT" line before its HTTP line\n` +
        `stdout:\n${server.stdoutLines.join("\n")}\nstderr:\n${server.stderr()}`,
    );
  }
  const kafkaHost = line[1];
  const kafkaPort = Number(line[2]);
  return {
    kafkaPort,
    kafkaHost,
    bootstrap: `${kafkaHost}:${kafkaPort}`,
    httpUrl: server.url,
    dataDir,
    server,
    stderr: () => server.stderr(),
    stderrTail: (lines = 40) => server.stderr().trimEnd().split("\n").slice(-lines).join("\n"),
    stop: (signal?: Deno.Signal) => server.stop(signal),
  };
}

/**
 * Starts a server, runs `fn`, stops it with SIGTERM, removes its data dir. When `fn` passed, the
 * exit code must be 0 (a clean shutdown with Kafka clients connected is part of what is tested).
 */
export async function withKafkaServer(
  options: KafkaServerOptions,
  fn: (server: KafkaServer) => Promise<void>,
): Promise<void> {
  const server = await startKafkaServer(options);
  let failed = true;
  try {
    await fn(server);
    failed = false;
  } finally {
    const code = await server.stop().catch((err) => {
      if (!failed) throw err;
      return -1;
    });
    await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
    if (!failed) {
      assert.equal(code, 0, `server exit code after SIGTERM; stderr:\n${server.stderrTail()}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Clients present on this machine

/** Debian's python3 with python3-confluent-kafka (not a pyenv python3 that may be on PATH). */
export const SYSTEM_PYTHON = "/usr/bin/python3";

function runsOk(cmd: string, args: string[]): boolean {
  try {
    return new Deno.Command(cmd, { args, stdout: "null", stderr: "null", stdin: "null" })
      .outputSync().success;
  } catch {
    return false; // not installed
  }
}

/** Whether `kcat -V` runs. */
export const kcatAvailable: boolean = runsOk("kcat", ["-V"]);

/** Whether /usr/bin/python3 can import confluent_kafka. */
export const confluentKafkaAvailable: boolean = runsOk(SYSTEM_PYTHON, [
  "-c",
  "import confluent_kafka",
]);

/** Where scripts/install-node-rdkafka.sh builds node-rdkafka (SLUICE_NODE_RDKAFKA_DIR, or its default). */
export const NODE_RDKAFKA_DIR = Deno.env.get("SLUICE_NODE_RDKAFKA_DIR") ??
  `${Deno.env.get("HOME") ?? "/root"}/.cache/sluice/node-rdkafka`;

/** Whether Node can load node-rdkafka from {@link NODE_RDKAFKA_DIR} (a NAN addon: not under Deno). */
export const nodeRdkafkaAvailable: boolean = runsOk("node", [
  "-e",
  `require(${JSON.stringify(`${NODE_RDKAFKA_DIR}/node_modules/node-rdkafka`)})`,
]);

/** Polls `check` until it holds, failing with `what()` after `timeoutMs`. */
export async function waitFor(
  what: () => string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms: ${what()}`);
    await sleep(20);
  }
}

/** Every stored batch of a partition, as the HTTP front returns them byte for byte. */
export async function allBatches(
  server: KafkaServer,
  topic: string,
  partition: number,
): Promise<DecodedBatch[]> {
  const out: DecodedBatch[] = [];
  let offset = 0;
  for (let round = 0; round < 1000; round++) {
    const r = await fetchBatches(server.server, topic, partition, offset);
    out.push(...r.batches);
    const next = Number(r.headers.get("sluice-next-offset"));
    const hw = Number(r.headers.get("sluice-high-watermark"));
    if (next >= hw || r.batches.length === 0) return out;
    offset = next;
  }
  throw new Error("allBatches: too many rounds");
}

/** Set by .ci/run: a missing client is a failure there, never a skip. */
export const KAFKA_CLIENTS_REQUIRED = Deno.env.get("SLUICE_REQUIRE_KAFKA_CLIENTS") === "1";

/**
 * Prints once per module why a client's tests are skipped (a skip must never look like a pass);
 * under SLUICE_REQUIRE_KAFKA_CLIENTS=1 registers a failing test instead.
 */
export function announceSkip(
  available: boolean,
  what: string,
  installer = "scripts/install-kafka-clients.sh (as root)",
): void {
  if (!available && KAFKA_CLIENTS_REQUIRED) {
    Deno.test(`${what} is installed (SLUICE_REQUIRE_KAFKA_CLIENTS=1)`, () => {
      assert.fail(`${what} is missing; ${installer} installs it`);
    });
    return;
  }
  if (!available) {
    console.warn(`SKIPPED: ${what} is not installed; run ${installer} to run these tests`);
  }
}

// ---------------------------------------------------------------------------------------------
// Subprocesses

export type { RunOptions, RunResult } from "../../scripts/kafka_server.ts";

/** Runs a command to its end (or its timeout) and returns its exit code and output. */
export function run(cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return runBounded(cmd, args, options);
}

/** Asserts a zero exit with the command, its stderr and the server's stderr in the message. */
export function expectSuccess(
  result: RunResult,
  what: string,
  server?: KafkaServer,
): void {
  assert.equal(
    result.code,
    0,
    `${what}: exit code ${result.code}\nstderr:\n${result.stderr.slice(-4000)}` +
      (server ? `\nserver stderr (tail):\n${server.stderrTail()}` : ""),
  );
}
