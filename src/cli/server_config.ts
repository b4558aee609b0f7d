/**
 * The serve command's settings (src/cli/serve.ts's table): flags, environment variables, the
 * --config file's keys and defaults, resolved and checked in one place (resolveServerConfig).
 */
import {
  BROKER_SESSION_TIMEOUT_MS_DEFAULT,
  BROKER_SESSION_TIMEOUT_MS_MAX,
  BROKER_SESSION_TIMEOUT_MS_MIN,
  CLEANER_BACKOFF_MS_DEFAULT,
  CLEANER_DEDUPE_BUFFER_BYTES_DEFAULT,
  CLEANER_DEDUPE_BUFFER_BYTES_MIN,
  CONSUMER_GROUP_HEARTBEAT_INTERVAL_MS_DEFAULT,
  CONSUMER_GROUP_SESSION_TIMEOUT_MS_DEFAULT,
  KAFKA_PORT_DEFAULT,
  LEADER_IMBALANCE_CHECK_INTERVAL_MS_DEFAULT,
  LONG_POLLS_MAX,
  PARTITIONS_PER_TOPIC_MAX,
  REPLICA_LAG_TIME_MAX_MS_DEFAULT,
  REQUEST_BYTES_DEFAULT,
  REQUESTS_IN_FLIGHT_MAX,
  RETENTION_CHECK_INTERVAL_MS_DEFAULT,
  SESSION_TIMEOUT_MS_MAX,
  SESSION_TIMEOUT_MS_MIN,
  SSE_STREAMS_MAX,
  TOPICS_MAX,
} from "../limits.ts";
import {
  AUTO_CREATE_TOPICS_DEFAULT,
  DEFAULT_PARTITIONS_DEFAULT,
} from "../kafka_protocol/listener.ts";

import { DEFAULT_LOG_CONFIG } from "../storage/log_config.ts";

import { readWholeFile } from "../runtime/fs.ts";

import { SERVE_USAGE } from "./usage.ts";
import { envVar, exitProcess } from "../runtime/process.ts";

/** Kafka's default.replication.factor and min.insync.replicas defaults. */
const DEFAULT_REPLICATION_FACTOR_DEFAULT = 1;
const MIN_INSYNC_REPLICAS_DEFAULT = 1;

/** The serve command's settings, checked and converted (resolveServerConfig). */
export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  maxRequestBytes: number;
  maxInFlight: number;
  maxLongPolls: number;
  maxStreams: number;
  maxTopics: number;
  topicDefaults?: Record<string, string | number>;
  auth?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  insecure?: boolean;
  /** 0 turns the listener off; "auto" binds any free port (tests, several servers on a host). */
  kafkaPort: number | "auto";
  kafkaHost: string;
  kafkaAdvertisedHost?: string;
  autoCreateTopics: boolean;
  defaultPartitions: number;
  consumerGroupSessionTimeoutMs: number;
  consumerGroupHeartbeatIntervalMs: number;
  maxHttpConnections?: number;
  maxHttpConnectionsPerAddress?: number;
  maxKafkaConnections?: number;
  maxKafkaConnectionsPerAddress?: number;
  nodeId?: number;
  etcd?: string;
  etcdPrefix?: string;
  advertisedHost?: string;
  defaultReplicationFactor: number;
  minInsyncReplicas: number;
  brokerSessionTimeoutMs: number;
  replicaLagTimeMaxMs: number;
  leaderImbalanceCheckIntervalMs: number;
  interBrokerUser?: string;
  interBrokerPassword?: string;
  logRetentionCheckIntervalMs: number;
  logVerifyCrcOnRead: boolean;
  logCleanerDedupeBufferSize: number;
  logCleanerIoMaxBytesPerSecond?: number;
  logCleanerBackoffMs: number;
}

/**
 * What each setting takes. Checked by hand rather than with zod: the settings are read at every
 * start-up, and zod is several MB of a server's idle RSS (issue 17). A number may come as text (a
 * flag, an environment variable) and is converted as Number() does; a boolean as true/false or
 * "true"/"false".
 */
type Rule =
  | { kind: "string"; optional?: boolean; url?: boolean }
  | { kind: "int"; min: number; max: number; optional?: boolean; auto?: boolean }
  | { kind: "positive"; optional: boolean }
  | { kind: "boolean"; optional?: boolean; text?: boolean }
  | { kind: "record" };

const str = (optional = false): Rule => ({ kind: "string", optional });
const int = (min: number, max: number, optional = false): Rule => ({
  kind: "int",
  min,
  max,
  optional,
});
const flag: Rule = { kind: "boolean", text: true };

const RULES: Readonly<Record<keyof ServerConfig, Rule>> = {
  host: str(),
  port: int(0, 65535),
  dataDir: str(),
  maxRequestBytes: int(1024, 2 ** 31 - 1),
  maxInFlight: int(1, 1_000_000),
  maxLongPolls: int(1, 1_000_000),
  maxStreams: int(1, 1_000_000),
  maxTopics: int(1, 1_000_000),
  topicDefaults: { kind: "record" },
  auth: str(true),
  tlsCert: str(true),
  tlsKey: str(true),
  tlsCa: str(true),
  insecure: { kind: "boolean", optional: true },
  kafkaPort: { kind: "int", min: 0, max: 65535, auto: true },
  kafkaHost: str(),
  kafkaAdvertisedHost: str(true),
  autoCreateTopics: flag,
  defaultPartitions: int(1, PARTITIONS_PER_TOPIC_MAX),
  consumerGroupSessionTimeoutMs: int(SESSION_TIMEOUT_MS_MIN, SESSION_TIMEOUT_MS_MAX),
  consumerGroupHeartbeatIntervalMs: int(10, SESSION_TIMEOUT_MS_MAX),
  maxHttpConnections: int(1, 1_000_000, true),
  maxHttpConnectionsPerAddress: int(1, 1_000_000, true),
  maxKafkaConnections: int(1, 1_000_000, true),
  maxKafkaConnectionsPerAddress: int(1, 1_000_000, true),
  nodeId: int(0, 2 ** 31 - 1, true),
  etcd: { kind: "string", optional: true, url: true },
  etcdPrefix: str(true),
  advertisedHost: str(true),
  defaultReplicationFactor: int(1, 1000),
  minInsyncReplicas: int(1, 1000),
  brokerSessionTimeoutMs: int(BROKER_SESSION_TIMEOUT_MS_MIN, BROKER_SESSION_TIMEOUT_MS_MAX),
  replicaLagTimeMaxMs: int(100, 3_600_000),
  leaderImbalanceCheckIntervalMs: int(0, 86_400_000),
  interBrokerUser: str(true),
  interBrokerPassword: str(true),
  logRetentionCheckIntervalMs: int(1, Number.MAX_SAFE_INTEGER),
  logVerifyCrcOnRead: flag,
  logCleanerDedupeBufferSize: int(CLEANER_DEDUPE_BUFFER_BYTES_MIN, 2 ** 31 - 1),
  logCleanerIoMaxBytesPerSecond: { kind: "positive", optional: true },
  logCleanerBackoffMs: int(1, 86_400_000),
};

function typeName(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}

/** One setting's value, converted; throws the message of what is wrong with it. */
function checkSetting(rule: Rule, value: unknown): unknown {
  switch (rule.kind) {
    case "string":
      if (typeof value !== "string") {
        throw new Error(`expected a string, received ${typeName(value)}`);
      }
      if (value.length === 0) throw new Error("expected a non-empty string");
      if (rule.url === true && !URL.canParse(value)) throw new Error("expected a URL");
      return value;
    case "int":
    case "positive": {
      if (rule.kind === "int" && rule.auto === true && value === "auto") return value;
      const n = Number(value);
      if (typeof value === "object" || typeof value === "symbol" || Number.isNaN(n)) {
        throw new Error(`expected a number, received ${JSON.stringify(value) ?? typeName(value)}`);
      }
      if (rule.kind === "positive") {
        if (!(n > 0)) throw new Error("expected a number > 0");
        return n;
      }
      if (!Number.isInteger(n)) throw new Error(`expected an integer, received ${n}`);
      if (n < rule.min) throw new Error(`too small: expected a number >= ${rule.min}`);
      if (n > rule.max) throw new Error(`too big: expected a number <= ${rule.max}`);
      return n;
    }
    case "boolean":
      if (typeof value === "boolean") return value;
      if (rule.text === true && (value === "true" || value === "false")) return value === "true";
      throw new Error(
        `expected true or false, received ${JSON.stringify(value) ?? typeName(value)}`,
      );
    case "record": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new Error(`expected an object, received ${typeName(value)}`);
      }
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== "string" && typeof v !== "number") {
          throw new Error(`${k}: expected a string or a number, received ${typeName(v)}`);
        }
      }
      return value;
    }
  }
}

/** The merged settings checked; the first problem as `{key, message}`. */
function checkServerConfig(
  merged: Record<string, unknown>,
): { config: ServerConfig } | { key: string; message: string } {
  const out: Record<string, unknown> = {};
  for (const [key, rule] of Object.entries(RULES) as [string, Rule][]) {
    const value = merged[key];
    if (value === undefined) {
      if (rule.kind === "record" || rule.optional === true) continue;
      return { key, message: "required" };
    }
    try {
      out[key] = checkSetting(rule, value);
    } catch (err) {
      return { key, message: (err as Error).message };
    }
  }
  const unknown = Object.keys(merged).filter((k) => !Object.hasOwn(RULES, k));
  if (unknown.length > 0) {
    return {
      key: "",
      message: `unknown key${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}`,
    };
  }
  return { config: out as unknown as ServerConfig };
}

const SETTINGS = [
  ["host", "--host", "SLUICE_HOST"],
  ["port", "--port", "SLUICE_PORT"],
  ["dataDir", "--data-dir", "SLUICE_DATA_DIR"],
  ["maxRequestBytes", "--max-request-bytes", "SLUICE_MAX_REQUEST_BYTES"],
  ["maxInFlight", "--max-in-flight", "SLUICE_MAX_IN_FLIGHT"],
  ["maxLongPolls", "--max-long-polls", "SLUICE_MAX_LONG_POLLS"],
  ["maxStreams", "--max-streams", "SLUICE_MAX_STREAMS"],
  ["maxTopics", "--max-topics", "SLUICE_MAX_TOPICS"],
  ["auth", "--auth", "SLUICE_AUTH"],
  ["tlsCert", "--tls-cert", "SLUICE_TLS_CERT"],
  ["tlsKey", "--tls-key", "SLUICE_TLS_KEY"],
  ["tlsCa", "--tls-ca", "SLUICE_TLS_CA"],
  ["kafkaPort", "--kafka-port", "SLUICE_KAFKA_PORT"],
  ["kafkaHost", "--kafka-host", "SLUICE_KAFKA_HOST"],
  ["kafkaAdvertisedHost", "--kafka-advertised-host", "SLUICE_KAFKA_ADVERTISED_HOST"],
  ["autoCreateTopics", "--auto-create-topics", "SLUICE_AUTO_CREATE_TOPICS"],
  ["defaultPartitions", "--default-partitions", "SLUICE_DEFAULT_PARTITIONS"],
  [
    "consumerGroupSessionTimeoutMs",
    "--consumer-group-session-timeout-ms",
    "SLUICE_CONSUMER_GROUP_SESSION_TIMEOUT_MS",
  ],
  [
    "consumerGroupHeartbeatIntervalMs",
    "--consumer-group-heartbeat-interval-ms",
    "SLUICE_CONSUMER_GROUP_HEARTBEAT_INTERVAL_MS",
  ],
  ["maxHttpConnections", "--max-http-connections", "SLUICE_MAX_HTTP_CONNECTIONS"],
  [
    "maxHttpConnectionsPerAddress",
    "--max-http-connections-per-address",
    "SLUICE_MAX_HTTP_CONNECTIONS_PER_ADDRESS",
  ],
  ["maxKafkaConnections", "--max-kafka-connections", "SLUICE_MAX_KAFKA_CONNECTIONS"],
  [
    "maxKafkaConnectionsPerAddress",
    "--max-kafka-connections-per-address",
    "SLUICE_MAX_KAFKA_CONNECTIONS_PER_ADDRESS",
  ],
  ["nodeId", "--node-id", "SLUICE_NODE_ID"],
  ["etcd", "--etcd", "SLUICE_ETCD"],
  ["etcdPrefix", "--etcd-prefix", "SLUICE_ETCD_PREFIX"],
  ["advertisedHost", "--advertised-host", "SLUICE_ADVERTISED_HOST"],
  ["defaultReplicationFactor", "--default-replication-factor", "SLUICE_DEFAULT_REPLICATION_FACTOR"],
  ["minInsyncReplicas", "--min-insync-replicas", "SLUICE_MIN_INSYNC_REPLICAS"],
  [
    "brokerSessionTimeoutMs",
    "--broker-session-timeout-ms",
    "SLUICE_BROKER_SESSION_TIMEOUT_MS",
  ],
  ["replicaLagTimeMaxMs", "--replica-lag-time-max-ms", "SLUICE_REPLICA_LAG_TIME_MAX_MS"],
  [
    "leaderImbalanceCheckIntervalMs",
    "--leader-imbalance-check-interval-ms",
    "SLUICE_LEADER_IMBALANCE_CHECK_INTERVAL_MS",
  ],
  ["interBrokerUser", "--inter-broker-user", "SLUICE_INTER_BROKER_USER"],
  ["interBrokerPassword", "--inter-broker-password", "SLUICE_INTER_BROKER_PASSWORD"],
  [
    "logCleanerDedupeBufferSize",
    "--log-cleaner-dedupe-buffer-size",
    "SLUICE_LOG_CLEANER_DEDUPE_BUFFER_SIZE",
  ],
  [
    "logCleanerIoMaxBytesPerSecond",
    "--log-cleaner-io-max-bytes-per-second",
    "SLUICE_LOG_CLEANER_IO_MAX_BYTES_PER_SECOND",
  ],
  ["logCleanerBackoffMs", "--log-cleaner-backoff-ms", "SLUICE_LOG_CLEANER_BACKOFF_MS"],
  [
    "logRetentionCheckIntervalMs",
    "--log-retention-check-interval-ms",
    "SLUICE_LOG_RETENTION_CHECK_INTERVAL_MS",
  ],
  ["logVerifyCrcOnRead", "--log-verify-crc-on-read", "SLUICE_LOG_VERIFY_CRC_ON_READ"],
] as const;

/** Hosts that only this machine can reach. */
function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return h === "localhost" || h === "::1" || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(h);
}

export function usage(message: string): never {
  console.error(`${message}\n${SERVE_USAGE}`);
  exitProcess(2);
}

/** The server's settings from flags, environment, config file and defaults. */
export function resolveServerConfig(args: string[]): ServerConfig {
  const flags = new Map<string, string>();
  let insecure = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") {
      console.log(SERVE_USAGE);
      exitProcess(0);
    }
    if (arg === "--insecure") {
      insecure = true;
      continue;
    }
    const known = arg === "--config" || SETTINGS.some(([, flag]) => flag === arg);
    if (!known) usage(`unknown argument ${arg}`);
    if (i + 1 >= args.length) usage(`${arg} needs a value`);
    flags.set(arg, args[++i]);
  }
  const configPath = flags.get("--config") ?? envVar("SLUICE_CONFIG");
  let file: Record<string, unknown> = {};
  if (configPath !== undefined) {
    const bytes = readWholeFile(configPath);
    if (bytes === undefined) usage(`config file ${configPath} does not exist`);
    try {
      file = JSON.parse(new TextDecoder().decode(bytes));
    } catch (err) {
      usage(`config file ${configPath} is not JSON: ${(err as Error).message}`);
    }
  }
  const merged: Record<string, unknown> = {
    host: "127.0.0.1",
    port: 8080,
    dataDir: "./data",
    maxRequestBytes: REQUEST_BYTES_DEFAULT,
    maxInFlight: REQUESTS_IN_FLIGHT_MAX,
    maxLongPolls: LONG_POLLS_MAX,
    maxStreams: SSE_STREAMS_MAX,
    maxTopics: TOPICS_MAX,
    kafkaPort: KAFKA_PORT_DEFAULT,
    kafkaHost: "127.0.0.1",
    autoCreateTopics: AUTO_CREATE_TOPICS_DEFAULT,
    defaultPartitions: DEFAULT_PARTITIONS_DEFAULT,
    consumerGroupSessionTimeoutMs: CONSUMER_GROUP_SESSION_TIMEOUT_MS_DEFAULT,
    consumerGroupHeartbeatIntervalMs: CONSUMER_GROUP_HEARTBEAT_INTERVAL_MS_DEFAULT,
    defaultReplicationFactor: DEFAULT_REPLICATION_FACTOR_DEFAULT,
    minInsyncReplicas: MIN_INSYNC_REPLICAS_DEFAULT,
    brokerSessionTimeoutMs: BROKER_SESSION_TIMEOUT_MS_DEFAULT,
    replicaLagTimeMaxMs: REPLICA_LAG_TIME_MAX_MS_DEFAULT,
    leaderImbalanceCheckIntervalMs: LEADER_IMBALANCE_CHECK_INTERVAL_MS_DEFAULT,
    logRetentionCheckIntervalMs: RETENTION_CHECK_INTERVAL_MS_DEFAULT,
    logVerifyCrcOnRead: DEFAULT_LOG_CONFIG.verifyCrcOnRead,
    logCleanerDedupeBufferSize: CLEANER_DEDUPE_BUFFER_BYTES_DEFAULT,
    logCleanerBackoffMs: CLEANER_BACKOFF_MS_DEFAULT,
    ...file,
  };
  for (const [key, flag, env] of SETTINGS) {
    const value = flags.get(flag) ?? envVar(env);
    if (value !== undefined) merged[key] = value;
  }
  if (insecure) merged.insecure = true;
  const checked = checkServerConfig(merged);
  if (!("config" in checked)) usage(`invalid setting ${checked.key}: ${checked.message}`);
  const config = checked.config;
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    usage("--tls-cert and --tls-key go together");
  }
  if ((config.nodeId === undefined) !== (config.etcd === undefined)) {
    usage("--node-id and --etcd go together (cluster mode)");
  }
  if (config.nodeId !== undefined && config.kafkaPort === 0) {
    usage(
      "cluster mode needs the Kafka listener (followers replicate over it): not --kafka-port 0",
    );
  }
  if ((config.interBrokerUser === undefined) !== (config.interBrokerPassword === undefined)) {
    usage("--inter-broker-user and its password (SLUICE_INTER_BROKER_PASSWORD) go together");
  }
  if (
    config.nodeId !== undefined && config.auth !== undefined && config.interBrokerUser === undefined
  ) {
    usage(
      "cluster mode with --auth needs the brokers' own credentials to replicate: " +
        "--inter-broker-user NAME and SLUICE_INTER_BROKER_PASSWORD (a token of the auth file " +
        "with the admin right on every topic)",
    );
  }
  if (!isLoopback(config.host) && config.auth === undefined && config.insecure !== true) {
    console.error(
      `sluice: refusing to listen on ${config.host} without --auth: anyone who can reach it ` +
        `could read, write and delete every topic. Give --auth FILE, bind 127.0.0.1, or pass ` +
        `--insecure to serve it open on purpose.`,
    );
    exitProcess(2);
  }
  if (
    config.kafkaPort !== 0 && !isLoopback(config.kafkaHost) && config.auth === undefined &&
    config.insecure !== true
  ) {
    console.error(
      `sluice: refusing to serve the Kafka protocol on ${config.kafkaHost} without --auth: ` +
        `anyone who can reach it could read, write and delete every topic. Give --auth FILE ` +
        `(clients then need SASL/PLAIN), bind 127.0.0.1, or pass --insecure to serve it open ` +
        `on purpose.`,
    );
    exitProcess(2);
  }
  return config;
}
