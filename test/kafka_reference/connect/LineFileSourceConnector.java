package sluice.connect;

import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.source.ExactlyOnceSupport;
import org.apache.kafka.connect.source.SourceConnector;

/**
 * Sluice's own file source connector for Kafka Connect (test/kafka_reference/kafka_connect_test.ts;
 * Kafka's connect-file jar is not served by the registry this project reaches). One task reads
 * `file` line by line into `topic`; see {@link LineFileSourceTask} for what a line is and how the
 * task keeps its place.
 *
 * Config: file (required), topic (required), batch.lines (most lines per poll, default 500),
 * max.line.bytes (a longer line fails the task, default 1 MiB), poll.wait.ms (how long a poll
 * waits for new lines at the end of the file, default 200).
 */
public final class LineFileSourceConnector extends SourceConnector {
  static final String FILE = "file";
  static final String TOPIC = "topic";
  static final String BATCH_LINES = "batch.lines";
  static final String MAX_LINE_BYTES = "max.line.bytes";
  static final String POLL_WAIT_MS = "poll.wait.ms";

  static final ConfigDef CONFIG = new ConfigDef()
      .define(FILE, ConfigDef.Type.STRING, ConfigDef.NO_DEFAULT_VALUE,
          new ConfigDef.NonEmptyString(), ConfigDef.Importance.HIGH, "The file to read.")
      .define(TOPIC, ConfigDef.Type.STRING, ConfigDef.NO_DEFAULT_VALUE,
          new ConfigDef.NonEmptyString(), ConfigDef.Importance.HIGH, "The topic to write to.")
      .define(BATCH_LINES, ConfigDef.Type.INT, 500, ConfigDef.Range.between(1, 100_000),
          ConfigDef.Importance.LOW, "The most lines one poll returns.")
      .define(MAX_LINE_BYTES, ConfigDef.Type.INT, 1 << 20, ConfigDef.Range.between(1, 64 << 20),
          ConfigDef.Importance.LOW, "A longer line fails the task.")
      .define(POLL_WAIT_MS, ConfigDef.Type.LONG, 200L, ConfigDef.Range.between(0, 10_000),
          ConfigDef.Importance.LOW, "How long a poll at the end of the file waits for more.");

  private Map<String, String> props;

  @Override
  public String version() {
    return "sluice-test";
  }

  @Override
  public void start(Map<String, String> props) {
    CONFIG.parse(props); // a bad config fails here, before any task starts
    this.props = Map.copyOf(props);
  }

  @Override
  public Class<? extends Task> taskClass() {
    return LineFileSourceTask.class;
  }

  /** One file, one reader: always a single task, whatever tasks.max says. */
  @Override
  public List<Map<String, String>> taskConfigs(int maxTasks) {
    return List.of(props);
  }

  @Override
  public void stop() {}

  @Override
  public ConfigDef config() {
    return CONFIG;
  }

  @Override
  public ExactlyOnceSupport exactlyOnceSupport(Map<String, String> props) {
    return ExactlyOnceSupport.UNSUPPORTED;
  }
}
