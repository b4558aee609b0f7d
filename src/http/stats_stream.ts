/**
 * The events of the live statistics stream (GET /v1/stream/stats, routes/stats_stream.ts): one
 * sampler per stream keeps the previous reading of each topic's counters (broker/topic.ts
 * TopicStats, the same counters /metrics shows) and turns two readings into per-second rates; the
 * consumer groups' lag is read as `GET /v1/groups/{group}/offsets` reads it. What a caller sees is
 * filtered by its token's rights: a topic's rates with any right on the topic (what describing it
 * needs), a group with read or admin on the group, and within it only the partitions of topics it
 * may see. Every list is bounded (STATS_STREAM_*_MAX) and what is left out is counted.
 *
 * The event's data, JSON on one line (docs/API.md):
 *
 *   { "t": ms since the epoch, "intervalMs": the time the rates cover (0 in the first event),
 *     "topics": [{ "topic", "produceRecords", "produceBytes", "fetchRecords", "fetchBytes" }],
 *     "topicsOmitted": n,
 *     "groups": [{ "group", "lagSum", "partitions": [{ "topic", "partition", "offset", "lag" }] }],
 *     "groupsOmitted": n, "groupPartitionsOmitted": n }
 *
 * The four rates are per second, rounded to 2 decimals, or null in the first event of a stream and
 * for a topic first seen (or re-created) since the last event: a rate needs two readings. `lag` is
 * null for a deleted topic or a negative commit, as in the offsets route.
 */
import type { Broker } from "../broker/broker.ts";
import type { Topic } from "../broker/topic.ts";
import {
  STATS_STREAM_GROUP_PARTITIONS_MAX,
  STATS_STREAM_GROUPS_MAX,
  STATS_STREAM_TOPICS_MAX,
} from "../limits.ts";
import { allows, AUTH_OPS, type Principal } from "../security/acl.ts";

export interface TopicRates {
  topic: string;
  produceRecords: number | null;
  produceBytes: number | null;
  fetchRecords: number | null;
  fetchBytes: number | null;
}

export interface GroupLagRow {
  topic: string;
  partition: number;
  offset: number;
  lag: number | null;
}

export interface GroupLag {
  group: string;
  lagSum: number;
  partitions: GroupLagRow[];
}

export interface StatsEvent {
  t: number;
  intervalMs: number;
  topics: TopicRates[];
  topicsOmitted: number;
  groups: GroupLag[];
  groupsOmitted: number;
  groupPartitionsOmitted: number;
}

export interface StatsBounds {
  topicsMax: number;
  groupsMax: number;
  groupPartitionsMax: number;
}

export const DEFAULT_STATS_BOUNDS: StatsBounds = {
  topicsMax: STATS_STREAM_TOPICS_MAX,
  groupsMax: STATS_STREAM_GROUPS_MAX,
  groupPartitionsMax: STATS_STREAM_GROUP_PARTITIONS_MAX,
};

interface Reading {
  /** The topic object read: a topic deleted and re-created is a new one, its counters at 0. */
  topic: Topic;
  recordsIn: number;
  bytesIn: number;
  recordsOut: number;
  bytesOut: number;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** One stream's readings and filter; `next()` makes its next event. */
export class StatsSampler {
  #previous = new Map<string, Reading>();
  /** When the previous reading was taken; undefined before the first. */
  #previousMs: number | undefined;

  constructor(
    private readonly broker: Broker,
    /** The caller; undefined when the server has no auth (everything is visible). */
    private readonly principal: Principal | undefined,
    /** Only this group's lag (the console's group page); undefined: every group it may see. */
    private readonly group: string | undefined,
    private readonly bounds: StatsBounds = DEFAULT_STATS_BOUNDS,
  ) {}

  #seesTopic(name: string): boolean {
    const p = this.principal;
    return p === undefined || AUTH_OPS.some((op) => allows(p, "topic", name, op));
  }

  #seesGroup(name: string): boolean {
    const p = this.principal;
    return p === undefined || allows(p, "group", name, "read") ||
      allows(p, "group", name, "admin");
  }

  next(now: number = Date.now()): StatsEvent {
    const dtMs = this.#previousMs === undefined ? 0 : Math.max(1, now - this.#previousMs);
    const readings = new Map<string, Reading>();
    const rates: TopicRates[] = [];
    for (const topic of this.broker.topics.list()) {
      if (!this.#seesTopic(topic.name)) continue;
      const s = topic.stats;
      const r: Reading = {
        topic,
        recordsIn: s.recordsIn,
        bytesIn: s.bytesIn,
        recordsOut: s.recordsOut,
        bytesOut: s.bytesOut,
      };
      readings.set(topic.name, r);
      const before = this.#previous.get(topic.name);
      const rate = (pick: (x: Reading) => number) =>
        before === undefined || before.topic !== topic || dtMs === 0
          ? null
          : round2(Math.max(0, pick(r) - pick(before)) * 1000 / dtMs);
      rates.push({
        topic: topic.name,
        produceRecords: rate((x) => x.recordsIn),
        produceBytes: rate((x) => x.bytesIn),
        fetchRecords: rate((x) => x.recordsOut),
        fetchBytes: rate((x) => x.bytesOut),
      });
    }
    this.#previous = readings;
    this.#previousMs = now;
    // The busiest first (records in and out), then by name: what a chart of a few series shows.
    const busy = (x: TopicRates) => (x.produceRecords ?? 0) + (x.fetchRecords ?? 0);
    rates.sort((a, b) => busy(b) - busy(a) || (a.topic < b.topic ? -1 : 1));
    const topicsOmitted = Math.max(0, rates.length - this.bounds.topicsMax);
    if (topicsOmitted > 0) rates.length = this.bounds.topicsMax;

    const { groups, groupsOmitted, groupPartitionsOmitted } = this.#lag();
    return {
      t: now,
      intervalMs: dtMs,
      topics: rates,
      topicsOmitted,
      groups,
      groupsOmitted,
      groupPartitionsOmitted,
    };
  }

  #lag(): Pick<StatsEvent, "groups" | "groupsOmitted" | "groupPartitionsOmitted"> {
    const ids = this.group !== undefined
      ? [this.group]
      : [...this.broker.offsets.groupsWithOffsets()].sort();
    const groups: GroupLag[] = [];
    let groupsOmitted = 0;
    let groupPartitionsOmitted = 0;
    let rows = 0;
    for (const id of ids) {
      if (!this.#seesGroup(id)) continue;
      let offsets;
      try {
        offsets = this.broker.groups.offsets(id);
      } catch {
        continue; // unknown, or forgotten meanwhile
      }
      const partitions: GroupLagRow[] = [];
      let lagSum = 0;
      for (const o of offsets) {
        if (!this.#seesTopic(o.topic)) continue;
        partitions.push({ topic: o.topic, partition: o.partition, offset: o.offset, lag: o.lag });
        lagSum += o.lag ?? 0;
      }
      if (groups.length >= this.bounds.groupsMax) {
        groupsOmitted++;
        groupPartitionsOmitted += partitions.length;
        continue;
      }
      if (rows + partitions.length > this.bounds.groupPartitionsMax) {
        groupsOmitted++;
        groupPartitionsOmitted += partitions.length;
        continue;
      }
      rows += partitions.length;
      partitions.sort((a, b) =>
        (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0) ||
        a.partition - b.partition
      );
      groups.push({ group: id, lagSum, partitions });
    }
    return { groups, groupsOmitted, groupPartitionsOmitted };
  }
}
