/**
 * `src/main.ts serve` (what `deno task start` runs): the HTTP server on the broker.
 *
 * Settings (resolved in server_config.ts), each from the first place that has it: a flag, an
 * environment variable, the JSON file given by --config (or SLUICE_CONFIG), the default.
 *
 * | flag                  | env                      | config key        | default      |
 * | --host                | SLUICE_HOST              | host              | 127.0.0.1    |
 * | --port                | SLUICE_PORT              | port              | 8080         |
 * | --data-dir            | SLUICE_DATA_DIR          | dataDir           | ./data       |
 * | --max-request-bytes   | SLUICE_MAX_REQUEST_BYTES | maxRequestBytes   | 16 MiB       |
 * | --max-in-flight       | SLUICE_MAX_IN_FLIGHT     | maxInFlight       | 4096         |
 * | --max-long-polls      | SLUICE_MAX_LONG_POLLS    | maxLongPolls      | 1000         |
 * | --max-streams         | SLUICE_MAX_STREAMS       | maxStreams        | 100          |
 * | --max-topics          | SLUICE_MAX_TOPICS        | maxTopics         | 10000        |
 * | --auth                | SLUICE_AUTH              | auth              | (none: open) |
 * | --tls-cert            | SLUICE_TLS_CERT          | tlsCert           | (none: HTTP) |
 * | --tls-key             | SLUICE_TLS_KEY           | tlsKey            | (none: HTTP) |
 *   (both: HTTPS, and TLS on the Kafka port: SSL, or SASL_SSL with --auth)
 * | --tls-ca              | SLUICE_TLS_CA            | tlsCa             | (none)       |
 *   (cluster mode: certificates trusted in the other brokers' besides the runtime's roots and
 *   this broker's own --tls-cert, for replication and HTTP forwarding)
 * | --node-id, --etcd, --etcd-prefix, --advertised-host, --default-replication-factor,
 *   --min-insync-replicas, --broker-session-timeout-ms, --replica-lag-time-max-ms,
 *   --leader-imbalance-check-interval-ms, --inter-broker-user (SLUICE_INTER_BROKER_PASSWORD):
 *   cluster mode, see docs/cluster.md and cluster_mode.ts
 * | --insecure            |                          |                   | off          |
 * | --kafka-port          | SLUICE_KAFKA_PORT        | kafkaPort         | 9092 (0: off, auto: any free port)|
 * | --kafka-host          | SLUICE_KAFKA_HOST        | kafkaHost         | 127.0.0.1    |
 * | --kafka-advertised-host | SLUICE_KAFKA_ADVERTISED_HOST | kafkaAdvertisedHost | kafka host |
 * | --auto-create-topics  | SLUICE_AUTO_CREATE_TOPICS| autoCreateTopics  | true         |
 * | --default-partitions  | SLUICE_DEFAULT_PARTITIONS| defaultPartitions | 1            |
 * | --consumer-group-session-timeout-ms | SLUICE_CONSUMER_GROUP_SESSION_TIMEOUT_MS | consumerGroupSessionTimeoutMs | 45000 |
 * | --consumer-group-heartbeat-interval-ms | SLUICE_CONSUMER_GROUP_HEARTBEAT_INTERVAL_MS | consumerGroupHeartbeatIntervalMs | 5000 |
 *   (KIP-848 `consumer`-protocol groups: the coordinator sets both, as Kafka's
 *   group.consumer.session.timeout.ms and group.consumer.heartbeat.interval.ms)
 * |                       |                          | topicDefaults     | Kafka's      |
 * | --log-retention-check-interval-ms | SLUICE_LOG_RETENTION_CHECK_INTERVAL_MS | logRetentionCheckIntervalMs | 300000 |
 *   (Kafka's log.retention.check.interval.ms: how often each log looks for expired segments; a
 *   topic's retention change is applied at once)
 * | --log-verify-crc-on-read | SLUICE_LOG_VERIFY_CRC_ON_READ | logVerifyCrcOnRead | false |
 *   (check every batch's CRC-32C again when it is read, as appends and recovery do: a bit flipped
 *   on disk since is CORRUPT_LOG, not served; off, as Kafka's broker, whose consumers check it)
 * | --log-cleaner-dedupe-buffer-size | SLUICE_LOG_CLEANER_DEDUPE_BUFFER_SIZE | logCleanerDedupeBufferSize | 128 MiB |
 * | --log-cleaner-io-max-bytes-per-second | SLUICE_LOG_CLEANER_IO_MAX_BYTES_PER_SECOND | logCleanerIoMaxBytesPerSecond | unlimited |
 * | --log-cleaner-backoff-ms | SLUICE_LOG_CLEANER_BACKOFF_MS | logCleanerBackoffMs | 15000 |
 *   (Kafka's log.cleaner.*: the compaction cleaner's offset map, I/O rate and idle wait)
 * | --max-http-connections | SLUICE_MAX_HTTP_CONNECTIONS | maxHttpConnections | min(10000, fd budget) |
 * | --max-http-connections-per-address | SLUICE_MAX_HTTP_CONNECTIONS_PER_ADDRESS | maxHttpConnectionsPerAddress | half |
 * | --max-kafka-connections | SLUICE_MAX_KAFKA_CONNECTIONS | maxKafkaConnections | min(10000, fd budget) |
 * | --max-kafka-connections-per-address | SLUICE_MAX_KAFKA_CONNECTIONS_PER_ADDRESS | maxKafkaConnectionsPerAddress | half |
 *   (fd budget: a fifth of the open-file limit per listener, src/limits.ts descriptorBudget; a
 *   connection over a bound is closed at accept, counted in /metrics, logged at most every 10 s)
 *
 * --auth FILE turns on bearer tokens (src/security/tokens.ts); SIGHUP re-reads FILE (a bad new file
 * keeps the old tokens and logs an error). A host other than loopback is refused (exit 2) without
 * --auth unless --insecure says an open server on the network is meant.
 *
 * The Kafka listener (src/kafka_protocol) is on by default (port 9092; --kafka-port 0 turns it off).
 * With --auth it is SASL_PLAINTEXT: clients must authenticate with SASL/PLAIN using the same
 * tokens (username = the token's name, password = its secret) and get the same rights; SIGHUP
 * reloads apply to both listeners. Without --auth it is PLAINTEXT and open: like the HTTP host, a
 * Kafka host other than loopback is refused (exit 2) without --auth unless --insecure.
 * --tls-cert/--tls-key make this port TLS too, with the same certificate: SSL, or SASL_SSL with
 * --auth (without TLS, PLAIN sends the secret in clear text). The startup log's kafkaSecurity field
 * says which of the four it is. Its line
 * `sluice kafka listening on HOST:PORT` is printed before the HTTP one.
 *
 * SIGINT/SIGTERM: stop accepting, end streams and long polls, finish in-flight requests, flush
 * every log and write its recovery checkpoint, exit 0. A second signal exits at once (code 130).
 */

import { Broker } from "../broker/broker.ts";
import { DEFAULT_TOPIC_CONFIG, parseTopicConfig } from "../broker/topic_config.ts";
import type { SluiceError } from "../errors.ts";
import { createApp } from "../http/app.ts";
import { Authenticator, TokenSet } from "../security/tokens.ts";
import {
  connectionLimits,
  descriptorBudget,
  HTTP_CONNECTIONS_MAX,
  KAFKA_CONNECTIONS_MAX,
} from "../limits.ts";
import { type KafkaListener, startKafkaListener } from "../kafka_protocol/listener.ts";
import { connectionRefusal, renderConnectionStats } from "../http/connections.ts";
import { renderGroupLag } from "../http/group_lag_metrics.ts";
import { consoleLogger } from "../logger.ts";

import { descriptorLimit } from "../runtime/fd_limit.ts";
import { FileError, readWholeFile } from "../runtime/fs.ts";
import { closeQuietly, isDiskFull } from "./start_failure.ts";

import { exitProcess, onReloadSignal, onTerminationSignal } from "../runtime/process.ts";
import { runtimeName, serve } from "../runtime/serve.ts";
import { fetchTrusting } from "../runtime/http_client.ts";
import { resolveServerConfig, usage } from "./server_config.ts";

/** The auth file's tokens; throws a start-up error (exit 1) naming the file. */
function loadTokens(path: string): TokenSet {
  const bytes = readWholeFile(path);
  if (bytes === undefined) throw new Error(`auth file ${path} does not exist`);
  try {
    return TokenSet.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new Error(`auth file ${path}: ${(err as Error).message}`);
  }
}

function readPem(path: string, what: string): string {
  const bytes = readWholeFile(path);
  if (bytes === undefined) throw new Error(`${what} ${path} does not exist`);
  return new TextDecoder().decode(bytes);
}

export async function serveCommand(args: string[]): Promise<void> {
  const config = resolveServerConfig(args);
  const logger = consoleLogger;
  let topicDefaults = DEFAULT_TOPIC_CONFIG;
  try {
    topicDefaults = parseTopicConfig(config.topicDefaults ?? {});
  } catch (err) {
    usage(`invalid topicDefaults: ${(err as SluiceError).message}`);
  }
  const auth = config.auth === undefined ? undefined : new Authenticator(loadTokens(config.auth));
  const tls = config.tlsCert === undefined || config.tlsKey === undefined
    ? undefined
    : { cert: readPem(config.tlsCert, "TLS certificate"), key: readPem(config.tlsKey, "TLS key") };
  // Cluster mode over TLS: what a broker trusts in the others' certificates besides the
  // runtime's roots: its own certificate (a cluster sharing one self-signed certificate) and
  // --tls-ca's.
  const trusted = tls === undefined
    ? []
    : [tls.cert, ...(config.tlsCa === undefined ? [] : [readPem(config.tlsCa, "TLS CA")])];
  const broker = await Broker.open({
    dataDir: config.dataDir,
    replicated: config.nodeId !== undefined,
    logger,
    topicDefaults,
    logSettings: {
      retentionCheckIntervalMs: config.logRetentionCheckIntervalMs,
      verifyCrcOnRead: config.logVerifyCrcOnRead,
    },
    cleaner: {
      dedupeBufferBytes: config.logCleanerDedupeBufferSize,
      ioBytesPerSecond: config.logCleanerIoMaxBytesPerSecond,
      backoffMs: config.logCleanerBackoffMs,
    },
    longPollsMax: config.maxLongPolls,
    topicsMax: config.maxTopics,
    consumerGroups: {
      sessionTimeoutMs: config.consumerGroupSessionTimeoutMs,
      heartbeatIntervalMs: config.consumerGroupHeartbeatIntervalMs,
    },
  });
  const app = createApp(broker, {
    logger,
    maxRequestBytes: config.maxRequestBytes,
    requestsInFlightMax: config.maxInFlight,
    sseStreamsMax: config.maxStreams,
    auth,
    forwardFetch: config.nodeId === undefined ? undefined : fetchTrusting(trusted),
  });
  // Connection bounds: from the flags, else from the process's descriptor limit (limits.ts).
  const fdLimit = descriptorLimit();
  const budget = descriptorBudget(fdLimit);
  const httpLimits = connectionLimits(
    budget.httpConnections,
    HTTP_CONNECTIONS_MAX,
    config.maxHttpConnections,
    config.maxHttpConnectionsPerAddress,
  );
  const kafkaLimits = connectionLimits(
    budget.kafkaConnections,
    KAFKA_CONNECTIONS_MAX,
    config.maxKafkaConnections,
    config.maxKafkaConnectionsPerAddress,
  );
  for (
    const [name, limits, share] of [
      ["http", httpLimits, budget.httpConnections],
      ["kafka", kafkaLimits, budget.kafkaConnections],
    ] as const
  ) {
    if (limits.max > share) {
      logger.warn("connection bound above the descriptor budget: EMFILE can be reached", {
        listener: name,
        max: limits.max,
        budget: share,
        descriptorLimit: fdLimit,
      });
    }
  }
  let server: Awaited<ReturnType<typeof serve>>;
  try {
    server = await serve({
      hostname: config.host,
      port: config.port,
      fetch: app.fetch,
      tls,
      limits: httpLimits,
      logger,
      refusal: connectionRefusal,
      onError: (err) => logger.error("unhandled server error", { error: String(err) }),
    });
  } catch (err) {
    await closeQuietly(broker, logger);
    throw new Error(
      `listening for HTTP on ${config.host}:${config.port}: ${(err as Error).message} ` +
        `(--port sets another)`,
      { cause: err },
    );
  }
  let kafka: KafkaListener | undefined;
  if (config.kafkaPort !== 0) {
    try {
      kafka = await startKafkaListener(broker, {
        host: config.kafkaHost,
        port: config.kafkaPort === "auto" ? 0 : config.kafkaPort,
        advertisedHost: config.kafkaAdvertisedHost ?? config.advertisedHost,
        autoCreateTopics: config.autoCreateTopics,
        defaultPartitions: config.defaultPartitions,
        logger,
        auth, // SASL/PLAIN with the same tokens; a SIGHUP reload (below) applies here too
        tls, // the same certificate as HTTPS: SSL, or SASL_SSL with auth
        connectionLimits: kafkaLimits,
      });
    } catch (err) {
      logger.error("cannot start the Kafka listener", {
        host: config.kafkaHost,
        port: config.kafkaPort,
        error: (err as Error).message,
      });
      await server.shutdown();
      await closeQuietly(broker, logger);
      // The listener also keeps the data dir's cluster id: a file error is not about the port.
      if (err instanceof FileError || isDiskFull(err)) throw err;
      throw new Error(
        `listening for Kafka clients on ${config.kafkaHost}:${config.kafkaPort}: ` +
          `${(err as Error).message} (--kafka-port sets another, 0 turns the Kafka listener off)`,
        { cause: err },
      );
    }
  }
  if (kafka !== undefined) {
    const listener = kafka;
    app.metrics.addSource(() => listener.metrics.render());
  }
  app.metrics.addSource(() => renderGroupLag(broker));
  {
    const listeners = kafka;
    app.metrics.addSource(() =>
      renderConnectionStats([
        ...(server.bounded ? [server.gate.stats()] : []),
        ...(listeners !== undefined ? [listeners.gate.stats()] : []),
      ])
    );
  }
  // Cluster mode: the listeners are bound (their ports are what the broker registers); join now.
  const cluster = config.nodeId === undefined || kafka === undefined
    ? undefined
    // Loaded only here: a single-node server never holds the cluster's code (idle RSS).
    : await (await import("./cluster_mode.ts")).joinClusterOrExit(broker, config, {
      kafka,
      httpUrl: `${tls ? "https" : "http"}://${
        config.advertisedHost ?? server.hostname
      }:${server.port}`,
      tls: tls === undefined ? undefined : { caCerts: trusted },
      logger,
      stop: async () => {
        await server.shutdown();
        await kafka?.close();
        await broker.close();
      },
    });
  const authPath = config.auth;
  if (auth !== undefined && authPath !== undefined) {
    onReloadSignal(() => {
      try {
        const tokens = loadTokens(authPath);
        auth.replace(tokens);
        logger.info("auth file reloaded", { path: authPath, tokens: tokens.size });
      } catch (err) {
        logger.error("auth file reload failed; keeping the previous tokens", {
          error: (err as Error).message,
        });
      }
    });
  }

  let stopping = false;
  onTerminationSignal(async (signal) => {
    if (stopping) exitProcess(130);
    stopping = true;
    logger.info("shutting down", { signal });
    try {
      const drained = server.shutdown();
      const kafkaClosed = kafka?.close();
      app.beginShutdown();
      broker.stopWaiting();
      await drained;
      await kafkaClosed;
      // Leaving the cluster revokes this broker's lease: its leaderships move at once.
      await cluster?.close();
      await broker.close();
      logger.info("stopped cleanly");
      exitProcess(0);
    } catch (err) {
      logger.error("shutdown failed", { error: String(err) });
      exitProcess(1);
    }
  });

  // Announced only once the signal handlers are in place: a supervisor (or a test) may stop the
  // server the moment it reads this line.
  const url = `${tls ? "https" : "http"}://${server.hostname}:${server.port}`;
  if (kafka !== undefined) console.log(`sluice kafka listening on ${kafka.host}:${kafka.port}`);
  console.log(`sluice listening on ${url} (data: ${config.dataDir})`);
  logger.info("started", {
    url,
    dataDir: config.dataDir,
    runtime: runtimeName(),
    topics: broker.topics.list().length,
    auth: auth === undefined ? "off" : "on",
    tls: tls !== undefined,
    kafka: kafka === undefined ? "off" : `${kafka.host}:${kafka.port}`,
    cluster: cluster === undefined
      ? "off"
      : `node ${cluster.nodeId} of ${cluster.settings.etcdEndpoint}${cluster.keys.prefix}`,
    kafkaSecurity: kafka === undefined
      ? undefined
      : `${auth === undefined ? "" : "SASL_"}${tls === undefined ? "PLAINTEXT" : "SSL"}`,
    descriptorLimit: fdLimit,
    httpConnectionsMax: server.bounded ? httpLimits.max : "not enforced on this runtime",
    httpConnectionsPerAddressMax: server.bounded ? httpLimits.perAddressMax : undefined,
    kafkaConnectionsMax: kafka === undefined ? undefined : kafkaLimits.max,
    kafkaConnectionsPerAddressMax: kafka === undefined ? undefined : kafkaLimits.perAddressMax,
  });
}
