/**
 * The soak's hostile-client phase (`deno task soak --attack-seconds N`): a fresh server with both
 * listeners and the default limits, then
 * 1. a connection flood (scripts/soak_flood.ts): 10,500 idle connections to each port from one
 *    address, held N seconds, while /healthz is probed from another address;
 * 2. slow readers (scripts/soak_slow_readers.ts): rounds of 60 Kafka and 60 HTTP clients asking
 *    for 64 MiB fetches of a 128 MiB topic and never reading, for N seconds.
 * The goals (issue "Survive hostile clients"): the server stays up, its RSS stays under
 * RSS_GOAL_MIB, /healthz p99 under HEALTHZ_P99_GOAL_MS during the attack, and everything it held
 * for the attackers comes back once they leave. Each figure is printed with its verdict; the
 * phase passes only when every goal is met.
 */
import { startKafkaServer } from "../test/kafka_protocol/kafka_harness.ts";
import { connectionFlood } from "./soak_flood.ts";
import { fillTopic, slowReaderAttack } from "./soak_slow_readers.ts";

/** Server RSS the attacks may not push it past (MiB). */
export const RSS_GOAL_MIB = 300;
/** /healthz p99 during an attack (ms). */
export const HEALTHZ_P99_GOAL_MS = 50;
const FLOOD_CONNECTIONS = 10_500;
const SLOW_CONNECTIONS = 60;
const SLOW_TOPIC_MIB = 128;

function verdict(what: string, value: number, goal: number, unit: string): boolean {
  const ok = Number.isFinite(value) && value < goal;
  console.log(`  ${what}: ${value.toFixed(1)} ${unit} (goal < ${goal}): ${ok ? "met" : "MISSED"}`);
  return ok;
}

/** Runs both attacks for `seconds` each; true when every goal was met. */
export async function attacks(seconds: number): Promise<boolean> {
  const server = await startKafkaServer();
  const pid = server.server.proc.pid;
  const httpPort = Number(new URL(server.httpUrl).port);
  let ok = true;
  try {
    console.log(`attack 1: connection flood, ${FLOOD_CONNECTIONS} per port, held ${seconds} s`);
    const flood = await connectionFlood({
      httpPort,
      kafkaPort: server.kafkaPort,
      pid,
      seconds,
      connections: FLOOD_CONNECTIONS,
    });
    console.log(`  ${JSON.stringify(flood)}`);
    ok = flood.alive && flood.recoveredMs !== null && ok;
    ok = verdict("RSS max", flood.rssMaxMiB, RSS_GOAL_MIB, "MiB") && ok;
    ok = verdict("/healthz p99 while held", flood.healthzP99MsHolding, HEALTHZ_P99_GOAL_MS, "ms") &&
      ok;
    ok =
      verdict("/healthz p99 while opening", flood.healthzP99MsOpening, HEALTHZ_P99_GOAL_MS, "ms") &&
      ok;

    console.log(
      `attack 2: slow readers, ${SLOW_CONNECTIONS} Kafka + ${SLOW_CONNECTIONS} HTTP per round, ` +
        `${seconds} s, on a ${SLOW_TOPIC_MIB} MiB topic`,
    );
    await fillTopic(httpPort, "slow-readers", SLOW_TOPIC_MIB);
    const slow = await slowReaderAttack({
      httpPort,
      kafkaPort: server.kafkaPort,
      pid,
      topic: "slow-readers",
      seconds,
      connections: SLOW_CONNECTIONS,
    });
    console.log(`  ${JSON.stringify(slow)}`);
    const released = slow.kafkaResponseBytesEnd === 0 && slow.httpResponseBytesEnd === 0;
    console.log(`  budgets back to 0 after the readers left: ${released ? "yes" : "NO"}`);
    ok = released && slow.consumerErrors === 0 && ok;
    ok = verdict("RSS max", slow.rssMaxMiB, RSS_GOAL_MIB, "MiB") && ok;
    ok = verdict("/healthz p99", slow.healthzP99Ms, HEALTHZ_P99_GOAL_MS, "ms") && ok;
  } finally {
    await server.stop().catch(() => {});
    await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
  }
  return ok;
}
