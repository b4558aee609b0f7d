#!/usr/bin/python3
"""The cluster bench's failover producer (bench/cluster/failover.ts) through librdkafka.

    /usr/bin/python3 bench/cluster/failover_client.py BOOTSTRAP TOPIC RATE SIZE [SETTINGS_JSON]

Produces SIZE-byte records (no key) to TOPIC at RATE records/s, RATE/100 every 10 ms, with one
librdkafka producer (SETTINGS_JSON over the defaults below: acks=all), until a ``stop`` line or
the end of stdin; then waits for every record's delivery report (flush) and prints a summary.

Every record has a delivery callback with the wall-clock time (epoch ms) of its produce() call.
The bench talks to it by lines:

- stdin ``mark K``: the bench killed a broker at K (epoch ms, its clock: the same machine's).
  The first successful delivery report of a record produced at or after K is printed as
  ``recovered K T`` (T: epoch ms when the report was served, within 2 ms of its arrival: the loop
  polls librdkafka at least that often). A record produced after K cannot have been acknowledged
  by the dead leader, so T - K is the time from the kill to the first acks=all success after it.
- stdout ``acked N E`` every 200 ms: records acknowledged (N) and failed (E) so far.
- stdout, last: one JSON object: sent, acked, failed, the first few errors, the settings.

On a setup failure: {"error": "..."} and exit code 1. Needs python3-confluent-kafka.
"""

import json
import random
import select
import sys
import time

try:
    import confluent_kafka
    from confluent_kafka import KafkaException, Producer
except ImportError as import_error:
    print(json.dumps({"error": f"confluent_kafka is not installed: {import_error}"}))
    sys.exit(1)

TICK_S = 0.01
POLL_MAX_S = 0.002
REPORT_EVERY_S = 0.2
FLUSH_TIMEOUT_S = 120.0
CONNECT_TIMEOUT_S = 30.0
ERRORS_KEPT = 5
# Behind schedule by more than this (a stalled client), the schedule restarts rather than bursts.
BEHIND_MAX_S = 1.0

PRODUCER_DEFAULTS = {
    "acks": "all",
    "linger.ms": 5,
    "batch.size": 1_048_576,
    "compression.type": "none",
    "enable.idempotence": False,
}


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv):
    if len(argv) not in (5, 6):
        out(json.dumps({"error": "usage: failover_client.py BOOTSTRAP TOPIC RATE SIZE [SETTINGS]"}))
        sys.exit(1)
    bootstrap, topic, rate, size = argv[1], argv[2], int(argv[3]), int(argv[4])
    settings = json.loads(argv[5]) if len(argv) == 6 else {}
    state = {"acked": 0, "failed": 0}
    errors = []
    marks = []

    def delivered(err, _msg, sent_ms):
        if err is not None:
            state["failed"] += 1
            if len(errors) < ERRORS_KEPT:
                errors.append(str(err))
            return
        state["acked"] += 1
        if marks:
            now_ms = time.time() * 1000
            still = []
            for k in marks:
                if sent_ms >= k:
                    out(f"recovered {k} {now_ms:.3f}")
                else:
                    still.append(k)
            marks[:] = still

    config = {**PRODUCER_DEFAULTS, **settings, "bootstrap.servers": bootstrap}
    p = Producer(config)
    try:
        p.list_topics(topic, timeout=CONNECT_TIMEOUT_S)
    except KafkaException as e:
        out(json.dumps({"error": f"metadata: {e}"}))
        sys.exit(1)
    value = random.Random(42).randbytes(size)
    per_tick = max(1, rate // int(1 / TICK_S))
    sent = 0
    next_tick = time.perf_counter()
    last_report = 0.0
    reading = True
    while reading:
        now = time.perf_counter()
        if now >= next_tick:
            if now - next_tick > BEHIND_MAX_S:
                next_tick = now
            for _ in range(per_tick):
                sent_ms = time.time() * 1000
                try:
                    p.produce(
                        topic,
                        value,
                        on_delivery=lambda err, msg, s=sent_ms: delivered(err, msg, s),
                    )
                    sent += 1
                except BufferError:
                    break  # the local queue is full: this tick sends fewer
            next_tick += TICK_S
        if now - last_report >= REPORT_EVERY_S:
            out(f"acked {state['acked']} {state['failed']}")
            last_report = now
        ready, _, _ = select.select([sys.stdin], [], [], 0)
        if ready:
            line = sys.stdin.readline()
            if line == "" or line.strip() == "stop":
                reading = False
            elif line.startswith("mark "):
                marks.append(float(line.split()[1]))
        p.poll(max(0.0, min(POLL_MAX_S, next_tick - time.perf_counter())))
    left = p.flush(FLUSH_TIMEOUT_S)
    out(json.dumps({
        "sent": sent,
        "acked": state["acked"],
        "failed": state["failed"],
        "unflushed": left,
        "errors": errors,
        "client": f"librdkafka {confluent_kafka.libversion()[0]}",
        "settings": {k: v for k, v in config.items() if isinstance(v, (str, int, float, bool))},
    }))


if __name__ == "__main__":
    main(sys.argv)
