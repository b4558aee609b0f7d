// Kafka's own Java client (kafka-clients 4.x) as a small command line, for Sluice's tests
// (test/kafka_protocol/java_harness.ts compiles and runs it). Our own code; one file, no package.
//
//   produce --bootstrap HOST:PORT --topic T --count N [--from I]
//       N records with keys k-I.. and values v-I.. (acks=all, idempotence on); prints one JSON
//       line per acknowledged record {"p":..,"o":..,"k":..,"v":..}, then {"event":"produced","count":N}.
//   consume --bootstrap HOST:PORT --topic T --group G [--protocol classic|consumer]
//           [--max M] [--seconds S] [--session-timeout-ms MS] [--assignor NAME] [--client-id ID]
//           [--max-poll-records N]
//       A group consumer; prints every record as {"p":..,"o":..,"k":..,"v":..} and events
//       ({"event":"assigned"|"revoked"|"lost","partitions":[..]}, {"event":"committed",
//       "offsets":{"P":next,..}}, {"event":"commit_failed","error":".."}), commits synchronously
//       after each poll that returned records and in onPartitionsRevoked, and stops (closing
//       cleanly, {"event":"closed"}) after M records, after S seconds, on SIGTERM, or when stdin
//       closes. --assignor is the server-side assignor (group.remote.assignor) for the consumer
//       protocol and "range" / "roundrobin" / "cooperative-sticky" for the classic one.
//
// Exit code 0 on a clean stop, 1 on an error (printed as {"event":"error",...} and on stderr),
// 2 on bad arguments.

import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class SluiceClient {
  private static final Object OUT = new Object();

  private static void emit(String line) {
    synchronized (OUT) {
      System.out.println(line);
      System.out.flush();
    }
  }

  static String json(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  static String partitions(Collection<TopicPartition> tps) {
    List<Integer> ps = new ArrayList<>();
    for (TopicPartition tp : tps) ps.add(tp.partition());
    ps.sort(null);
    return ps.toString().replace(" ", "");
  }

  static Map<String, String> parse(String[] args, int from) {
    Map<String, String> out = new HashMap<>();
    for (int i = from; i < args.length; i += 2) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("expected --name value at " + args[i]);
      }
      out.put(args[i].substring(2), args[i + 1]);
    }
    return out;
  }

  static String need(Map<String, String> opts, String name) {
    String v = opts.get(name);
    if (v == null) throw new IllegalArgumentException("--" + name + " is required");
    return v;
  }

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      System.err.println("usage: SluiceClient produce|consume --name value ...");
      System.exit(2);
    }
    Map<String, String> opts;
    try {
      opts = parse(args, 1);
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    int code;
    try {
      switch (args[0]) {
        case "produce":
          code = produce(opts);
          break;
        case "consume":
          code = consume(opts);
          break;
        default:
          System.err.println("unknown command " + args[0]);
          code = 2;
      }
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      code = 2;
    } catch (Exception e) {
      emit("{\"event\":\"error\",\"error\":" + json(e.toString()) + "}");
      e.printStackTrace();
      code = 1;
    }
    System.out.flush();
    // halt, not exit: a shutdown hook waiting for us must not deadlock the exit.
    Runtime.getRuntime().halt(code);
  }

  static int produce(Map<String, String> opts) throws Exception {
    String topic = need(opts, "topic");
    int count = Integer.parseInt(need(opts, "count"));
    int from = Integer.parseInt(opts.getOrDefault("from", "0"));
    Properties props = new Properties();
    props.put("bootstrap.servers", need(opts, "bootstrap"));
    props.put("acks", "all");
    props.put("enable.idempotence", "true");
    props.put("linger.ms", "5");
    props.put("key.serializer", StringSerializer.class.getName());
    props.put("value.serializer", StringSerializer.class.getName());
    props.put("client.id", opts.getOrDefault("client-id", "sluice-java-producer"));
    AtomicReference<Exception> failed = new AtomicReference<>();
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
      for (int i = from; i < from + count; i++) {
        String k = "k-" + i;
        String v = "v-" + i;
        producer.send(new ProducerRecord<>(topic, k, v), (RecordMetadata md, Exception e) -> {
          if (e != null) {
            failed.compareAndSet(null, e);
            return;
          }
          emit("{\"p\":" + md.partition() + ",\"o\":" + md.offset() + ",\"k\":" + json(k)
              + ",\"v\":" + json(v) + "}");
        });
      }
      producer.flush();
    }
    if (failed.get() != null) throw failed.get();
    emit("{\"event\":\"produced\",\"count\":" + count + "}");
    return 0;
  }

  static int consume(Map<String, String> opts) throws Exception {
    String topic = need(opts, "topic");
    String protocol = opts.getOrDefault("protocol", "classic");
    long max = Long.parseLong(opts.getOrDefault("max", String.valueOf(Long.MAX_VALUE)));
    double seconds = Double.parseDouble(opts.getOrDefault("seconds", "120"));
    Properties props = new Properties();
    props.put("bootstrap.servers", need(opts, "bootstrap"));
    props.put("group.id", need(opts, "group"));
    props.put("group.protocol", protocol);
    props.put("enable.auto.commit", "false");
    props.put("auto.offset.reset", "earliest");
    props.put("key.deserializer", StringDeserializer.class.getName());
    props.put("value.deserializer", StringDeserializer.class.getName());
    props.put("client.id", opts.getOrDefault("client-id", "sluice-java-consumer"));
    props.put("max.poll.records", opts.getOrDefault("max-poll-records", "50"));
    String assignor = opts.get("assignor");
    if (protocol.equals("classic")) {
      props.put("session.timeout.ms", opts.getOrDefault("session-timeout-ms", "10000"));
      props.put("heartbeat.interval.ms", opts.getOrDefault("heartbeat-interval-ms", "1000"));
      if (assignor != null) {
        String cls;
        switch (assignor) {
          case "range":
            cls = "org.apache.kafka.clients.consumer.RangeAssignor";
            break;
          case "roundrobin":
            cls = "org.apache.kafka.clients.consumer.RoundRobinAssignor";
            break;
          case "cooperative-sticky":
            cls = "org.apache.kafka.clients.consumer.CooperativeStickyAssignor";
            break;
          default:
            throw new IllegalArgumentException("unknown classic assignor " + assignor);
        }
        props.put("partition.assignment.strategy", cls);
      }
    } else if (assignor != null) {
      props.put("group.remote.assignor", assignor);
    }

    AtomicBoolean stop = new AtomicBoolean(false);
    CountDownLatch closed = new CountDownLatch(1);
    KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props);

    // SIGTERM and stdin's end only set the flag (no wakeup(), which could interrupt a commit):
    // the loop polls 200 ms at a time and sees it.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      stop.set(true);
      try {
        closed.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException ignored) {
        // exiting anyway
      }
    }));
    Thread stdinWatcher = new Thread(() -> {
      try {
        InputStream in = System.in;
        byte[] buf = new byte[256];
        while (in.read(buf) >= 0) {
          // keep reading until the parent closes stdin
        }
      } catch (Exception ignored) {
        // treated as closed
      }
      stop.set(true);
    });
    stdinWatcher.setDaemon(true);
    stdinWatcher.start();

    Map<TopicPartition, Long> processed = new HashMap<>();
    consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
      @Override
      public void onPartitionsRevoked(Collection<TopicPartition> parts) {
        if (!parts.isEmpty()) commit(consumer, processed, "revoked");
        processed.keySet().removeAll(parts);
        emit("{\"event\":\"revoked\",\"partitions\":" + partitions(parts) + "}");
      }

      @Override
      public void onPartitionsAssigned(Collection<TopicPartition> parts) {
        emit("{\"event\":\"assigned\",\"partitions\":" + partitions(parts) + "}");
      }

      @Override
      public void onPartitionsLost(Collection<TopicPartition> parts) {
        processed.keySet().removeAll(parts);
        emit("{\"event\":\"lost\",\"partitions\":" + partitions(parts) + "}");
      }
    });

    long deadline = System.nanoTime() + (long) (seconds * 1e9);
    long seen = 0;
    try {
      while (!stop.get() && seen < max && System.nanoTime() < deadline) {
        ConsumerRecords<String, String> records;
        records = consumer.poll(Duration.ofMillis(200));
        for (ConsumerRecord<String, String> r : records) {
          emit("{\"p\":" + r.partition() + ",\"o\":" + r.offset() + ",\"k\":" + json(r.key())
              + ",\"v\":" + json(r.value()) + "}");
          seen++;
          processed.put(new TopicPartition(r.topic(), r.partition()), r.offset() + 1);
        }
        if (!records.isEmpty()) commit(consumer, processed, "poll");
      }
    } finally {
      try {
        consumer.close(Duration.ofSeconds(20));
      } catch (Exception e) {
        emit("{\"event\":\"close_failed\",\"error\":" + json(e.toString()) + "}");
      }
      emit("{\"event\":\"closed\",\"records\":" + seen + "}");
      closed.countDown();
    }
    return 0;
  }

  /**
   * commitSync of the next offset after each processed record, for partitions still assigned;
   * prints what was committed, or why it failed. (Not consumer.position(): inside a revocation
   * callback a partition assigned but not yet polled has no position, and with the consumer
   * protocol looking it up waits on the background thread that waits on the callback.)
   */
  static void commit(
      KafkaConsumer<String, String> consumer, Map<TopicPartition, Long> processed, String when) {
    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
    Set<TopicPartition> assigned = consumer.assignment();
    for (Map.Entry<TopicPartition, Long> e : processed.entrySet()) {
      if (assigned.contains(e.getKey())) {
        offsets.put(e.getKey(), new OffsetAndMetadata(e.getValue()));
      }
    }
    if (offsets.isEmpty()) return;
    try {
      consumer.commitSync(offsets, Duration.ofSeconds(30));
      Map<Integer, Long> byPartition = new TreeMap<>();
      for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
        byPartition.put(e.getKey().partition(), e.getValue().offset());
      }
      StringBuilder b = new StringBuilder("{");
      for (Map.Entry<Integer, Long> e : byPartition.entrySet()) {
        if (b.length() > 1) b.append(',');
        b.append('"').append(e.getKey()).append("\":").append(e.getValue());
      }
      emit("{\"event\":\"committed\",\"when\":" + json(when) + ",\"offsets\":" + b + "}}");
    } catch (Exception e) {
      emit("{\"event\":\"commit_failed\",\"when\":" + json(when) + ",\"error\":"
          + json(e.toString()) + "}");
    }
  }
}
