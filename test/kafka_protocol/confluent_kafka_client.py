"""confluent-kafka (librdkafka's Python binding) against a Sluice Kafka listener, for
confluent_kafka_test.ts. Run with Debian's /usr/bin/python3 (python3-confluent-kafka).

  confluent_kafka_client.py BOOTSTRAP TOPIC GROUP COUNT

1. metadata: the topic's partitions as the client sees them;
2. produce: COUNT keyed records with headers from an idempotent producer (acks=all,
   enable.idempotence=true), then flush; every delivery report is kept;
3. consume: a high-level consumer in GROUP (auto.offset.reset=earliest, auto commit off) reads
   until it has COUNT records or 30 s pass, then commits synchronously and reads the committed
   offsets back;
4. resume: a second consumer in GROUP polls for a while and must find nothing new.

Prints one JSON object on stdout; exits 0 even when something failed (the test judges), and
non-zero only on a crash.
"""

import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition


def log_to(errors):
    def on_error(err):
        errors.append(str(err))

    return on_error


def main():
    bootstrap, topic, group, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    errors = []
    out = {"errors": errors}
    common = {
        "bootstrap.servers": bootstrap,
        "error_cb": log_to(errors),
        "socket.timeout.ms": 10000,
        "broker.address.family": "v4",
    }

    producer = Producer(
        {
            **common,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 10,
            "compression.type": "lz4",
            "partitioner": "murmur2_random",
        }
    )
    md = producer.list_topics(topic, timeout=10)
    tmd = md.topics[topic]
    out["metadata"] = {
        "brokers": [f"{b.host}:{b.port}" for b in md.brokers.values()],
        "partitions": sorted(tmd.partitions.keys()),
        "error": None if tmd.error is None else str(tmd.error),
    }

    delivered = []

    def on_delivery(err, msg):
        delivered.append(
            {
                "error": None if err is None else str(err),
                "key": msg.key().decode() if msg.key() is not None else None,
                "partition": msg.partition(),
                "offset": msg.offset(),
            }
        )

    started = time.monotonic()
    for i in range(count):
        key = f"ck-{i % 101}"
        value = f"confluent value {i} " + "y" * (i % 64) + " ü"
        producer.produce(
            topic,
            key=key.encode(),
            value=value.encode(),
            headers=[("seq", str(i).encode()), ("origin", b"confluent-kafka")],
            on_delivery=on_delivery,
        )
        producer.poll(0)
    remaining = producer.flush(30)
    out["produce"] = {
        "not_flushed": remaining,
        "delivered": delivered,
        "ms": round((time.monotonic() - started) * 1000),
    }

    consumer = Consumer(
        {
            **common,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
            "fetch.wait.max.ms": 100,
        }
    )
    consumed = []
    started = time.monotonic()
    assigned = []
    consumer.subscribe([topic], on_assign=lambda c, ps: assigned.extend(p.partition for p in ps))
    deadline = time.monotonic() + 30
    while len(consumed) < count and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            errors.append(f"consume: {msg.error()}")
            continue
        consumed.append(
            {
                "partition": msg.partition(),
                "offset": msg.offset(),
                "key": msg.key().decode() if msg.key() is not None else None,
                "value": msg.value().decode() if msg.value() is not None else None,
                "headers": [[k, v.decode() if v is not None else None] for k, v in (msg.headers() or [])],
            }
        )
    commit = None
    try:
        commit = [
            {"partition": tp.partition, "offset": tp.offset, "error": None if tp.error is None else str(tp.error)}
            for tp in (consumer.commit(asynchronous=False) or [])
        ]
    except KafkaException as e:
        errors.append(f"commit: {e}")
    partitions = [TopicPartition(topic, p) for p in out["metadata"]["partitions"]]
    committed = [
        {"partition": tp.partition, "offset": tp.offset}
        for tp in consumer.committed(partitions, timeout=10)
    ]
    consumer.close()
    out["consume"] = {
        "assigned": sorted(assigned),
        "records": consumed,
        "commit": commit,
        "committed": committed,
        "ms": round((time.monotonic() - started) * 1000),
    }

    # A later member of the same group starts at the committed offsets: nothing is left to read.
    again = Consumer(
        {
            **common,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "fetch.wait.max.ms": 100,
        }
    )
    reassigned = []
    again.subscribe([topic], on_assign=lambda c, ps: reassigned.extend(p.partition for p in ps))
    extra = 0
    deadline = time.monotonic() + 15
    quiet_until = None
    while time.monotonic() < deadline:
        msg = again.poll(0.2)
        if msg is not None and not msg.error():
            extra += 1
        if reassigned and quiet_until is None:
            quiet_until = time.monotonic() + 1.5  # assigned: give a re-read time to show
        if quiet_until is not None and time.monotonic() > quiet_until:
            break
    again.close()
    out["resume"] = {"assigned": sorted(reassigned), "records": extra}

    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
