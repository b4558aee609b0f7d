// node-rdkafka (librdkafka's Node.js binding, a current librdkafka built by
// scripts/install-node-rdkafka.sh) against a Sluice Kafka listener, for node_rdkafka_test.ts. It is
// a NAN addon, which Deno cannot load, so it runs under Node:
//
//   node node_rdkafka_client.mjs RDKAFKA_DIR SCENARIO_JSON
//
// RDKAFKA_DIR holds node_modules/node-rdkafka. SCENARIO_JSON is { scenario, bootstrap, ... }:
//
// - "group" { topic, group, partitions, perCodec, codecs, later, protocol }:
//   1. metadata of all topics (librdkafka >= 2.1 sends Metadata v9+ with null topics);
//   2. two consumers join GROUP (group.protocol `protocol`: classic, the default, or consumer;
//      auto commit off) and wait until their assignments split the topic's partitions;
//   3. for each codec, an idempotent producer (acks=all, enable.idempotence=true,
//      partitioner=murmur2_random) produces perCodec keyed records with headers, flushes, and keeps
//      every delivery report;
//   4. the two consume until they have them all, then each commits (commitSync) and reads its
//      commits back;
//   5. the second consumer leaves; the first, once it owns every partition, consumes `later` new
//      records (produced then, no compression) starting from the second's commits, commits, and
//      reads the group's commits for every partition back.
// - "zstd" { topic, count }: an idempotent zstd producer, then a group consumer reads it all back
//   (Sluice stores and serves zstd batches as sent; its HTTP front cannot decode them);
// - "partitioners" { topic, keys }: a producer with partitioner=murmur2_random and one with the
//   default (consistent_random) each produce one record per key; their delivery reports.
//
// Prints one JSON object on stdout and exits 0 even when something failed (the test judges);
// non-zero only on a crash or when a step times out.
import { createRequire } from "node:module";
import { join } from "node:path";

const [rdkafkaDir, specJson] = process.argv.slice(2);
const require = createRequire(join(rdkafkaDir, "package.json"));
const Kafka = require("node-rdkafka");
const spec = JSON.parse(specJson);

const errors = [];
const common = {
  "metadata.broker.list": spec.bootstrap,
  "broker.address.family": "v4",
  "socket.timeout.ms": 10000,
  "event_cb": true,
};
const ASSIGN = Kafka.CODES.ERRORS.ERR__ASSIGN_PARTITIONS;

/** Polls `check` every 20 ms until it is true; throws (with `what()`) after `ms`. */
async function waitFor(what, check, ms) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function promise(fn) {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
}

function text(buf) {
  return buf === null || buf === undefined ? null : buf.toString();
}

/**
 * Connects a producer with `extra` global config and `topic` topic config (node-rdkafka sets a
 * topic config of its own: `acks` or `partitioner` in the global one would be overridden); its
 * delivery reports go to `delivered`.
 */
async function producer(extra, topic, delivered) {
  const p = new Kafka.Producer({ ...common, dr_cb: true, "linger.ms": 5, ...extra }, topic);
  p.on("event.error", (e) => errors.push(`producer: ${e.message ?? e}`));
  p.reports = 0;
  p.on("delivery-report", (err, r) => {
    p.reports++;
    delivered.push({
      error: err ? String(err.message ?? err) : null,
      key: text(r.key),
      partition: r.partition,
      offset: r.offset,
    });
  });
  p.setPollInterval(20);
  await promise((cb) => p.connect({ timeout: 10000 }, cb));
  return p;
}

/**
 * Flushes, waits for every delivery report (flush can return before the poll loop has handed
 * the last ones to JavaScript), disconnects.
 */
async function flushAndClose(p) {
  await promise((cb) => p.flush(30000, cb));
  await waitFor(
    () => `${p.reports} of ${p.sentMessages} delivery reports`,
    () => p.reports >= p.sentMessages,
    10000,
  );
  await promise((cb) => p.disconnect(10000, cb));
}

/** A group member: its assignment as the rebalance callback leaves it, and what it consumed. */
function member(name, group, consumed, protocol = "classic") {
  const m = { name, assignments: [], records: 0 };
  // KIP-848's protocol takes its timeouts from the coordinator: librdkafka refuses them here.
  const timeouts = protocol === "classic"
    ? { "session.timeout.ms": 6000, "heartbeat.interval.ms": 300 }
    : {};
  const c = new Kafka.KafkaConsumer({
    ...common,
    ...timeouts,
    "group.id": group,
    "group.protocol": protocol,
    "client.id": name,
    "enable.auto.commit": false,
    "fetch.wait.max.ms": 100,
    "rebalance_cb": function (err, assignment) {
      // Eager (classic range): the whole assignment each time; cooperative (the consumer
      // protocol): only what is added or taken away.
      const cooperative = this.rebalanceProtocol() === "COOPERATIVE";
      const had = new Set(m.assignments.at(-1) ?? []);
      const parts = assignment.map((tp) => tp.partition);
      if (err.code === ASSIGN) {
        if (cooperative) this.incrementalAssign(assignment);
        else this.assign(assignment);
        m.assignments.push(cooperative ? [...had, ...parts].sort() : parts.sort());
      } else {
        if (cooperative) this.incrementalUnassign(assignment);
        else this.unassign();
        m.assignments.push(cooperative ? [...had].filter((p) => !parts.includes(p)).sort() : []);
      }
    },
  }, { "auto.offset.reset": "earliest" });
  c.on("event.error", (e) => errors.push(`${name}: ${e.message ?? e}`));
  c.on("data", (msg) => {
    m.records++;
    consumed.push({
      member: name,
      partition: msg.partition,
      offset: msg.offset,
      key: text(msg.key),
      value: text(msg.value),
      headers: (msg.headers ?? []).map((h) => {
        const [k, v] = Object.entries(h)[0];
        return [k, text(v)];
      }),
    });
  });
  m.consumer = c;
  m.now = () => m.assignments.at(-1) ?? [];
  return m;
}

async function committed(consumer, topic, partitions) {
  const tps = partitions.map((partition) => ({ topic, partition }));
  const got = await promise((cb) => consumer.committed(tps, 10000, cb));
  return got.map((tp) => ({ partition: tp.partition, offset: tp.offset }))
    .sort((a, b) => a.partition - b.partition);
}

function value(i, codec) {
  return `node-rdkafka ${codec} ${i} ${"z".repeat(i % 50)} ü`;
}

async function groupScenario() {
  const { topic, group, partitions, perCodec, codecs, later, protocol } = spec;
  const out = { errors };
  const all = [...Array(partitions).keys()];

  // 1. Metadata of every topic.
  const delivered = [];
  const meta = await producer({}, {}, delivered);
  const md = await promise((cb) => meta.getMetadata({ allTopics: true, timeout: 10000 }, cb));
  out.metadata = {
    brokers: md.brokers.map((b) => `${b.host}:${b.port}`),
    topics: md.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => p.id) }))
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
  await promise((cb) => meta.disconnect(10000, cb));

  // 2. A group of two.
  const consumed = [];
  const a = member("a", group, consumed, protocol);
  const b = member("b", group, consumed, protocol);
  for (const m of [a, b]) {
    await promise((cb) => m.consumer.connect({ timeout: 10000 }, cb));
    m.consumer.subscribe([topic]);
    m.consumer.consume();
  }
  const split = () =>
    a.now().length > 0 && b.now().length > 0 &&
    [...a.now(), ...b.now()].sort().join() === all.join();
  await waitFor(
    () => `group of two: ${JSON.stringify([a.assignments, b.assignments])}`,
    split,
    30000,
  );
  out.split = { a: a.now(), b: b.now() };

  // 3. Idempotent producers, one per codec.
  const started = Date.now();
  let seq = 0;
  for (const codec of codecs) {
    const p = await producer(
      { "enable.idempotence": true, "compression.codec": codec },
      { "acks": "all", "partitioner": "murmur2_random" },
      delivered,
    );
    for (let i = 0; i < perCodec; i++, seq++) {
      const key = `nr-${seq % 37}`;
      p.produce(topic, null, Buffer.from(value(seq, codec)), Buffer.from(key), null, null, [
        { seq: String(seq) },
        { codec },
      ]);
    }
    await flushAndClose(p);
  }
  out.produce = { delivered, ms: Date.now() - started };

  // 4. Consumed by the two, committed by each.
  const total = perCodec * codecs.length;
  await waitFor(
    () => `consumed ${consumed.length} of ${total}`,
    () => consumed.length >= total,
    30000,
  );
  await new Promise((r) => setTimeout(r, 300)); // a duplicate, if any, has time to show
  out.firstRound = {
    a: a.records,
    b: b.records,
    assignments: { a: a.assignments, b: b.assignments },
  };
  for (const m of [a, b]) m.consumer.commitSync(null);
  out.committedByMember = {
    a: await committed(a.consumer, topic, a.now()),
    b: await committed(b.consumer, topic, b.now()),
  };

  // 5. b leaves: a owns every partition and resumes b's from b's commits.
  const bHad = b.now();
  await promise((cb) => b.consumer.disconnect(cb));
  await waitFor(
    () => `a alone: ${JSON.stringify(a.assignments)}`,
    () => a.now().join() === all.join(),
    30000,
  );
  const p = await producer(
    { "enable.idempotence": true },
    { "acks": "all", "partitioner": "murmur2_random" },
    delivered,
  );
  for (let i = 0; i < later; i++, seq++) {
    p.produce(
      topic,
      null,
      Buffer.from(value(seq, "none")),
      Buffer.from(`nr-${seq % 37}`),
      null,
      null,
      [
        { seq: String(seq) },
        { codec: "none" },
      ],
    );
  }
  await flushAndClose(p);
  await waitFor(
    () => `consumed ${consumed.length} of ${total + later}`,
    () => consumed.length >= total + later,
    30000,
  );
  await new Promise((r) => setTimeout(r, 300));
  a.consumer.commitSync(null);
  out.afterLeave = {
    bHad,
    assignments: a.assignments.slice(), // before a's own leave revokes everything
    committed: await committed(a.consumer, topic, all),
  };
  await promise((cb) => a.consumer.disconnect(cb));
  out.consumed = consumed;
  return out;
}

async function partitionersScenario() {
  const out = { errors };
  for (const [name, partitioner] of [["murmur2", "murmur2_random"], ["default", undefined]]) {
    const delivered = [];
    const p = await producer({}, partitioner ? { partitioner } : {}, delivered);
    for (const key of spec.keys) {
      p.produce(spec.topic, null, Buffer.from(`${name} ${key}`), Buffer.from(key));
    }
    await flushAndClose(p);
    out[name] = delivered;
  }
  return out;
}

async function zstdScenario() {
  const { topic, count } = spec;
  const out = { errors };
  const delivered = [];
  const p = await producer(
    { "enable.idempotence": true, "compression.codec": "zstd" },
    { "acks": "all" },
    delivered,
  );
  for (let i = 0; i < count; i++) {
    p.produce(topic, null, Buffer.from(value(i, "zstd")), Buffer.from(`nr-${i % 37}`));
  }
  await flushAndClose(p);
  out.delivered = delivered;
  const consumed = [];
  const m = member("zstd-reader", `${topic}-reader`, consumed);
  await promise((cb) => m.consumer.connect({ timeout: 10000 }, cb));
  m.consumer.subscribe([topic]);
  m.consumer.consume();
  await waitFor(
    () => `consumed ${consumed.length} of ${count}`,
    () => consumed.length >= count,
    30000,
  );
  await promise((cb) => m.consumer.disconnect(cb));
  out.consumed = consumed;
  return out;
}

const scenarios = { group: groupScenario, partitioners: partitionersScenario, zstd: zstdScenario };
const out = await scenarios[spec.scenario]();
// Exits once stdout is written: process.exit() right away can cut a piped write short.
process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0));
