/**
 * Sets of partitions by topic (what a member owns, is asked to revoke, or is targeted to own), and
 * their two list forms: Kafka's `{topic, partitions[]}` and a flat `{topic, partition}` list.
 */

/** Partitions by topic name, the wire's form. */
export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

/** topic -> partitions. */
export type Owned = Map<string, Set<number>>;

export const tpKey = (topic: string, partition: number) => `${topic}\0${partition}`;

/** Sorted by topic, then partition; topics without partitions left out. */
export function toList(owned: Owned): TopicPartitions[] {
  return [...owned].filter(([, ps]) => ps.size > 0).sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([topic, ps]) => ({ topic, partitions: [...ps].sort((a, b) => a - b) }));
}

/** Sorted by topic, then partition. */
export function toFlat(owned: Owned): { topic: string; partition: number }[] {
  return toList(owned).flatMap((t) =>
    t.partitions.map((partition) => ({ topic: t.topic, partition }))
  );
}

export function fromList(list: readonly TopicPartitions[]): Owned {
  const out: Owned = new Map();
  for (const t of list) for (const p of t.partitions) add(out, t.topic, p);
  return out;
}

export function fromFlat(tps: readonly { topic: string; partition: number }[] | undefined): Owned {
  const out: Owned = new Map();
  for (const tp of tps ?? []) add(out, tp.topic, tp.partition);
  return out;
}

export function size(owned: Owned): number {
  let n = 0;
  for (const ps of owned.values()) n += ps.size;
  return n;
}

export function has(owned: Owned, topic: string, partition: number): boolean {
  return owned.get(topic)?.has(partition) ?? false;
}

export function add(owned: Owned, topic: string, partition: number): void {
  let set = owned.get(topic);
  if (set === undefined) owned.set(topic, set = new Set());
  set.add(partition);
}

export function sameOwned(a: Owned, b: Owned): boolean {
  if (size(a) !== size(b)) return false;
  for (const [t, ps] of a) for (const p of ps) if (!has(b, t, p)) return false;
  return true;
}

export function copyOwned(owned: Owned): Owned {
  const out: Owned = new Map();
  for (const [t, ps] of owned) out.set(t, new Set(ps));
  return out;
}
