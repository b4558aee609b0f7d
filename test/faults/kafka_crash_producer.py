"""confluent-kafka (librdkafka's Python binding) load for kafka_crash_test.ts: an idempotent
producer and a committing group consumer against a Sluice Kafka listener that the test SIGKILLs.
Run with Debian's /usr/bin/python3 (python3-confluent-kafka).

  kafka_crash_producer.py load BOOTSTRAP TOPIC GROUP ROUND COMPRESSION RATE
  kafka_crash_producer.py verify BOOTSTRAP TOPIC GROUP PARTITIONS

load: an idempotent producer (acks=all, enable.idempotence=true) sends message ids 0, 1, 2, ...
with key "k<id % 97>" and value "r<ROUND>-m<id>-<padding>". The first WARMUP ids are sent and
flushed first; then a consumer in GROUP (auto commit off) joins, reads, and commits its position
synchronously every COMMIT_EVERY_S; after its first successful commit the line "LOAD" is printed
and the producer sends RATE messages a second (at most MAX_QUEUED unacknowledged). Output, one
line each, flushed as it happens:

  D <id> <partition> <offset>        delivery report: acknowledged (acks=all) at partition/offset
  F <id> <error>                     delivery report: failed
  CS <seq> <p>:<offset>,...          a commit is about to be sent (next offsets to read)
  CA <seq> <p>:<offset>,...          that commit was acknowledged without error
  CE <seq> <error>                   that commit failed
  LOAD                               the warm-up is done: the load starts now
  E <error>                          librdkafka's error callback (e.g. all brokers down)
  END <produced>                     after SIGTERM: the last line, then exit 0

The test SIGKILLs the server during the load, then either sends SIGTERM here at once, or first
restarts the server on the same port (this process paused with SIGSTOP meanwhile, then resumed)
so that librdkafka reconnects and retries its in-flight batches, and sends SIGTERM a little
later. On SIGTERM the loop stops, the delivery reports already received are printed, and the
process exits at once (os._exit: a librdkafka destructor would wait on a dead broker).

verify: a consumer in GROUP (never joining) reads the committed offsets by OffsetFetch, then
reads every partition from offset 0 to its high watermark through the Kafka Fetch API, and prints
one JSON object: {"committed": [[p, offset], ...], "records": [[p, offset, key, value], ...],
"high": [[p, high], ...], "errors": [...]}.
"""

import json
import os
import signal
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

WARMUP = 40
MAX_QUEUED = 4000
COMMIT_EVERY_S = 0.1
PADDING = "x" * 60

out_lock = threading.Lock()


def emit(lines):
    if not lines:
        return
    with out_lock:
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()


def common(bootstrap):
    return {
        "bootstrap.servers": bootstrap,
        "broker.address.family": "v4",
        "socket.timeout.ms": 10000,
        "error_cb": lambda err: emit([f"E {err}".replace("\n", " ")]),
    }


def load(bootstrap, topic, group, round_, compression, rate):
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    pending = []

    def on_delivery(err, msg):
        mid = int(msg.value().decode().split("-")[1][1:])  # "r<round>-m<id>-..."
        if err is None:
            pending.append(f"D {mid} {msg.partition()} {msg.offset()}")
        else:
            pending.append(f"F {mid} {err}".replace("\n", " "))

    producer = Producer(
        {
            **common(bootstrap),
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 2,
            "compression.type": compression,
            "partitioner": "murmur2_random",
            # Nothing may time out before the test stops this process: a failed message would
            # leave a legitimate gap, and the test checks that there is none.
            "message.timeout.ms": 120000,
            "reconnect.backoff.ms": 20,
            "reconnect.backoff.max.ms": 200,
        }
    )

    next_id = 0

    def produce_one():
        nonlocal next_id
        mid = next_id
        producer.produce(
            topic,
            key=f"k{mid % 97}".encode(),
            value=f"r{round_}-m{mid}-{PADDING}".encode(),
            on_delivery=on_delivery,
        )
        next_id += 1

    def drain(timeout):
        producer.poll(timeout)
        lines = pending[:]
        del pending[:]
        emit(lines)

    for _ in range(WARMUP):
        produce_one()
    left = producer.flush(15)
    drain(0)
    if left != 0:
        emit([f"E warm-up: {left} messages not delivered in 15 s"])
        os._exit(2)

    committed_once = threading.Event()

    def consume():
        consumer = Consumer(
            {
                **common(bootstrap),
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 500,
                "fetch.wait.max.ms": 50,
            }
        )
        consumer.subscribe([topic])
        position = {}
        sent = {}
        seq = 0
        last_commit = time.monotonic()
        while not stop.is_set():
            msg = consumer.poll(0.02)
            if msg is not None and not msg.error():
                position[msg.partition()] = msg.offset() + 1
            if time.monotonic() - last_commit < COMMIT_EVERY_S:
                continue
            last_commit = time.monotonic()
            changed = {p: o for p, o in position.items() if sent.get(p) != o}
            if not changed:
                continue
            offsets = [TopicPartition(topic, p, o) for p, o in sorted(changed.items())]
            text = ",".join(f"{tp.partition}:{tp.offset}" for tp in offsets)
            emit([f"CS {seq} {text}"])
            try:
                result = consumer.commit(offsets=offsets, asynchronous=False)
                bad = [tp for tp in result or [] if tp.error is not None]
                if bad:
                    emit([f"CE {seq} {bad[0].error}".replace("\n", " ")])
                else:
                    emit([f"CA {seq} {text}"])
                    sent.update(changed)
                    committed_once.set()
            except KafkaException as e:
                emit([f"CE {seq} {e}".replace("\n", " ")])
            seq += 1

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    if not committed_once.wait(20):
        emit(["E no commit acknowledged within 20 s of the warm-up"])
        os._exit(2)

    emit(["LOAD"])
    started, first = time.monotonic(), next_id
    while not stop.is_set():
        try:
            ahead = next_id - first > rate * (time.monotonic() - started)
            if ahead or len(producer) >= MAX_QUEUED:
                drain(0.005)
                continue
            produce_one()
        except BufferError:
            drain(0.005)
            continue
        if next_id % 64 == 0:
            drain(0)
    drain(0)
    emit([f"END {next_id}"])
    os._exit(0)


def verify(bootstrap, topic, group, partitions):
    errors = []
    consumer = Consumer(
        {
            **common(bootstrap),
            "error_cb": lambda err: errors.append(str(err)),
            "group.id": group,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 50,
        }
    )
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    committed = [[tp.partition, tp.offset] for tp in consumer.committed(tps, timeout=10)]
    high = {}
    for p in range(partitions):
        low, hi = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        high[p] = hi
    records = []
    todo = {p for p in range(partitions) if high[p] > 0}
    consumer.assign([TopicPartition(topic, p, 0) for p in sorted(todo)])
    deadline = time.monotonic() + 30
    while todo and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == -191:  # _PARTITION_EOF
                if msg.offset() >= high[msg.partition()]:
                    todo.discard(msg.partition())
                continue
            errors.append(f"consume: {msg.error()}")
            continue
        records.append(
            [
                msg.partition(),
                msg.offset(),
                None if msg.key() is None else msg.key().decode(),
                None if msg.value() is None else msg.value().decode(),
            ]
        )
        if msg.offset() + 1 >= high[msg.partition()]:
            todo.discard(msg.partition())
    if todo:
        errors.append(f"partitions {sorted(todo)} not read to their high watermark in 30 s")
    consumer.close()
    json.dump(
        {
            "committed": committed,
            "high": sorted([p, h] for p, h in high.items()),
            "records": records,
            "errors": errors,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")
    sys.stdout.flush()


def main():
    mode = sys.argv[1]
    if mode == "load":
        load(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6], int(sys.argv[7]))
    elif mode == "verify":
        verify(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
