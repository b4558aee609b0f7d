/**
 * The librdkafka driver: bench/kafka_client.py (python3-confluent-kafka) as a subprocess, one per
 * direction and run, and the probe that says whether it can run here.
 */
import type { Buffer } from "node:buffer";
import { execFileSync, spawn } from "node:child_process";
import process from "node:process";
import {
  CLIENT_SCRIPT,
  CLIENT_TIMEOUT_MS,
  PROBE_TIMEOUT_MS,
  PYTHON_DEFAULT,
  PYTHON_ENV,
  settingsOf,
  STDERR_CHARS_MAX,
  VALUE_BYTES,
} from "./settings.ts";
import type { Mode } from "./settings.ts";
import type { ClientRun, Driver } from "./types.ts";

export function pythonPath(): string {
  return process.env[PYTHON_ENV] || PYTHON_DEFAULT;
}

/** librdkafka's and the binding's versions, or why the client cannot run. */
export function probeClient(
  python: string,
): { librdkafka: string; binding: string } | { error: string } {
  try {
    const out = execFileSync(python, [
      "-c",
      "import json, confluent_kafka as c; " +
      "print(json.dumps([c.libversion()[0], c.version()[0]]))",
    ], { encoding: "utf8", timeout: PROBE_TIMEOUT_MS, stdio: ["ignore", "pipe", "pipe"] });
    const [librdkafka, binding] = JSON.parse(out.trim()) as [string, string];
    return { librdkafka, binding };
  } catch (err) {
    const e = err as { code?: string; stderr?: string | Buffer; message: string };
    const last = String(e.stderr || e.message).trim().split("\n").pop();
    const why = e.code === "ENOENT"
      ? `${python} not found`
      : `${python} cannot import confluent_kafka${last ? ` (${last})` : ""}`;
    return {
      error: `${why}: install python3-confluent-kafka (apt-get install python3-confluent-kafka) ` +
        `or set ${PYTHON_ENV} to a python3 that has confluent-kafka`,
    };
  }
}

/** Runs bench/kafka_client.py once; resolves with its JSON, rejects with its error. */
function runClient(python: string, args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [CLIENT_SCRIPT, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Uint8Array) => stdout += new TextDecoder().decode(c));
    child.stderr?.on("data", (c: Uint8Array) => {
      stderr += new TextDecoder().decode(c);
      if (stderr.length > 2 * STDERR_CHARS_MAX) stderr = stderr.slice(-STDERR_CHARS_MAX);
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, "SIGKILL");
        } catch {
          // gone already
        }
      }
      reject(new Error(`kafka_client.py ${args[4]} gave no answer in ${CLIENT_TIMEOUT_MS} ms`));
    }, CLIENT_TIMEOUT_MS);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code: number | null) => {
      clearTimeout(timer);
      let parsed: Record<string, unknown> | undefined;
      try {
        parsed = JSON.parse(stdout.trim().split("\n").pop() ?? "");
      } catch {
        parsed = undefined;
      }
      const tail = stderr.trim().slice(-STDERR_CHARS_MAX);
      if (code === 0 && parsed !== undefined && parsed.error === undefined) resolve(parsed);
      else {
        const what = parsed?.error ?? `exit code ${code}, output ${stdout.slice(0, 500)}`;
        reject(
          new Error(
            `kafka_client.py ${args[4]}: ${what}${tail ? `\nclient stderr:\n${tail}` : ""}`,
          ),
        );
      }
    });
  });
}

/** A client script's JSON answer (kafka_client.py, node_rdkafka_client.mjs) as a ClientRun. */
// deno-lint-ignore no-explicit-any
export function clientRunOf(mode: Mode, out: any, stats: Record<string, number>): ClientRun {
  return {
    mode,
    records: Number(out.records),
    bytes: Number(out.bytes),
    seconds: Number(out.seconds),
    recordsPerSec: Number(out.recordsPerSec),
    MBps: Number(out.MBps),
    clientCpuSeconds: Number(out.clientCpuSeconds ?? 0),
    totalSeconds: out.totalSeconds === undefined ? undefined : Number(out.totalSeconds),
    joinSeconds: out.joinSeconds === undefined ? undefined : Number(out.joinSeconds),
    client: String(out.client),
    clientBinding: String(out.clientBinding),
    stats,
  };
}

function numberStats(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (typeof v === "object" && v !== null) {
    for (const [k, x] of Object.entries(v)) if (typeof x === "number") out[k] = x;
  }
  return out;
}
/**
 * One direction of one run of bench/kafka_client.py: `records` values of `valueBytes` each, with
 * `settings` (librdkafka configuration) over the script's defaults. Also used by the Kafka
 * side-by-side suite (bench/kafka_side_bench.ts) with other sizes and acks.
 */
export async function runLibrdkafka(
  python: string,
  bootstrap: string,
  topic: string,
  mode: Mode,
  records: number,
  valueBytes: number,
  settings: Record<string, string | number | boolean>,
): Promise<ClientRun> {
  const out = await runClient(python, [
    bootstrap,
    topic,
    String(records),
    String(valueBytes),
    mode,
    JSON.stringify(settings),
  ]);
  return clientRunOf(mode, out, numberStats(out.stats));
}

/** librdkafka through bench/kafka_client.py, a process per direction and run. */
export function librdkafkaDriver(python: string): Driver {
  return {
    name: "librdkafka",
    run: (bootstrap, topic, mode, records) =>
      runLibrdkafka(
        python,
        bootstrap,
        topic,
        mode,
        records,
        VALUE_BYTES,
        settingsOf("librdkafka", mode),
      ),
    deleteTopic: async (bootstrap, topic) => {
      await runClient(python, [bootstrap, topic, "0", String(VALUE_BYTES), "delete"]);
    },
  };
}
