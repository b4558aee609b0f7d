/**
 * Partition assignment for consumer groups, as Kafka's client-side assignors compute it, run here
 * by the coordinator. Every partition of every subscribed topic goes to exactly one member that
 * subscribes to its topic; members beyond the partition count get nothing (they stay idle).
 * Members are ordered by memberId so every computation of the same membership agrees.
 */

export const ASSIGNORS = ["range", "roundrobin"] as const;
export type AssignorName = typeof ASSIGNORS[number];

export interface MemberSubscription {
  memberId: string;
  topics: readonly string[];
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** memberId -> its partitions, sorted by topic then partition. */
export type Assignment = Map<string, TopicPartition[]>;

function emptyAssignment(members: readonly MemberSubscription[]): Assignment {
  const out: Assignment = new Map();
  // Array sort's default is code-unit order, as Kafka's String.compareTo; localeCompare would put
  // "a" before "B", and could differ between hosts' locales.
  for (const id of members.map((m) => m.memberId).sort()) out.set(id, []);
  return out;
}

/**
 * Kafka's RangeAssignor: per topic, the subscribed members in order each take a contiguous range;
 * the first (partitions % members) members take one extra.
 */
export function rangeAssign(
  members: readonly MemberSubscription[],
  partitionsOf: (topic: string) => number,
): Assignment {
  const out = emptyAssignment(members);
  const ordered = [...out.keys()];
  const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
  for (const topic of topics) {
    const subscribed = ordered.filter((id) =>
      members.find((m) => m.memberId === id)!.topics.includes(topic)
    );
    const n = partitionsOf(topic);
    const per = Math.floor(n / subscribed.length);
    const extra = n % subscribed.length;
    let next = 0;
    subscribed.forEach((id, i) => {
      const count = per + (i < extra ? 1 : 0);
      for (let k = 0; k < count; k++) out.get(id)!.push({ topic, partition: next++ });
    });
  }
  return out;
}

/**
 * Kafka's RoundRobinAssignor: all partitions in (topic, partition) order are dealt to the members
 * in turn, skipping members not subscribed to the partition's topic.
 */
export function roundRobinAssign(
  members: readonly MemberSubscription[],
  partitionsOf: (topic: string) => number,
): Assignment {
  const out = emptyAssignment(members);
  const ordered = [...out.keys()];
  const subs = new Map(members.map((m) => [m.memberId, new Set(m.topics)]));
  const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
  let turn = 0;
  for (const topic of topics) {
    for (let partition = 0; partition < partitionsOf(topic); partition++) {
      // At most one full lap finds a subscriber: someone subscribes to every listed topic.
      for (let tries = 0; tries < ordered.length; tries++) {
        const id = ordered[turn++ % ordered.length];
        if (subs.get(id)!.has(topic)) {
          out.get(id)!.push({ topic, partition });
          break;
        }
      }
    }
  }
  return out;
}

export function assign(
  name: AssignorName,
  members: readonly MemberSubscription[],
  partitionsOf: (topic: string) => number,
): Assignment {
  return name === "range"
    ? rangeAssign(members, partitionsOf)
    : roundRobinAssign(members, partitionsOf);
}

/**
 * The `uniform` assignor of KIP-848's server-side assignment: balanced and sticky. Each partition
 * stays with its current owner while that member still subscribes to its topic and is under its
 * share (every member gets floor(P/M) partitions, P % M of them one more); the rest go, in
 * (topic, partition) order, to the least-loaded subscriber (ties by member id). With identical
 * subscriptions the counts differ by at most one; with different ones it stays close.
 */
export function uniformAssign(
  members: readonly MemberSubscription[],
  partitionsOf: (topic: string) => number,
  previous: Assignment,
): Assignment {
  const out = emptyAssignment(members);
  const ordered = [...out.keys()];
  if (ordered.length === 0) return out;
  const subs = new Map(members.map((m) => [m.memberId, new Set(m.topics)]));
  const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
  const all: TopicPartition[] = [];
  for (const topic of topics) {
    for (let partition = 0; partition < partitionsOf(topic); partition++) {
      all.push({ topic, partition });
    }
  }
  const floor = Math.floor(all.length / ordered.length);
  let extras = all.length % ordered.length;
  const key = (tp: TopicPartition) => `${tp.topic}\0${tp.partition}`;
  const previousOwner = new Map<string, string>();
  for (const [id, tps] of previous) for (const tp of tps) previousOwner.set(key(tp), id);
  const taken = new Set<string>();
  // Stickiness, in two passes: first up to the floor share, then one extra for P % M members.
  for (const pass of [0, 1]) {
    for (const tp of all) {
      const k = key(tp);
      if (taken.has(k)) continue;
      const owner = previousOwner.get(k);
      if (owner === undefined || !out.has(owner) || !subs.get(owner)!.has(tp.topic)) continue;
      const count = out.get(owner)!.length;
      if (pass === 0 ? count < floor : count === floor && extras > 0) {
        if (pass === 1) extras--;
        out.get(owner)!.push(tp);
        taken.add(k);
      }
    }
  }
  for (const tp of all) {
    if (taken.has(key(tp))) continue;
    let best: string | undefined;
    for (const id of ordered) {
      if (!subs.get(id)!.has(tp.topic)) continue;
      if (best === undefined || out.get(id)!.length < out.get(best)!.length) best = id;
    }
    if (best !== undefined) out.get(best)!.push(tp);
  }
  for (const tps of out.values()) {
    tps.sort((
      a,
      b,
    ) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  }
  return out;
}
