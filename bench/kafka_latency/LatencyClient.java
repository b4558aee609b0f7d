/*
 * One side of the Kafka end-to-end latency bench (bench/kafka_latency_bench.ts) through Kafka's own
 * Java client (kafka-clients 4.x), compiled by the bench with javac against the installed jars.
 *
 *     java -cp CLASSES:JARS LatencyClient MODE BOOTSTRAP TOPIC ARGS...
 *
 * MODE is one of (the same arguments and answers as bench/kafka_latency.py):
 *
 * - consume BOOTSTRAP TOPIC COUNT START [WARMUP]: one consumer, assigned partition 0 of TOPIC at
 *   offset START (no group), reads COUNT records and, for each, takes the receipt time
 *   (System.nanoTime(): CLOCK_MONOTONIC on Linux, the same clock in every process of the machine)
 *   minus the send time the producer wrote into the record's first 8 bytes (little endian). The
 *   first WARMUP records (by the index in bytes 8-15) are received but not counted: they warm the
 *   JVMs' compilers up. Prints {"ready": true} once its first fetch was answered, then one JSON
 *   object: percentiles (ms), the records counted, the seconds from the first to the last record.
 * - produce BOOTSTRAP TOPIC RATE COUNT SIZE [WARMUP]: one producer sends COUNT records of SIZE
 *   bytes at RATE records/s, paced in slices of SLICE_NS (1 ms): at most once a slice it wakes and hands over
 *   every record due by then (record i is due at start + i / RATE). Each record carries the time
 *   it was handed to send() (Kafka's EndToEndLatency measures from there too) and its index i; how
 *   late the producer ran behind the due times at most is printed (lateMaxMs), apart, and the
 *   send()-to-acknowledgement percentiles of the records after WARMUP (ackP50Ms, ackP99Ms: the
 *   producer's half of the path, its own queueing included).
 * - drain BOOTSTRAP TOPIC COUNT START: as consume, on records written before it started (the
 *   consumer's max-rate run).
 * - fill BOOTSTRAP TOPIC COUNT SIZE: COUNT records as fast as possible, then flush.
 *
 * Producer: acks=all, linger.ms=0 (what accumulates while requests are in flight is batched
 * anyway), batch.size 262144 (-Dlatency.batch.size; with the default 16384 and 5 requests in
 * flight the producer tops out below half the consumer's rate on 2 cores, against Kafka as against
 * Sluice), compression none, idempotence off, max.in.flight 5.
 * Consumer: fetch.max.wait.ms 100, fetch.min.bytes 1, max.poll.records 10000, no group.
 * On failure: {"error": "..."} and exit code 1.
 */
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class LatencyClient {
  /** A consumer that receives nothing for this long gives up. */
  static final long IDLE_TIMEOUT_NS = 30_000_000_000L;
  static final long FLUSH_TIMEOUT_MS = 120_000;
  /** The producer's pacing slice: every slice sends what is due by then. */
  static final long SLICE_NS = 1_000_000L;

  static Properties producerProps(String bootstrap) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("acks", "all");
    p.put("linger.ms", "0");
    p.put("batch.size", System.getProperty("latency.batch.size", "262144"));
    p.put("compression.type", "none");
    p.put("enable.idempotence", "false");
    p.put("max.in.flight.requests.per.connection", "5");
    p.put("buffer.memory", Long.toString(64L * 1024 * 1024));
    p.put("key.serializer", ByteArraySerializer.class.getName());
    p.put("value.serializer", ByteArraySerializer.class.getName());
    return p;
  }

  static Properties consumerProps(String bootstrap) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("enable.auto.commit", "false");
    p.put("fetch.max.wait.ms", "100");
    p.put("fetch.min.bytes", "1");
    p.put("max.poll.records", "10000");
    p.put("auto.offset.reset", "earliest");
    p.put("key.deserializer", ByteArrayDeserializer.class.getName());
    p.put("value.deserializer", ByteArrayDeserializer.class.getName());
    return p;
  }

  /** SLUICE_LATENCY_TRACE=1: each second's count, p50, p99 and max on stderr (diagnosis). */
  static final boolean TRACE = "1".equals(System.getenv("SLUICE_LATENCY_TRACE"));
  static long traceSecond = -1;
  static final long[] traceValues = new long[4_000_000];
  static int traceN = 0;

  static void trace(long now, long latency) {
    long second = now / 1_000_000_000L;
    if (second != traceSecond && traceN > 0) {
      Arrays.sort(traceValues, 0, traceN);
      System.err.printf("second %d: %d records p50 %.2f p99 %.2f max %.2f ms%n", traceSecond,
          traceN, percentile(traceValues, traceN, 50), percentile(traceValues, traceN, 99),
          traceValues[traceN - 1] / 1e6);
      traceN = 0;
    }
    traceSecond = second;
    if (traceN < traceValues.length) traceValues[traceN++] = latency;
  }

  static double percentile(long[] sorted, int n, double p) {
    if (n == 0) return -1;
    int i = (int) Math.min(n - 1, Math.max(0, Math.round(p / 100.0 * n + 0.5) - 1));
    return sorted[i] / 1e6;
  }

  static String consume(String bootstrap, String topic, int count, long start, int warmup,
      boolean drain) {
    TopicPartition tp = new TopicPartition(topic, 0);
    long[] latencies = new long[count];
    int n = 0;
    int received = 0;
    long first = -1;
    long last = -1;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps(bootstrap))) {
      consumer.assign(List.of(tp));
      consumer.seek(tp, start);
      // Connected to the partition's leader and a fetch answered before the producer starts.
      consumer.endOffsets(List.of(tp), Duration.ofSeconds(30));
      ConsumerRecords<byte[], byte[]> pending = consumer.poll(Duration.ofMillis(300));
      if (!pending.isEmpty() && !drain) throw new IllegalStateException("records before the producer");
      if (drain) first = System.nanoTime();
      System.out.println("{\"ready\": true}");
      System.out.flush();
      long idleSince = System.nanoTime();
      while (received < count) {
        ConsumerRecords<byte[], byte[]> records = pending;
        pending = null;
        if (records == null || records.isEmpty()) records = consumer.poll(Duration.ofMillis(100));
        long now = System.nanoTime();
        if (records.isEmpty()) {
          if (now - idleSince > IDLE_TIMEOUT_NS) {
            throw new IllegalStateException("no record for 30 s after " + received);
          }
          continue;
        }
        idleSince = now;
        for (ConsumerRecord<byte[], byte[]> r : records) {
          ByteBuffer b = ByteBuffer.wrap(r.value()).order(ByteOrder.LITTLE_ENDIAN);
          long due = b.getLong(0);
          long index = r.value().length >= 16 ? b.getLong(8) : Long.MAX_VALUE;
          received++;
          if (index >= warmup && n < count) {
            latencies[n++] = now - due;
            if (TRACE) trace(now, now - due);
          }
        }
        if (first < 0) first = now;
        last = now;
      }
    }
    Arrays.sort(latencies, 0, n);
    return String.format(
        "{\"records\": %d, \"seconds\": %.6f, \"p50Ms\": %.4f, \"p90Ms\": %.4f, \"p99Ms\": %.4f, "
            + "\"p999Ms\": %.4f, \"maxMs\": %.4f}",
        n, (last - first) / 1e9, percentile(latencies, n, 50), percentile(latencies, n, 90),
        percentile(latencies, n, 99), percentile(latencies, n, 99.9),
        n == 0 ? -1 : latencies[n - 1] / 1e6);
  }

  static String produce(String bootstrap, String topic, double rate, int count, int size,
      int warmup, boolean paced) throws Exception {
    AtomicReference<Exception> error = new AtomicReference<>();
    // Send-to-acknowledgement times (the callbacks run on the producer's one I/O thread).
    long[] acks = new long[count];
    long[] acked = new long[1];
    long lateMax = 0;
    long start;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProps(bootstrap))) {
      // Connected, metadata known, the leader reachable before the clock starts: one record sent
      // and acknowledged (index -1: never counted).
      producer.partitionsFor(topic);
      producer.send(new ProducerRecord<>(topic, 0, null, value(size, System.nanoTime(), -1))).get();
      count -= 1;
      double intervalNs = paced ? 1e9 / rate : 1;
      start = System.nanoTime() + 50_000_000L;
      int i = 0;
      long sliceAt = start;
      while (i < count) {
        long now = System.nanoTime();
        if (paced) {
          // Asleep until the next slice, and until the next record is due.
          long next = Math.max(sliceAt, start + (long) Math.ceil(i * intervalNs));
          if (next - now > 50_000) {
            LockSupport.parkNanos(next - now - 20_000);
            continue;
          }
          sliceAt = now + SLICE_NS;
        }
        int due = paced ? (int) Math.min(count, Math.floor((now - start) / intervalNs) + 1) : count;
        for (; i < due; i++) {
          final long sentAt = System.nanoTime();
          final int index = i;
          producer.send(new ProducerRecord<>(topic, 0, null, value(size, sentAt, i)), (m, e) -> {
            if (e != null) error.compareAndSet(null, e);
            else if (index >= warmup && acked[0] < acks.length) {
              acks[(int) acked[0]++] = System.nanoTime() - sentAt;
            }
          });
        }
        if (paced) {
          lateMax = Math.max(lateMax, System.nanoTime() - (start + (long) ((due - 1) * intervalNs)));
        }
      }
      producer.flush();
    }
    if (error.get() != null) throw error.get();
    double seconds = (System.nanoTime() - start) / 1e9;
    int n = (int) acked[0];
    Arrays.sort(acks, 0, n);
    return String.format(
        "{\"records\": %d, \"seconds\": %.6f, \"lateMaxMs\": %.4f, \"ackP50Ms\": %.4f, "
            + "\"ackP99Ms\": %.4f}",
        count + 1, seconds, lateMax / 1e6, percentile(acks, n, 50), percentile(acks, n, 99));
  }

  static byte[] value(int size, long due, long index) {
    byte[] v = new byte[Math.max(16, size)];
    ByteBuffer b = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(0, due);
    b.putLong(8, index);
    return v;
  }

  public static void main(String[] args) {
    try {
      String mode = args[0];
      String bootstrap = args[1];
      String topic = args[2];
      String out;
      switch (mode) {
        case "consume":
          out = consume(bootstrap, topic, Integer.parseInt(args[3]), Long.parseLong(args[4]),
              args.length > 5 ? Integer.parseInt(args[5]) : 0, false);
          break;
        case "drain":
          out = consume(bootstrap, topic, Integer.parseInt(args[3]), Long.parseLong(args[4]), 0, true);
          break;
        case "produce":
          out = produce(bootstrap, topic, Double.parseDouble(args[3]), Integer.parseInt(args[4]),
              Integer.parseInt(args[5]), args.length > 6 ? Integer.parseInt(args[6]) : 0, true);
          break;
        case "fill":
          out = produce(bootstrap, topic, 1, Integer.parseInt(args[3]), Integer.parseInt(args[4]),
              0, false);
          break;
        default:
          throw new IllegalArgumentException("unknown mode " + mode);
      }
      System.out.println(out);
      System.out.flush();
      System.exit(0);
    } catch (Throwable e) {
      String msg = String.valueOf(e).replace("\\", "\\\\").replace("\"", "'").replace("\n", " ");
      System.out.println("{\"error\": \"" + msg + "\"}");
      System.out.flush();
      System.exit(1);
    }
  }
}
