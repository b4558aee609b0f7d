/**
 * Every bound Sluice enforces, with its name and default. Per-topic configs (Kafka's key names in
 * comments) start from these defaults; the hard caps are not configurable upward.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** `segment.bytes`: a segment rolls before it would grow past this (Kafka: 1 GiB). */
export const SEGMENT_BYTES_DEFAULT = GiB;
/** Positions in the offset index are u32, and Kafka caps segment.bytes at an i32. */
export const SEGMENT_BYTES_MAX = 2 * GiB - 1;
/** Small segments are legal (tests, compaction) but not smaller than one batch header. */
export const SEGMENT_BYTES_MIN = 64;

/** `segment.ms`: a segment rolls once its first batch is older than this (Kafka: 7 days). */
export const SEGMENT_MS_DEFAULT = 7 * 24 * 60 * 60 * 1000;

/** `index.interval.bytes`: one sparse index entry per this many bytes of log (Kafka: 4096). */
export const INDEX_INTERVAL_BYTES_DEFAULT = 4 * KiB;

/** `segment.index.bytes`: the offset index of one segment holds at most this (Kafka: 10 MiB). */
export const SEGMENT_INDEX_BYTES_DEFAULT = 10 * MiB;

/** `retention.ms`: segments whose newest record is older are deleted (Kafka: 7 days; -1 = keep). */
export const RETENTION_MS_DEFAULT = 7 * 24 * 60 * 60 * 1000;
/** `retention.bytes`: oldest segments are deleted while the log is larger (Kafka: -1 = no cap). */
export const RETENTION_BYTES_DEFAULT = -1;

/** log.retention.check.interval.ms: how often retention looks for expired segments (Kafka: 5 min). */
export const RETENTION_CHECK_INTERVAL_MS_DEFAULT = 5 * 60 * 1000;
/** After a topic's retention.ms or retention.bytes changes, retention runs within this long. */
export const RETENTION_AFTER_CONFIG_CHANGE_MS = 0;

/** `max.message.bytes`: the largest batch a log accepts (Kafka: 1 MiB + 12 bytes of log overhead). */
export const MAX_MESSAGE_BYTES_DEFAULT = MiB + 12;
/** Hard cap on one batch, whatever the config says: a batch length is read from untrusted bytes. */
export const BATCH_BYTES_MAX = 64 * MiB;

/** `flush.ms` for flush.policy `interval` (Kafka's flush.ms default is "never"; ours is 1 s). */
export const FLUSH_MS_DEFAULT = 1000;

/** The recovery checkpoint is rewritten at most this often while appends flow (Kafka: 60 s). */
export const RECOVERY_CHECKPOINT_INTERVAL_MS_DEFAULT = 60_000;

/** Default maxBytes of a read when a request names none: Kafka's max.partition.fetch.bytes. */
export const READ_BYTES_DEFAULT = MiB;
/** A read returns at most this many bytes, whatever maxBytes asks (a single larger batch wins). */
export const READ_BYTES_MAX = 64 * MiB;

/**
 * An append of at least this many bytes has its batches' CRC-32C checked on a helper thread while
 * its write runs (src/record/batch_crc_overlap.ts); smaller ones check first, on the event loop.
 */
export const CRC_OVERLAP_BYTES_MIN = 512 * 1024;

/** Appends waiting for one group-commit fsync; more fail fast instead of queueing without bound. */
export const PENDING_FLUSH_WAITERS_MAX = 100_000;

/** Records decoded from one batch: a batch claiming more is corrupt (1 record needs >= 7 bytes). */
export const RECORDS_PER_BATCH_MAX: number = Math.floor(BATCH_BYTES_MAX / 7);

/** Headers on one record. */
export const HEADERS_PER_RECORD_MAX = 10_000;

/** Decompressed size of one batch's records: bounds what a small compressed batch can expand to. */
export const DECOMPRESSED_BATCH_BYTES_MAX = 256 * MiB;

// ---------------------------------------------------------------------------------------------
// Broker and server bounds.

/** Topics one broker holds. */
export const TOPICS_MAX = 10_000;
/** Partitions of one topic. */
export const PARTITIONS_PER_TOPIC_MAX = 1024;
/**
 * Partition directories a topic create, CreatePartitions or delete handles before it lets the event
 * loop serve other requests (src/broker/topic_files.ts): a 1,024-partition create runs in 16 slices.
 */
export const PARTITION_DIRS_PER_SLICE = 64;
/**
 * Records the topic journal holds before a checkpoint moves them into topic.json files and starts
 * it again (src/broker/topic_journal.ts): bounds its size (a create's record is ~200 bytes) and
 * what an open after a crash applies.
 */
export const TOPIC_JOURNAL_RECORDS_MAX = 4096;
/** `num.partitions`: partitions of a topic created without a count (Kafka: 1). */
export const PARTITIONS_DEFAULT = 1;
/** Long-polling fetches waiting at once across the broker; more get 429 TOO_MANY_REQUESTS. */
export const LONG_POLLS_MAX = 1000;
/** The longest a fetch may wait for data (Kafka's fetch.max.wait.ms default is 500 ms). */
export const FETCH_WAIT_MS_MAX = 30_000;
/** Bytes of one HTTP request body; more is 413 REQUEST_TOO_LARGE. */
export const REQUEST_BYTES_DEFAULT = 16 * MiB;
/** Records in one JSON produce request. */
export const RECORDS_PER_REQUEST_MAX = 100_000;
/** Partitions whose offsets one PUT /v1/groups/{group}/offsets sets (a group's reset-offsets). */
export const GROUP_OFFSETS_PER_REQUEST_MAX = 10_000;
/** Server-Sent Events streams open at once. */
export const SSE_STREAMS_MAX = 100;
/** Bytes one SSE stream may have queued for a slow client before it stops reading the log. */
export const SSE_BUFFER_BYTES_MAX = 1 * MiB;
/**
 * Live statistics streams (GET /v1/stream/stats, the console's charts) open at once; they count
 * against SSE_STREAMS_MAX too. More are answered 429 TOO_MANY_REQUESTS.
 */
export const STATS_STREAMS_MAX = 16;
/** How often a statistics stream pushes an event, unless the client asks (`?intervalMs=`). */
export const STATS_STREAM_INTERVAL_MS = 1000;
/**
 * The shortest and longest `?intervalMs=` a statistics stream takes (clamped to them); the longest
 * stays below the idle timeouts of common proxies (30 to 60 s): the events are the keep-alives.
 */
export const STATS_STREAM_INTERVAL_MIN_MS = 200;
export const STATS_STREAM_INTERVAL_MAX_MS = 10_000;
/** Topics one statistics event lists (the busiest first); the rest are counted, not listed. */
export const STATS_STREAM_TOPICS_MAX = 500;
/** Consumer groups one statistics event lists; the rest are counted. */
export const STATS_STREAM_GROUPS_MAX = 100;
/** (group, topic, partition) lag rows one statistics event lists, whole groups only. */
export const STATS_STREAM_GROUP_PARTITIONS_MAX = 1000;

/** Consumer groups one broker tracks. */
export const GROUPS_MAX = 10_000;
/** Groups one GET /v1/groups answers; the rest are listed with `?after=<the last one>`. */
export const GROUPS_LIST_MAX = 1000;
/**
 * (group, topic, partition) series of committed offset and lag that one /metrics scrape shows;
 * past it the rest are counted in `sluice_consumer_group_lag_partitions_omitted`.
 */
export const GROUP_LAG_METRIC_PARTITIONS_MAX = 10_000;
/** Members of one consumer group. */
export const MEMBERS_PER_GROUP_MAX = 1000;
/** `session.timeout.ms`: a member not heard from for this long is evicted (Kafka: 10 s in 2.x). */
export const SESSION_TIMEOUT_MS_DEFAULT = 10_000;
/** Kafka's group.min.session.timeout.ms is 6 s; lower values are allowed here for tests. */
export const SESSION_TIMEOUT_MS_MIN = 100;
/** Kafka's group.max.session.timeout.ms: 30 min. */
export const SESSION_TIMEOUT_MS_MAX = 30 * 60 * 1000;

/**
 * `group.consumer.session.timeout.ms`: a member of a KIP-848 consumer-protocol group not heard
 * from for this long is removed (the coordinator sets it, not the client). Kafka's default: 45 s.
 */
export const CONSUMER_GROUP_SESSION_TIMEOUT_MS_DEFAULT = 45_000;
/**
 * `group.consumer.heartbeat.interval.ms`: how often consumer-protocol members heartbeat (they
 * also heartbeat at once after a revocation or an assignment). Kafka's default: 5 s.
 */
export const CONSUMER_GROUP_HEARTBEAT_INTERVAL_MS_DEFAULT = 5_000;
/** A consumer-protocol member's rebalance timeout (max.poll.interval.ms) is capped to this. */
export const CONSUMER_GROUP_REBALANCE_TIMEOUT_MS_MAX = 30 * 60 * 1000;
/** Topics one consumer-protocol member may subscribe to by name. */
export const CONSUMER_GROUP_SUBSCRIBED_TOPICS_MAX = 10_000;
/** Characters of a consumer-protocol member's subscription regex. */
export const CONSUMER_GROUP_REGEX_LENGTH_MAX = 1_000;

/**
 * Requests being served at once (long polls and SSE streams included); more are answered 429
 * TOO_MANY_REQUESTS at once. With HTTP/1.1 each in-flight request holds a connection, so this
 * bounds the connections doing work; /healthz is never refused.
 */
export const REQUESTS_IN_FLIGHT_MAX = 4096;

/** Kafka protocol: most elements one decoded array may claim (refused before allocating). */
export const KAFKA_ARRAY_LENGTH_MAX = 1_000_000;
/** Kafka protocol: most unknown tagged fields one struct may carry before decoding gives up. */
export const KAFKA_TAGGED_FIELDS_MAX = 10_000;
/**
 * Kafka protocol: largest request frame (Kafka's socket.request.max.bytes, 100 MiB). A bigger
 * size prefix closes the connection before any of it is buffered.
 */
export const KAFKA_FRAME_BYTES_MAX = 100 * 1024 * 1024;
/**
 * Kafka protocol: requests read ahead on one connection. Requests are served one at a time in
 * order (as Kafka does); past this many waiting the socket is paused until the queue drains.
 */
export const KAFKA_QUEUED_REQUESTS_MAX = 64;
/** Kafka protocol: open client connections; one more is closed at once with a logged reason. */
export const KAFKA_CONNECTIONS_MAX = 10_000;
/**
 * Kafka protocol: most bytes one Fetch response carries, whatever the client's max_bytes. Kafka's
 * broker allows 55 MiB (fetch.max.bytes) because it sends from the page cache; Sluice reads the
 * bytes into memory on the event loop first, so one fetch is kept to what reads in a few ms. 16
 * MiB is still 16 partitions at the consumers' default max.partition.fetch.bytes (1 MiB).
 */
export const KAFKA_FETCH_BYTES_MAX = 16 * 1024 * 1024;
/**
 * Kafka protocol: incremental fetch sessions (KIP-227) kept at once (Kafka's
 * max.incremental.fetch.session.cache.slots, 1000). A full fetch asking for a session when all
 * are taken evicts one as Kafka does (src/kafka_protocol/fetch_sessions.ts) or gets none (session
 * id 0: the client keeps sending full fetches).
 */
export const KAFKA_FETCH_SESSIONS_MAX = 1000;
/**
 * Kafka protocol: a fetch session unused this long may be evicted by any new one; one created
 * less than this ago is never evicted for a bigger one (Kafka's
 * min.incremental.fetch.session.eviction.ms, 120 s).
 */
export const KAFKA_FETCH_SESSION_EVICTION_MS = 120_000;
/**
 * Kafka protocol: partitions one fetch session may hold (Kafka has no such bound). A full fetch
 * of more gets no session; an incremental fetch that would grow a session past it closes the
 * session (FETCH_SESSION_ID_NOT_FOUND, and the client starts over with a full fetch).
 */
export const KAFKA_FETCH_SESSION_PARTITIONS_MAX = 10_000;
/**
 * Kafka protocol: partitions all fetch sessions hold together (about 150 bytes each, so 15 MB),
 * with the same consequences as the per-session bound when a session would pass it.
 */
export const KAFKA_FETCH_SESSION_PARTITIONS_TOTAL_MAX = 100_000;
/** The Kafka listener's port when none is given (Kafka's own default). */
export const KAFKA_PORT_DEFAULT = 9092;
/**
 * Kafka protocol: largest frame before a SASL login, when the listener requires one (Kafka's
 * sasl.server.max.receive.size, 512 KiB).
 */
export const KAFKA_UNAUTHENTICATED_FRAME_BYTES_MAX = 512 * 1024;
/**
 * Kafka protocol: a connection with no request in flight and no bytes either way for this long is
 * closed (Kafka's connections.max.idle.ms, 10 min); clients reconnect when they need to.
 */
export const KAFKA_CONNECTION_IDLE_MS = 10 * 60 * 1000;

// ---------------------------------------------------------------------------------------------
// File descriptors. Every open segment file and every connection holds one; the process's
// RLIMIT_NOFILE (src/runtime/fd_limit.ts) is split between them so that no load, hostile or not,
// can reach EMFILE: half for segment files, a fifth for each listener, the last tenth for index
// writes, checkpoints, directory syncs, the auth file and the runtime's own descriptors.

/** Share of the descriptor limit for open segment files (bounded LRU of descriptors). */
export const LOG_FILES_DESCRIPTOR_SHARE = 0.5;
/** Share of the descriptor limit for each listener's connections (HTTP, Kafka). */
export const LISTENER_DESCRIPTOR_SHARE = 0.2;

/** Descriptor budgets derived from a process limit (each at least a small working minimum). */
export function descriptorBudget(limit: number): {
  logFiles: number;
  httpConnections: number;
  kafkaConnections: number;
} {
  return {
    logFiles: Math.max(16, Math.floor(limit * LOG_FILES_DESCRIPTOR_SHARE)),
    httpConnections: Math.max(16, Math.floor(limit * LISTENER_DESCRIPTOR_SHARE)),
    kafkaConnections: Math.max(16, Math.floor(limit * LISTENER_DESCRIPTOR_SHARE)),
  };
}

// ---------------------------------------------------------------------------------------------
// Storage: segment descriptors and damage reports (src/storage/log_files.ts, log_damage.ts).

/**
 * Hard cap on the segment-file descriptors the process keeps open, whatever the process limit
 * allows: past this many the LRU cache closes the least recently used (a closed descriptor costs
 * one open(2) on the next use; 65,536 open files is far beyond any working set worth caching).
 */
export const LOG_FILES_OPEN_CAP = 65_536;

/**
 * Open segment-file descriptors of the process (the shared LRU cache of src/storage/log_files.ts):
 * half the RLIMIT_NOFILE soft limit (descriptorBudget), at least 16, at most LOG_FILES_OPEN_CAP.
 */
export function logFilesOpenMax(descriptorLimit: number): number {
  return Math.min(LOG_FILES_OPEN_CAP, descriptorBudget(descriptorLimit).logFiles);
}

/**
 * Share of the cached descriptors that fsyncs may pin at once: an fsync in flight keeps its
 * descriptor open, and past this share the next fsync waits for one to finish, so synchronous
 * reads and appends always find a descriptor they may close to open theirs.
 */
export const LOG_FILES_PINNED_SHARE = 0.75;

/** Damage entries (file, position, reason) one log keeps for its callers; more are only counted. */
export const LOG_DAMAGE_ENTRIES_MAX = 100;

// Connection admission (src/runtime/accept.ts). Each listener admits at most its budget of
// connections (above), and at most a share of that from one client address; a connection over
// either bound is closed at once, counted in /metrics by reason and logged at most once per
// interval, so a flood can neither exhaust descriptors nor fill the log.

/** HTTP listener: open connections, before the descriptor budget caps it (as Kafka's below). */
export const HTTP_CONNECTIONS_MAX = 10_000;
/**
 * Share of a listener's connection bound one client address may hold (Kafka's
 * max.connections.per.ip, unlimited there). Half: one address (an attacker, a runaway pool) can
 * never take the whole listener, while a local deployment, where every client is 127.0.0.1,
 * still gets half of it (2,000 of 4,000 at a 20,000-descriptor limit; 102 at 1,024).
 */
export const CONNECTIONS_PER_ADDRESS_SHARE = 0.5;
/** Refused connections are logged at most once per this interval (with a count of the rest). */
export const CONNECTION_REFUSAL_LOG_INTERVAL_MS = 10_000;
/**
 * After an accept fails (EMFILE, ENFILE with no spare descriptor to refuse with, ...), the listener
 * waits this long before the next try, doubling up to the max: a descriptor shortage is not turned
 * into a busy loop, and accepting resumes within a second of descriptors freeing up.
 */
export const ACCEPT_BACKOFF_MS_MIN = 10;
export const ACCEPT_BACKOFF_MS_MAX = 1000;
/**
 * A TLS handshake not done within this is abandoned (Node's default is 120 s): a handshake takes a
 * few round trips, and a peer that stays silent holds a connection slot for nothing.
 */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Refused plain-HTTP connections being sent their 429 at once; past this, one is closed without
 * it, so that answering a flood never holds more than this many descriptors.
 */
export const HTTP_REFUSAL_ANSWERS_MAX = 32;

/** A listener's bounds: open connections, and open connections from one client address. */
export interface ConnectionLimits {
  max: number;
  perAddressMax: number;
}

/**
 * A listener's effective bounds: `configured` (a flag) when given, else the smaller of the
 * listener's constant and its descriptor budget; per address, `configuredPerAddress` or
 * CONNECTIONS_PER_ADDRESS_SHARE of that (at least 1).
 */
export function connectionLimits(
  budget: number,
  constantMax: number,
  configured?: number,
  configuredPerAddress?: number,
): ConnectionLimits {
  const max = configured ?? Math.min(constantMax, budget);
  const perAddressMax = configuredPerAddress ??
    Math.max(1, Math.floor(max * CONNECTIONS_PER_ADDRESS_SHARE));
  return { max, perAddressMax: Math.min(perAddressMax, max) };
}

// Memory held for clients: responses built but not yet taken by their sockets, request frames
// received but not yet served. Each budget is shared by every connection of its front, so clients
// that never read (or send faster than they are served) hold at most this much together, whatever
// their number; /metrics shows what is held (src/byte_budget.ts).

/**
 * Kafka protocol: bytes of response frames not yet taken by their sockets, over all connections.
 * A Fetch reserves what it reads; when the budget is spent it answers with its first batch alone
 * (KIP-74's minimum, bounded by max.message.bytes), so consumers keep moving while clients that
 * never read hold the rest. 64 MiB is one full-size fetch (KAFKA_FETCH_BYTES_MAX) with room to
 * spare; a fast consumer's bytes leave at once, so the budget is only ever full of slow ones.
 */
export const KAFKA_RESPONSE_BYTES_IN_FLIGHT_MAX = 64 * MiB;
/**
 * A response budget may be overdrawn (a fetch granted nothing still returns its first batch, so a
 * well-behaved consumer is not starved by clients that hold the budget and never read) up to this
 * many times its capacity; past that a fetch reads nothing (Kafka: an empty answer after
 * max_wait_ms; HTTP: 429). Twice: slow readers pin at most 2 x 64 MiB (Kafka) + 2 x 32 MiB (HTTP).
 */
export const BYTE_BUDGET_OVERDRAW_FACTOR = 2;
/**
 * Kafka protocol: bytes of request frames received but not yet served, over all connections
 * (Kafka's queued.max.request.bytes). A frame's bytes are reserved when its size prefix arrives;
 * a connection whose frame does not fit is not read until enough is served (a frame larger than
 * the budget is read alone). 64 MiB holds 64 of librdkafka's 1 MB produce requests.
 */
export const KAFKA_QUEUED_REQUEST_BYTES_MAX = 64 * MiB;
/**
 * HTTP: most bytes of one fetch response; a larger maxBytes is clamped to it (the response is
 * smaller, as a fetch's may always be). 8 MiB: past a few MiB a bigger response saves no
 * measurable time per byte, and JSON output can be several times its record bytes.
 */
export const HTTP_FETCH_BYTES_MAX = 8 * MiB;
/**
 * HTTP: bytes of fetch response bodies not yet taken by their clients, over all requests. A fetch
 * reserves what it reads; when the budget is spent it answers with its first batch alone. 32 MiB
 * is four maximal fetches, or 32 of the default 1 MiB.
 */
export const HTTP_RESPONSE_BYTES_IN_FLIGHT_MAX = 32 * MiB;
/**
 * HTTP: request body buffers kept for reuse once their request's append has settled (body.ts
 * BodyBuffers), so a produce does not allocate (and the garbage collector does not reclaim) a
 * fresh body-sized buffer per request. At most this many are kept, each of at most
 * HTTP_BODY_BUFFER_POOLED_BYTES_MAX: 16 of 1 MiB is 16 MiB held at worst.
 */
export const HTTP_BODY_BUFFERS_POOLED_MAX = 16;
/** HTTP: the largest body buffer kept for reuse; a larger body's buffer is left to the GC. */
export const HTTP_BODY_BUFFER_POOLED_BYTES_MAX = 1 * MiB;

/**
 * Cluster mode: how long one request to etcd (its v3 JSON gateway) may take before it is
 * CLUSTER_UNAVAILABLE. Covers a lost connection and a stalled member; the caller retries.
 */
export const ETCD_REQUEST_TIMEOUT_MS = 5_000;
/** Cluster mode: the largest etcd answer read (a range of topic metadata, say), in bytes. */
export const ETCD_RESPONSE_BYTES_MAX = 16 * 1024 * 1024;
/** Cluster mode: the most keys one etcd range returns (the caller pages past it). */
export const ETCD_RANGE_KEYS_MAX = 10_000;

// ---------------------------------------------------------------------------------------------
// Cluster mode: a follower's requests to its leaders (src/kafka_protocol/replica_client.ts).

/**
 * A follower's request to a leader must be answered within its own wait (a Fetch's max_wait_ms;
 * none for others) plus this, or it fails CLUSTER_UNAVAILABLE and its connection is closed
 * (Kafka's replica.socket.timeout.ms, 30 s).
 */
export const REPLICA_REQUEST_TIMEOUT_MS = 30_000;
/**
 * A follower's connection to a leader, with its ApiVersions and SASL exchange, must be made within
 * this (Kafka's socket.connection.setup.timeout.ms, 10 s).
 */
export const REPLICA_CONNECT_TIMEOUT_MS = 10_000;
/**
 * The largest answer a follower reads from a leader; a bigger size prefix closes the connection
 * before any of it is buffered. As the Kafka listener's request bound (KAFKA_FRAME_BYTES_MAX): a
 * fetch answer is up to KAFKA_FETCH_BYTES_MAX, plus one whole batch (BATCH_BYTES_MAX) when the
 * first batch alone is larger than asked (KIP-74).
 */
export const REPLICA_RESPONSE_BYTES_MAX = 100 * MiB;
/**
 * Calls waiting for one leader connection while another is in flight (a follower fetches from
 * each leader in one loop, so a few at most); more are refused TOO_MANY_REQUESTS.
 */
export const REPLICA_QUEUED_CALLS_MAX = 64;
/**
 * DeleteRecords requests a leader holds at once while its followers' log starts catch up (Kafka's
 * DelayedDeleteRecords purgatory, src/cluster/low_watermark.ts); one more is TOO_MANY_REQUESTS.
 */
export const DELETE_RECORDS_WAITERS_MAX = 10_000;
/**
 * How long DeleteRecords waits for the followers when the request names no timeout (the HTTP
 * route; Kafka's DeleteRecords carries its own timeout_ms). Kafka's request.timeout.ms default.
 */
export const DELETE_RECORDS_TIMEOUT_MS_DEFAULT = 30_000;

/**
 * Cluster mode: the most operations one etcd transaction may carry, on either branch; more is
 * INVALID_REQUEST before anything is sent. etcd refuses more than its `--max-txn-ops` (128 by
 * default) itself; a larger value here needs that flag raised to match.
 */
export const ETCD_TXN_OPS_MAX = 128;
/**
 * Cluster mode: the most bytes of one line of an etcd watch stream held while it is incomplete
 * (one watch answer: the events of up to 1,000 revisions when a watcher catches up). A longer
 * line ends the stream as CLUSTER_UNAVAILABLE and the watch retries.
 */
export const ETCD_WATCH_LINE_BYTES_MAX = 16 * 1024 * 1024;
/**
 * Cluster mode: how long a watch waits before its first reconnection after the stream ended or
 * failed; each failure in a row doubles the wait, up to ETCD_WATCH_RETRY_MAX_MS.
 */
export const ETCD_WATCH_RETRY_MIN_MS = 100;
/** Cluster mode: the longest wait between two attempts of a watch to reconnect. */
export const ETCD_WATCH_RETRY_MAX_MS = 5_000;

// ---------------------------------------------------------------------------------------------
// Cluster mode: the HTTP front forwarding a request to the partition's leader (src/http/forward.ts).

/**
 * Requests one broker's HTTP front has forwarded to other brokers and not yet seen answered, over
 * every leader; one more is refused 429 TOO_MANY_REQUESTS before anything is sent. A quarter of
 * REQUESTS_IN_FLIGHT_MAX: a broker whose leaders are slow keeps room to serve what it leads.
 * Forwarded Server-Sent Events streams are counted against SSE_STREAMS_MAX instead.
 */
export const HTTP_FORWARDS_IN_FLIGHT_MAX = 1024;
/**
 * How long a forwarded request may take beyond its own wait (a fetch's maxWaitMs, a produce's
 * timeoutMs) before the forwarding broker gives up: 504 REQUEST_TIMED_OUT, as Kafka's
 * request.timeout.ms (a write may or may not have happened). A forwarded stream has this long to
 * send its headers.
 */
export const HTTP_FORWARD_TIMEOUT_MS = 10_000;
/**
 * HTTP produce: how long acks=all waits for the in-sync replicas when the request gives no
 * timeoutMs (Kafka's request.timeout.ms default), and the most a request may give.
 */
export const HTTP_PRODUCE_TIMEOUT_MS_DEFAULT = 30_000;
export const HTTP_PRODUCE_TIMEOUT_MS_MAX = 120_000;

// ---------------------------------------------------------------------------------------------
// Log compaction (src/storage/cleaner/): Kafka's log cleaner settings and topic configs.

/** `delete.retention.ms`: how long a tombstone stays readable after its first clean (Kafka: 1 day). */
export const DELETE_RETENTION_MS_DEFAULT = 86_400_000;
/** `min.compaction.lag.ms`: a record younger than this is never compacted (Kafka: 0). */
export const MIN_COMPACTION_LAG_MS_DEFAULT = 0;
/**
 * `max.compaction.lag.ms`: a log whose oldest dirty record is older than this is cleaned whatever
 * its dirty ratio (Kafka: Long.MAX_VALUE, here the largest safe integer: never).
 */
export const MAX_COMPACTION_LAG_MS_DEFAULT = Number.MAX_SAFE_INTEGER;
/**
 * `min.cleanable.dirty.ratio`: a log is cleaned once its dirty bytes (not yet cleaned, closed
 * segments) are more than this share of its closed bytes (Kafka: 0.5).
 */
export const MIN_CLEANABLE_DIRTY_RATIO_DEFAULT = 0.5;
/**
 * `log.cleaner.dedupe.buffer.size`: bytes of the cleaner's offset map (key digest -> latest
 * offset), one for the process, allocated at the first clean (Kafka: 128 MiB over all cleaner
 * threads). 24 bytes an entry, filled to CLEANER_MAP_LOAD_FACTOR: 128 MiB maps about 5 million
 * keys per clean; a dirty part with more keys is cleaned over several runs.
 */
export const CLEANER_DEDUPE_BUFFER_BYTES_DEFAULT = 128 * MiB;
/** The smallest offset map: a few entries, for tests (Kafka refuses one too small for one entry). */
export const CLEANER_DEDUPE_BUFFER_BYTES_MIN = 1024;
/** `log.cleaner.io.buffer.load.factor`: share of the map's slots filled before it counts as full. */
export const CLEANER_MAP_LOAD_FACTOR = 0.9;
/**
 * Offsets of a clean's dirty part whose key the offset map saw again later, one bit each (8 MiB at
 * most, beside the map): the filter pass drops those without digesting their keys again. Offsets
 * past the first this many are looked up in the map as the clean part's are.
 */
export const CLEANER_SUPERSEDED_OFFSETS_MAX = 64 * 1024 * 1024;
/**
 * `log.cleaner.io.max.bytes.per.second`: the cleaner's reads plus writes per second (Kafka:
 * unlimited, Double.MAX_VALUE; here Infinity).
 */
export const CLEANER_IO_BYTES_PER_SECOND_DEFAULT = Infinity;
/** `log.cleaner.backoff.ms`: the cleaner's pause when no log needs cleaning (Kafka: 15 s). */
export const CLEANER_BACKOFF_MS_DEFAULT = 15_000;
/** Bytes of log the cleaner reads (and maps or filters) at once: one pread, one window. */
export const CLEANER_SLICE_BYTES = 256 * KiB;
/**
 * Milliseconds of work the cleaner does before it yields to the event loop when nothing else runs
 * on it (between windows, so a slice may run over by one window's work, about a millisecond). A
 * yield costs about 0.03 ms (setImmediate, throttler.ts), under 1% of a slice.
 */
export const CLEANER_SLICE_MS = 10;
/**
 * The cleaner's slice while other work shares the event loop (something ran during one of its
 * yields in the last CLEANER_BUSY_MEMORY_MS): appends, fetches and timers then wait at most about
 * this long (plus a window) behind a clean, and keep over 80% of the loop.
 */
export const CLEANER_BUSY_SLICE_MS = 1;
/** Bytes of log the cleaner reads at once while on its short slices (CLEANER_BUSY_SLICE_MS). */
export const CLEANER_BUSY_SLICE_BYTES = 64 * KiB;
/**
 * The cleaner's share of the event loop while other work waits on it: after a slice it yields
 * until the others have run four times as long as the slice took (throttler.ts).
 */
export const CLEANER_BUSY_SHARE = 0.2;
/** How long one yield that found other work keeps the cleaner on its short slices. */
export const CLEANER_BUSY_MEMORY_MS = 200;
/**
 * Producer ids whose last batch the cleaner tracks in one clean (so that the last batch of each
 * active idempotent producer survives, as Kafka keeps it). Past this many, a batch of an untracked
 * producer that would go is kept as an empty batch instead: more bytes, never lost producer state.
 */
export const CLEANER_PRODUCER_IDS_MAX = 100_000;
/**
 * `producer.id.expiration.ms` as the cleaner sees it: a producer whose last batch is older than
 * this is no longer active, and its last batch may go like any other (Kafka: 1 day).
 */
export const CLEANER_PRODUCER_EXPIRATION_MS_DEFAULT = 86_400_000;

// ---------------------------------------------------------------------------------------------
// A cluster (src/cluster/): here rather than beside their users so that `serve` reads its
// defaults without loading the cluster's code, which a single-node server never runs.

/** Kafka's broker.session.timeout.ms default (KRaft): a silent broker leaves after this long. */
export const BROKER_SESSION_TIMEOUT_MS_DEFAULT = 6_000;
/** Bounds of broker.session.timeout.ms: etcd leases are whole seconds, at least about 2. */
export const BROKER_SESSION_TIMEOUT_MS_MIN = 2_000;
export const BROKER_SESSION_TIMEOUT_MS_MAX = 300_000;
/** Kafka's replica.lag.time.max.ms default. */
export const REPLICA_LAG_TIME_MAX_MS_DEFAULT = 30_000;
/** Kafka's leader.imbalance.check.interval.seconds (300): how often leaderships go home. */
export const LEADER_IMBALANCE_CHECK_INTERVAL_MS_DEFAULT = 300_000;
