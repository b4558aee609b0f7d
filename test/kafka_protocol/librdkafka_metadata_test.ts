/**
 * The Metadata request a current librdkafka (2.1 and later: confluent-kafka from PyPI, the Go and
 * .NET clients, node-rdkafka) sends to list all topics or to subscribe by regex, at v9 and later:
 * it reserves 4 bytes for the topic array's count and, for "all topics" (a null array), leaves
 * them as they are, so the body starts 00 00 00 00. Read as Kafka reads it, the first 00 is the
 * null array and the next fields take the following bytes; 3 bytes are left after the body,
 * which Kafka ignores. So must Sluice: answer with every topic, keep the connection, count the
 * request in /metrics. (Before, the connection was closed: "malformed Metadata v11: 3 bytes after
 * the request".)
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import { inRange } from "../../src/kafka_protocol/codec.ts";
import { startKafkaListener } from "../../src/kafka_protocol/listener.ts";
import { METADATA_REQUEST, METADATA_RESPONSE } from "../../src/kafka_protocol/messages/metadata.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { tempDir } from "../test_util.ts";
import { concat, CORRELATION_ID, ourRequestFrame, parseResponse } from "./kafka_wire_util.ts";

/** librdkafka's body for "all topics" at `version` (rd_kafka_MetadataRequest0). */
function librdkafkaAllTopicsBody(version: number): Uint8Array {
  const placeholder = [0, 0, 0, 0]; // int32 0, never rewritten for a null array at v9+
  const allowAutoTopicCreation = [1];
  const includeClusterAuthorizedOperations = version <= 10 ? [0] : [];
  const includeTopicAuthorizedOperations = [0];
  const noTags = [0];
  return new Uint8Array([
    ...placeholder,
    ...allowAutoTopicCreation,
    ...includeClusterAuthorizedOperations,
    ...includeTopicAuthorizedOperations,
    ...noTags,
  ]);
}

/** A request frame with our header and `body` as the body. */
function frameWithBody(version: number, body: Uint8Array): Uint8Array {
  // Our own frame for the same request, its body (topics null, the two booleans, no tags) cut.
  const ours = ourRequestFrame(METADATA_REQUEST, version, {
    topics: null,
    allowAutoTopicCreation: true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  const ourBodyLength = version <= 10 ? 5 : 4;
  const header = ours.subarray(4, ours.length - ourBodyLength);
  const frame = concat(new Uint8Array(4), header, body);
  new DataView(frame.buffer).setInt32(0, frame.length - 4);
  return frame;
}

/** Sends `frame` and reads one response frame (without its size), or null when closed. */
async function exchange(conn: Deno.Conn, frame: Uint8Array): Promise<Uint8Array | null> {
  let at = 0;
  while (at < frame.length) at += await conn.write(frame.subarray(at));
  let buf: Uint8Array = new Uint8Array(0);
  for (;;) {
    if (buf.length >= 4) {
      const size = new DataView(buf.buffer, buf.byteOffset).getInt32(0);
      if (buf.length >= 4 + size) return buf.subarray(4, 4 + size);
    }
    const chunk = new Uint8Array(65536);
    const n = await conn.read(chunk);
    if (n === null) return null;
    buf = concat(buf, chunk.subarray(0, n));
  }
}

Deno.test("librdkafka's Metadata v9+ for all topics (a 4-byte null array) is answered", async (t) => {
  const logger = new MemoryLogger();
  const broker = await Broker.open({ dataDir: tempDir("sluice-rdk-metadata-"), logger });
  const listener = await startKafkaListener(broker, { host: "127.0.0.1", port: 0, logger });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.port });
  try {
    await broker.createTopic("orders", 2, {});
    await broker.createTopic("payments", 1, {});
    const versions = [9, 10, 11, 12].filter((v) => inRange(METADATA_REQUEST.validVersions, v));
    assert.ok(versions.length >= 3, `served Metadata versions from 9: ${versions}`);
    for (const version of versions) {
      await t.step(`v${version}: every topic, on the same connection`, async () => {
        const answer = await exchange(
          conn,
          frameWithBody(version, librdkafkaAllTopicsBody(version)),
        );
        assert.ok(answer !== null, "the connection stays open");
        const { correlationId, body } = parseResponse(answer, METADATA_RESPONSE, version);
        assert.equal(correlationId, CORRELATION_ID);
        const topics = (body.topics as { name: string; partitions: unknown[] }[])
          .map((tp) => `${tp.name}:${tp.partitions.length}`).sort();
        assert.deepEqual(topics, ["orders:2", "payments:1"]);
      });
    }
    assert.equal(listener.metrics.trailing("Metadata"), versions.length, "counted in /metrics");
  } finally {
    conn.close();
    await listener.close();
    await broker.close();
  }
});
