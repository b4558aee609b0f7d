/*
 * One side of the Kafka end-to-end latency bench (bench/kafka_latency_bench.ts) in C over
 * librdkafka: the client that costs the machine least, so that on 2 shared cores the figures are
 * the broker's more than the client's. Compiled by the bench (bench/kafka_latency/clients.ts) with
 * gcc against the librdkafka 2.x that scripts/install-node-rdkafka.sh builds (its header and
 * shared library).
 *
 *     latency_client MODE BOOTSTRAP TOPIC ARGS...
 *     latency_client version        -> {"librdkafka": "2.12.0"}
 *
 * The modes, arguments and JSON answers are those of LatencyClient.java (its header has them):
 * consume COUNT START [WARMUP], drain COUNT START, produce RATE COUNT SIZE [WARMUP],
 * fill COUNT SIZE. Times are CLOCK_MONOTONIC nanoseconds, written little endian into the first 8
 * bytes of each record (the record's index in bytes 8-15); the consumer's receipt time minus it
 * is the record's latency.
 *
 * Producer: acks=all, linger.ms=0, batch.size 262144, no compression, idempotence off, 5 requests
 * in flight, Nagle off (librdkafka's default leaves it on; Kafka's Java client turns it off).
 * Paced as the Java client: it sleeps until the next 1 ms slice (and the next record's due time)
 * and then hands over every record due by then. Delivery reports are served after every slice
 * (rd_kafka_poll); an acknowledgement time is the report's time minus the record's send time.
 * Consumer: librdkafka's partition consumer (no group) on partition 0 from START,
 * fetch.wait.max.ms 100, fetch.min.bytes 1, Nagle off; records are taken one a call
 * (rd_kafka_consume), each stamped with its own receipt time. SLUICE_LATENCY_DEBUG=fetch,protocol
 * (librdkafka's debug contexts) logs the consumer's requests on stderr, for diagnosis.
 * On failure: {"error": "..."} and exit code 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A consumer that receives nothing for this long gives up. */
#define IDLE_TIMEOUT_NS 30000000000LL
/* The producer's pacing slice: every slice sends what is due by then. */
#define SLICE_NS 1000000LL
#define FLUSH_TIMEOUT_MS 120000

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void fail(const char *what, const char *detail) {
  printf("{\"error\": \"%s: ", what);
  for (const char *c = detail; *c != '\0'; c++) putchar(*c == '"' || *c == '\\' ? '\'' : *c);
  printf("\"}\n");
  fflush(stdout);
  exit(1);
}

static void set(rd_kafka_conf_t *conf, const char *name, const char *value) {
  char err[512];
  if (rd_kafka_conf_set(conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK) fail(name, err);
}

static int compare(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* As LatencyClient.java: the value at rank round(p/100 * n + 0.5) - 1 of the sorted values. */
static double percentile(const int64_t *sorted, int64_t n, double p) {
  if (n == 0) return -1;
  int64_t i = (int64_t)floor(p / 100.0 * n + 0.5 + 0.5) - 1;
  if (i < 0) i = 0;
  if (i > n - 1) i = n - 1;
  return sorted[i] / 1e6;
}

static int64_t read_le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return (int64_t)v;
}

static void write_le64(unsigned char *p, int64_t value) {
  uint64_t v = (uint64_t)value;
  for (int i = 0; i < 8; i++, v >>= 8) p[i] = (unsigned char)v;
}

static rd_kafka_t *client(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
  char err[512];
  rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == NULL) fail("rd_kafka_new", err);
  return rk;
}

static void consume(const char *bootstrap, const char *topic, int64_t count, int64_t start,
                    int64_t warmup, int drain) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "fetch.wait.max.ms", "100");
  set(conf, "fetch.min.bytes", "1");
  set(conf, "socket.nagle.disable", "true");
  set(conf, "enable.partition.eof", "false");
  set(conf, "allow.auto.create.topics", "true");
  set(conf, "queued.min.messages", "1000000");
  if (getenv("SLUICE_LATENCY_DEBUG")) set(conf, "debug", getenv("SLUICE_LATENCY_DEBUG"));
  rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, conf);
  /* The partition's leader known and reached (its watermarks) before the producer starts. A topic
   * just created may not be in the cluster's metadata yet: asked again for 30 s. Kafka makes a
   * paced run's topic at this metadata request (auto-create), as for the Java client. */
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  int64_t low, high;
  rd_kafka_resp_err_t e;
  for (int64_t until = now_ns() + IDLE_TIMEOUT_NS;;) {
    const struct rd_kafka_metadata *md = NULL;
    e = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (md->topic_cnt < 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
          md->topics[0].partition_cnt < 1) {
        e = md->topic_cnt < 1 ? RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC : md->topics[0].err;
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) e = RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
      }
      rd_kafka_metadata_destroy(md);
    }
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
      e = rd_kafka_query_watermark_offsets(rk, topic, 0, &low, &high, 5000);
    }
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR || now_ns() > until) break;
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 100000000L};
    nanosleep(&pause, NULL);
  }
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) fail("metadata", rd_kafka_err2str(e));
  if (rd_kafka_consume_start(rkt, 0, start) != 0) {
    fail("consume_start", rd_kafka_err2str(rd_kafka_last_error()));
  }
  int64_t *latencies = malloc(sizeof(int64_t) * (size_t)(count > 0 ? count : 1));
  if (latencies == NULL) fail("malloc", strerror(errno));
  int64_t n = 0, received = 0, first = -1, last = -1;
  /* The first fetch is answered (nothing before the producer) before "ready". */
  rd_kafka_message_t *m = rd_kafka_consume(rkt, 0, 300);
  if (m != NULL && !drain) fail("consume", "records before the producer");
  if (drain) first = now_ns();
  printf("{\"ready\": true}\n");
  fflush(stdout);
  int64_t idle_since = now_ns();
  while (received < count) {
    /* One record a call: rd_kafka_consume_batch would wait to fill its batch or its timeout. */
    if (m == NULL) m = rd_kafka_consume(rkt, 0, 100);
    int64_t now = now_ns();
    if (m == NULL) {
      if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__TIMED_OUT) {
        fail("consume", rd_kafka_err2str(rd_kafka_last_error()));
      }
      if (now - idle_since > IDLE_TIMEOUT_NS) fail("consume", "no record for 30 s");
      continue;
    }
    idle_since = now;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) fail("message", rd_kafka_message_errstr(m));
    } else if (m->len >= 8) {
      const unsigned char *v = m->payload;
      int64_t due = read_le64(v);
      int64_t index = m->len >= 16 ? read_le64(v + 8) : INT64_MAX;
      received++;
      if (index >= warmup && n < count) latencies[n++] = now - due;
      if (first < 0) first = now;
      last = now;
    }
    rd_kafka_message_destroy(m);
    m = NULL;
  }
  /* SLUICE_LATENCY_DUMP=FILE: each counted record's latency (ns), one a line, in receipt order. */
  const char *dump = getenv("SLUICE_LATENCY_DUMP");
  if (dump != NULL) {
    FILE *f = fopen(dump, "w");
    if (f == NULL) fail(dump, strerror(errno));
    for (int64_t i = 0; i < n; i++) fprintf(f, "%" PRId64 "\n", latencies[i]);
    fclose(f);
  }
  rd_kafka_consume_stop(rkt, 0);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  qsort(latencies, (size_t)n, sizeof(int64_t), compare);
  printf("{\"records\": %" PRId64 ", \"seconds\": %.6f, \"p50Ms\": %.4f, \"p90Ms\": %.4f, "
         "\"p99Ms\": %.4f, \"p999Ms\": %.4f, \"maxMs\": %.4f}\n",
         n, (last - first) / 1e9, percentile(latencies, n, 50), percentile(latencies, n, 90),
         percentile(latencies, n, 99), percentile(latencies, n, 99.9),
         n == 0 ? -1.0 : latencies[n - 1] / 1e6);
}

/* Delivery reports: run inside rd_kafka_poll on the producer's own thread. */
struct acks {
  int64_t *times;
  int64_t n;
  int64_t cap;
  int64_t warmup;
  int64_t delivered;
  char error[512];
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  struct acks *a = opaque;
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (a->error[0] == '\0') snprintf(a->error, sizeof a->error, "%s", rd_kafka_err2str(m->err));
    return;
  }
  a->delivered++;
  if (m->len < 16) return;
  const unsigned char *v = m->payload;
  int64_t index = read_le64(v + 8);
  if (index >= a->warmup && a->n < a->cap) a->times[a->n++] = now_ns() - read_le64(v);
}

static void produce(const char *bootstrap, const char *topic, double rate, int64_t count,
                    int64_t size, int64_t warmup, int paced) {
  struct acks a = {0};
  a.cap = count;
  a.warmup = warmup;
  a.times = malloc(sizeof(int64_t) * (size_t)(count > 0 ? count : 1));
  if (size < 16) size = 16;
  unsigned char *value = calloc(1, (size_t)size);
  if (a.times == NULL || value == NULL) fail("malloc", strerror(errno));
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "acks", "all");
  set(conf, "linger.ms", "0");
  set(conf, "batch.size", "262144");
  set(conf, "compression.type", "none");
  set(conf, "enable.idempotence", "false");
  set(conf, "max.in.flight.requests.per.connection", "5");
  set(conf, "queue.buffering.max.kbytes", "65536");
  set(conf, "queue.buffering.max.messages", "1000000");
  set(conf, "socket.nagle.disable", "true");
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_opaque(conf, &a);
  rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, conf);
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  /* Connected, metadata known, the leader reachable before the clock starts: one record sent
   * and acknowledged (index -1: never counted). */
  write_le64(value, now_ns());
  write_le64(value + 8, -1);
  if (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, value, (size_t)size, NULL, 0, NULL) != 0) {
    fail("produce", rd_kafka_err2str(rd_kafka_last_error()));
  }
  if (rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR || a.delivered != 1) {
    fail("first record", a.error[0] != '\0' ? a.error : "not acknowledged in 30 s");
  }
  count -= 1;
  double interval = paced ? 1e9 / rate : 1;
  int64_t start = now_ns() + 50000000LL;
  int64_t i = 0, slice_at = start, late_max = 0;
  while (i < count) {
    int64_t now = now_ns();
    if (paced) {
      /* Asleep until the next slice, and until the next record is due. */
      int64_t due_next = start + (int64_t)ceil(i * interval);
      int64_t next = slice_at > due_next ? slice_at : due_next;
      if (next - now > 50000) {
        struct timespec t = {.tv_sec = next / 1000000000LL, .tv_nsec = next % 1000000000LL};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
        continue;
      }
      slice_at = now + SLICE_NS;
    }
    int64_t due = paced ? (int64_t)floor((now - start) / interval) + 1 : count;
    if (due > count) due = count;
    for (; i < due; i++) {
      write_le64(value, now_ns());
      write_le64(value + 8, i);
      while (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, value, (size_t)size, NULL, 0, NULL) !=
             0) {
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          fail("produce", rd_kafka_err2str(rd_kafka_last_error()));
        }
        rd_kafka_poll(rk, 1);
      }
    }
    rd_kafka_poll(rk, 0);
    if (paced) {
      int64_t late = now_ns() - (start + (int64_t)((due - 1) * interval));
      if (late > late_max) late_max = late;
    }
  }
  if (rd_kafka_flush(rk, FLUSH_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fail("flush", "records not acknowledged in time");
  }
  if (a.error[0] != '\0') fail("delivery", a.error);
  double seconds = (now_ns() - start) / 1e9;
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  qsort(a.times, (size_t)a.n, sizeof(int64_t), compare);
  printf("{\"records\": %" PRId64 ", \"seconds\": %.6f, \"lateMaxMs\": %.4f, \"ackP50Ms\": %.4f, "
         "\"ackP99Ms\": %.4f}\n",
         count + 1, seconds, late_max / 1e6, percentile(a.times, a.n, 50),
         percentile(a.times, a.n, 99));
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "version") == 0) {
    printf("{\"librdkafka\": \"%s\"}\n", rd_kafka_version_str());
    return 0;
  }
  if (argc < 5) fail("usage", "latency_client MODE BOOTSTRAP TOPIC ARGS...");
  const char *mode = argv[1], *bootstrap = argv[2], *topic = argv[3];
  if (strcmp(mode, "consume") == 0 && argc > 5) {
    consume(bootstrap, topic, atoll(argv[4]), atoll(argv[5]), argc > 6 ? atoll(argv[6]) : 0, 0);
  } else if (strcmp(mode, "drain") == 0 && argc > 5) {
    consume(bootstrap, topic, atoll(argv[4]), atoll(argv[5]), 0, 1);
  } else if (strcmp(mode, "produce") == 0 && argc > 6) {
    produce(bootstrap, topic, atof(argv[4]), atoll(argv[5]), atoll(argv[6]),
            argc > 7 ? atoll(argv[7]) : 0, 1);
  } else if (strcmp(mode, "fill") == 0 && argc > 5) {
    produce(bootstrap, topic, 1, atoll(argv[4]), atoll(argv[5]), 0, 0);
  } else {
    fail("unknown mode", mode);
  }
  fflush(stdout);
  return 0;
}
