package sluice.connect;

import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collection;
import java.util.Map;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;

/**
 * Appends each record's value to a file as a line (written for Sluice's tests; not Kafka's
 * FileStreamSinkTask): a String value as UTF-8, a byte[] value as is, then '\n'; a null value (a
 * tombstone) writes nothing.
 *
 * Durability: put() only buffers; flush() (which Connect calls through preCommit before it
 * commits the consumer's offsets, every offset.flush.interval.ms and when partitions are revoked
 * or the task stops) writes the buffer and fsyncs the file. So every committed offset's record is
 * on disk, and a restart resumes after the last committed offset: records put after the last
 * commit are written again (at-least-once).
 *
 * After a crash the file may end inside a line (the buffer is written whenever it fills, and a
 * line may straddle two writes): that line's record was not committed, so start() truncates the
 * file after its last '\n' and the record is written whole when it comes again.
 */
public final class LineFileSinkTask extends SinkTask {
  private static final int BUFFER_BYTES = 64 * 1024;
  private static final int SCAN_BYTES = 8 * 1024;

  private String path;
  private FileOutputStream file;
  private BufferedOutputStream out;

  @Override
  public String version() {
    return "sluice-test";
  }

  @Override
  public void start(Map<String, String> props) {
    path = new AbstractConfig(LineFileSinkConnector.CONFIG, props)
        .getString(LineFileSinkConnector.FILE);
    try {
      dropPartialLine();
      file = new FileOutputStream(path, true);
    } catch (IOException e) {
      throw new ConnectException("opening " + path + " to append", e);
    }
    out = new BufferedOutputStream(file, BUFFER_BYTES);
  }

  /** Truncates the file after its last '\n' (to nothing when it has none). */
  private void dropPartialLine() throws IOException {
    try (FileChannel channel = FileChannel.open(Path.of(path), StandardOpenOption.CREATE,
        StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      long size = channel.size();
      long keep = size;
      ByteBuffer buffer = ByteBuffer.allocate(SCAN_BYTES);
      scan:
      while (keep > 0) {
        long from = Math.max(0, keep - SCAN_BYTES);
        buffer.clear().limit((int) (keep - from));
        while (buffer.hasRemaining()) {
          if (channel.read(buffer, from + buffer.position()) < 0) break;
        }
        for (int i = buffer.position() - 1; i >= 0; i--) {
          if (buffer.get(i) == '\n') {
            keep = from + i + 1;
            break scan;
          }
        }
        keep = from;
      }
      if (keep < size) channel.truncate(keep);
    }
  }

  @Override
  public void put(Collection<SinkRecord> records) {
    try {
      for (SinkRecord record : records) {
        Object value = record.value();
        if (value == null) continue;
        byte[] bytes = value instanceof byte[] b
            ? b
            : value.toString().getBytes(StandardCharsets.UTF_8);
        out.write(bytes);
        out.write('\n');
      }
    } catch (IOException e) {
      throw new ConnectException("appending to " + path, e);
    }
  }

  @Override
  public void flush(Map<TopicPartition, OffsetAndMetadata> currentOffsets) {
    try {
      out.flush();
      file.getFD().sync();
    } catch (IOException e) {
      throw new ConnectException("flushing " + path, e);
    }
  }

  @Override
  public void stop() {
    if (out == null) return;
    try {
      out.flush();
      file.getFD().sync();
      out.close();
    } catch (IOException e) {
      throw new ConnectException("closing " + path, e);
    } finally {
      out = null;
    }
  }
}
