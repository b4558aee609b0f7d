#!/usr/bin/python3
"""One side of the Kafka end-to-end latency bench (bench/kafka_latency_bench.ts) through librdkafka.

    /usr/bin/python3 bench/kafka_latency.py MODE BOOTSTRAP TOPIC ARGS...

MODE is one of:

- ``consume BOOTSTRAP TOPIC COUNT START``: one consumer, assigned partition 0 of TOPIC at offset
  START (no group: a join would only add its own delay), reads COUNT records and, for each, takes
  the receipt time (CLOCK_MONOTONIC, the same clock in every process of the machine) minus the
  send time the producer wrote into the record's first 8 bytes. It prints ``{"ready": true}`` once
  its first fetch has been answered (the producer starts after that), then one JSON object: the
  latency percentiles (ms), the records and the time from the first to the last record.
- ``produce BOOTSTRAP TOPIC RATE COUNT SIZE``: one producer sends COUNT records of SIZE bytes at
  RATE records/s, paced: record i is due at start + i / RATE and carries its due time, not the
  time it was actually handed to librdkafka, so a producer running late counts against the
  latency (no coordinated omission). Prints how late the producer ran at most.
- ``drain BOOTSTRAP TOPIC COUNT START``: as consume, on records written before it started (the
  consumer's max-rate run; its latencies mean nothing there).
- ``fill BOOTSTRAP TOPIC COUNT SIZE``: COUNT records as fast as possible (for the consumer's
  max-rate run), then flush.

Producer settings: acks=all (on one broker: the leader's log), linger.ms=0 (librdkafka still
batches what accumulates while a request is in flight), compression none, idempotence off.
Consumer: fetch.wait.max.ms 100, fetch.min.bytes 1, queued.min.messages 1,000,000 (librdkafka
2.0.2 pauses fetching for 1 s whenever its queue holds that many; see kafka_client_bench.ts).
On failure: {"error": "..."} and exit code 1. Needs python3-confluent-kafka (Debian).
"""

import json
import struct
import sys
import time

try:
    from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
except ImportError as import_error:
    print(json.dumps({"error": f"confluent_kafka is not installed: {import_error}"}))
    sys.exit(1)

# A consumer that receives nothing for this long gives up (a stalled server, a lost record).
IDLE_TIMEOUT_S = 30.0
READY_TIMEOUT_S = 30.0
FLUSH_TIMEOUT_S = 120.0
# How many due records the producer hands over before it polls librdkafka's events.
SEND_SLICE = 1000

PRODUCER = {
    "acks": "all",
    "linger.ms": 0,
    "compression.type": "none",
    "enable.idempotence": False,
    "queue.buffering.max.messages": 1_000_000,
}
CONSUMER = {
    "group.id": "sluice-latency-bench",
    "enable.auto.commit": False,
    "fetch.wait.max.ms": 100,
    "fetch.min.bytes": 1,
    "queued.min.messages": 1_000_000,
}


def now_ns():
    return time.monotonic_ns()


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[i]


def consume(bootstrap, topic, count, start, drain=False):
    consumer = Consumer({"bootstrap.servers": bootstrap, **CONSUMER})
    consumer.assign([TopicPartition(topic, 0, start)])
    # Connected to the partition's leader (a watermark answer) and one fetch round done before the
    # producer starts.
    consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=READY_TIMEOUT_S)
    latencies = []
    last = None
    # drain: the clock runs from the first fetch (the records are all there already).
    first = now_ns() if drain else None
    pending = consumer.consume(num_messages=10_000, timeout=0.3)
    if pending and not drain:
        raise RuntimeError("records arrived before the producer started")
    print(json.dumps({"ready": True}), flush=True)
    idle_since = time.monotonic()
    while len(latencies) < count:
        # consume() waits for all of num_messages or its timeout: block in poll() for the first
        # record only, then take what is already queued without waiting.
        messages = pending
        pending = None
        if not messages:
            first_message = consumer.poll(0.1)
            messages = [] if first_message is None else [first_message]
            if messages:
                messages += consumer.consume(num_messages=10_000, timeout=0)
        received = now_ns()
        if not messages:
            if time.monotonic() - idle_since > IDLE_TIMEOUT_S:
                raise RuntimeError(f"no record for {IDLE_TIMEOUT_S} s after {len(latencies)}")
            continue
        idle_since = time.monotonic()
        for m in messages:
            if m.error() is not None:
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(m.error())
            sent = struct.unpack_from("<q", m.value(), 0)[0]
            latencies.append(received - sent)
        if first is None:
            first = received
        last = received
    consumer.close()
    latencies.sort()
    ms = [x / 1e6 for x in latencies]
    return {
        "records": len(ms),
        "seconds": (last - first) / 1e9 if first is not None else 0,
        "p50Ms": percentile(ms, 50),
        "p90Ms": percentile(ms, 90),
        "p99Ms": percentile(ms, 99),
        "p999Ms": percentile(ms, 99.9),
        "maxMs": ms[-1] if ms else None,
    }


def produce(bootstrap, topic, rate, count, size, paced=True):
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER})
    errors = []

    def on_delivery(err, _msg):
        if err is not None and len(errors) < 5:
            errors.append(str(err))

    padding = bytes(max(0, size - 8))
    # Connected, metadata known and the partition's leader reachable before the clock starts:
    # one record sent and acknowledged (the consumer counts it like the others).
    producer.list_topics(topic, timeout=10)
    producer.produce(topic, struct.pack("<q", now_ns()) + padding, partition=0,
                     on_delivery=on_delivery)
    if producer.flush(FLUSH_TIMEOUT_S):
        raise RuntimeError("the first record was not acknowledged")
    count -= 1
    interval_ns = int(1e9 / rate) if paced else 0
    start = now_ns() + 50_000_000
    late_max = 0
    i = 0
    while i < count:
        now = now_ns()
        due_index = count if not paced else min(count, (now - start) // interval_ns + 1)
        if due_index <= i:
            wait = start + i * interval_ns - now
            producer.poll(0)
            if wait > 200_000:
                time.sleep((wait - 100_000) / 1e9)
            continue
        end = min(due_index, i + SEND_SLICE)
        while i < end:
            due = start + i * interval_ns if paced else now_ns()
            try:
                producer.produce(topic, struct.pack("<q", due) + padding, partition=0,
                                 on_delivery=on_delivery)
            except BufferError:
                producer.poll(0.001)
                continue
            i += 1
        if paced:
            late_max = max(late_max, now_ns() - (start + (end - 1) * interval_ns))
        producer.poll(0)
    left = producer.flush(FLUSH_TIMEOUT_S)
    if left or errors:
        raise RuntimeError(f"{left} records unacknowledged; errors: {errors}")
    seconds = (now_ns() - start) / 1e9
    return {"records": count + 1, "seconds": seconds, "lateMaxMs": late_max / 1e6}


def main():
    mode = sys.argv[1]
    bootstrap, topic = sys.argv[2], sys.argv[3]
    if mode == "consume":
        out = consume(bootstrap, topic, int(sys.argv[4]), int(sys.argv[5]))
    elif mode == "drain":
        out = consume(bootstrap, topic, int(sys.argv[4]), int(sys.argv[5]), drain=True)
    elif mode == "produce":
        out = produce(bootstrap, topic, float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    elif mode == "fill":
        out = produce(bootstrap, topic, 1, int(sys.argv[4]), int(sys.argv[5]), paced=False)
    else:
        raise RuntimeError(f"unknown mode {mode}")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the bench reads the JSON line
        print(json.dumps({"error": str(e)}), flush=True)
        sys.exit(1)
