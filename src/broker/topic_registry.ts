/**
 * Topics and their partition logs, persisted in the data dir:
 *
 * ```
 * <dataDir>/topics/<topic>/topic.json        {"version":2,"name","partitions","config","createdMs","id"}
 * <dataDir>/topics/<topic>/<partition>/...   one PartitionLog per partition
 * <dataDir>/topics.journal                   creates and deletes not yet checkpointed into topics/
 * <dataDir>/deleted/                          topics being removed (renamed here first)
 * <dataDir>/clean-shutdown                    the last close was clean: logs open lazily
 * <dataDir>/orphaned/<topic>-<ms>/            a directory without topic.json found where a new
 *                                             topic was created (kept for an operator, not served)
 * ```
 * topic.json's `config` holds the topic's overrides only (topic_overrides.ts), as Kafka's strings;
 * a file without `version` (written before overrides were kept) holds every key filled in, and
 * its overrides are taken to be the keys that differ from the built-in defaults.
 *
 * A create is durable once its journal record is (topic_journal.ts: one fdatasync, shared by the
 * records of one round); its directories and topic.json are made meanwhile without fsyncs, and an
 * open after a crash makes them again from the journal (topic_journal_replay.ts). An alter or
 * CreatePartitions writes topic.json by tmp + fsync + rename: a crash leaves the old or the new.
 * A topic name is validated before it ever becomes a path: Kafka's rule, 1-249 characters of
 * [a-zA-Z0-9._-], not "." or "..", so it can never name a parent or another directory.
 */
import type { Clock } from "../clock.ts";
import { SluiceError } from "../errors.ts";
import { PARTITIONS_PER_TOPIC_MAX, TOPICS_MAX } from "../limits.ts";
import type { Logger } from "../logger.ts";
import {
  joinPath,
  listDir,
  makeDir,
  pathExists,
  readWholeFile,
  removeTree,
  removeTreeAsync,
  renamePath,
  syncDirAsync,
} from "../runtime/fs.ts";
import {
  closeLogsInSlices,
  makePartitionDirs,
  makeTopicFiles,
  markCleanShutdown,
  rewriteTopicFile,
  setAsideDir,
  takeCleanShutdown,
  writeTopicFile,
} from "./topic_files.ts";
import { TopicJournal } from "./topic_journal.ts";
import { replayTopicJournal } from "./topic_journal_replay.ts";
import { type AppendResult, PartitionLog } from "../storage/partition_log.ts";
import { storageFailure } from "../storage/segment.ts";
import { forgetSyncedParent } from "../storage/log_lazy.ts";
import type { LogConfig } from "../storage/log_config.ts";
import { CleanerManager, type CleanerManagerOptions } from "../storage/cleaner/cleaner_manager.ts";
import {
  DEFAULT_TOPIC_CONFIG,
  parseTopicConfig,
  toLogConfig,
  type TopicConfig,
} from "./topic_config.ts";
import { overridesFromFilled, parseOverrides, type TopicOverrides } from "./topic_overrides.ts";
import {
  checkPartitionCount,
  Topic,
  type TopicMeta,
  topicNotFound,
  type UnservedTopic,
  validateTopicName,
} from "./topic.ts";

export {
  checkPartitionCount,
  Topic,
  type TopicMeta,
  TopicStats,
  type UnservedTopic,
  validateTopicName,
} from "./topic.ts";
export type { LogCleanerStats } from "../storage/cleaner/cleaner_manager.ts";

export interface RegistryOptions {
  clock: Clock;
  logger: Logger;
  /** Defaults for configs a create request leaves out. */
  topicDefaults?: Readonly<TopicConfig>;
  /** Topics one broker holds (TOPICS_MAX). */
  topicsMax?: number;
  onAppend?: (topic: Topic, partition: number, result: AppendResult) => void;
  /** A cluster's broker: replication configs act (see parseTopicConfig). */
  replicated?: boolean;
  /**
   * The log cleaner's settings (log.cleaner.*: src/storage/cleaner/cleaner_manager.ts); it cleans
   * the logs of compacted topics in the background from open to close.
   */
  cleaner?: Omit<CleanerManagerOptions, "clock" | "logger">;
  /**
   * Server-level log settings over every topic's (log.retention.check.interval.ms, the CRC check
   * on read).
   */
  logSettings?: Partial<Pick<LogConfig, "retentionCheckIntervalMs" | "verifyCrcOnRead">>;
  /** Topic journal records before a checkpoint (TOPIC_JOURNAL_RECORDS_MAX). */
  journalRecordsMax?: number;
}

export class TopicRegistry {
  readonly #topics = new Map<string, Topic>();
  readonly #unserved: UnservedTopic[] = [];
  /** Creates accepted and not yet finished (they count toward the topic limit). */
  #creating = 0;
  /** The last create or delete of each name still running: later ones wait for it. */
  readonly #nameOps = new Map<string, Promise<void>>();
  readonly #topicsDir: string;
  readonly #deletedDir: string;
  readonly #options: RegistryOptions;
  /** Deleted topics' directories being removed off the event loop (close waits for them). */
  readonly #removals = new Set<Promise<void>>();
  /** The last close was clean: logs open at their first use (topic_files.ts). */
  #lazy = false;
  /** Compacts the logs whose cleanup.policy holds compact; every log is registered with it. */
  readonly cleaner: CleanerManager;
  /** Where creates and deletes become durable first (set by open). */
  #journal!: TopicJournal;

  private constructor(readonly dataDir: string, options: RegistryOptions) {
    this.#topicsDir = joinPath(dataDir, "topics");
    this.#deletedDir = joinPath(dataDir, "deleted");
    this.#options = options;
    this.cleaner = new CleanerManager({
      ...options.cleaner,
      clock: options.clock,
      logger: options.logger,
    });
  }

  /**
   * Opens every topic found in `dataDir`; creates the layout if new. After a clean shutdown the
   * logs are read at their first use; after a crash each is opened (and recovered) now.
   */
  static async open(dataDir: string, options: RegistryOptions): Promise<TopicRegistry> {
    const registry = new TopicRegistry(dataDir, options);
    makeDir(registry.#topicsDir);
    registry.#lazy = takeCleanShutdown(dataDir);
    // Creates and deletes a crash left in the journal are redone on topics/ first.
    replayTopicJournal(dataDir, registry.#topicsDir, options.logger, options.clock.nowMs());
    registry.#journal = TopicJournal.open({
      dataDir,
      topicsDir: registry.#topicsDir,
      logger: options.logger,
      recordsMax: options.journalRecordsMax,
      settled: (name) => registry.#nameOps.get(name),
    });
    // A delete interrupted by a crash finishes now.
    if (pathExists(registry.#deletedDir)) removeTree(registry.#deletedDir);
    for (const name of listDir(registry.#topicsDir).sort()) {
      try {
        validateTopicName(name);
      } catch {
        if (!name.endsWith(".tmp")) {
          options.logger.warn("ignoring a directory that is not a topic", { name });
        }
        continue;
      }
      const meta = registry.#readMeta(name);
      if (meta === undefined) continue;
      const logs = await registry.#openLogs(meta, "load");
      registry.#topics.set(name, new Topic(meta, logs));
      for (const log of logs) registry.cleaner.register(log);
    }
    registry.cleaner.start();
    return registry;
  }

  /** Topic directories found at start and not served, with why (for /metrics and operators). */
  get unserved(): readonly UnservedTopic[] {
    return this.#unserved;
  }

  #readMeta(name: string): TopicMeta | undefined {
    const path = joinPath(this.#topicsDir, name, "topic.json");
    try {
      const bytes = readWholeFile(path);
      if (bytes === undefined) {
        this.#options.logger.warn("topic directory without topic.json; ignoring it", { path });
        this.#unserved.push({ topic: name, file: path, reason: "topic.json missing" });
        return undefined;
      }
      const raw = JSON.parse(new TextDecoder().decode(bytes));
      if (raw?.name !== name || !Number.isInteger(raw.partitions) || raw.partitions < 1) {
        throw new Error("name or partitions do not match");
      }
      // A damaged count must not open (and create) partitions by the thousand until EMFILE.
      if (raw.partitions > PARTITIONS_PER_TOPIC_MAX) {
        throw new Error(
          `claims ${raw.partitions} partitions, over the limit of ${PARTITIONS_PER_TOPIC_MAX}`,
        );
      }
      const replicated = { replicated: this.#options.replicated };
      const given = raw.version === undefined
        ? overridesFromFilled(parseTopicConfig(raw.config ?? {}, DEFAULT_TOPIC_CONFIG, replicated))
        : raw.config ?? {};
      const { overrides, config } = parseOverrides(given, this.topicDefaults, replicated);
      return {
        name,
        partitions: raw.partitions,
        config,
        overrides,
        createdMs: Number(raw.createdMs) || 0,
        id: String(raw.id ?? ""),
      };
    } catch (err) {
      this.#options.logger.error("unreadable topic.json; topic not served", {
        path,
        error: String(err),
      });
      const reason = err instanceof Error ? err.message : String(err);
      this.#unserved.push({ topic: name, file: path, reason });
      return undefined;
    }
  }

  /**
   * Opens the topic's partition logs into `logs` (so a caller can close those opened before a
   * failure). When creating, or loading after a clean shutdown, the logs are lazy: read at their
   * first use. When loading after a crash, a partition that cannot be opened, or whose directory
   * is missing, is an offline log: its topic stays up and the failure is reported (a lazy log
   * finds the same at its first use).
   */
  async #openLogs(
    meta: TopicMeta,
    mode: "load" | "create",
    logs: PartitionLog[] = [],
    from = 0,
  ): Promise<PartitionLog[]> {
    for (let p = from; p < meta.partitions; p++) {
      // Each log its own config object: PartitionLog.updateConfig changes it in place.
      const logConfig = this.#logConfig(meta.config);
      const partition = p;
      const dir = joinPath(this.#topicsDir, meta.name, String(p));
      const options = {
        config: logConfig,
        clock: this.#options.clock,
        logger: this.#options.logger,
        onAppend: this.#options.onAppend === undefined
          ? undefined
          : (_log: PartitionLog, result: AppendResult) => {
            const topic = this.#topics.get(meta.name);
            if (topic !== undefined) this.#options.onAppend?.(topic, partition, result);
          },
      };
      if (mode === "create" || this.#lazy) {
        // Its directory made by the create (topic_files.ts), or vouched for by a clean shutdown.
        logs.push(PartitionLog.lazy(dir, options, mode === "create"));
      } else if (!pathExists(dir)) {
        // Created with its topic, before topic.json: missing now means lost, not new. An empty
        // log in its place would answer offsets from 0 again as if nothing had been written.
        this.#options.logger.error("partition directory missing; the partition is offline", {
          dir,
        });
        logs.push(PartitionLog.offline(dir, new Error(`directory ${dir} is missing`), options));
      } else {
        logs.push(await PartitionLog.openOrOffline(dir, options));
      }
    }
    return logs;
  }

  /**
   * Runs `op` once every earlier create or delete of the same name has finished. Create and delete
   * of one name are serialized so that the directory on disk always matches what was answered: a
   * create never reopens the directory of a topic whose delete is still closing its logs, and a
   * delete never moves away the directory of a topic created after it was answered.
   */
  async #serialized<T>(name: string, op: () => Promise<T>): Promise<T> {
    const before = this.#nameOps.get(name);
    const run = (before ?? Promise.resolve()).then(op);
    const settled = run.then(() => {}, () => {});
    this.#nameOps.set(name, settled);
    try {
      return await run;
    } finally {
      if (this.#nameOps.get(name) === settled) this.#nameOps.delete(name);
    }
  }

  #setAside(dir: string, topicName: string): void {
    const to = setAsideDir(this.dataDir, dir, `${topicName}-${this.#options.clock.nowMs()}`);
    this.#options.logger.warn("moved a topic directory aside: it is no longer served", {
      from: dir,
      to,
    });
  }

  /**
   * A log's config: the topic's, with the server's log settings (retention check interval, CRC
   * check on read).
   */
  #logConfig(config: TopicConfig): LogConfig {
    const log = toLogConfig(config);
    const { retentionCheckIntervalMs, verifyCrcOnRead } = this.#options.logSettings ?? {};
    if (retentionCheckIntervalMs !== undefined) {
      log.retentionCheckIntervalMs = retentionCheckIntervalMs;
    }
    if (verifyCrcOnRead !== undefined) log.verifyCrcOnRead = verifyCrcOnRead;
    return log;
  }

  /** The server's defaults for configs a topic does not set. */
  get topicDefaults(): Readonly<TopicConfig> {
    return this.#options.topicDefaults ?? DEFAULT_TOPIC_CONFIG;
  }

  /**
   * What `create` checks before it looks at the topics there are: the name, the partition count
   * and the config (defaults filled); throws the first problem. CreateTopics' validateOnly.
   */
  validateNew(
    name: unknown,
    partitions: unknown,
    config: unknown,
  ): { name: string; partitions: number; config: TopicConfig; overrides: TopicOverrides } {
    const topicName = validateTopicName(name);
    if (
      typeof partitions !== "number" || !Number.isInteger(partitions) || partitions < 1 ||
      partitions > PARTITIONS_PER_TOPIC_MAX
    ) {
      throw new SluiceError(
        "INVALID_REQUEST",
        `partitions must be an integer in [1, ${PARTITIONS_PER_TOPIC_MAX}], not ${partitions}`,
      );
    }
    return {
      name: topicName,
      partitions,
      ...parseOverrides(config, this.topicDefaults, { replicated: this.#options.replicated }),
    };
  }

  /**
   * Creates a topic: validates name, partition count and config before anything touches disk.
   * `id`: the topic id (a cluster's, the same on every broker); a new random UUID by default.
   */
  async create(
    name: unknown,
    partitions: unknown,
    config: unknown,
    options: { id?: string } = {},
  ): Promise<Topic> {
    const valid = this.validateNew(name, partitions, config);
    const { name: topicName } = valid;
    const topicsMax = this.#options.topicsMax ?? TOPICS_MAX;
    if (this.#topics.size + this.#creating >= topicsMax) {
      throw new SluiceError("TOO_MANY_REQUESTS", `a broker holds at most ${topicsMax} topics`);
    }
    this.#creating++;
    return await this.#serialized(topicName, async () => {
      try {
        return await this.#create(valid, options.id);
      } finally {
        this.#creating--;
      }
    });
  }

  async #create(
    valid: { name: string; partitions: number; config: TopicConfig; overrides: TopicOverrides },
    id: string = crypto.randomUUID(),
  ): Promise<Topic> {
    const { name: topicName, partitions } = valid;
    if (this.#topics.has(topicName)) {
      throw new SluiceError("TOPIC_EXISTS", `topic ${topicName} already exists`, {
        topic: topicName,
      });
    }
    const meta: TopicMeta = {
      name: topicName,
      partitions,
      config: valid.config,
      overrides: valid.overrides,
      createdMs: this.#options.clock.nowMs(),
      id,
    };
    const dir = joinPath(this.#topicsDir, topicName);
    // A directory without topic.json (a create that crashed, or damage) is not reused: its bytes
    // would come back under the new topic. It is moved aside, not removed: it may hold data.
    if (pathExists(dir)) this.#setAside(dir, topicName);
    forgetSyncedParent(dir);
    // Durable once the journal's round covering it ends; the files are made meanwhile, topic.json
    // under a temporary name until then (a crash before leaves no topic.json: not served).
    const durable = this.#journal.write({
      op: "create",
      name: topicName,
      partitions,
      config: meta.overrides,
      createdMs: meta.createdMs,
      id,
    });
    const logs: PartitionLog[] = [];
    try {
      await makeTopicFiles(dir, meta, durable);
      await this.#openLogs(meta, "create", logs);
    } catch (err) {
      // Nothing of a failed create stays open or on disk: its descriptors are released, its
      // directory removed and its journal record undone, so the next create (or restart) starts
      // clean.
      await Promise.allSettled([durable, ...logs.map((log) => log.close())]);
      try {
        removeTree(dir);
        await this.#journal.write({ op: "delete", name: topicName, id });
      } catch (cleanup) {
        this.#options.logger.warn("could not undo a failed create", {
          dir,
          error: String(cleanup),
        });
      }
      throw storageFailure(err, `creating topic ${topicName}`, { topic: topicName });
    }
    const topic = new Topic(meta, logs);
    this.#topics.set(topicName, topic);
    for (const log of logs) this.cleaner.register(log);
    this.#options.logger.info("created topic", { topic: topicName, partitions });
    return topic;
  }

  /** `input` checked as a topic's overrides (INVALID_CONFIG): their canonical strings. */
  checkOverrides(input: unknown): TopicOverrides {
    return parseOverrides(input, this.topicDefaults, { replicated: this.#options.replicated })
      .overrides;
  }

  /**
   * Sets the topic's overrides to `change(its current overrides)` (all of them: keys left out go
   * back to their defaults), checked first (INVALID_CONFIG, nothing changed), then written to
   * topic.json and applied to the running logs: retention, segment size and age, flush policy,
   * max message size from the next append or retention run on. Changes of one topic run one at
   * a time, each on the result of the one before. `validateOnly`: checked, nothing changed.
   * Returns the topic.
   */
  async alterConfig(
    name: unknown,
    change: (current: Readonly<TopicOverrides>) => unknown,
    options: { validateOnly?: boolean } = {},
  ): Promise<Topic> {
    const topicName = validateTopicName(name);
    const parse = (topic: Topic) =>
      parseOverrides(change(topic.meta.overrides), this.topicDefaults, {
        replicated: this.#options.replicated,
      });
    if (options.validateOnly === true) {
      const topic = this.get(topicName);
      parse(topic);
      return topic;
    }
    return await this.#serialized(topicName, () => {
      const topic = this.get(topicName);
      const parsed = parse(topic);
      const meta: TopicMeta = { ...topic.meta, ...parsed };
      const dir = joinPath(this.#topicsDir, topicName);
      try {
        rewriteTopicFile(dir, meta, this.#topicsDir);
      } catch (err) {
        throw storageFailure(err, `writing the configs of topic ${topicName}`, {
          topic: topicName,
        });
      }
      topic.meta.config = parsed.config;
      topic.meta.overrides = parsed.overrides;
      const logConfig = this.#logConfig(parsed.config);
      for (const log of topic.logs) log.updateConfig(logConfig);
      this.#options.logger.info("altered topic configs", {
        topic: topicName,
        overrides: JSON.stringify(parsed.overrides),
      });
      return Promise.resolve(topic);
    });
  }

  /**
   * CreatePartitions: grows the topic to `count` partitions (INVALID_PARTITIONS when not more
   * than today or over PARTITIONS_PER_TOPIC_MAX). The new partitions' logs are created first,
   * then topic.json says the new count: a crash in between leaves directories past the count,
   * which hold nothing acknowledged (no one could write to them) and are removed by the next try.
   * `validateOnly`: checked, nothing changed.
   */
  async addPartitions(
    name: unknown,
    count: unknown,
    options: { validateOnly?: boolean } = {},
  ): Promise<Topic> {
    const topicName = validateTopicName(name);
    checkPartitionCount(this.get(topicName), count);
    if (options.validateOnly === true) return this.get(topicName);
    return await this.#serialized(topicName, async () => {
      const topic = this.get(topicName);
      const total = checkPartitionCount(topic, count);
      const dir = joinPath(this.#topicsDir, topicName);
      const meta: TopicMeta = { ...topic.meta, partitions: total };
      const logs: PartitionLog[] = [];
      try {
        for (let p = topic.logs.length; p < total; p++) {
          const stale = joinPath(dir, String(p));
          if (pathExists(stale)) removeTree(stale);
        }
        await makePartitionDirs(dir, topic.logs.length, total);
        await this.#openLogs(meta, "create", logs, topic.logs.length);
        await writeTopicFile(dir, meta, this.#topicsDir);
      } catch (err) {
        await Promise.allSettled(logs.map((log) => log.delete()));
        throw storageFailure(err, `adding partitions to topic ${topicName}`, {
          topic: topicName,
        });
      }
      topic.addLogs(logs);
      for (const log of logs) this.cleaner.register(log);
      this.#options.logger.info("added partitions", { topic: topicName, partitions: total });
      return topic;
    });
  }

  /** The topic; INVALID_TOPIC_NAME or TOPIC_NOT_FOUND. */
  get(name: unknown): Topic {
    const topicName = validateTopicName(name);
    const topic = this.#topics.get(topicName);
    if (topic === undefined) throw topicNotFound(topicName);
    return topic;
  }

  /** The topic by its (already valid) name, or undefined: no error, for lookups by the cluster. */
  find(name: string): Topic | undefined {
    return this.#topics.get(name);
  }

  list(): Topic[] {
    return [...this.#topics.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Deletes a topic: readers holding it get TOPIC_NOT_FOUND from then on; its logs are closed, its
   * directory renamed out of topics/ (atomic, fsynced) and then removed. It resolves only once the
   * rename is durable, and a create of the same name waits until then. `setAside`: the directory
   * is moved to orphaned/<topic>-<ms> and kept instead (a cluster's broker finding a topic etcd
   * does not know at start: a wrong --etcd-prefix or a lost etcd must not erase data).
   */
  async delete(name: unknown, options: { setAside?: boolean } = {}): Promise<void> {
    const topicName = validateTopicName(name);
    await this.#serialized(topicName, async () => {
      const topic = this.get(topicName);
      topic.markDeleted();
      this.#topics.delete(topic.name);
      await Promise.all(topic.logs.map((log) => this.cleaner.unregister(log)));
      await closeLogsInSlices(topic.logs, this.#options.logger, topic.name);
      // Durable from here: an open after a crash finishes the delete from the journal.
      await this.#journal.write({
        op: "delete",
        name: topic.name,
        id: topic.meta.id,
        keep: options.setAside === true ? true : undefined,
      });
      if (options.setAside === true) {
        // Served no more, but kept for an operator (orphaned/<topic>-<ms>): see the doc above.
        this.#setAside(joinPath(this.#topicsDir, topic.name), topic.name);
        return;
      }
      makeDir(this.#deletedDir);
      const parked = joinPath(this.#deletedDir, `${topic.name}-${topic.meta.id || Date.now()}`);
      renamePath(joinPath(this.#topicsDir, topic.name), parked);
      await syncDirAsync(this.#topicsDir);
      // Renamed durably: what is left goes off the event loop (a crash leaves it for the next open).
      const removal = removeTreeAsync(parked).catch((err) => {
        this.#options.logger.warn("could not remove a deleted topic's files", {
          dir: parked,
          error: String(err),
        });
      }).finally(() => this.#removals.delete(removal));
      this.#removals.add(removal);
      this.#options.logger.info("deleted topic", { topic: topic.name });
    });
  }

  /**
   * Closes every log (flushes and writes recovery checkpoints) once running creates and deletes
   * end; when all closed, marks the data dir closed cleanly (the next open reads logs lazily).
   */
  async close(): Promise<void> {
    await this.cleaner.stop();
    await Promise.all([...this.#nameOps.values()]);
    const logs = [...this.#topics.values()].flatMap((t) => t.logs);
    await Promise.all(logs.map((log) => log.close()));
    await Promise.all([...this.#removals]);
    await this.#journal.close();
    // A read-only log wrote no checkpoint: the next open must recover it.
    if (logs.every((log) => log.state !== "read-only")) {
      markCleanShutdown(this.dataDir, this.#options.clock.nowMs());
    }
  }
}
