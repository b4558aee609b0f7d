/**
 * Kafka's Java client (kafka-clients 4.x) with `group.protocol=classic` (JoinGroup / SyncGroup,
 * client-side range assignor) against the real server: the idempotent producer, and three
 * consumers in one group through a clean leave and a SIGKILL (java_group_scenario.ts).
 * Skipped, loudly, when the client is not installed (scripts/install-kafka-java.sh); a failure in
 * CI (SLUICE_REQUIRE_KAFKA_CLIENTS=1).
 */
import { withKafkaServer } from "./kafka_harness.ts";
import { announceJavaSkip, javaClientAvailable } from "./java_harness.ts";
import { threeMembersLeaveAndCrash } from "./java_group_scenario.ts";

announceJavaSkip();

Deno.test({
  name: "java client, classic protocol: 3 members, a leave and a crash, exactly once with commits",
  ignore: !javaClientAvailable,
  fn: async () => {
    await withKafkaServer({}, async (server) => {
      await threeMembersLeaveAndCrash(server, {
        protocol: "classic",
        topic: "java-classic",
        group: "java-classic-group",
        sessionTimeoutMs: 6000,
      });
    });
  },
});
