/**
 * Clients that ask for the largest fetch they may and never read it, against the real server
 * (both listeners, and consumer-group members' JSON fetches): the server's RSS (VmRSS of the
 * subprocess) and its response-budget gauges stay
 * bounded, a normal consumer on another connection still gets its data meanwhile, and once the
 * slow clients close the gauges come back to 0. The attack pieces are scripts/soak_slow_readers.ts,
 * the soak's own.
 */
import assert from "node:assert/strict";
import { FETCH_REQUEST, FETCH_RESPONSE } from "../../src/kafka_protocol/messages/fetch.ts";
import {
  BYTE_BUDGET_OVERDRAW_FACTOR,
  HTTP_FETCH_BYTES_MAX,
  HTTP_RESPONSE_BYTES_IN_FLIGHT_MAX,
  KAFKA_RESPONSE_BYTES_IN_FLIGHT_MAX,
  MAX_MESSAGE_BYTES_DEFAULT,
} from "../../src/limits.ts";
import { decodeBatches } from "../../src/record/record_batch.ts";
import {
  closeAll,
  fillTopic,
  kafkaFetchBody,
  metricValue,
  openHttpGroupSlowReaders,
  openHttpSlowReaders,
  openKafkaSlowReaders,
  readMetrics,
  SLOW_READER_MAX_BYTES,
  waitForRelease,
} from "../../scripts/soak_slow_readers.ts";
import { rssMiB } from "../../scripts/soak_util.ts";
import { fetchBatches } from "../http/server_harness.ts";
import { withKafkaServer } from "../kafka_protocol/kafka_harness.ts";
import { callOnce } from "../kafka_protocol/kafka_wire_util.ts";
import type { Struct } from "../../src/kafka_protocol/codec.ts";

const TOPIC = "slow";
/** Enough that every slow reader could pin a large response (64 MiB each before the fix). */
const TOPIC_MIB = 64;
const SLOW_CONNECTIONS = 20;
/** What the slow readers may add to the server's RSS: the budget, one batch each, slack. */
const RSS_GROWTH_MAX_MIB = 160;
/** The goal (300 MiB) plus what appending the topic itself leaves in RSS (~100 MiB). */
const RSS_MAX_MIB = 400;
/** Generous: the requests are served in well under a second on a quiet machine. */
const SERVED_TIMEOUT_MS = 60_000;

/** Polls /metrics until `count(text) >= n`; fails after SERVED_TIMEOUT_MS. */
async function waitForCount(
  httpPort: number,
  what: string,
  count: (text: string) => number,
  n: number,
): Promise<void> {
  const deadline = performance.now() + SERVED_TIMEOUT_MS;
  let seen = 0;
  while (performance.now() < deadline) {
    seen = count(await readMetrics(httpPort));
    if (seen >= n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${what}: ${seen} of ${n} served within ${SERVED_TIMEOUT_MS} ms`);
}

function counter(text: string, line: RegExp): number {
  const m = text.match(line);
  return m ? Number(m[1]) : 0;
}

Deno.test("slow readers hold bounded memory, and give it back when they go", async (t) => {
  await withKafkaServer({}, async (server) => {
    const httpPort = Number(new URL(server.httpUrl).port);
    const pid = server.server.proc.pid;
    await fillTopic(httpPort, TOPIC, TOPIC_MIB);
    const baseline = rssMiB(pid);
    /** The slow readers' bytes past the budget: one batch each (KIP-74's minimum). */
    const overdraw = SLOW_CONNECTIONS * MAX_MESSAGE_BYTES_DEFAULT;
    /** The server's RSS with the slow readers holding what they hold: within the bounds. */
    const assertRssBounded = () => {
      const rss = rssMiB(pid);
      assert.ok(
        rss - baseline < RSS_GROWTH_MAX_MIB && rss < RSS_MAX_MIB,
        `server RSS ${rss.toFixed(0)} MiB (${baseline.toFixed(0)} MiB before the slow readers)`,
      );
    };
    const gauge = async (name: string) => metricValue(await readMetrics(httpPort), name);

    await t.step(
      `Kafka: ${SLOW_CONNECTIONS} connections fetching 64 MiB and never reading`,
      async () => {
        const slow = await openKafkaSlowReaders(
          server.kafkaPort,
          TOPIC,
          SLOW_CONNECTIONS,
          SLOW_READER_MAX_BYTES,
        );
        try {
          await waitForCount(
            httpPort,
            "Kafka fetches",
            (text) => counter(text, /^sluice_kafka_requests_total\{api="Fetch"\} (\d+)$/m),
            SLOW_CONNECTIONS,
          );
          assertRssBounded();
          const held = await gauge("sluice_kafka_response_bytes_in_flight");
          assert.ok(
            held <= KAFKA_RESPONSE_BYTES_IN_FLIGHT_MAX + overdraw,
            `response bytes in flight ${held}`,
          );
          // A consumer on its own connection still gets records.
          const answer = await callOnce(
            server.kafkaPort,
            FETCH_REQUEST,
            FETCH_RESPONSE,
            4,
            kafkaFetchBody(TOPIC, 0, 1 << 20),
          );
          const partition = ((answer.responses as Struct[])[0].partitions as Struct[])[0];
          assert.equal(partition.errorCode, 0);
          const batches = decodeBatches(partition.records as Uint8Array);
          assert.ok(batches.length > 0 && batches[0].baseOffset === 0, "the consumer got data");
        } finally {
          closeAll(slow);
        }
        const end = await waitForRelease(httpPort);
        assert.equal(end.kafka, 0, "every response byte given back once the readers closed");
      },
    );

    await t.step(
      `HTTP: ${SLOW_CONNECTIONS} record-batch fetches of 64 MiB never read`,
      async () => {
        const route =
          /^sluice_http_requests_total\{route="\/v1\/topics\/:topic\/partitions\/:partition\/records",method="GET",status="200"\} (\d+)$/m;
        const before = counter(await readMetrics(httpPort), route);
        const slow = await openHttpSlowReaders(
          httpPort,
          TOPIC,
          SLOW_CONNECTIONS,
          SLOW_READER_MAX_BYTES,
        );
        try {
          await waitForCount(
            httpPort,
            "HTTP fetches",
            (text) => counter(text, route) - before,
            SLOW_CONNECTIONS,
          );
          assertRssBounded();
          const held = await gauge("sluice_http_response_bytes_in_flight");
          assert.ok(
            held <= HTTP_RESPONSE_BYTES_IN_FLIGHT_MAX + overdraw,
            `response bytes in flight ${held}`,
          );
          const { batches, headers } = await fetchBatches(
            server.server,
            TOPIC,
            0,
            0,
            `&maxBytes=${1 << 20}`,
          );
          assert.ok(batches.length > 0 && batches[0].baseOffset === 0, "the consumer got data");
          assert.ok(Number(headers.get("sluice-next-offset")) > 0);
        } finally {
          closeAll(slow);
        }
        const end = await waitForRelease(httpPort);
        assert.equal(end.http, 0, "every response byte given back once the readers closed");
      },
    );

    await t.step(
      `HTTP: ${SLOW_CONNECTIONS} consumer-group members' JSON fetches never read`,
      async () => {
        const route =
          /^sluice_http_requests_total\{route="\/v1\/groups\/:group\/members\/:member\/records",method="GET",status="(?:200|429)"\} (\d+)$/gm;
        const answered = (text: string) =>
          [...text.matchAll(route)].reduce((sum, m) => sum + Number(m[1]), 0);
        const before = answered(await readMetrics(httpPort));
        const slow = await openHttpGroupSlowReaders(
          httpPort,
          TOPIC,
          SLOW_CONNECTIONS,
          SLOW_READER_MAX_BYTES,
        );
        try {
          await waitForCount(
            httpPort,
            "group fetches",
            (text) => answered(text) - before,
            SLOW_CONNECTIONS,
          );
          assertRssBounded();
          // The JSON bodies are held in the budget (each a few times its records' bytes, so the
          // last one granted may take it past its cap, once), and the rest were refused.
          const held = await gauge("sluice_http_response_bytes_in_flight");
          assert.ok(held > 0, "the unread JSON bodies are counted in the response budget");
          assert.ok(
            held <= BYTE_BUDGET_OVERDRAW_FACTOR * HTTP_RESPONSE_BYTES_IN_FLIGHT_MAX +
                4 * HTTP_FETCH_BYTES_MAX,
            `response bytes in flight ${held}`,
          );
        } finally {
          closeAll(slow);
        }
        const end = await waitForRelease(httpPort);
        assert.equal(end.http, 0, "every response byte given back once the readers closed");
      },
    );
  });
});
