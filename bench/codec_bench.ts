/**
 * Kafka protocol codec cost per message, on the requests and responses a producer and a tailing
 * consumer exchange most (issue 17: a small request's CPU): decode a request header and a Produce
 * v9 request (one topic, one partition, a 100 KB batch, as librdkafka sends it), encode its
 * response; decode a Fetch v12 request (one partition, as in a fetch session's full request) and
 * encode its response around a 56 KB batch (a reference, not copied). Figures are mitata's times
 * per message; the batch bytes are never decoded or copied, so they are the codec's own work.
 *
 * Run: deno run -A bench/codec_bench.ts
 */
import { bench, do_not_optimize, group, run } from "mitata";
import { decodePrefix, encode, encodeChunks, type Struct } from "../src/kafka_protocol/codec.ts";
import { FETCH_REQUEST, FETCH_RESPONSE } from "../src/kafka_protocol/messages/fetch.ts";
import { PRODUCE_REQUEST, PRODUCE_RESPONSE } from "../src/kafka_protocol/messages/produce.ts";
import { REQUEST_HEADER } from "../src/kafka_protocol/messages/request_header.ts";

const PRODUCE_V = 9;
const FETCH_V = 12;
const HEADER_V = 2;

function frame(header: Uint8Array, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(header.length + body.length);
  out.set(header, 0);
  out.set(body, header.length);
  return out;
}

const header = (apiKey: number, apiVersion: number) =>
  encode(REQUEST_HEADER, HEADER_V, {
    requestApiKey: apiKey,
    requestApiVersion: apiVersion,
    correlationId: 12345,
    clientId: "rdkafka",
  });

const produceRequest = frame(
  header(0, PRODUCE_V),
  encode(PRODUCE_REQUEST, PRODUCE_V, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30_000,
    topicData: [{
      name: "latency",
      partitionData: [{ index: 0, records: new Uint8Array(100_000) }],
    }],
  }),
);

const produceResponse: Struct = {
  responses: [{
    name: "latency",
    partitionResponses: [{
      index: 0,
      errorCode: 0,
      baseOffset: 123_456_789n,
      logAppendTimeMs: -1n,
      logStartOffset: 0n,
      recordErrors: [],
      errorMessage: null,
    }],
  }],
  throttleTimeMs: 0,
};

const fetchRequest = frame(
  header(1, FETCH_V),
  encode(FETCH_REQUEST, FETCH_V, {
    replicaId: -1,
    maxWaitMs: 100,
    minBytes: 1,
    maxBytes: 52_428_800,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{
      topic: "latency",
      partitions: [{
        partition: 0,
        currentLeaderEpoch: 0,
        fetchOffset: 123_456_789n,
        lastFetchedEpoch: -1,
        logStartOffset: -1n,
        partitionMaxBytes: 1_048_576,
      }],
    }],
    forgottenTopicsData: [],
    rackId: "",
  }),
);

const batch = new Uint8Array(56_000);
const fetchResponse: Struct = {
  throttleTimeMs: 0,
  errorCode: 0,
  sessionId: 0,
  responses: [{
    topic: "latency",
    partitions: [{
      partitionIndex: 0,
      errorCode: 0,
      highWatermark: 123_456_900n,
      lastStableOffset: 123_456_900n,
      logStartOffset: 0n,
      abortedTransactions: null,
      preferredReadReplica: -1,
      records: batch,
    }],
  }],
};

function decodeRequest(bytes: Uint8Array, schema: typeof PRODUCE_REQUEST | typeof FETCH_REQUEST) {
  const h = decodePrefix(REQUEST_HEADER, HEADER_V, bytes, 0);
  const version = schema === PRODUCE_REQUEST ? PRODUCE_V : FETCH_V;
  return decodePrefix(schema, version, bytes, h.position).value;
}

group("kafka codec, per message", () => {
  bench("decode header + Produce v9 request (1 partition)", () => {
    do_not_optimize(decodeRequest(produceRequest, PRODUCE_REQUEST));
  });
  bench("encode Produce v9 response (1 partition)", () => {
    do_not_optimize(encodeChunks(PRODUCE_RESPONSE, PRODUCE_V, produceResponse));
  });
  bench("decode header + Fetch v12 request (1 partition)", () => {
    do_not_optimize(decodeRequest(fetchRequest, FETCH_REQUEST));
  });
  bench("encode Fetch v12 response (1 partition, 56 KB batch by reference)", () => {
    do_not_optimize(encodeChunks(FETCH_RESPONSE, FETCH_V, fetchResponse));
  });
});

await run();
