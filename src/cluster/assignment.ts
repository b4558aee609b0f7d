/**
 * Replica assignment for a new topic (Kafka's rack-unaware assignment): partition p's first
 * replica, its preferred leader, goes round-robin over the live brokers from a random start, so
 * that leaders spread evenly; the other replicas follow it at a distance that grows by one each
 * time the round wraps, so that the followers of one broker's partitions spread over the others
 * too (with 3 brokers and RF 2, broker 1's partitions are followed by 2 and 3 alternately, not
 * always by 2).
 */
import { SluiceError } from "../errors.ts";

/** replicas[p] for `partitions` partitions of `replicationFactor` distinct brokers each. */
export function assignReplicas(
  brokers: readonly number[],
  partitions: number,
  replicationFactor: number,
  random: () => number = Math.random,
): number[][] {
  const ids = [...new Set(brokers)].sort((a, b) => a - b);
  const n = ids.length;
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1) {
    throw new SluiceError(
      "INVALID_REPLICATION_FACTOR",
      `replication factor must be at least 1, not ${replicationFactor}`,
    );
  }
  if (replicationFactor > n) {
    throw new SluiceError(
      "INVALID_REPLICATION_FACTOR",
      `replication factor ${replicationFactor} is larger than the ${n} live broker(s)`,
      { replicationFactor, brokers: n },
    );
  }
  const start = Math.floor(random() * n);
  let shift = n > 1 ? Math.floor(random() * (n - 1)) : 0;
  const out: number[][] = [];
  for (let p = 0; p < partitions; p++) {
    const first = (start + p) % n;
    if (p > 0 && first === start && n > 1) shift = (shift + 1) % (n - 1);
    const replicas = [ids[first]];
    for (let j = 1; j < replicationFactor; j++) {
      // Distance 1 + (shift + j - 1) mod (n - 1): never 0 (the leader), distinct for each j.
      replicas.push(ids[(first + 1 + ((shift + j - 1) % (n - 1))) % n]);
    }
    out.push(replicas);
  }
  return out;
}
