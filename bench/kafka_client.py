#!/usr/bin/python3
"""One direction of the Kafka-client bench (bench/kafka_client_bench.ts) through librdkafka.

    /usr/bin/python3 bench/kafka_client.py BOOTSTRAP TOPIC COUNT SIZE MODE [SETTINGS_JSON]

MODE is one of:

- ``produce``: creates TOPIC (1 partition, replication factor 1; an existing topic is kept), then
  sends COUNT records of SIZE bytes (no key) with one librdkafka producer and waits for every
  acknowledgement (flush). The clock runs from the first produce() until flush() returns. The
  values are 1,000 distinct incompressible byte strings (Python's random with seed 42), made
  before the clock starts. Delivery reports are asked for errors only, so a success costs the
  client no Python callback.
- ``consume``: one consumer in a fresh group (TOPIC + ``-reader-`` + time) subscribes to TOPIC
  from the earliest offset and reads until it has COUNT records. ``seconds`` runs from the
  partition assignment (the group join, which a real Kafka may hold back 3 s:
  group.initial.rebalance.delay.ms) to the last record; ``totalSeconds`` from subscribe().
  Offsets are committed once, after the clock stops.
- ``delete``: deletes TOPIC (clean-up on a real Kafka; Sluice's listener has no DeleteTopics).

SETTINGS_JSON (an object) is merged into the client's librdkafka configuration, overriding the
defaults below; the bench passes its settings explicitly so the report names them.

Prints one JSON object on stdout: records, bytes (record values), seconds, recordsPerSec, MBps
(10^6 B/s of record values), clientCpuSeconds (this process, all threads, over the timed part),
the librdkafka version, the settings used, and figures from librdkafka's last statistics report
(request round trips, batch sizes). On failure: {"error": "..."} and exit code 1.
Needs python3-confluent-kafka (Debian) or confluent-kafka (pip).
"""

import json
import random
import sys
import time

try:
    import confluent_kafka
    from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError as import_error:  # the bench checks first; this is for a run by hand
    print(json.dumps({"error": f"confluent_kafka is not installed: {import_error}"}))
    sys.exit(1)

MB = 1e6
DISTINCT_VALUES = 1000
VALUES_SEED = 42
ADMIN_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
FLUSH_TIMEOUT_S = 600.0
# A consumer that receives nothing for this long gives up (a stalled server, a lost record).
IDLE_TIMEOUT_S = 60.0
STATS_INTERVAL_MS = 1000

PRODUCER_DEFAULTS = {
    "acks": "all",
    "linger.ms": 5,
    "batch.size": 1_048_576,
    "compression.type": "none",
    "enable.idempotence": False,
}
CONSUMER_DEFAULTS = {
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
    # librdkafka 2.0.2 stops fetching for 1 s whenever its prefetch queue holds
    # queued.min.messages (default 100,000): that pause, not the broker, would set the pace.
    "queued.min.messages": 1_000_000,
}


def fail(message):
    print(json.dumps({"error": message}))
    sys.exit(1)


class Stats:
    """The statistics librdkafka emitted (statistics.interval.ms), one JSON report a second.

    Totals (requests, bytes) come from the last report. Round trips and batch sizes are windows
    that each report restarts: they come from the last report whose window saw any (the report
    after the run has idle windows, or a consumer's idle long polls).
    """

    def __init__(self):
        self.reports = []

    def __call__(self, text):
        self.reports.append(text)

    def summary(self, topic, producer):
        parsed = []
        for text in self.reports:
            try:
                parsed.append(json.loads(text))
            except ValueError:
                pass
        if not parsed:
            return {}
        out = {}
        for s in parsed:  # later reports overwrite earlier ones
            brokers = [b for b in s.get("brokers", {}).values() if b.get("nodeid", -1) >= 0]
            totals = {"requestsSent": 0, "bytesSent": 0, "bytesReceived": 0, "requestErrors": 0}
            for b in brokers:
                rtt_window = b.get("rtt", {})
                if producer and rtt_window.get("cnt", 0) > 0:
                    out["rttAvgMs"] = rtt_window.get("avg", 0) / 1000
                    out["rttP99Ms"] = rtt_window.get("p99", 0) / 1000
                totals["requestsSent"] += b.get("tx", 0)
                totals["bytesSent"] += b.get("txbytes", 0)
                totals["bytesReceived"] += b.get("rxbytes", 0)
                totals["requestErrors"] += b.get("txerrs", 0) + b.get("rxerrs", 0)
            out.update(totals)
            t = s.get("topics", {}).get(topic)
            if producer and t is not None:
                for key, name in (("batchsize", "batchBytes"), ("batchcnt", "batchRecords")):
                    window = t.get(key, {})
                    if window.get("cnt", 0) > 0:
                        out[name + "Avg"] = window.get("avg", 0)
        return out


def admin_for(bootstrap):
    """An admin client on a cluster that answered a metadata request within CONNECT_TIMEOUT_S."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.list_topics(timeout=CONNECT_TIMEOUT_S)
    return admin


def create_topic(bootstrap, topic):
    admin = admin_for(bootstrap)  # kept referenced: a collected client fails its futures
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=1, replication_factor=1)],
        request_timeout=ADMIN_TIMEOUT_S,
    )
    try:
        futures[topic].result(timeout=ADMIN_TIMEOUT_S)
    except KafkaException as e:
        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise


def values_of(size):
    rng = random.Random(VALUES_SEED)
    return [rng.randbytes(size) for _ in range(DISTINCT_VALUES)]


def produce(bootstrap, topic, count, size, settings):
    create_topic(bootstrap, topic)
    errors = []

    def on_error_report(err, _msg):
        if err is not None and len(errors) < 10:
            errors.append(str(err))
        elif err is not None:
            errors.append(None)

    stats = Stats()
    config = {
        **PRODUCER_DEFAULTS,
        **settings,
        "bootstrap.servers": bootstrap,
        "delivery.report.only.error": True,
        "on_delivery": on_error_report,
        "statistics.interval.ms": STATS_INTERVAL_MS,
        "stats_cb": stats,
    }
    p = Producer(config)
    # Metadata and the connection to the partition leader, before the clock.
    p.list_topics(topic, timeout=ADMIN_TIMEOUT_S)
    values = values_of(size)
    send = p.produce
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    i = 0
    while i < count:
        try:
            send(topic, values[i % DISTINCT_VALUES])
            i += 1
        except BufferError:
            # The local queue is full (queue.buffering.max.*): serve delivery reports, retry.
            p.poll(0.005)
    left = p.flush(FLUSH_TIMEOUT_S)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    p.poll(STATS_INTERVAL_MS * 1.5 / 1000)  # one more statistics report, after the run
    if left > 0:
        fail(f"{left} records still unacknowledged after {FLUSH_TIMEOUT_S} s")
    if errors:
        shown = "; ".join(e for e in errors if e is not None)
        fail(f"{len(errors)} records failed: {shown}")
    return {
        "records": count,
        "bytes": count * size,
        "seconds": seconds,
        "clientCpuSeconds": cpu,
        "settings": {k: v for k, v in config.items() if isinstance(v, (str, int, float, bool))},
        "stats": stats.summary(topic, producer=True),
    }


def consume(bootstrap, topic, count, size, settings):
    stats = Stats()
    assigned = []
    config = {
        **CONSUMER_DEFAULTS,
        **settings,
        "bootstrap.servers": bootstrap,
        "group.id": f"{topic}-reader-{int(time.time() * 1000)}",
        "statistics.interval.ms": STATS_INTERVAL_MS,
        "stats_cb": stats,
    }
    c = Consumer(config)

    def on_assign(consumer, partitions):
        if partitions and not assigned:
            assigned.append(time.perf_counter())

    records = 0
    value_bytes = 0
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    c.subscribe([topic], on_assign=on_assign)
    last_progress = t0
    take = c.consume
    while records < count:
        msgs = take(10_000, 0.5)
        now = time.perf_counter()
        if not msgs:
            if now - last_progress > IDLE_TIMEOUT_S:
                c.close()
                fail(f"no record for {IDLE_TIMEOUT_S} s after {records} of {count}")
            continue
        last_progress = now
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                c.close()
                fail(f"consume error after {records} records: {err}")
            records += 1
            value_bytes += len(m.value())
    t1 = time.perf_counter()
    cpu = time.process_time() - cpu0
    c.commit(asynchronous=False)
    c.poll(STATS_INTERVAL_MS * 1.5 / 1000)
    c.close()
    start = assigned[0] if assigned else t0
    return {
        "records": records,
        "bytes": value_bytes,
        "seconds": t1 - start,
        "totalSeconds": t1 - t0,
        "joinSeconds": start - t0,
        "clientCpuSeconds": cpu,
        "settings": {k: v for k, v in config.items() if isinstance(v, (str, int, float, bool))},
        # Totals only: the last report's round trips are the idle long polls after the end.
        "stats": stats.summary(topic, producer=False),
    }


def delete(bootstrap, topic):
    admin = admin_for(bootstrap)
    futures = admin.delete_topics([topic], request_timeout=ADMIN_TIMEOUT_S)
    futures[topic].result(timeout=ADMIN_TIMEOUT_S)
    return {"records": 0, "bytes": 0, "seconds": 0}


def main(argv):
    if len(argv) not in (6, 7):
        fail(
            "usage: kafka_client.py BOOTSTRAP TOPIC COUNT SIZE produce|consume|delete "
            "[SETTINGS_JSON]"
        )
    bootstrap, topic, count, size, mode = argv[1], argv[2], int(argv[3]), int(argv[4]), argv[5]
    settings = json.loads(argv[6]) if len(argv) == 7 else {}
    if not isinstance(settings, dict):
        fail("SETTINGS_JSON must be an object")
    try:
        if mode == "produce":
            out = produce(bootstrap, topic, count, size, settings)
        elif mode == "consume":
            out = consume(bootstrap, topic, count, size, settings)
        elif mode == "delete":
            out = delete(bootstrap, topic)
        else:
            fail(f"unknown mode {mode}")
    except KafkaException as e:
        fail(f"{mode}: {e}")
    seconds = out["seconds"]
    out["mode"] = mode
    out["recordsPerSec"] = out["records"] / seconds if seconds > 0 else 0
    out["MBps"] = out["bytes"] / seconds / MB if seconds > 0 else 0
    out["client"] = f"librdkafka {confluent_kafka.libversion()[0]}"
    out["clientBinding"] = f"confluent-kafka-python {confluent_kafka.version()[0]}"
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)
