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
