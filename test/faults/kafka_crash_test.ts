/**
 * Crash under load through the Kafka protocol, with a real client: librdkafka (Debian's
 * python3-confluent-kafka, run by /usr/bin/python3) through kafka_crash_producer.py. An idempotent
 * producer (acks=all, enable.idempotence=true; compression none or lz4, seeded) sends keyed,
 * numbered messages to a 4-partition topic created over HTTP, and a group consumer commits what it
 * reads; the server is SIGKILLed 300-1200 ms (seeded) into the load and restarted on the same
 * data dir. Even rounds restart it on new ports: the client notices the dead broker and is
 * stopped. Odd rounds ("resumed") restart it on the same Kafka port while the client lives on:
 * librdkafka reconnects and retries the batches it had in flight at the kill, with their producer
 * id and sequences, so those written before the kill must be answered as duplicates (at their
 * original offsets) from the producer state the restarted server rebuilt from its log; the round
 * prints how many were. Then, read back from the restarted server:
 *
 * - every acknowledged message (its delivery report) is at the reported partition and offset,
 *   exactly once: no message is stored twice, acknowledged or not, although librdkafka retried;
 * - each partition holds offsets 0 .. high watermark - 1 with no hole, in batches whose CRC-32C
 *   checks out and whose offsets follow on; each round's producer has its own producer id, its
 *   sequences per partition start at 0 and run on without gap, and the messages of a round on a
 *   partition are exactly the first n that the producer sent there, in order (nothing lost
 *   before an acknowledged one, nothing reordered);
 * - the group's committed offsets are the last acknowledged commit per partition (or the commit
 *   in flight at the kill, which may have landed), both over HTTP GET /v1/groups/{g}/offsets and
 *   through the Kafka OffsetFetch API, and never beyond the high watermark;
 * - the Kafka Fetch API after the restart returns exactly the records read over HTTP.
 *
 * Rounds run on one data dir, so later rounds re-check what earlier rounds acknowledged. 3 rounds
 * with flush.policy "always" and 3 with "none": a SIGKILL (not a power cut) leaves every written
 * byte in the page cache, so under "none" too nothing acknowledged may be lost (the HTTP crash test
 * in crash_under_load_test.ts asserts the same); only a machine crash may lose the unflushed tail.
 *
 * The seed is printed; replay with `SLUICE_CRASH_SEED=<seed>`, more rounds with
 * `SLUICE_KAFKA_CRASH_ROUNDS=<n>`. Skipped only when /usr/bin/python3 cannot import
 * confluent_kafka, and failed instead under SLUICE_REQUIRE_KAFKA_CLIENTS=1 (as CI runs).
 */
import assert from "node:assert/strict";
import { partitionForKey } from "../../src/record/murmur2.ts";
import {
  createTopic,
  expectStatus,
  fetchBatches,
  highWatermarks,
  type Json,
  json,
  type RunningServer,
  sleep,
  startServer,
} from "../http/server_harness.ts";
import {
  announceSkip,
  confluentKafkaAvailable,
  run,
  SYSTEM_PYTHON,
} from "../kafka_protocol/kafka_harness.ts";
import { prngFloat, tempDir } from "../test_util.ts";

announceSkip(confluentKafkaAvailable, `python3-confluent-kafka (for ${SYSTEM_PYTHON})`);

const SCRIPT = new URL("./kafka_crash_producer.py", import.meta.url).pathname;
const SEED = Number(Deno.env.get("SLUICE_CRASH_SEED") ?? (Date.now() % 0x7fff_ffff));
const ROUNDS = Number(Deno.env.get("SLUICE_KAFKA_CRASH_ROUNDS") ?? 3);
const PARTITIONS = 4;
const KILL_AFTER_MIN_MS = 300;
const KILL_AFTER_MAX_MS = 1_200;
/** Messages a second during the load: enough to have many in flight at the kill, few to verify. */
const RATE = 12_000;
/** The script's key: `k<id % KEYS>`. */
const KEYS = 97;
/** How long the client may take to show it noticed the dead broker before it is stopped anyway. */
const NOTICE_MS = 2_000;
/** Resume rounds: how long the producer may take to deliver again after the restart. */
const RESUME_TIMEOUT_MS = 15_000;
/** Resume rounds: how long it keeps producing to the restarted server before it is stopped. */
const RESUME_LOAD_MS = 500;
const PYTHON_ENV = { PYTHONDONTWRITEBYTECODE: "1", PYTHONUNBUFFERED: "1" };
const KAFKA_LISTENING = /^sluice kafka listening on (\S+):(\d+)$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The partition of each key `k<i>`, as librdkafka's murmur2 partitioner picks it. */
const KEY_PARTITION = Array.from(
  { length: KEYS },
  (_, i) => partitionForKey(encoder.encode(`k${i}`), PARTITIONS),
);

function keyOf(id: number): string {
  return `k${id % KEYS}`;
}

/** `r<round>-m<id>-<padding>` -> [round, id]. */
function parseValue(value: string): [number, number] {
  const m = value.match(/^r(\d+)-m(\d+)-x+$/);
  assert.ok(m, `a value the producer did not write: ${JSON.stringify(value.slice(0, 80))}`);
  return [Number(m[1]), Number(m[2])];
}

interface KafkaRunning {
  server: RunningServer;
  bootstrap: string;
  kafkaPort: number;
}

/** The server with both listeners on free ports, serving `dataDir`. */
async function startKafka(dataDir: string, kafkaPort?: number): Promise<KafkaRunning> {
  const server = await startServer({
    dataDir,
    noDefaultFlags: true,
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
      kafkaPort === undefined ? "auto" : String(kafkaPort),
    ],
  });
  const m = server.stdoutLines.map((l) => l.match(KAFKA_LISTENING)).find((x) => x !== null);
  if (!m) {
    await server.stop("SIGKILL").catch(() => {});
    throw new Error(`no kafka listening line: ${server.stdoutLines.join("\n")}`);
  }
  return { server, bootstrap: `${m[1]}:${m[2]}`, kafkaPort: Number(m[2]) };
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

// ---------------------------------------------------------------------------------------------
// The load client

/** kafka_crash_producer.py load, its stdout read line by line as it comes. */
class LoadClient {
  readonly lines: string[] = [];
  readonly proc: Deno.ChildProcess;
  #stderr = "";
  readonly #done: Promise<void>;
  #waiters: { test: (line: string) => boolean; resolve: () => void }[] = [];

  constructor(args: string[]) {
    const proc = new Deno.Command(SYSTEM_PYTHON, {
      args: [SCRIPT, "load", ...args],
      env: PYTHON_ENV,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.proc = proc;
    const stderrDone = (async () => {
      for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) {
        this.#stderr += chunk;
      }
    })();
    const stdoutDone = (async () => {
      let pending = "";
      for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
        pending += chunk;
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          this.lines.push(line);
          this.#waiters = this.#waiters.filter((w) => {
            if (!w.test(line)) return true;
            w.resolve();
            return false;
          });
        }
      }
      // A torn last line (none is expected: the client exits on its own) is not a report.
    })();
    this.#done = Promise.all([stdoutDone, stderrDone]).then(() => {});
  }

  stderr(): string {
    return this.#stderr;
  }

  /** Resolves true at the first line (already seen or to come) passing `test`, false on timeout. */
  async waitFor(test: (line: string) => boolean, timeoutMs: number, from = 0): Promise<boolean> {
    if (this.lines.slice(from).some(test)) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const seen = await Promise.race([
      new Promise<boolean>((resolve) => {
        this.#waiters.push({ test, resolve: () => resolve(true) });
      }),
      this.proc.status.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return seen;
  }

  /** SIGTERM (the client prints what it has and END), SIGKILL after 5 s; waits for the pipes. */
  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.proc.kill("SIGTERM");
      this.proc.kill("SIGCONT"); // in case it was paused
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        this.proc.kill("SIGKILL");
      } catch { /* already gone */ }
    }, 5_000);
    const status = await this.proc.status;
    clearTimeout(timer);
    await this.#done;
    return status;
  }
}

// ---------------------------------------------------------------------------------------------
// What the rounds acknowledged, carried from round to round on one data dir

interface Ledger {
  /** Acknowledged messages: "round/id" -> [partition, offset]. */
  acked: Map<string, [number, number]>;
  /** Last acknowledged commit per partition. */
  commits: Map<number, number>;
  /** Producer id of each round (from the stored batches). */
  producerIds: Map<number, bigint>;
}

interface RoundReport {
  killedAfterMs: number;
  compression: string;
  acked: number;
  produced: number;
  failed: number;
  commits: number;
  records: number;
  restartMs: number;
  /** Resume rounds: messages acknowledged by the restarted server. */
  resumed: number;
  /** Resume rounds: of those, retries of batches written before the kill (duplicates). */
  deduplicated: number;
}

/** Every batch of a partition over HTTP (`Accept: application/vnd.kafka.recordbatch`). */
async function readPartition(
  server: RunningServer,
  topic: string,
  partition: number,
  highWatermark: number,
): Promise<Json[]> {
  const batches: Json[] = [];
  let offset = 0;
  while (offset < highWatermark) {
    const got = await fetchBatches(server, topic, partition, offset, `&maxBytes=${8 << 20}`);
    assert.ok(got.batches.length > 0, `${topic}/${partition}: no batch at ${offset}`);
    batches.push(...got.batches);
    const next = Number(got.headers.get("sluice-next-offset"));
    assert.ok(next > offset, `${topic}/${partition}: next offset ${next} after ${offset}`);
    offset = next;
  }
  return batches;
}

async function crashRound(
  flushPolicy: "always" | "none",
  dataDir: string,
  seed: number,
  round: number,
  ledger: Ledger,
  /** Restart on the same Kafka port and let the producer carry on (else: new ports, stopped). */
  resume: boolean,
): Promise<RoundReport> {
  const random = prngFloat(seed);
  const killAfterMs = Math.floor(
    KILL_AFTER_MIN_MS + random() * (KILL_AFTER_MAX_MS - KILL_AFTER_MIN_MS),
  );
  const compression = random() < 0.5 ? "none" : "lz4";
  const topic = `kcrash-${flushPolicy}`;
  const group = `kcrash-${flushPolicy}-g`;
  const what = `round ${round} (seed ${seed}, flush.policy ${flushPolicy}, compression ` +
    `${compression}, SIGKILL after ${killAfterMs} ms, ${resume ? "resumed" : "stopped"})`;

  const first = await startKafka(dataDir);
  let second: KafkaRunning | undefined;
  let client: LoadClient | undefined;
  try {
    const res = await json(`${first.server.url}/v1/topics/${topic}`);
    if (res.status === 404) {
      await createTopic(first.server, topic, PARTITIONS, { "flush.policy": flushPolicy });
    } else expectStatus(res, 200, `describe ${topic}`);

    // The load: the warm-up and a first commit, then LOAD, then the kill at a seeded moment.
    client = new LoadClient([first.bootstrap, topic, group, String(round), compression, `${RATE}`]);
    const loading = await client.waitFor((l) => l === "LOAD", 30_000);
    if (!loading) {
      await client.stop();
      assert.fail(
        `${what}: the client did not start its load\nclient stdout:\n${
          tail(client.lines.join("\n"))
        }\nclient stderr:\n${tail(client.stderr())}\nserver stderr:\n${
          tail(first.server.stderr())
        }`,
      );
    }
    await sleep(killAfterMs);
    first.server.proc.kill("SIGKILL");
    await first.server.exited;
    const killedAt = client.lines.length;
    // The client notices (librdkafka's error callback: connection refused, all brokers down).
    const noticed = await client.waitFor((l) => l.startsWith("E "), NOTICE_MS, killedAt);
    await first.server.stop().catch(() => {});

    // Restart on the same data dir: new ports, or (resume) the same Kafka port, where the still
    // running producer reconnects and retries what it had in flight at the kill.
    const restartStarted = performance.now();
    let restartMs = 0;
    let resumed = 0;
    let deduplicated = 0;
    if (resume) {
      // The client is paused while the server restarts, so that the high watermarks the crash
      // left can be read before any retry lands: an acknowledgement below them after the restart
      // is a retried batch that had been written before the kill, answered as a duplicate.
      client.proc.kill("SIGSTOP");
      const restartedAt = client.lines.length;
      second = await startKafka(dataDir, first.kafkaPort);
      restartMs = Math.round(performance.now() - restartStarted);
      const recovered = await highWatermarks(second.server, topic);
      client.proc.kill("SIGCONT");
      const delivered = await client.waitFor(
        (l) => l.startsWith("D "),
        RESUME_TIMEOUT_MS,
        restartedAt,
      );
      await sleep(RESUME_LOAD_MS);
      for (const line of client.lines.slice(restartedAt)) {
        const f = line.split(" ");
        if (f[0] !== "D") continue;
        resumed++;
        if (Number(f[3]) < recovered[Number(f[2])]) deduplicated++;
      }
      assert.ok(
        delivered && resumed > 0,
        `${what}: the producer did not resume on the restarted server within ` +
          `${RESUME_TIMEOUT_MS} ms\nclient stdout (tail):\n${tail(client.lines.join("\n"))}` +
          `\nserver stderr after the restart:\n${tail(second.server.stderr())}`,
      );
    }
    const status = await client.stop();
    const clientLog = `client stderr:\n${tail(client.stderr())}\nclient stdout (tail):\n${
      tail(client.lines.join("\n"))
    }\nserver stderr before the kill:\n${tail(first.server.stderr())}`;
    assert.ok(status.success, `${what}: client exit ${status.code}\n${clientLog}`);
    assert.ok(client.lines.at(-1)?.startsWith("END "), `${what}: client ended with END`);
    if (!resume) {
      second = await startKafka(dataDir);
      restartMs = Math.round(performance.now() - restartStarted);
    }
    const restarted: KafkaRunning = second!;
    const server = restarted.server;
    const why = () =>
      `\n${clientLog}\nserver stderr after the restart:\n${tail(server.stderr())}` +
      `\nnoticed the kill: ${noticed}`;

    // What the client was told.
    const acked = new Map<number, [number, number]>();
    let failed = 0;
    const commitSent = new Map<number, Map<number, number>>();
    // Per partition, the offsets of the commits sent since the last acknowledged one: any of
    // them may have landed (one unanswered at the kill, or one that failed on the client's side
    // only, e.g. the connection dropped by the kill after the server stored it).
    const inFlight = new Map<number, Set<number>>();
    let commits = 0;
    const parseOffsets = (text: string) =>
      new Map(text.split(",").map((po) => po.split(":").map(Number) as [number, number]));
    for (const line of client.lines) {
      const f = line.split(" ");
      if (f[0] === "D") {
        const [id, partition, offset] = f.slice(1).map(Number);
        assert.ok(!acked.has(id), `${what}: two delivery reports for message ${id}`);
        assert.equal(partition, KEY_PARTITION[id % KEYS], `${what}: message ${id}'s partition`);
        acked.set(id, [partition, offset]);
      } else if (f[0] === "F") failed++;
      else if (f[0] === "CS") {
        const offsets = parseOffsets(f[2]);
        commitSent.set(Number(f[1]), offsets);
        for (const [p, o] of offsets) {
          let sent = inFlight.get(p);
          if (sent === undefined) inFlight.set(p, sent = new Set());
          sent.add(o);
        }
      } else if (f[0] === "CA") {
        for (const [p, o] of commitSent.get(Number(f[1]))!) ledger.commits.set(p, o);
        inFlight.clear();
        commits++;
      }
    }
    const produced = Number(client.lines.at(-1)!.split(" ")[1]);
    const failures = client.lines.filter((l) => l.startsWith("F ")).slice(0, 5).join("\n");
    assert.equal(
      failed,
      0,
      `${what}: delivery failures before the client was stopped:\n${failures}`,
    );
    assert.ok(commits > 0, `${what}: no commit acknowledged`);
    for (const [id, po] of acked) ledger.acked.set(`${round}/${id}`, po);

    // Every partition over HTTP, as stored batches (decodeBatches checks each CRC-32C).
    const desc = (await json(`${server.url}/v1/topics/${topic}`)).body;
    const hws = (desc.partitions as Json[]).sort((a, b) => a.partition - b.partition)
      .map((p) => Number(p.highWatermark));
    const stored: { key: string | null; value: string }[][] = [];
    for (let p = 0; p < PARTITIONS; p++) {
      const key = `${topic}/${p}`;
      let batches: Json[];
      try {
        batches = await readPartition(server, topic, p, hws[p]);
      } catch (err) {
        assert.fail(`${what}: ${key}: reading the stored batches: ${err}${why()}`);
      }
      const records: { key: string | null; value: string }[] = [];
      const lastSeq = new Map<bigint, number>();
      let nextOffset = 0;
      for (const b of batches) {
        assert.equal(b.baseOffset, nextOffset, `${what}: ${key}: batch offsets follow on`);
        assert.equal(b.records.length, b.lastOffsetDelta + 1, `${what}: ${key}: batch count`);
        const pid = BigInt(b.producerId);
        assert.ok(pid >= 0n, `${what}: ${key}: batch at ${b.baseOffset} is not idempotent`);
        const [batchRound] = parseValue(decoder.decode(b.records[0].value));
        const roundPid = ledger.producerIds.get(batchRound);
        if (roundPid === undefined) {
          for (const [r, other] of ledger.producerIds) {
            assert.notEqual(other, pid, `${what}: rounds ${r} and ${batchRound} share pid ${pid}`);
          }
          ledger.producerIds.set(batchRound, pid);
        } else {
          assert.equal(pid, roundPid, `${what}: ${key}: round ${batchRound}'s producer id`);
        }
        // Sequences per producer and partition: 0, then on without gap or repeat.
        const expectedSeq = (lastSeq.get(pid) ?? -1) + 1;
        assert.equal(
          b.baseSequence,
          expectedSeq,
          `${what}: ${key}: batch at ${b.baseOffset} of producer ${pid}: sequence${why()}`,
        );
        lastSeq.set(pid, b.baseSequence + b.records.length - 1);
        b.records.forEach((r: Json, i: number) => {
          assert.equal(r.offset, b.baseOffset + i, `${what}: ${key}: record offset`);
          records.push({
            key: r.key === null ? null : decoder.decode(r.key),
            value: decoder.decode(r.value),
          });
        });
        nextOffset = b.baseOffset + b.records.length;
      }
      assert.equal(records.length, hws[p], `${what}: ${key}: records 0 .. high watermark`);

      // Per round: exactly the first n messages the producer sent to this partition, in order.
      const nextId = new Map<number, number>();
      records.forEach((r, offset) => {
        const [r0, id] = parseValue(r.value);
        assert.equal(r.key, keyOf(id), `${what}: ${key}@${offset}: key of ${r.value}`);
        let expected = nextId.get(r0) ?? 0;
        while (KEY_PARTITION[expected % KEYS] !== p) expected++;
        if (id !== expected) {
          assert.fail(
            `${what}: ${key}@${offset}: round ${r0} message ${id}, expected ${expected} ` +
              `(${id < expected ? "a duplicate or out of order" : "messages lost before it"})` +
              why(),
          );
        }
        nextId.set(r0, id + 1);
      });
      stored.push(records);
    }

    // Every message acknowledged in this round or an earlier one, where its report said.
    let checked = 0;
    for (const [name, [p, offset]] of ledger.acked) {
      const [r, id] = name.split("/").map(Number);
      const got = stored[p][offset]?.value;
      if (got === undefined || parseValue(got)[0] !== r || parseValue(got)[1] !== id) {
        assert.fail(
          `${what}: acknowledged round ${r} message ${id} at ${topic}/${p}@${offset}, found ` +
            `${got?.slice(0, 20)} (high watermark ${hws[p]})${why()}`,
        );
      }
      checked++;
    }

    // Committed offsets over HTTP: the last acknowledged commit (or the one in flight).
    const res2 = await json(`${server.url}/v1/groups/${group}/offsets`);
    expectStatus(res2, 200, `${what}: GET /v1/groups/${group}/offsets`);
    const httpCommits = new Map<number, number>();
    for (const o of res2.body.offsets as Json[]) {
      if (o.topic === topic) httpCommits.set(o.partition, Number(o.offset));
    }
    for (const [p, offset] of [...ledger.commits]) {
      const got = httpCommits.get(p);
      if (got !== undefined && got !== offset && inFlight.get(p)?.has(got)) {
        ledger.commits.set(p, got); // an unacknowledged commit landed: later rounds expect it
        continue;
      }
      assert.equal(
        got,
        offset,
        `${what}: ${group} partition ${p}: last acknowledged commit (sent since: ` +
          `${[...inFlight.get(p) ?? []].join(", ")})${why()}`,
      );
    }
    for (const [p, offset] of httpCommits) {
      assert.ok(ledger.commits.has(p), `${what}: partition ${p}: a commit nobody made`);
      assert.ok(offset <= hws[p], `${what}: partition ${p}: commit ${offset} > hw ${hws[p]}`);
    }

    // Through the Kafka protocol: OffsetFetch and Fetch see the same.
    const verified = await run(
      SYSTEM_PYTHON,
      [SCRIPT, "verify", restarted.bootstrap, topic, group, String(PARTITIONS)],
      { timeoutMs: 60_000, env: PYTHON_ENV },
    );
    assert.equal(
      verified.code,
      0,
      `${what}: verify exit ${verified.code}\n${tail(verified.stderr)}${why()}`,
    );
    const report = JSON.parse(verified.stdout);
    assert.deepEqual(report.errors, [], `${what}: Kafka client errors${why()}`);
    assert.deepEqual(
      report.committed,
      Array.from({ length: PARTITIONS }, (_, p) => [p, httpCommits.get(p) ?? -1001]),
      `${what}: OffsetFetch (-1001: none) equals the commits over HTTP`,
    );
    assert.deepEqual(report.high, hws.map((h, p) => [p, h]), `${what}: Kafka high watermarks`);
    const byPartition: Json[][] = Array.from({ length: PARTITIONS }, () => []);
    for (const r of report.records) byPartition[r[0]].push(r);
    for (let p = 0; p < PARTITIONS; p++) {
      assert.equal(byPartition[p].length, stored[p].length, `${what}: Kafka Fetch of ${p}: count`);
      byPartition[p].forEach(([, offset, key, value], i) => {
        if (offset !== i || key !== stored[p][i].key || value !== stored[p][i].value) {
          assert.fail(
            `${what}: Kafka Fetch of ${p} #${i}: ${offset} ${key}=${value?.slice(0, 20)}, HTTP ` +
              `has ${stored[p][i].key}=${stored[p][i].value.slice(0, 20)}`,
          );
        }
      });
    }

    const code = await server.stop();
    assert.equal(code, 0, `${what}: exit code of a SIGTERM after the restart${why()}`);
    return {
      killedAfterMs: killAfterMs,
      compression,
      acked: acked.size,
      produced,
      failed,
      commits,
      records: hws.reduce((a, b) => a + b, 0),
      restartMs,
      resumed,
      deduplicated,
    };
  } finally {
    if (client !== undefined) await client.stop().catch(() => {});
    await first.server.stop("SIGKILL").catch(() => {});
    if (second !== undefined) await second.server.stop("SIGKILL").catch(() => {});
  }
}

for (const flushPolicy of ["always", "none"] as const) {
  Deno.test({
    name: `Kafka crash under load (librdkafka, flush.policy ${flushPolicy}): acknowledged ` +
      `messages and commits survive a SIGKILL, once each`,
    ignore: !confluentKafkaAvailable,
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    console.log(`kafka crash: seed ${SEED} (SLUICE_CRASH_SEED to replay)`);
    const dataDir = tempDir(`sluice-kafka-crash-${flushPolicy}-`);
    const ledger: Ledger = { acked: new Map(), commits: new Map(), producerIds: new Map() };
    for (let round = 0; round < ROUNDS; round++) {
      const seed = (SEED + round * 7919 + (flushPolicy === "none" ? 104_729 : 0)) >>> 0;
      const started = performance.now();
      const resume = round % 2 === 1;
      const r = await crashRound(flushPolicy, dataDir, seed, round, ledger, resume);
      console.log(
        `round ${round} seed ${seed} flush.policy ${flushPolicy} ${r.compression}: SIGKILL after ` +
          `${r.killedAfterMs} ms, ${r.acked} of ${r.produced} messages and ${r.commits} commits ` +
          `acknowledged; restart ${r.restartMs} ms` +
          (resume
            ? `, ${r.resumed} acknowledged after it on the same port (${r.deduplicated} ` +
              `retried from before the kill)`
            : ", client stopped") +
          `; ${r.records} records checked ` +
          `(${Math.round(performance.now() - started)} ms)`,
      );
    }
  });
}
