/**
 * Drives rdkafka_load.py (an idempotent acks=all librdkafka producer, python3-confluent-kafka) from
 * a test: starts it, reads its delivery reports as they come, stops it with SIGTERM (it flushes
 * and prints END) and says whether every message it produced reached a verdict. Not a test file
 * itself.
 */
import { confluentKafkaAvailable, SYSTEM_PYTHON } from "../kafka_protocol/kafka_harness.ts";

export { confluentKafkaAvailable };

const SCRIPT = new URL("./rdkafka_load.py", import.meta.url).pathname;
/** Reports and errors kept (bounded: a soak runs long). */
const ERRORS_KEPT = 50;

export interface RdkafkaDelivery {
  id: number;
  offset: number;
  /** Wall-clock ms of the produce() call and of the delivery report. */
  producedMs: number;
  ackedMs: number;
}

export interface RdkafkaEnd {
  produced: number;
  undelivered: number;
}

export class RdkafkaLoad {
  /** Acknowledged messages, in the order their reports came. */
  readonly acked: RdkafkaDelivery[] = [];
  /** `F` lines: messages whose delivery failed. */
  readonly failed: string[] = [];
  /** `E` lines: librdkafka's error callback (a broker down is one; informational). */
  readonly errors: string[] = [];
  #stderr = "";
  #end: RdkafkaEnd | undefined;
  readonly #done: Promise<void>;

  private constructor(readonly proc: Deno.ChildProcess, readonly prefix: string) {
    // SLUICE_RDKAFKA_STDERR=FILE keeps all of it (with SLUICE_RDKAFKA_DEBUG: librdkafka's debug).
    const keep = Deno.env.get("SLUICE_RDKAFKA_STDERR");
    const stderrDone = (async () => {
      for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) {
        this.#stderr = (this.#stderr + chunk).slice(-20_000);
        if (keep !== undefined) await Deno.writeTextFile(keep, chunk, { append: true });
      }
    })();
    const stdoutDone = (async () => {
      let pending = "";
      for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
        pending += chunk;
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          this.#line(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
        }
      }
    })();
    this.#done = Promise.all([stdoutDone, stderrDone]).then(() => {});
  }

  /** Starts the producer: `<prefix><n>` to `topic`'s partition `partition`, `rate` a second. */
  static start(
    bootstrap: string[],
    topic: string,
    partition: number,
    prefix: string,
    rate = 300,
  ): RdkafkaLoad {
    const proc = new Deno.Command(SYSTEM_PYTHON, {
      args: [SCRIPT, bootstrap.join(","), topic, String(partition), prefix, String(rate)],
      env: { PYTHONDONTWRITEBYTECODE: "1", PYTHONUNBUFFERED: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new RdkafkaLoad(proc, prefix);
  }

  #line(line: string): void {
    const [kind, ...rest] = line.split(" ");
    if (kind === "D") {
      const [id, offset, producedMs, ackedMs] = rest.map(Number);
      this.acked.push({ id, offset, producedMs, ackedMs });
    } else if (kind === "F") {
      if (this.failed.length < ERRORS_KEPT) this.failed.push(line);
    } else if (kind === "E") {
      if (this.errors.length < ERRORS_KEPT) this.errors.push(line);
    } else if (kind === "END") {
      this.#end = { produced: Number(rest[0]), undelivered: Number(rest[1]) };
    }
  }

  stderr(): string {
    return this.#stderr;
  }

  /** The acknowledged values, in the order acknowledged. */
  ackedValues(): string[] {
    return this.acked.map((d) => `${this.prefix}${d.id}`);
  }

  /**
   * SIGTERM: the script stops producing, flushes what it has (up to 30 s) and prints END; resolves
   * with END's counts (SIGKILL after 40 s, and a thrown error naming stderr, when it does not).
   */
  async stop(): Promise<RdkafkaEnd> {
    try {
      this.proc.kill("SIGTERM");
    } catch {
      // exited already
    }
    const timer = setTimeout(() => {
      try {
        this.proc.kill("SIGKILL");
      } catch {
        // exited already
      }
    }, 40_000);
    await this.proc.status;
    clearTimeout(timer);
    await this.#done;
    if (this.#end === undefined) {
      throw new Error(`rdkafka_load.py printed no END:\n${this.#stderr.slice(-3_000)}`);
    }
    return this.#end;
  }
}
