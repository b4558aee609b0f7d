/**
 * The cluster suite's failover part: a fresh three-broker cluster (one per session timeout in the
 * plan), a topic of one partition, replication factor 3, min.insync.replicas 2, and librdkafka
 * producing to it at a steady rate with acks=all (bench/cluster/failover_client.py). Each round:
 *
 * 1. waits until etcd shows a leader and all three brokers in the ISR, starts a producer of its
 *    own and waits until it has had half a second's worth of records acknowledged;
 * 2. notes the wall clock K and SIGKILLs the leader (the victim), then tells the producer K;
 * 3. measures, from K: `electionMs`, until etcd names another leader (polled every 10 ms), and
 *    `firstAckMs`, until the first successful delivery report of a record the producer sent at
 *    or after K (the producer's own clock: the same machine's). A record sent after the kill
 *    cannot have been acknowledged by the dead leader: firstAckMs is the outage as the producer
 *    saw it, detection (the victim's etcd lease running out: broker.session.timeout.ms),
 *    election, and the client finding the new leader (its metadata refresh) together;
 * 4. stops the producer (its flush), restarts the victim on its data and ports and waits until
 *    it is back in the ISR (`rejoinMs`).
 *
 * A producer per round, because librdkafka remembers: a broker it failed to reach while that
 * broker was down (an earlier round's victim) keeps its reconnect backoff (reconnect.backoff.ms
 * doubling up to reconnect.backoff.max.ms, 10 s) until a connection succeeds, and when that
 * broker later becomes the leader the client waits the backoff out. Seen adding 2 to 6 s to a
 * round with one producer for all rounds; with a producer per round each round is a client's
 * first failover, as an outage is. (librdkafka 2.0.2 also re-queries a leaderless partition's
 * metadata once a second: up to 1 s between the election and the client knowing of it.)
 *
 * The report gives firstAckMs's p50 over the rounds against the goal (<= 3 s with default
 * settings) and electionMs beside it, which splits the outage into the cluster's part and the
 * client's.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { fixed } from "../bench_util.ts";
import type { ProgressFn } from "../types.ts";
import { spreadOf } from "./lag.ts";
import {
  type ClusterPlan,
  DEFAULT_SESSION_TIMEOUT_MS,
  FAILOVER_STEP_TIMEOUT_MS,
  producerSettings,
  VALUE_BYTES,
} from "./plan.ts";
import { BenchCluster, type RunningEtcd, waitFor } from "./procs.ts";
import { createTopic } from "./topics.ts";
import type { FailoverResult, FailoverRound } from "./types.ts";

const CLIENT_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "failover_client.py");
/** The client's stderr (librdkafka's log lines) kept for an error message. */
const STDERR_CHARS_MAX = 4_096;
/** The client's flush after `stop` (its own bound is 120 s) plus its exit. */
const CLIENT_STOP_TIMEOUT_MS = 150_000;
/** How often etcd is read for the new leader after a kill. */
const ELECTION_POLL_MS = 10;
const TOPIC = "failover";
/** Producer errors kept over a cluster's rounds. */
const ERRORS_KEPT = 5;
const BROKERS = 3;

/** What the failover client prints last. */
interface ClientSummary {
  sent: number;
  acked: number;
  failed: number;
  unflushed: number;
  errors: string[];
  client: string;
}

/** bench/cluster/failover_client.py as a subprocess, spoken to by lines. */
class FailoverClient {
  acked = 0;
  failed = 0;
  #stderr = "";
  #pending: { k: number; resolve: (t: number) => void }[] = [];
  #summary: ClientSummary | undefined;
  #setupError: string | undefined;
  readonly #exited: Promise<number | null>;
  readonly #child: ChildProcess;

  constructor(python: string, bootstrap: string, topic: string, rate: number) {
    this.#child = spawn(python, [
      CLIENT_SCRIPT,
      bootstrap,
      topic,
      String(rate),
      String(VALUE_BYTES),
      JSON.stringify(producerSettings("all")),
    ], { stdio: ["pipe", "pipe", "pipe"] });
    // A client that exited early closes its stdin: its exit code says more than an EPIPE would.
    this.#child.stdin?.on("error", () => {});
    let partial = "";
    this.#child.stdout?.on("data", (chunk: Uint8Array) => {
      partial += new TextDecoder().decode(chunk);
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) this.#line(line.trim());
    });
    this.#child.stderr?.on("data", (chunk: Uint8Array) => {
      this.#stderr += new TextDecoder().decode(chunk);
      if (this.#stderr.length > 2 * STDERR_CHARS_MAX) {
        this.#stderr = this.#stderr.slice(-STDERR_CHARS_MAX);
      }
    });
    this.#exited = new Promise((resolve) => this.#child.on("exit", (code) => resolve(code)));
  }

  #line(line: string): void {
    if (line.startsWith("acked ")) {
      const [, a, f] = line.split(" ");
      this.acked = Number(a);
      this.failed = Number(f);
    } else if (line.startsWith("recovered ")) {
      const [, k, t] = line.split(" ");
      const at = this.#pending.findIndex((p) => Math.abs(p.k - Number(k)) < 0.5);
      if (at >= 0) this.#pending.splice(at, 1)[0].resolve(Number(t));
    } else if (line.startsWith("{")) {
      const parsed = JSON.parse(line);
      if (parsed.error !== undefined) this.#setupError = String(parsed.error);
      else this.#summary = parsed as ClientSummary;
    }
  }

  /** The client's failure, when it has exited early. */
  get error(): string | undefined {
    if (this.#child.exitCode === null && this.#setupError === undefined) return undefined;
    return `failover_client.py: ${this.#setupError ?? `exited with code ${this.#child.exitCode}`}` +
      `\n${this.#stderr.slice(-STDERR_CHARS_MAX)}`;
  }

  /** Tells the client about a kill at `k` (epoch ms); resolves with its first success after. */
  mark(k: number): Promise<number> {
    const p = new Promise<number>((resolve) => this.#pending.push({ k, resolve }));
    this.#child.stdin?.write(`mark ${k}\n`);
    return p;
  }

  /** Stops producing, waits for the flush; the client's summary. */
  async stop(): Promise<ClientSummary> {
    this.#child.stdin?.end("stop\n");
    const timer = setTimeout(() => {
      try {
        process.kill(this.#child.pid!, "SIGKILL");
      } catch {
        // gone already
      }
    }, CLIENT_STOP_TIMEOUT_MS);
    const code = await this.#exited;
    clearTimeout(timer);
    if (code !== 0 || this.#summary === undefined) {
      throw new Error(this.error ?? `failover_client.py: exit code ${code}, no summary`);
    }
    return this.#summary;
  }
}

/** What the rounds' producers did, added up. */
interface ProducerTotals {
  sent: number;
  acked: number;
  failed: number;
  errors: string[];
  client: string;
}

/**
 * One round (see the module doc), with a producer of its own: started once the ISR is full,
 * stopped (every record it sent acknowledged or failed) once it has recovered.
 */
async function round(
  n: number,
  cluster: BenchCluster,
  python: string,
  rate: number,
  totals: ProducerTotals,
): Promise<FailoverRound> {
  const full = await waitFor("a leader and the full ISR", async () => {
    const s = await cluster.partitionState(TOPIC, 0);
    return s !== undefined && s.leader > 0 && cluster.brokers.has(s.leader) &&
        s.isr.length === BROKERS
      ? s
      : undefined;
  }, FAILOVER_STEP_TIMEOUT_MS);
  const client = new FailoverClient(python, cluster.bootstrap(), TOPIC, rate);
  let election: { at: number; leader: number };
  let killAt: number;
  let firstAck: number;
  const victim = full.leader;
  let victimWasController: boolean;
  try {
    await waitFor("the producer's progress", () => {
      if (client.error !== undefined) throw new Error(client.error);
      return client.acked >= rate / 2 ? true : undefined;
    }, FAILOVER_STEP_TIMEOUT_MS);
    victimWasController = (await cluster.controller()) === victim;

    killAt = Date.now();
    await cluster.killBroker(victim);
    const recovered = client.mark(killAt);
    const elected = waitFor(
      "a new leader in etcd",
      async () => {
        const s = await cluster.partitionState(TOPIC, 0);
        return s !== undefined && s.leader > 0 && s.leader !== victim
          ? { at: Date.now(), leader: s.leader }
          : undefined;
      },
      FAILOVER_STEP_TIMEOUT_MS,
      ELECTION_POLL_MS,
    );
    elected.catch(() => {}); // awaited below; handled now in case the first ack fails first
    let timer: ReturnType<typeof setTimeout> | undefined;
    firstAck = await Promise.race([
      recovered,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no acks=all success within ${FAILOVER_STEP_TIMEOUT_MS} ms`)),
          FAILOVER_STEP_TIMEOUT_MS,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    election = await elected;
  } finally {
    const s = await client.stop();
    totals.sent += s.sent;
    totals.acked += s.acked;
    totals.failed += s.failed;
    totals.errors.push(...s.errors.slice(0, ERRORS_KEPT - totals.errors.length));
    totals.client = s.client;
  }

  const restartAt = Date.now();
  await cluster.startBroker(victim);
  await waitFor("the restarted broker back in the ISR", async () => {
    const s = await cluster.partitionState(TOPIC, 0);
    return s !== undefined && s.isr.includes(victim) && s.isr.length === BROKERS ? true : undefined;
  }, FAILOVER_STEP_TIMEOUT_MS);
  return {
    round: n,
    victim,
    victimWasController,
    newLeader: election.leader,
    electionMs: election.at - killAt,
    firstAckMs: firstAck - killAt,
    rejoinMs: Date.now() - restartAt,
  };
}

/**
 * One failover cluster: `sessionTimeoutMs` null runs the brokers with their default (no flag).
 * A failure ends the rounds and is kept in `error`, with the rounds done so far.
 */
export async function runFailover(
  etcd: RunningEtcd,
  python: string,
  plan: ClusterPlan,
  sessionTimeoutMs: number | null,
  index: number,
  log: (line: string) => void,
  progress: ProgressFn,
): Promise<FailoverResult> {
  const brokerArgs = sessionTimeoutMs === null
    ? []
    : ["--broker-session-timeout-ms", String(sessionTimeoutMs)];
  const result: FailoverResult = {
    sessionTimeoutMs: sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
    defaultSettings: sessionTimeoutMs === null,
    brokerArgs,
    rounds: [],
    firstAck: { count: 0 },
    election: { count: 0 },
  };
  const label = `failover, session ${result.sessionTimeoutMs} ms${
    result.defaultSettings ? " (default)" : ""
  }`;
  const totals: ProducerTotals = { sent: 0, acked: 0, failed: 0, errors: [], client: "" };
  const cluster = await BenchCluster.start(etcd, `/bench-failover-${index}/`, BROKERS, brokerArgs);
  try {
    await createTopic(cluster.bootstrap(), TOPIC, 3, 2);
    for (let n = 1; n <= plan.failoverRounds; n++) {
      progress(label, n, plan.failoverRounds);
      const r = await round(n, cluster, python, plan.failoverRate, totals);
      result.rounds.push(r);
      log(
        `  ${label}, round ${n}: killed leader ${r.victim}${
          r.victimWasController ? " (also the controller)" : ""
        }; new leader ${r.newLeader} in etcd after ${fixed(r.electionMs, 0)} ms, first acks=all ` +
          `success after ${fixed(r.firstAckMs, 0)} ms; back in the ISR ${
            fixed(r.rejoinMs / 1000, 1)
          } s after its restart`,
      );
    }
  } catch (err) {
    result.error = (err as Error).message;
    log(`  ${label}: FAILED: ${result.error.split("\n")[0]}`);
  } finally {
    await cluster.stop();
  }
  result.producer = { rate: plan.failoverRate, ...totals };
  result.firstAck = spreadOf(result.rounds.map((r) => r.firstAckMs));
  result.election = spreadOf(result.rounds.map((r) => r.electionMs));
  return result;
}
