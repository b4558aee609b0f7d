package sluice.connect;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.source.SourceTask;

/**
 * Reads a file line by line, one record per line (written for Sluice's tests; not Kafka's
 * FileStreamSourceTask).
 *
 * A line is the bytes before each '\n', decoded as UTF-8: an empty line is a record whose value
 * is "" (never skipped), a '\r' before the '\n' stays in the value, and bytes after the last
 * '\n' are not a line yet: they are read again once their '\n' is written. So a sink writing
 * each value and a '\n' rebuilds the file byte for byte (for valid UTF-8 ending in '\n').
 *
 * Position: each record's source offset is {"position": the byte offset just past its '\n'} under
 * the source partition {"file": path}; Connect stores the offsets of the records its producer
 * acknowledged (offset.storage.file.filename in standalone mode), and start() resumes at the
 * stored position, so a restart re-reads only lines whose offsets Connect had not stored yet
 * (at-least-once). A file shorter than the stored position (truncated or replaced) fails the task.
 *
 * Bounds: at most batch.lines records per poll; a line longer than max.line.bytes fails the task;
 * a poll at the end of the file waits at most poll.wait.ms (in steps of 50 ms) and returns null.
 */
public final class LineFileSourceTask extends SourceTask {
  private static final int READ_BYTES = 64 * 1024;
  private static final long IDLE_STEP_MS = 50;

  private String path;
  private String topic;
  private int batchLines;
  private int maxLineBytes;
  private long pollWaitMs;
  private Map<String, String> sourcePartition;

  private final Object lock = new Object();
  /** Opened on the first poll that finds the file; closed by stop(). Guarded by lock. */
  private FileChannel channel;
  private boolean stopped;
  /** The file offset of the first byte of `pending` (the start of the next line to emit). */
  private long lineStart;
  /** The next file offset to read. */
  private long readPos;
  /** The bytes of the current line read so far (from lineStart to readPos). */
  private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
  private final ByteBuffer buffer = ByteBuffer.allocate(READ_BYTES);

  @Override
  public String version() {
    return "sluice-test";
  }

  @Override
  public void start(Map<String, String> props) {
    AbstractConfig config = new AbstractConfig(LineFileSourceConnector.CONFIG, props);
    path = config.getString(LineFileSourceConnector.FILE);
    topic = config.getString(LineFileSourceConnector.TOPIC);
    batchLines = config.getInt(LineFileSourceConnector.BATCH_LINES);
    maxLineBytes = config.getInt(LineFileSourceConnector.MAX_LINE_BYTES);
    pollWaitMs = config.getLong(LineFileSourceConnector.POLL_WAIT_MS);
    sourcePartition = Map.of("file", path);
    Map<String, Object> stored = context.offsetStorageReader().offset(sourcePartition);
    Object position = stored == null ? null : stored.get("position");
    lineStart = position instanceof Number n ? n.longValue() : 0L;
    readPos = lineStart;
  }

  @Override
  public List<SourceRecord> poll() throws InterruptedException {
    long deadline = System.currentTimeMillis() + pollWaitMs;
    for (;;) {
      List<SourceRecord> records;
      synchronized (lock) {
        if (stopped) return null;
        records = readLines();
      }
      if (!records.isEmpty()) return records;
      long left = deadline - System.currentTimeMillis();
      if (left <= 0) return null;
      Thread.sleep(Math.min(IDLE_STEP_MS, left));
    }
  }

  /** Up to batchLines complete lines from readPos on; empty at the end of the file. */
  private List<SourceRecord> readLines() {
    List<SourceRecord> out = new ArrayList<>();
    try {
      if (channel == null && !open()) return out;
      long size = channel.size();
      if (size < readPos) {
        throw new ConnectException(path + " is " + size + " bytes, shorter than the position "
            + readPos + " already read: truncated or replaced");
      }
      while (out.size() < batchLines) {
        buffer.clear();
        int n = channel.read(buffer, readPos);
        if (n <= 0) break;
        byte[] bytes = buffer.array();
        int start = 0;
        int i = 0;
        for (; i < n && out.size() < batchLines; i++) {
          if (bytes[i] != '\n') continue;
          append(bytes, start, i - start);
          long next = readPos + i + 1;
          String value = pending.toString(StandardCharsets.UTF_8);
          out.add(new SourceRecord(sourcePartition, Map.of("position", next), topic, null, null,
              null, Schema.STRING_SCHEMA, value));
          pending.reset();
          lineStart = next;
          start = i + 1;
        }
        append(bytes, start, i - start);
        readPos += i;
      }
    } catch (IOException e) {
      throw new ConnectException("reading " + path + " at " + readPos, e);
    }
    return out;
  }

  private void append(byte[] bytes, int from, int length) {
    if (pending.size() + length > maxLineBytes) {
      throw new ConnectException("a line of " + path + " at " + lineStart + " is longer than "
          + LineFileSourceConnector.MAX_LINE_BYTES + "=" + maxLineBytes);
    }
    pending.write(bytes, from, length);
  }

  private boolean open() throws IOException {
    try {
      channel = FileChannel.open(Path.of(path), StandardOpenOption.READ);
      return true;
    } catch (NoSuchFileException e) {
      return false; // not written yet: polls keep looking
    }
  }

  @Override
  public void stop() {
    synchronized (lock) {
      stopped = true;
      if (channel != null) {
        try {
          channel.close();
        } catch (IOException ignored) {
          // closing a read-only channel: nothing to lose
        }
        channel = null;
      }
    }
  }
}
