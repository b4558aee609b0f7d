// Kafka Streams' canonical WordCount (kafka-streams 4.x) as a small command line, for Sluice's
// tests (test/kafka_protocol/kafka_streams_test.ts compiles and runs it). Our own code; one file,
// no package.
//
//   run --bootstrap HOST:PORT --app-id ID --input T --output T --state-dir DIR
//       [--commit-interval-ms N] [--purge-interval-ms N] [--session-timeout-ms N]
//       [--guarantee at_least_once|exactly_once_v2]
//       The topology of Kafka's WordCountDemo: lines of text from --input, each lower-cased and
//       split on \W+ (flatMapValues), grouped by word (a repartition topic), counted (a state
//       store with a changelog topic), the count's changes to --output (String keys, Long
//       values). As the demo, the record cache is off (every count change reaches the changelog
//       and the output) and auto.offset.reset is earliest. Prints JSON lines:
//         {"event":"state","state":S}                         every KafkaStreams state change
//         {"event":"restore-start","topic","partition","start","end"}
//         {"event":"restore-end","topic","partition","restored"}
//         {"event":"first-consumed","topic","partition","offset"}  the main consumer's first
//             record of each partition (where this run resumed reading: the committed offset)
//         {"event":"first-written","topic","partition","offset"}   the producer's first
//             acknowledged record of each partition (where this run's writes begin)
//         {"event":"error","error":CLASS,"message":M}         an uncaught exception (the client
//             shuts down)
//         {"event":"closed","clean":bool}                     after close
//       Closes (leaving the group) when stdin closes or the client fails; exit 0 after a clean
//       close, 1 otherwise.
//   describe --bootstrap HOST:PORT --prefix P [--group G]
//       Kafka's AdminClient: every topic whose name starts with P as {"event":"topic","name",
//       "partitions":N,"internal":bool,"configs":{..}} (the configs set on the topic, those
//       DescribeConfigs reports with source DYNAMIC_TOPIC_CONFIG), then with --group the group as
//       {"event":"group","state","type","assignor","members":N}, then {"event":"done"}.
//
// Exit code 0 on success, 1 on an error (printed as {"event":"error",...}), 2 on bad arguments.

import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerInterceptor;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerInterceptor;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.StateRestoreListener;

public final class SluiceWordCount {
  private static final Object OUT = new Object();

  static void emit(String line) {
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

  static String where(TopicPartition tp) {
    return "\"topic\":" + json(tp.topic()) + ",\"partition\":" + tp.partition();
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
      System.err.println("usage: SluiceWordCount run|describe --name value ...");
      System.exit(2);
    }
    int code;
    try {
      Map<String, String> opts = parse(args, 1);
      switch (args[0]) {
        case "run":
          code = run(opts);
          break;
        case "describe":
          code = describe(opts);
          break;
        default:
          throw new IllegalArgumentException("unknown command " + args[0]);
      }
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      code = 2;
    } catch (Exception e) {
      emit("{\"event\":\"error\",\"error\":" + json(e.getClass().getSimpleName())
          + ",\"message\":" + json(String.valueOf(e.getMessage())) + "}");
      e.printStackTrace();
      code = 1;
    }
    System.exit(code);
  }

  // -------------------------------------------------------------------------------------------
  // run

  /** The topology of Kafka's WordCountDemo (streams/examples), input and output named here. */
  static void wordCount(StreamsBuilder builder, String input, String output) {
    KStream<String, String> source = builder.stream(input);
    KTable<String, Long> counts = source
        .flatMapValues(value -> Arrays.asList(value.toLowerCase(Locale.getDefault()).split("\\W+")))
        .groupBy((key, value) -> value)
        .count();
    counts.toStream().to(output, Produced.with(Serdes.String(), Serdes.Long()));
  }

  static int run(Map<String, String> opts) throws Exception {
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, need(opts, "app-id"));
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, need(opts, "bootstrap"));
    props.put(StreamsConfig.STATE_DIR_CONFIG, need(opts, "state-dir"));
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG,
        opts.getOrDefault("guarantee", StreamsConfig.AT_LEAST_ONCE));
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG,
        Long.parseLong(opts.getOrDefault("commit-interval-ms", "1000")));
    props.put(StreamsConfig.REPARTITION_PURGE_INTERVAL_MS_CONFIG,
        Long.parseLong(opts.getOrDefault("purge-interval-ms", "30000")));
    props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    // A crashed instance's member is dropped after this, so a restart's rebalance does not wait
    // Kafka's default 45 s for it (6 s is Kafka's group.min.session.timeout.ms).
    props.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG),
        Integer.parseInt(opts.getOrDefault("session-timeout-ms", "6000")));
    props.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 1000);
    props.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.INTERCEPTOR_CLASSES_CONFIG),
        FirstConsumed.class.getName());
    props.put(StreamsConfig.producerPrefix(ProducerConfig.INTERCEPTOR_CLASSES_CONFIG),
        FirstWritten.class.getName());

    StreamsBuilder builder = new StreamsBuilder();
    wordCount(builder, need(opts, "input"), need(opts, "output"));
    KafkaStreams streams = new KafkaStreams(builder.build(), props);

    CountDownLatch stop = new CountDownLatch(1);
    streams.setStateListener((to, from) -> {
      emit("{\"event\":\"state\",\"state\":" + json(to.name()) + "}");
      if (to == KafkaStreams.State.ERROR || to == KafkaStreams.State.PENDING_ERROR) {
        stop.countDown();
      }
    });
    streams.setUncaughtExceptionHandler(e -> {
      emit("{\"event\":\"error\",\"error\":" + json(e.getClass().getSimpleName()) + ",\"message\":"
          + json(String.valueOf(e.getMessage())) + "}");
      return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    streams.setGlobalStateRestoreListener(new StateRestoreListener() {
      @Override
      public void onRestoreStart(TopicPartition tp, String store, long start, long end) {
        emit("{\"event\":\"restore-start\"," + where(tp) + ",\"start\":" + start + ",\"end\":"
            + end + "}");
      }

      @Override
      public void onBatchRestored(TopicPartition tp, String store, long batchEnd, long count) {}

      @Override
      public void onRestoreEnd(TopicPartition tp, String store, long restored) {
        emit("{\"event\":\"restore-end\"," + where(tp) + ",\"restored\":" + restored + "}");
      }
    });

    Thread stdin = new Thread(() -> {
      try {
        InputStream in = System.in;
        byte[] buf = new byte[256];
        while (in.read(buf) >= 0) { /* anything but EOF is ignored */ }
      } catch (Exception e) {
        // stdin gone: stop as on EOF
      }
      stop.countDown();
    }, "stdin-watch");
    stdin.setDaemon(true);
    stdin.start();

    streams.start();
    stop.await();
    boolean clean = streams.close(
        CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
            .withTimeout(Duration.ofSeconds(30)));
    KafkaStreams.State end = streams.state();
    clean = clean && end == KafkaStreams.State.NOT_RUNNING;
    emit("{\"event\":\"closed\",\"clean\":" + clean + ",\"state\":" + json(end.name()) + "}");
    return clean ? 0 : 1;
  }

  /** The main consumer's first record of each partition, once (see the header). */
  public static final class FirstConsumed implements ConsumerInterceptor<byte[], byte[]> {
    private final Map<TopicPartition, Boolean> seen = new ConcurrentHashMap<>();

    @Override
    public ConsumerRecords<byte[], byte[]> onConsume(ConsumerRecords<byte[], byte[]> records) {
      for (TopicPartition tp : records.partitions()) {
        if (seen.putIfAbsent(tp, Boolean.TRUE) == null) {
          long first = records.records(tp).get(0).offset();
          emit("{\"event\":\"first-consumed\"," + where(tp) + ",\"offset\":" + first + "}");
        }
      }
      return records;
    }

    @Override
    public void onCommit(Map<TopicPartition, OffsetAndMetadata> offsets) {}

    @Override
    public void close() {}

    @Override
    public void configure(Map<String, ?> configs) {}
  }

  /** The producer's first acknowledged record of each partition, once (see the header). */
  public static final class FirstWritten implements ProducerInterceptor<byte[], byte[]> {
    private final Map<TopicPartition, Boolean> seen = new ConcurrentHashMap<>();

    @Override
    public ProducerRecord<byte[], byte[]> onSend(ProducerRecord<byte[], byte[]> record) {
      return record;
    }

    @Override
    public void onAcknowledgement(RecordMetadata metadata, Exception exception) {
      if (exception != null || metadata == null || !metadata.hasOffset()) return;
      TopicPartition tp = new TopicPartition(metadata.topic(), metadata.partition());
      if (seen.putIfAbsent(tp, Boolean.TRUE) == null) {
        emit("{\"event\":\"first-written\"," + where(tp) + ",\"offset\":" + metadata.offset()
            + "}");
      }
    }

    @Override
    public void close() {}

    @Override
    public void configure(Map<String, ?> configs) {}
  }

  // -------------------------------------------------------------------------------------------
  // describe

  static int describe(Map<String, String> opts) throws Exception {
    String prefix = need(opts, "prefix");
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, need(opts, "bootstrap"));
    try (Admin admin = Admin.create(props)) {
      List<String> names = new ArrayList<>();
      for (String name : admin.listTopics(new ListTopicsOptions().listInternal(true)).names()
          .get(30, TimeUnit.SECONDS)) {
        if (name.startsWith(prefix)) names.add(name);
      }
      names.sort(null);
      Map<String, TopicDescription> described =
          admin.describeTopics(names).allTopicNames().get(30, TimeUnit.SECONDS);
      List<ConfigResource> resources = new ArrayList<>();
      for (String name : names) resources.add(new ConfigResource(ConfigResource.Type.TOPIC, name));
      Map<ConfigResource, Config> configs =
          admin.describeConfigs(resources).all().get(30, TimeUnit.SECONDS);
      for (String name : names) {
        Map<String, String> set = new TreeMap<>();
        for (ConfigEntry e : configs.get(new ConfigResource(ConfigResource.Type.TOPIC, name))
            .entries()) {
          if (e.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG) set.put(e.name(), e.value());
        }
        StringBuilder c = new StringBuilder("{");
        for (Map.Entry<String, String> e : set.entrySet()) {
          if (c.length() > 1) c.append(',');
          c.append(json(e.getKey())).append(':').append(json(e.getValue()));
        }
        c.append('}');
        TopicDescription d = described.get(name);
        emit("{\"event\":\"topic\",\"name\":" + json(name) + ",\"partitions\":"
            + d.partitions().size() + ",\"internal\":" + d.isInternal() + ",\"configs\":" + c
            + "}");
      }
      String group = opts.get("group");
      if (group != null) {
        ConsumerGroupDescription g = admin.describeConsumerGroups(List.of(group)).all()
            .get(30, TimeUnit.SECONDS).get(group);
        emit("{\"event\":\"group\",\"state\":" + json(g.groupState().toString()) + ",\"type\":"
            + json(g.type().toString()) + ",\"assignor\":" + json(g.partitionAssignor())
            + ",\"members\":" + g.members().size() + "}");
      }
    }
    emit("{\"event\":\"done\"}");
    return 0;
  }
}
