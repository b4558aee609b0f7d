// One direction of a Kafka-client bench run through node-rdkafka (librdkafka's Node.js binding,
// a current librdkafka built by scripts/install-node-rdkafka.sh), run by Node: the same job,
// arguments after RDKAFKA_DIR and JSON answer as bench/kafka_client.py's, for the side-by-side
// suite (bench/kafka_side_bench.ts).
//
//   node node_rdkafka_client.mjs RDKAFKA_DIR BOOTSTRAP TOPIC COUNT SIZE produce|consume [SETTINGS]
//
// - produce: creates TOPIC (1 partition; an existing one is kept), then sends COUNT records of SIZE
//   bytes (no key; 1,000 distinct random values made before the clock) with one producer and
//   waits for every acknowledgement (flush). The clock runs from the first produce() until flush()
//   returns. Delivery reports for errors only.
// - consume: one consumer in a fresh group reads TOPIC from the earliest offset until it has
//   COUNT records, in batches of 10,000 (consume(n)). `seconds` from the partition assignment to
//   the last record, `totalSeconds` from subscribe(). Offsets committed once, after the clock.
//
// SETTINGS (a JSON object) is librdkafka configuration over the defaults below; the topic-level
// properties among it (acks, compression.type, auto.offset.reset, ...) go to the topic
// configuration, as node-rdkafka needs them. Prints one JSON object; on failure {"error": ...} and
// exit code 1.
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { join } from "node:path";

const [rdkafkaDir, bootstrap, topic, countArg, sizeArg, mode, settingsArg] = process.argv.slice(2);
const require = createRequire(join(rdkafkaDir, "package.json"));
const Kafka = require("node-rdkafka");
const count = Number(countArg);
const size = Number(sizeArg);
const settings = settingsArg === undefined ? {} : JSON.parse(settingsArg);

const DISTINCT_VALUES = 1000;
const ADMIN_TIMEOUT_MS = 30_000;
const FLUSH_TIMEOUT_MS = 600_000;
const IDLE_TIMEOUT_MS = 60_000;
const BATCH = 10_000;
/** librdkafka's topic-level properties that can appear in SETTINGS. */
const TOPIC_LEVEL = new Set([
  "acks",
  "request.required.acks",
  "compression.type",
  "compression.codec",
  "compression.level",
  "partitioner",
  "auto.offset.reset",
  "message.timeout.ms",
  "request.timeout.ms",
]);
const PRODUCER_DEFAULTS = {
  "acks": "all",
  "linger.ms": 5,
  "batch.size": 1_048_576,
  "compression.type": "none",
  "enable.idempotence": false,
};
const CONSUMER_DEFAULTS = {
  "auto.offset.reset": "earliest",
  "enable.auto.commit": false,
  "queued.min.messages": 1_000_000,
};

function finish(out, code = 0) {
  process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(code));
}

function fail(message) {
  finish({ error: message }, 1);
}

function promise(fn) {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
}

/** Global and topic configuration from defaults plus SETTINGS. */
function split(defaults) {
  const global = { "metadata.broker.list": bootstrap, "broker.address.family": "v4" };
  const topicConf = {};
  for (const [k, v] of Object.entries({ ...defaults, ...settings })) {
    (TOPIC_LEVEL.has(k) ? topicConf : global)[k] = v;
  }
  return { global, topicConf };
}

function seconds(fromNs, toNs) {
  return Number(toNs - fromNs) / 1e9;
}

function cpuSeconds(from) {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
}

async function createTopic() {
  const admin = Kafka.AdminClient.create({
    "metadata.broker.list": bootstrap,
    "broker.address.family": "v4",
  });
  try {
    await promise((cb) =>
      admin.createTopic(
        { topic, num_partitions: 1, replication_factor: 1 },
        ADMIN_TIMEOUT_MS,
        (err) => cb(err && err.code !== Kafka.CODES.ERRORS.ERR_TOPIC_ALREADY_EXISTS ? err : null),
      )
    );
  } finally {
    admin.disconnect();
  }
}

async function produce() {
  await createTopic();
  const { global, topicConf } = split(PRODUCER_DEFAULTS);
  const errors = [];
  const p = new Kafka.Producer(
    { ...global, "dr_cb": true, "delivery.report.only.error": true },
    topicConf,
  );
  p.on("delivery-report", (err) => {
    if (err) errors.push(String(err.message ?? err));
  });
  p.setPollInterval(10);
  await promise((cb) => p.connect({ timeout: ADMIN_TIMEOUT_MS, topic }, cb));
  const values = Array.from({ length: DISTINCT_VALUES }, () => randomBytes(size));
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const QUEUE_FULL = Kafka.CODES.ERRORS.ERR__QUEUE_FULL;
  for (let i = 0; i < count;) {
    try {
      p.produce(topic, null, values[i % DISTINCT_VALUES]);
      i++;
    } catch (err) {
      if (err.code !== QUEUE_FULL) throw err;
      // The local queue is full (queue.buffering.max.*): let the poll loop serve reports.
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  await promise((cb) => p.flush(FLUSH_TIMEOUT_MS, cb));
  const t1 = process.hrtime.bigint();
  const cpu = cpuSeconds(cpu0);
  await promise((cb) => p.disconnect(10_000, cb));
  if (errors.length > 0) {
    throw new Error(`${errors.length} records failed: ${errors.slice(0, 5).join("; ")}`);
  }
  return {
    records: count,
    bytes: count * size,
    seconds: seconds(t0, t1),
    clientCpuSeconds: cpu,
    settings: { ...global, ...topicConf },
  };
}

async function consume() {
  const { global, topicConf } = split(CONSUMER_DEFAULTS);
  let assignedAt;
  const c = new Kafka.KafkaConsumer({
    ...global,
    "group.id": `${topic}-reader-${Date.now()}`,
    "rebalance_cb": function (err, assignment) {
      if (err.code === Kafka.CODES.ERRORS.ERR__ASSIGN_PARTITIONS) {
        if (assignment.length > 0 && assignedAt === undefined) assignedAt = process.hrtime.bigint();
        this.assign(assignment);
      } else this.unassign();
    },
  }, topicConf);
  await promise((cb) => c.connect({ timeout: ADMIN_TIMEOUT_MS }, cb));
  c.setDefaultConsumeTimeout(500);
  let records = 0;
  let bytes = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  c.subscribe([topic]);
  let lastProgress = Date.now();
  while (records < count) {
    const msgs = await promise((cb) => c.consume(BATCH, cb));
    if (msgs.length === 0) {
      if (Date.now() - lastProgress > IDLE_TIMEOUT_MS) {
        throw new Error(`no record for ${IDLE_TIMEOUT_MS} ms after ${records} of ${count}`);
      }
      continue;
    }
    lastProgress = Date.now();
    for (const m of msgs) bytes += m.value.length;
    records += msgs.length;
  }
  const t1 = process.hrtime.bigint();
  const cpu = cpuSeconds(cpu0);
  c.commitSync(null);
  await promise((cb) => c.disconnect(cb));
  const start = assignedAt ?? t0;
  return {
    records,
    bytes,
    seconds: seconds(start, t1),
    totalSeconds: seconds(t0, t1),
    joinSeconds: seconds(t0, start),
    clientCpuSeconds: cpu,
    settings: { ...global, ...topicConf },
  };
}

try {
  const out = mode === "produce" ? await produce() : mode === "consume" ? await consume() : null;
  if (out === null) fail(`unknown mode ${mode}`);
  else {
    out.mode = mode;
    out.recordsPerSec = out.seconds > 0 ? out.records / out.seconds : 0;
    out.MBps = out.seconds > 0 ? out.bytes / out.seconds / 1e6 : 0;
    out.client = `librdkafka ${Kafka.librdkafkaVersion}`;
    out.clientBinding = `node-rdkafka ${
      require("node-rdkafka/package.json").version.replace(/^v/, "")
    }`;
    out.stats = {};
    finish(out);
  }
} catch (err) {
  fail(`${mode}: ${err?.message ?? err}`);
}
