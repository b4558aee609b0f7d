"""An idempotent acks=all librdkafka producer (Debian's python3-confluent-kafka, run by
/usr/bin/python3) for the cluster fault tests and the cluster soak (rdkafka_load.ts drives it):

  rdkafka_load.py BOOTSTRAP TOPIC PARTITION PREFIX RATE

Sends the values <PREFIX>0, <PREFIX>1, ... (key null) to partition PARTITION of TOPIC, RATE a
second (at most MAX_QUEUED unacknowledged), with acks=all and enable.idempotence=true, until
SIGTERM (SLUICE_RDKAFKA_DEBUG in the environment sets librdkafka's `debug`). The brokers behind BOOTSTRAP are killed, paused and restarted meanwhile: nothing may time
out in the client before the test stops it (message.timeout.ms is long), and a request to a paused
broker is given up after request.timeout.ms and retried, with its sequence, on the new leader.
Output, one line each, flushed as it happens:

  D <id> <offset> <produced_ms> <acked_ms>   acknowledged at <offset>; wall-clock ms of the
                                            produce() call and of the delivery report
  F <id> <error>                            delivery failed
  E <error>                                 librdkafka's error callback
  END <produced> <undelivered>              after SIGTERM: the messages produced, and those
                                            still undelivered after FLUSH_S of flushing

On SIGTERM the loop stops, the producer flushes (up to FLUSH_S), the last reports are printed and
the process exits at once (os._exit: a librdkafka destructor could wait on a dead broker).
"""

import os
import signal
import sys
import threading
import time

from confluent_kafka import Producer

MAX_QUEUED = 2000
FLUSH_S = 30

out_lock = threading.Lock()


def emit(lines):
    if not lines:
        return
    with out_lock:
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()


def main():
    bootstrap, topic, partition, prefix, rate = sys.argv[1:6]
    partition, rate = int(partition), int(rate)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    pending = []

    def on_delivery(err, msg):
        mid = msg.value().decode()[len(prefix):]
        if err is None:
            produced = msg.timestamp()[1]
            pending.append(f"D {mid} {msg.offset()} {produced} {int(time.time() * 1000)}")
        else:
            pending.append(f"F {mid} {err}".replace("\n", " "))

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "broker.address.family": "v4",
            "error_cb": lambda err: emit([f"E {err}".replace("\n", " ")]),
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 2,
            # A paused leader's request is given up after this long and retried elsewhere.
            "request.timeout.ms": 5000,
            "socket.timeout.ms": 5000,
            "message.timeout.ms": 600000,
            "reconnect.backoff.ms": 20,
            "reconnect.backoff.max.ms": 200,
            "retry.backoff.ms": 50,
            "topic.metadata.refresh.interval.ms": 1000,
            # librdkafka's debug contexts (e.g. "eos,msg,protocol") on stderr, for a failure.
            **({"debug": os.environ["SLUICE_RDKAFKA_DEBUG"]} if "SLUICE_RDKAFKA_DEBUG" in os.environ else {}),
        }
    )

    def drain(timeout):
        producer.poll(timeout)
        lines = pending[:]
        del pending[:]
        emit(lines)

    next_id = 0
    started = time.monotonic()
    while not stop.is_set():
        if next_id >= rate * (time.monotonic() - started) or len(producer) >= MAX_QUEUED:
            drain(0.002)
            continue
        try:
            producer.produce(
                topic,
                value=f"{prefix}{next_id}".encode(),
                partition=partition,
                on_delivery=on_delivery,
            )
            next_id += 1
        except BufferError:
            drain(0.005)
            continue
        drain(0)
    deadline = time.monotonic() + FLUSH_S
    while len(producer) > 0 and time.monotonic() < deadline:
        drain(0.05)
    drain(0)
    emit([f"END {next_id} {len(producer)}"])
    os._exit(0)


if __name__ == "__main__":
    main()
