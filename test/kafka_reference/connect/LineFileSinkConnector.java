package sluice.connect;

import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.sink.SinkConnector;

/**
 * Sluice's own file sink connector for Kafka Connect (test/kafka_reference/kafka_connect_test.ts;
 * Kafka's connect-file jar is not served by the registry this project reaches). One task appends
 * each record's value to `file` as a line; see {@link LineFileSinkTask}.
 *
 * Config: file (required), plus Connect's own `topics`.
 */
public final class LineFileSinkConnector extends SinkConnector {
  static final String FILE = "file";

  static final ConfigDef CONFIG = new ConfigDef()
      .define(FILE, ConfigDef.Type.STRING, ConfigDef.NO_DEFAULT_VALUE,
          new ConfigDef.NonEmptyString(), ConfigDef.Importance.HIGH, "The file to append to.");

  private Map<String, String> props;

  @Override
  public String version() {
    return "sluice-test";
  }

  @Override
  public void start(Map<String, String> props) {
    CONFIG.parse(props);
    this.props = Map.copyOf(props);
  }

  @Override
  public Class<? extends Task> taskClass() {
    return LineFileSinkTask.class;
  }

  /** One file, one writer: always a single task, whatever tasks.max says. */
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
}
