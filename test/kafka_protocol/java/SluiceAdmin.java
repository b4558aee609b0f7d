// Kafka's Java AdminClient, idempotent producer and a position-validating consumer (kafka-clients
// 4.x) as a scripted command line, for Sluice's tests (java_admin_test.ts runs it through
// java_harness.ts, which compiles it with SluiceClient.java). Our own code; one file, no package.
//
//   setup --bootstrap HOST:PORT --topic T --group G --records N
//       createTopics (T with 3 partitions and retention.ms; one refused config; T again),
//       listTopics, describeTopics, describeCluster, describeConfigs, N records produced by an
//       idempotent producer (acks=all, max.in.flight 5, small batches, timestamps BASE+i), then
//       listOffsets (earliest, latest, max timestamp), a group consumer reading and committing
//       everything, a consumer validating positions seeked with leader epoch 0 (OffsetForLeader-
//       Epoch) with auto.offset.reset=none, the group APIs (list, describe, list offsets, alter
//       offsets, delete offsets) and the calls Sluice does not serve yet.
//   truncation --bootstrap HOST:PORT --topic T
//       A consumer seeking partition 0 past its end with leader epoch 0: the broker's epoch end
//       offset tells it the log was truncated (LogTruncationException, auto.offset.reset=none).
//   teardown --bootstrap HOST:PORT --topic T --group G
//       deleteRecords (partition 0 before offset 100) and listOffsets earliest,
//       deleteConsumerGroups, listConsumerGroups, deleteTopics, listTopics.
//
// Output: JSON lines. Each step prints {"event":"step","step":NAME,"ok":true,"result":{..}} or
// {"event":"step","step":NAME,"ok":false,"error":"ExceptionSimpleName","message":".."} (the
// ExecutionException's cause); produced records print {"p":..,"o":..,"k":..,"v":..}. Exit code 0
// when the script ran (steps may have failed: the test judges them), 1 on an unexpected error.

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.LogTruncationException;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class SluiceAdmin {
  /** CreateTime of record i is BASE_TS + i. */
  static final long BASE_TS = 1_700_000_000_000L;
  static final int PARTITIONS = 3;

  static void emit(String line) {
    synchronized (System.out) {
      System.out.println(line);
      System.out.flush();
    }
  }

  /** A tiny JSON writer: maps, lists, strings, numbers, booleans, null. */
  static String json(Object o) {
    if (o == null) return "null";
    if (o instanceof String) return SluiceClient.json((String) o);
    if (o instanceof Number || o instanceof Boolean) return o.toString();
    if (o instanceof Map) {
      StringBuilder b = new StringBuilder("{");
      for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet()) {
        if (b.length() > 1) b.append(',');
        b.append(SluiceClient.json(String.valueOf(e.getKey()))).append(':').append(json(e.getValue()));
      }
      return b.append('}').toString();
    }
    if (o instanceof Collection) {
      StringBuilder b = new StringBuilder("[");
      for (Object v : (Collection<?>) o) {
        if (b.length() > 1) b.append(',');
        b.append(json(v));
      }
      return b.append(']').toString();
    }
    return SluiceClient.json(o.toString());
  }

  /** Runs one step and prints its outcome; never throws. */
  static void step(String name, Callable<Object> body) {
    try {
      Object result = body.call();
      emit("{\"event\":\"step\",\"step\":" + json(name) + ",\"ok\":true,\"result\":" + json(result)
          + "}");
    } catch (Exception e) {
      Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
      emit("{\"event\":\"step\",\"step\":" + json(name) + ",\"ok\":false,\"error\":"
          + json(cause.getClass().getSimpleName()) + ",\"message\":" + json(String.valueOf(
              cause.getMessage())) + "}");
    }
  }

  public static void main(String[] args) throws Exception {
    // The consumer's resets and truncation warnings on stderr, for the test to look for.
    System.setProperty(
        "org.slf4j.simpleLogger.log.org.apache.kafka.clients.consumer.internals.SubscriptionState",
        "info");
    if (args.length == 0) {
      System.err.println("usage: SluiceAdmin setup|truncation|teardown --name value ...");
      Runtime.getRuntime().halt(2);
    }
    int code = 0;
    try {
      Map<String, String> opts = SluiceClient.parse(args, 1);
      String bootstrap = SluiceClient.need(opts, "bootstrap");
      String topic = SluiceClient.need(opts, "topic");
      switch (args[0]) {
        case "setup":
          setup(bootstrap, topic, SluiceClient.need(opts, "group"),
              Integer.parseInt(SluiceClient.need(opts, "records")));
          break;
        case "truncation":
          truncation(bootstrap, topic);
          break;
        case "teardown":
          teardown(bootstrap, topic, SluiceClient.need(opts, "group"));
          break;
        default:
          System.err.println("unknown command " + args[0]);
          code = 2;
      }
    } catch (Exception e) {
      emit("{\"event\":\"error\",\"error\":" + json(e.toString()) + "}");
      e.printStackTrace();
      code = 1;
    }
    System.out.flush();
    Runtime.getRuntime().halt(code);
  }

  static Admin admin(String bootstrap) {
    Properties props = new Properties();
    props.put("bootstrap.servers", bootstrap);
    props.put("client.id", "sluice-java-admin");
    props.put("default.api.timeout.ms", "30000");
    props.put("request.timeout.ms", "20000");
    return Admin.create(props);
  }

  static Properties consumerProps(String bootstrap, String group, String reset) {
    Properties props = new Properties();
    props.put("bootstrap.servers", bootstrap);
    if (group != null) props.put("group.id", group);
    props.put("enable.auto.commit", "false");
    props.put("auto.offset.reset", reset);
    props.put("key.deserializer", StringDeserializer.class.getName());
    props.put("value.deserializer", StringDeserializer.class.getName());
    props.put("client.id", "sluice-java-admin-consumer");
    return props;
  }

  static List<TopicPartition> partitionsOf(String topic) {
    List<TopicPartition> out = new ArrayList<>();
    for (int p = 0; p < PARTITIONS; p++) out.add(new TopicPartition(topic, p));
    return out;
  }

  static Map<String, Object> offsetsByPartition(Map<TopicPartition, OffsetAndMetadata> offsets) {
    Map<String, Object> out = new TreeMap<>();
    for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
      out.put(String.valueOf(e.getKey().partition()),
          e.getValue() == null ? null : e.getValue().offset());
    }
    return out;
  }

  static void setup(String bootstrap, String topic, String group, int records) throws Exception {
    try (Admin admin = admin(bootstrap)) {
      step("createTopics", () -> {
        NewTopic t = new NewTopic(topic, PARTITIONS, (short) 1)
            .configs(Map.of("retention.ms", "3600000", "min.insync.replicas", "1"));
        CreateTopicsResult r = admin.createTopics(List.of(t));
        r.all().get(30, TimeUnit.SECONDS);
        return Map.of("topicId", r.topicId(topic).get().toString(),
            "partitions", r.numPartitions(topic).get());
      });
      step("createTopics refused config", () -> {
        NewTopic t = new NewTopic(topic + "-refused", 1, (short) 1)
            .configs(Map.of("min.insync.replicas", "2"));
        admin.createTopics(List.of(t)).all().get(30, TimeUnit.SECONDS);
        return "created";
      });
      step("createTopics existing", () -> {
        admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all()
            .get(30, TimeUnit.SECONDS);
        return "created";
      });
      step("listTopics", () -> new ArrayList<>(admin.listTopics().names().get()));
      step("describeTopics", () -> {
        TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
        List<Object> parts = new ArrayList<>();
        for (TopicPartitionInfo p : d.partitions()) {
          List<Integer> replicas = new ArrayList<>();
          for (Node n : p.replicas()) replicas.add(n.id());
          List<Integer> isr = new ArrayList<>();
          for (Node n : p.isr()) isr.add(n.id());
          parts.add(Map.of("partition", p.partition(), "leader", p.leader().id(),
              "replicas", replicas, "isr", isr));
        }
        return Map.of("topicId", d.topicId().toString(), "internal", d.isInternal(),
            "partitions", parts);
      });
      step("describeCluster", () -> {
        DescribeClusterResult r = admin.describeCluster();
        List<Integer> nodes = new ArrayList<>();
        for (Node n : r.nodes().get()) nodes.add(n.id());
        return Map.of("clusterId", r.clusterId().get(), "nodes", nodes,
            "controller", r.controller().get().id());
      });
      step("describeConfigs", () -> {
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        Config config = admin.describeConfigs(List.of(res)).all().get().get(res);
        ConfigEntry retention = config.get("retention.ms");
        return Map.of("retention.ms", retention.value(), "source", retention.source().toString(),
            "entries", config.entries().size());
      });

      produce(bootstrap, topic, records);

      step("listOffsets", () -> {
        Map<String, Object> out = new TreeMap<>();
        for (Map.Entry<String, OffsetSpec> spec : Map.of("earliest", OffsetSpec.earliest(),
            "latest", OffsetSpec.latest(), "maxTimestamp", OffsetSpec.maxTimestamp()).entrySet()) {
          Map<TopicPartition, OffsetSpec> ask = new HashMap<>();
          for (TopicPartition tp : partitionsOf(topic)) ask.put(tp, spec.getValue());
          Map<String, Object> byPartition = new TreeMap<>();
          for (Map.Entry<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> e
              : admin.listOffsets(ask).all().get().entrySet()) {
            ListOffsetsResult.ListOffsetsResultInfo info = e.getValue();
            byPartition.put(String.valueOf(e.getKey().partition()), Map.of("offset", info.offset(),
                "timestamp", info.timestamp(), "leaderEpoch", info.leaderEpoch().orElse(-1)));
          }
          out.put(spec.getKey(), byPartition);
        }
        return out;
      });

      step("group consume", () -> groupConsume(bootstrap, topic, group, records));
      step("validated positions", () -> validatedPositions(bootstrap, topic));

      step("listConsumerGroups", () -> {
        Map<String, Object> out = new TreeMap<>();
        for (ConsumerGroupListing g : admin.listConsumerGroups().all().get()) {
          out.put(g.groupId(), g.groupState().map(Object::toString).orElse("?"));
        }
        return out;
      });
      step("describeConsumerGroups", () -> {
        ConsumerGroupDescription d =
            admin.describeConsumerGroups(List.of(group)).all().get().get(group);
        return Map.of("state", d.groupState().toString(), "members", d.members().size(),
            "coordinator", d.coordinator().id());
      });
      step("listConsumerGroupOffsets",
          () -> offsetsByPartition(admin.listConsumerGroupOffsets(group)
              .partitionsToOffsetAndMetadata().get()));
      step("alterConsumerGroupOffsets", () -> {
        admin.alterConsumerGroupOffsets(group,
            Map.of(new TopicPartition(topic, 0), new OffsetAndMetadata(1))).all().get();
        return offsetsByPartition(admin.listConsumerGroupOffsets(group)
            .partitionsToOffsetAndMetadata().get());
      });
      step("deleteConsumerGroupOffsets", () -> {
        admin.deleteConsumerGroupOffsets(group, Set.of(new TopicPartition(topic, 0))).all().get();
        return offsetsByPartition(admin.listConsumerGroupOffsets(group)
            .partitionsToOffsetAndMetadata().get());
      });

      // A topic changed after its creation: its configs, then its partition count.
      step("incrementalAlterConfigs", () -> {
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        // SET a value, APPEND to a list config (its default "delete" holds it already).
        admin.incrementalAlterConfigs(Map.of(res, List.of(
            new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET),
            new AlterConfigOp(new ConfigEntry("cleanup.policy", "delete"),
                AlterConfigOp.OpType.APPEND)))).all().get();
        Config config = admin.describeConfigs(List.of(res)).all().get().get(res);
        Map<String, Object> out = new TreeMap<>();
        for (String key : List.of("retention.ms", "cleanup.policy", "max.message.bytes")) {
          ConfigEntry e = config.get(key);
          out.put(key, Map.of("value", e.value(), "source", e.source().toString()));
        }
        return out;
      });
      step("incrementalAlterConfigs APPEND to a key that is not a list", () -> {
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        admin.incrementalAlterConfigs(Map.of(res, List.of(new AlterConfigOp(
            new ConfigEntry("retention.ms", "1000"), AlterConfigOp.OpType.APPEND)))).all().get();
        return "altered";
      });
      step("createPartitions", () -> {
        admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(PARTITIONS + 1))).all()
            .get();
        TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
        List<Integer> leaders = new ArrayList<>();
        for (TopicPartitionInfo p : d.partitions()) leaders.add(p.leader().id());
        return Map.of("partitions", d.partitions().size(), "leaders", leaders);
      });
    }
  }

  /** The idempotent producer: one step whose result counts what was acknowledged. */
  static void produce(String bootstrap, String topic, int records) {
    step("idempotent produce", () -> {
      Properties props = new Properties();
      props.put("bootstrap.servers", bootstrap);
      props.put("acks", "all");
      props.put("enable.idempotence", "true");
      props.put("max.in.flight.requests.per.connection", "5");
      props.put("linger.ms", "2");
      props.put("batch.size", "2048"); // many batches per partition: sequences to check
      props.put("key.serializer", StringSerializer.class.getName());
      props.put("value.serializer", StringSerializer.class.getName());
      props.put("client.id", "sluice-java-idempotent");
      AtomicReference<Exception> failed = new AtomicReference<>();
      int[] acked = new int[1];
      try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
        for (int i = 0; i < records; i++) {
          String k = "k-" + i;
          String v = "v-" + i + "-" + "x".repeat(40);
          producer.send(new ProducerRecord<>(topic, i % PARTITIONS, BASE_TS + i, k, v),
              (RecordMetadata md, Exception e) -> {
                if (e != null) {
                  failed.compareAndSet(null, e);
                  return;
                }
                synchronized (acked) {
                  acked[0]++;
                }
                emit("{\"p\":" + md.partition() + ",\"o\":" + md.offset() + ",\"k\":"
                    + json(k) + ",\"v\":" + json(v) + "}");
              });
        }
        producer.flush();
      }
      if (failed.get() != null) throw failed.get();
      return Map.of("acked", acked[0]);
    });
  }

  /** Reads every record with a group consumer, commits, closes; the records per partition. */
  static Object groupConsume(String bootstrap, String topic, String group, int records) {
    Map<String, List<String>> byPartition = new TreeMap<>();
    int seen = 0;
    try (KafkaConsumer<String, String> consumer =
        new KafkaConsumer<>(consumerProps(bootstrap, group, "earliest"))) {
      consumer.subscribe(List.of(topic));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (seen < records && System.nanoTime() < deadline) {
        ConsumerRecords<String, String> polled = consumer.poll(Duration.ofMillis(200));
        for (ConsumerRecord<String, String> r : polled) {
          byPartition.computeIfAbsent(String.valueOf(r.partition()), p -> new ArrayList<>())
              .add(r.offset() + ":" + r.key());
          seen++;
        }
      }
      consumer.commitSync(Duration.ofSeconds(30));
    }
    return Map.of("records", seen, "partitions", byPartition);
  }

  /**
   * A consumer (no group, auto.offset.reset=none) seeks each partition to the middle of its log
   * with leader epoch 0, which the consumer validates with OffsetForLeaderEpoch before fetching,
   * then reads to the end. A reset or a truncation would throw here.
   */
  static Object validatedPositions(String bootstrap, String topic) {
    Map<String, Object> firstOffsets = new TreeMap<>();
    Map<String, Object> ends = new TreeMap<>();
    try (KafkaConsumer<String, String> consumer =
        new KafkaConsumer<>(consumerProps(bootstrap, null, "none"))) {
      List<TopicPartition> tps = partitionsOf(topic);
      consumer.assign(tps);
      Map<TopicPartition, Long> endOffsets = consumer.endOffsets(tps, Duration.ofSeconds(30));
      for (TopicPartition tp : tps) {
        long middle = endOffsets.get(tp) / 2;
        consumer.seek(tp, new OffsetAndMetadata(middle, Optional.of(0), ""));
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (ends.size() < tps.size() && System.nanoTime() < deadline) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
          firstOffsets.putIfAbsent(String.valueOf(r.partition()), r.offset());
        }
        for (TopicPartition tp : tps) {
          if (consumer.position(tp) == endOffsets.get(tp)) {
            ends.put(String.valueOf(tp.partition()), consumer.position(tp));
          }
        }
      }
    }
    return Map.of("firstOffsets", firstOffsets, "ends", ends);
  }

  static void truncation(String bootstrap, String topic) {
    step("seek past the end in epoch 0", () -> {
      try (KafkaConsumer<String, String> consumer =
          new KafkaConsumer<>(consumerProps(bootstrap, null, "none"))) {
        TopicPartition tp = new TopicPartition(topic, 0);
        consumer.assign(List.of(tp));
        long end = consumer.endOffsets(List.of(tp), Duration.ofSeconds(30)).get(tp);
        consumer.seek(tp, new OffsetAndMetadata(end + 5, Optional.of(0), ""));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        try {
          while (System.nanoTime() < deadline) consumer.poll(Duration.ofMillis(200));
        } catch (LogTruncationException e) {
          OffsetAndMetadata divergent = e.divergentOffsets().get(tp);
          return Map.of("end", end, "divergentOffset", divergent.offset(),
              "divergentEpoch", divergent.leaderEpoch().orElse(-1));
        }
        return Map.of("end", end, "divergentOffset", -1);
      }
    });
  }

  static void teardown(String bootstrap, String topic, String group) throws Exception {
    try (Admin admin = admin(bootstrap)) {
      // DeleteRecords (here, after the test has read every batch back): the records of partition 0
      // before offset 100; its low watermark answers, and ListOffsets' earliest agrees.
      step("deleteRecords", () -> {
        TopicPartition tp = new TopicPartition(topic, 0);
        long low = admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(100)))
            .lowWatermarks().get(tp).get().lowWatermark();
        long earliest = admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).partitionResult(tp)
            .get().offset();
        return Map.of("lowWatermark", low, "earliest", earliest);
      });
      step("deleteConsumerGroups", () -> {
        admin.deleteConsumerGroups(List.of(group)).all().get();
        List<String> left = new ArrayList<>();
        for (ConsumerGroupListing g : admin.listConsumerGroups().all().get()) left.add(g.groupId());
        return Map.of("groupsLeft", left);
      });
      step("deleteTopics", () -> {
        admin.deleteTopics(List.of(topic)).all().get();
        return Map.of("topicsLeft", new ArrayList<>(admin.listTopics().names().get()));
      });
    }
  }
}
