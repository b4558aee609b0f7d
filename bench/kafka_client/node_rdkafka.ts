/**
 * The node-rdkafka driver: bench/kafka_client/node_rdkafka_client.mjs run by Node (node-rdkafka is
 * a NAN addon, which Deno cannot load), one process per direction and run, on the librdkafka that
 * scripts/install-node-rdkafka.sh built; and the probe that says whether it can run here. Its
 * arguments and answer are bench/kafka_client.py's, so the side-by-side suite runs both alike.
 */
import { execFile, execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { CLIENT_TIMEOUT_MS, type Mode, PROBE_TIMEOUT_MS, STDERR_CHARS_MAX } from "./settings.ts";
import { clientRunOf } from "./librdkafka.ts";
import type { ClientRun } from "./types.ts";

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "node_rdkafka_client.mjs");
/** The client's JSON answer is one line; its stderr librdkafka's log lines. */
const OUTPUT_BYTES_MAX = 4 * 1024 * 1024;

/** Where scripts/install-node-rdkafka.sh builds it (SLUICE_NODE_RDKAFKA_DIR, or its default). */
export function nodeRdkafkaDir(): string {
  return process.env.SLUICE_NODE_RDKAFKA_DIR ||
    `${process.env.HOME ?? "/root"}/.cache/sluice/node-rdkafka`;
}

/** librdkafka's and node-rdkafka's versions, or why the client cannot run. */
export function probeNodeRdkafka(
  dir: string,
): { librdkafka: string; binding: string } | { error: string } {
  try {
    const out = execFileSync("node", [
      "-e",
      `const k = require(${JSON.stringify(join(dir, "node_modules", "node-rdkafka"))});` +
      `const p = require(${
        JSON.stringify(join(dir, "node_modules", "node-rdkafka", "package.json"))
      });` +
      "console.log(JSON.stringify([k.librdkafkaVersion, p.version.replace(/^v/, '')]))",
    ], { encoding: "utf8", timeout: PROBE_TIMEOUT_MS, stdio: ["ignore", "pipe", "pipe"] });
    const [librdkafka, binding] = JSON.parse(out.trim()) as [string, string];
    return { librdkafka, binding };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const last = String(e.stderr || e.message).trim().split("\n").pop();
    return {
      error: `node cannot load node-rdkafka from ${dir}${last ? ` (${last})` : ""}: ` +
        "scripts/install-node-rdkafka.sh builds it",
    };
  }
}

/**
 * One direction of one run: `records` values of `valueBytes` each, with `settings` (librdkafka
 * configuration) over the script's defaults; rejects with the client's error and stderr.
 */
export function runNodeRdkafka(
  dir: string,
  bootstrap: string,
  topic: string,
  mode: Mode,
  records: number,
  valueBytes: number,
  settings: Record<string, string | number | boolean>,
): Promise<ClientRun> {
  const args = [
    SCRIPT,
    dir,
    bootstrap,
    topic,
    String(records),
    String(valueBytes),
    mode,
    JSON.stringify(settings),
  ];
  return new Promise((resolve, reject) => {
    execFile(
      "node",
      args,
      { timeout: CLIENT_TIMEOUT_MS, killSignal: "SIGKILL", maxBuffer: OUTPUT_BYTES_MAX },
      (err, stdout, stderr) => {
        let out: Record<string, unknown> | undefined;
        try {
          out = JSON.parse(String(stdout).trim().split("\n").pop() ?? "");
        } catch {
          out = undefined;
        }
        if (err !== null || out === undefined || out.error !== undefined) {
          const what = out?.error ?? err?.message ?? `no answer: ${String(stdout).slice(0, 500)}`;
          const tail = String(stderr).trim().slice(-STDERR_CHARS_MAX);
          reject(
            new Error(`node_rdkafka_client.mjs ${mode}: ${what}${tail ? `\n${tail}` : ""}`),
          );
          return;
        }
        resolve(clientRunOf(mode, out, {}));
      },
    );
  });
}
