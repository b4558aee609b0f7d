/**
 * A real Apache Kafka broker (4.4) for tests that compare Sluice with Kafka itself: everything of
 * scripts/kafka_server.ts (startKafka, the tools' class names, runKafkaClass, kafkaAvailable),
 * which the bench shares, plus the tests' skip notice.
 *
 * `kafkaAvailable` says whether the install is here; tests skip loudly with
 * {@link announceKafkaSkip} when not (a failure under SLUICE_REQUIRE_KAFKA_CLIENTS=1, as in CI).
 * Not a test file itself (no `_test` suffix).
 */
import { announceSkip } from "../kafka_protocol/kafka_harness.ts";
import { kafkaAvailable } from "../../scripts/kafka_server.ts";

export * from "../../scripts/kafka_server.ts";

/** Skip announcement (or, in CI, a failing test) for the Kafka broker. */
export function announceKafkaSkip(): void {
  announceSkip(
    kafkaAvailable,
    "Apache Kafka 4.4 (broker and tools)",
    "scripts/install-kafka.sh (needs mvn and a JDK 17+)",
  );
}
