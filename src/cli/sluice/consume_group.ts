/**
 * `sluice consume TOPIC -g GROUP`: the command as one member of a consumer group, through the HTTP
 * member routes (docs/API.md "Consumer groups"): join, fetch from the assigned partitions (a long
 * poll; each fetch is also the member's heartbeat), write the records, then commit the next offset
 * of each partition it wrote (at-least-once: a record is committed only after it was written), and
 * leave on exit, on -e, -c or SIGINT / SIGTERM, so the partitions go to the other members at once.
 *
 * A commit refused by a rebalance (ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS, a partition no longer
 * the member's) is dropped: the partition's new owner starts from the last commit. A member the
 * group forgot (MEMBER_NOT_FOUND, GROUP_NOT_FOUND: its session ran out while the output was
 * blocked) joins again, at most GROUP_REJOINS_MAX times. -e ends at the first fetch that waits for
 * nothing and finds nothing while the assignment did not change: every assigned partition is at
 * its end.
 */
import { onTerminationSignal } from "../../runtime/process.ts";
import type { Parsed } from "./args.ts";
import { ApiClient, type Json } from "./client.ts";
import { CONSUME_FETCH_BYTES, CONSUME_POLL_WAIT_MS, type RecordSink } from "./consume.ts";
import { CliError, isCliError } from "./errors.ts";

/** Codes with which a commit is dropped rather than ending the command (a rebalance moved on). */
const COMMIT_DROPPED = new Set([
  "ILLEGAL_GENERATION",
  "REBALANCE_IN_PROGRESS",
  "MEMBER_NOT_FOUND",
  "GROUP_NOT_FOUND",
]);

/** Times the member may be forgotten and join again before the command gives up. */
export const GROUP_REJOINS_MAX = 10;

function resetOf(args: Parsed): "earliest" | "latest" {
  const where = args.get("offset") ?? "beginning";
  if (where === "beginning" || where === "earliest") return "earliest";
  if (where === "end" || where === "latest") return "latest";
  return args.fail(`with -g, -o is beginning or end (the group's start without a commit)`);
}

export async function groupConsume(
  client: ApiClient,
  args: Parsed,
  sink: RecordSink,
  group: string,
): Promise<void> {
  const topic = sink.topic;
  const exitAtEnd = args.has("exit");
  const joinBody = { topics: [topic], autoOffsetReset: resetOf(args) };
  const membersPath = ApiClient.path`/v1/groups/${group}/members`;
  const stop = new AbortController();
  onTerminationSignal(() => stop.abort());

  let member: { memberId: string; generation: number } = await client.post(membersPath, joinBody);
  let rejoins = 0;
  try {
    while (!sink.done && !stop.signal.aborted) {
      const waitMs = exitAtEnd ? 0 : CONSUME_POLL_WAIT_MS;
      let res: Json;
      try {
        res = await client.get(`${membersPath}/${encodeURIComponent(member.memberId)}/records`, {
          query: { maxBytes: CONSUME_FETCH_BYTES, maxWaitMs: waitMs, ...sink.encodingQuery },
          waitMs,
          signal: stop.signal,
        });
      } catch (err) {
        if (isCliError(err, "ABORTED")) break;
        const forgotten = isCliError(err, "MEMBER_NOT_FOUND") || isCliError(err, "GROUP_NOT_FOUND");
        if (forgotten && rejoins++ < GROUP_REJOINS_MAX) {
          member = await client.post(membersPath, joinBody);
          continue;
        }
        throw err;
      }
      const written = await sink.write(res.records, (r) => r.topic);
      if (written > 0) {
        await commit(client, group, member.memberId, res.generation, res.records.slice(0, written));
      } else if (exitAtEnd && !res.rebalance) {
        break;
      }
    }
  } finally {
    await leave(client, `${membersPath}/${encodeURIComponent(member.memberId)}`);
  }
}

async function commit(
  client: ApiClient,
  group: string,
  memberId: string,
  generation: number,
  records: Json[],
): Promise<void> {
  const next = new Map<string, { topic: string; partition: number; offset: number }>();
  for (const r of records) {
    const k = `${r.topic}\0${r.partition}`;
    const o = next.get(k);
    if (o === undefined || o.offset <= r.offset) {
      next.set(k, { topic: r.topic, partition: r.partition, offset: r.offset + 1 });
    }
  }
  try {
    await client.post(ApiClient.path`/v1/groups/${group}/offsets`, {
      memberId,
      generation,
      offsets: [...next.values()],
    });
  } catch (err) {
    if (!(err instanceof CliError) || !COMMIT_DROPPED.has(err.code)) throw err;
  }
}

async function leave(client: ApiClient, memberPath: string): Promise<void> {
  try {
    await client.request("DELETE", memberPath);
  } catch (err) {
    // Already gone (its session ended): nothing to leave. Anything else still ends the command.
    if (!isCliError(err, "MEMBER_NOT_FOUND") && !isCliError(err, "GROUP_NOT_FOUND")) throw err;
  }
}
