/**
 * Kafka's Java client (kafka-clients 4.x) with `group.protocol=consumer` (KIP-848:
 * ConsumerGroupHeartbeat, server-side assignment) against the real server: three consumers in one
 * group through a clean leave and a SIGKILL (java_group_scenario.ts), with the server's session
 * timeout at 6 s and heartbeat interval at 500 ms; and a classic group and a consumer group side
 * by side on one topic, each consuming every record once. Skipped, loudly, when the client is not
 * installed (scripts/install-kafka-java.sh); a failure in CI (SLUICE_REQUIRE_KAFKA_CLIENTS=1).
 */
import assert from "node:assert/strict";
import { createTopic } from "../http/server_harness.ts";
import { withKafkaServer } from "./kafka_harness.ts";
import {
  announceJavaSkip,
  consumeArgs,
  javaClientAvailable,
  javaProduce,
  startJavaClient,
} from "./java_harness.ts";
import { threeMembersLeaveAndCrash } from "./java_group_scenario.ts";

announceJavaSkip();

const SERVER_ARGS = [
  "--consumer-group-session-timeout-ms",
  "6000",
  "--consumer-group-heartbeat-interval-ms",
  "500",
];

Deno.test({
  name: "java client, consumer protocol: 3 members, a leave and a crash, exactly once with commits",
  ignore: !javaClientAvailable,
  fn: async () => {
    await withKafkaServer({ args: SERVER_ARGS }, async (server) => {
      await threeMembersLeaveAndCrash(server, {
        protocol: "consumer",
        topic: "java-consumer",
        group: "java-consumer-group",
      });
    });
  },
});

Deno.test({
  name: "java client: a classic group and a consumer group side by side on one topic",
  ignore: !javaClientAvailable,
  fn: async () => {
    await withKafkaServer({ args: SERVER_ARGS }, async (server) => {
      const topic = "java-side-by-side";
      await createTopic(server.server, topic, 4);
      const produced = await javaProduce(server.bootstrap, topic, 200);
      const want = new Set(produced.map((r) => `${r.p}/${r.o}`));
      const clients = await Promise.all(
        (["classic", "consumer"] as const).flatMap((protocol) =>
          [1, 2].map((n) =>
            startJavaClient(
              `${protocol}-${n}`,
              consumeArgs(server.bootstrap, {
                topic,
                group: `side-${protocol}`,
                protocol,
                clientId: `${protocol}-${n}`,
                sessionTimeoutMs: protocol === "classic" ? 6000 : undefined,
              }),
            )
          )
        ),
      );
      try {
        for (const protocol of ["classic", "consumer"]) {
          const members = clients.filter((c) => c.name.startsWith(protocol));
          const seen = () => members.flatMap((c) => c.records.map((r) => `${r.p}/${r.o}`));
          await members[0].waitFor(
            `the ${protocol} group to consume all 200 records`,
            () => [...want].every((k) => seen().includes(k)),
            120_000,
          );
          assert.equal(seen().length, new Set(seen()).size, `${protocol}: each record once`);
        }
        // Group ids are one protocol each: the coordinators keep them apart.
        const describe = await fetch(`${server.httpUrl}/v1/groups/side-consumer`);
        assert.equal(describe.status, 200);
        const body = await describe.json();
        assert.equal(body.protocol, "consumer");
        assert.ok(body.members.every((m: { kind: string }) => m.kind === "kafka"));
        for (const c of clients) assert.equal(await c.stop(), 0, `${c.name} clean stop`);
      } finally {
        await Promise.all(clients.map((c) => c.kill()));
      }
    });
  },
});
