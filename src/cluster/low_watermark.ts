/**
 * A leader's DeleteRecords waits (Kafka's DelayedDeleteRecords and Partition.lowWatermarkIfLeader):
 * the leader moves its own log start first, and answers once the partition's low watermark, the
 * least log start among the leader and its live followers, has reached the offset asked.
 *
 * - Each follower tells its log start in every Fetch (the partition's `logStartOffset` field); a
 *   follower raises it from the leader's answers (replica_fetcher.ts), so the low watermark
 *   catches up within a fetch round or two. A follower whose broker is not live (no registration
 *   in etcd) does not hold it back, as in Kafka; one that has not fetched from this leader yet
 *   counts as -1, so nothing is answered before every live follower was heard from.
 * - {@link LowWatermarkWaiters.check} runs after each follower fetch and after the leader's own
 *   log start moved; a waiter is answered with the low watermark once it reaches its offset.
 * - After `timeoutMs` a waiter is REQUEST_TIMED_OUT (the records are deleted on the leader all the
 *   same, as in Kafka); when the leadership moves first, NOT_LEADER_OR_FOLLOWER. At most
 *   DELETE_RECORDS_WAITERS_MAX wait at once per broker (TOO_MANY_REQUESTS past it, before waiting).
 */
import { SluiceError } from "../errors.ts";
import { DELETE_RECORDS_WAITERS_MAX } from "../limits.ts";
import type { Replica } from "./replica_manager.ts";

interface Waiter {
  offset: number;
  resolve: (lowWatermark: number) => void;
  reject: (err: SluiceError) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** The least log start among a leader replica and its followers whose brokers are live. */
export function lowWatermarkOf(r: Replica, isLive: (nodeId: number) => boolean): number {
  let low = r.log.logStartOffset;
  for (const [id, progress] of r.followers) {
    if (progress.logStartOffset < low && isLive(id)) low = progress.logStartOffset;
  }
  return low;
}

export class LowWatermarkWaiters {
  readonly #waiters = new Map<Replica, Waiter[]>();
  #count = 0;

  constructor(
    /** The partition's low watermark (the leader's view). */
    readonly lowWatermark: (r: Replica) => number,
    readonly max: number = DELETE_RECORDS_WAITERS_MAX,
  ) {}

  /** Waiters now, across partitions. */
  get count(): number {
    return this.#count;
  }

  /** Resolves with the low watermark once it is at least `offset` (see the module doc). */
  wait(r: Replica, offset: number, timeoutMs: number): Promise<number> {
    const now = this.lowWatermark(r);
    if (now >= offset) return Promise.resolve(now);
    if (this.#count >= this.max) {
      return Promise.reject(
        new SluiceError("TOO_MANY_REQUESTS", `${this.max} DeleteRecords requests wait already`),
      );
    }
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = {
        offset,
        resolve,
        reject,
        timer: setTimeout(() => {
          if (!this.#remove(r, waiter)) return;
          reject(
            new SluiceError(
              "REQUEST_TIMED_OUT",
              `the replicas of ${r.topic}-${r.partition} did not all delete the records before ` +
                `offset ${offset} within ${timeoutMs} ms (low watermark ${this.lowWatermark(r)})`,
              { topic: r.topic, partition: r.partition, offset },
            ),
          );
        }, Math.max(0, timeoutMs)),
      };
      let list = this.#waiters.get(r);
      if (list === undefined) this.#waiters.set(r, list = []);
      list.push(waiter);
      this.#count++;
    });
  }

  /** Answers the waiters of `r` whose offset the low watermark has reached. */
  check(r: Replica): void {
    const list = this.#waiters.get(r);
    if (list === undefined) return;
    const low = this.lowWatermark(r);
    for (let i = list.length - 1; i >= 0; i--) {
      const w = list[i];
      if (w.offset > low) continue;
      list.splice(i, 1);
      this.#count--;
      clearTimeout(w.timer);
      w.resolve(low);
    }
    if (list.length === 0) this.#waiters.delete(r);
  }

  /** Answers every partition's waiters that can be (a broker's liveness changed). */
  checkAll(): void {
    for (const r of [...this.#waiters.keys()]) this.check(r);
  }

  /** Fails the waiters of `r` (it no longer leads). */
  fail(r: Replica, err: SluiceError): void {
    const list = this.#waiters.get(r);
    if (list === undefined) return;
    this.#waiters.delete(r);
    for (const w of list) {
      clearTimeout(w.timer);
      this.#count--;
      w.reject(err);
    }
  }

  /** Fails every waiter (shutdown). */
  failAll(err: SluiceError): void {
    for (const r of [...this.#waiters.keys()]) this.fail(r, err);
  }

  #remove(r: Replica, waiter: Waiter): boolean {
    const list = this.#waiters.get(r);
    const i = list?.indexOf(waiter) ?? -1;
    if (i < 0) return false;
    list!.splice(i, 1);
    this.#count--;
    if (list!.length === 0) this.#waiters.delete(r);
    return true;
  }
}
