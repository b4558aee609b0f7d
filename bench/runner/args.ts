/**
 * The bench runner's command line (bench/main.ts documents the flags): the suites, the groups
 * --scenario may name, and which suites a run selects, in the order they run.
 */
import process from "node:process";
import { GROUP_GROUPS } from "../group_bench.ts";
import { HTTP_GROUPS } from "../http_bench.ts";
import { INDEX_GROUPS } from "../index_bench.ts";
import { STORAGE_GROUPS } from "../storage_bench.ts";

/** Where the three report files go instead of bench/results (tests point it at a temp dir). */
export const RESULTS_DIR_ENV = "SLUICE_BENCH_RESULTS_DIR";
/** host:port[,host:port] of a Kafka cluster for --kafka. */
export const KAFKA_BROKERS_ENV = "KAFKA_BROKERS";

export const SUITES = [
  "embedded",
  "storage",
  "index",
  "http",
  "groups",
  "kafka-client",
  "kafka-latency",
  "kafka",
  "cluster",
  "peers",
  "crc32c",
  "record",
] as const;
export type Suite = typeof SUITES[number];

/** Micro benches: under --quick they run only when --scenario names them (20-30 s together). */
export const MICRO_SUITES: readonly Suite[] = ["index", "crc32c", "record"];
/**
 * Suites that run only when --scenario names them: `kafka` starts an Apache Kafka broker (a JVM
 * with a 1 GiB heap) and runs Kafka's Java tools beside Sluice, minutes in the full run; `cluster`
 * starts etcd and Sluice clusters and kills brokers, minutes too; `kafka-latency` paces Kafka Java
 * client producers for a few minutes (bench/kafka_latency_bench.ts).
 */
export const OPT_IN_SUITES: readonly Suite[] = ["kafka", "cluster", "kafka-latency"];

export interface Args {
  quick: boolean;
  json: boolean;
  growth: boolean;
  kafka: boolean;
  scenarios: string[];
}

function usage(): string {
  const groups = [...STORAGE_GROUPS, ...INDEX_GROUPS, ...HTTP_GROUPS, ...GROUP_GROUPS];
  return `usage: deno task bench [--quick] [--json] [--growth] [--kafka] [--scenario NAME]...
  NAME: a suite (${SUITES.join(", ")}) or a group (${groups.join(", ")});
  only when named: ${OPT_IN_SUITES.join(", ")} (kafka: Apache Kafka 4.4 beside Sluice;
  cluster: 3 brokers against one, replication lag, failover;
  kafka-latency: end-to-end latency of paced producers (Kafka's Java client; SLUICE_LATENCY_CLIENT=
  python: librdkafka), 10-75% of the consumer's rate; SLUICE_LATENCY_KAFKA=1: Kafka beside it)
  --kafka needs ${KAFKA_BROKERS_ENV}=host:port[,host:port]; results go to bench/results or $${RESULTS_DIR_ENV}`;
}

export function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, json: false, growth: false, kafka: false, scenarios: [] };
  const known = new Set<string>([
    ...SUITES,
    ...STORAGE_GROUPS,
    ...INDEX_GROUPS,
    ...HTTP_GROUPS,
    ...GROUP_GROUPS,
  ]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") args.quick = true;
    else if (a === "--json") args.json = true;
    else if (a === "--growth") args.growth = true;
    else if (a === "--kafka") args.kafka = true;
    else if (a === "--help" || a === "-h") {
      console.log(usage());
      process.exit(0);
    } else if (a === "--scenario" || a.startsWith("--scenario=")) {
      const value = a === "--scenario" ? argv[++i] : a.slice("--scenario=".length);
      if (value === undefined) throw new Error(`--scenario needs a name\n${usage()}`);
      for (const name of value.split(",").filter((n) => n !== "")) {
        if (!known.has(name)) throw new Error(`unknown scenario ${name}\n${usage()}`);
        args.scenarios.push(name);
      }
    } else {
      throw new Error(`unknown argument ${a}\n${usage()}`);
    }
  }
  if (args.kafka && !(process.env[KAFKA_BROKERS_ENV] ?? "").trim()) {
    throw new Error(
      `--kafka needs the brokers of a running Kafka in ${KAFKA_BROKERS_ENV}, e.g. ` +
        `${KAFKA_BROKERS_ENV}=127.0.0.1:9092 deno task bench --kafka`,
    );
  }
  return args;
}

/** Which suites run, and the group filter of each (empty: every group). */
export function selection(args: Args): Map<Suite, string[]> {
  const chosen = new Map<Suite, string[]>();
  if (args.scenarios.length === 0) {
    for (const s of SUITES) {
      if (args.quick && MICRO_SUITES.includes(s)) continue;
      if (OPT_IN_SUITES.includes(s)) continue;
      chosen.set(s, []);
    }
    return chosen;
  }
  const add = (suite: Suite, group: string | undefined) => {
    const groups = chosen.get(suite);
    if (group === undefined) chosen.set(suite, []);
    else if (groups === undefined) chosen.set(suite, [group]);
    else if (groups.length > 0) groups.push(group); // an empty list already means all
  };
  for (const name of args.scenarios) {
    if ((SUITES as readonly string[]).includes(name)) add(name as Suite, undefined);
    else if ((STORAGE_GROUPS as readonly string[]).includes(name)) add("storage", name);
    else if ((HTTP_GROUPS as readonly string[]).includes(name)) add("http", name);
    else if ((GROUP_GROUPS as readonly string[]).includes(name)) add("groups", name);
    else add("index", name);
  }
  if (args.growth && !chosen.has("embedded")) chosen.set("embedded", ["growth"]);
  // Run in the suites' own order, whatever the order on the command line.
  return new Map(SUITES.filter((s) => chosen.has(s)).map((s) => [s, chosen.get(s)!]));
}
