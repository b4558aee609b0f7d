/** The serve command's flags (`src/main.ts --help` prints them). */
export const SERVE_USAGE =
  `usage: src/main.ts serve [--host H] [--port P] [--data-dir DIR] [--max-request-bytes N]
                         [--max-in-flight N] [--max-long-polls N] [--max-streams N] [--max-topics N]
                         [--auth FILE] [--tls-cert FILE --tls-key FILE [--tls-ca FILE]] [--insecure]
                         [--kafka-port P|0|auto] [--kafka-host H] [--kafka-advertised-host H]
                         [--auto-create-topics true|false] [--default-partitions N]
                         [--consumer-group-session-timeout-ms MS]
                         [--consumer-group-heartbeat-interval-ms MS]
                         [--max-http-connections N] [--max-http-connections-per-address N]
                         [--max-kafka-connections N] [--max-kafka-connections-per-address N]
                         [--log-retention-check-interval-ms MS] [--log-cleaner-backoff-ms MS]
                         [--log-verify-crc-on-read true|false]
                         [--log-cleaner-dedupe-buffer-size N]
                         [--log-cleaner-io-max-bytes-per-second N]
                         [--node-id N --etcd URL [--etcd-prefix P] [--advertised-host H]
                          [--default-replication-factor N] [--min-insync-replicas N]
                          [--broker-session-timeout-ms MS] [--replica-lag-time-max-ms MS]
                          [--leader-imbalance-check-interval-ms MS (0: off)]
                          [--inter-broker-user NAME] (password: SLUICE_INTER_BROKER_PASSWORD)]
                         [--config FILE]
Each flag also reads from the environment (--data-dir: SLUICE_DATA_DIR, ...) and from --config's
JSON (its keys in camelCase, plus "topicDefaults"); flags win. Defaults and bounds: README.md.`;
