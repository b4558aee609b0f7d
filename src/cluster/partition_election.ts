/**
 * The controller's decision for one partition given the live brokers (Kafka's
 * PartitionChangeBuilder and its election rules), as a pure function: the next state, or undefined
 * when nothing is to change.
 *
 * - A leader that is not live loses the leadership: the next leader is the first live ISR member in
 *   replica order (the preferred leader first), the leader epoch goes up by one and the ISR keeps
 *   only live members. With no live ISR member the partition has no leader (NO_LEADER) and keeps
 *   its last ISR, so that only a replica that had everything can lead it again (Kafka keeps the
 *   last ISR member for the same reason); unclean leader election (a topic's
 *   `unclean.leader.election.enable`, false by default) takes any live replica instead, at the
 *   price of what the lost ISR had.
 * - A leaderless partition gets a leader as soon as an ISR member is live again.
 * - A live leader keeps its leadership; followers that are not live leave the ISR (partition epoch
 *   up, leader epoch unchanged: a follower leaving does not fence the leader).
 */
import { NO_LEADER, type PartitionState } from "./cluster_state.ts";

export function nextPartitionState(
  state: PartitionState,
  live: ReadonlySet<number>,
  uncleanElection = false,
): PartitionState | undefined {
  const isLive = (id: number) => live.has(id);
  if (state.leader !== NO_LEADER && isLive(state.leader)) {
    const isr = state.isr.filter((id) => id === state.leader || isLive(id));
    if (isr.length === state.isr.length) return undefined;
    return { ...state, isr, partitionEpoch: state.partitionEpoch + 1 };
  }
  const inIsr = new Set(state.isr);
  let leader = state.replicas.find((id) => inIsr.has(id) && isLive(id) && id !== state.leader);
  let isr: number[];
  if (leader !== undefined) {
    isr = state.isr.filter(isLive);
  } else if (uncleanElection) {
    leader = state.replicas.find(isLive);
    isr = leader === undefined ? state.isr : [leader];
  } else {
    isr = state.isr;
  }
  if (leader === undefined) {
    if (state.leader === NO_LEADER) return undefined;
    // The last ISR member stays in the ISR: only it may lead again without losing data.
    return {
      ...state,
      leader: NO_LEADER,
      leaderEpoch: state.leaderEpoch + 1,
      isr: state.isr.length > 0 ? state.isr : [state.leader],
      partitionEpoch: state.partitionEpoch + 1,
    };
  }
  return {
    ...state,
    leader,
    leaderEpoch: state.leaderEpoch + 1,
    isr,
    partitionEpoch: state.partitionEpoch + 1,
  };
}

/** Kafka's leader.imbalance.per.broker.percentage: rebalance a broker past this share. */
export const LEADER_IMBALANCE_RATIO = 0.1;

/**
 * Kafka's automatic preferred-leader election (auto.leader.rebalance.enable): after failovers,
 * leaderships sit on the brokers that took over. For each broker, the partitions whose preferred
 * replica (the first) it is but that another broker leads; when that share passes
 * LEADER_IMBALANCE_RATIO and the broker is live and in the ISR, they go back to it (leader epoch
 * up: the old leader is fenced as after any election). Returns the new states by key.
 */
export function preferredLeaderMoves(
  partitions: ReadonlyMap<string, PartitionState>,
  live: ReadonlySet<number>,
  ratio = LEADER_IMBALANCE_RATIO,
): Map<string, PartitionState> {
  const preferredOf = new Map<number, string[]>();
  const misplaced = new Map<number, string[]>();
  for (const [key, s] of partitions) {
    const preferred = s.replicas[0];
    if (preferred === undefined) continue;
    let all = preferredOf.get(preferred);
    if (all === undefined) preferredOf.set(preferred, all = []);
    all.push(key);
    if (s.leader !== preferred) {
      let off = misplaced.get(preferred);
      if (off === undefined) misplaced.set(preferred, off = []);
      off.push(key);
    }
  }
  const moves = new Map<string, PartitionState>();
  for (const [broker, keys] of misplaced) {
    if (!live.has(broker) || keys.length / preferredOf.get(broker)!.length <= ratio) continue;
    for (const key of keys) {
      const s = partitions.get(key)!;
      if (!s.isr.includes(broker)) continue;
      moves.set(key, {
        ...s,
        leader: broker,
        leaderEpoch: s.leaderEpoch + 1,
        partitionEpoch: s.partitionEpoch + 1,
      });
    }
  }
  return moves;
}
