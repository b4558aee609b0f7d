/**
 * JSON produce on a cluster's broker (`POST /v1/topics/{topic}/records`), whose records may go to
 * partitions led by several brokers.
 *
 * Each record's partition is decided here, with the broker's partitioner rules
 * (src/broker/partitioner.ts: an explicit partition wins, a key goes to murmur2(key) % partitions,
 * unkeyed records of one request stick to one partition and the next request moves on). Records
 * are then grouped by the partition's leader: this broker's share is produced here, every other
 * leader's share is forwarded to it (forwarding.ts) as the same route with each record's
 * `partition` set, all at once. The answer gives the offsets in request order.
 *
 * Each leader writes its share on its own: when a share fails, the request answers with that
 * share's error (the failed share holding the earliest record in request order), and
 * `error.details.offsets` lists every record in request order, `{partition, offset}` for one that
 * was written and `{partition, offset: null}` for one that was not: retrying only those is safe.
 * A request that every share refuses writes nothing; bad input (a bad encoding, an unknown
 * partition) is refused here before any share is sent.
 */
import type { Context } from "hono";
import type { z } from "@hono/zod-openapi";
import type { ProducedOffset, WriteOptions } from "../broker/broker.ts";
import { StickyPartitioner } from "../broker/partitioner.ts";
import type { Topic } from "../broker/topic_registry.ts";
import { SluiceError } from "../errors.ts";
import { TOPICS_MAX } from "../limits.ts";
import type { AppContext } from "./app.ts";
import { type ErrorBody, toErrorResponse } from "./error_handler.ts";
import type { ForwardTarget } from "./forwarding.ts";
import { toProduceRecords } from "./records_json.ts";
import type { ProduceBody } from "./schemas.ts";

/** This broker's share, among the shares keyed by leader node id. */
const HERE = -1;

/** The sticky partitions of unkeyed records, per topic, for the produce requests split here. */
export class ProducePartitioner {
  #sticky = new StickyPartitioner();
  readonly #topics = new Set<string>();

  /** The sticky partition of `topic` for this request. */
  current(topic: string, partitions: number): number {
    if (!this.#topics.has(topic)) {
      // Topics come and go: start over rather than remember every name ever produced to.
      if (this.#topics.size >= TOPICS_MAX) {
        this.#topics.clear();
        this.#sticky = new StickyPartitioner();
      }
      this.#topics.add(topic);
    }
    return this.#sticky.current(topic, partitions);
  }

  next(topic: string, partitions: number): void {
    this.#sticky.next(topic, partitions);
  }
}

interface Share {
  target: ForwardTarget | undefined;
  /** Indexes of the request's records, in request order. */
  records: number[];
}

interface Failure {
  status: number;
  body: ErrorBody;
  /** The share's first record, in request order. */
  first: number;
}

/**
 * Produces `body` to `topic` over its partitions' leaders; the route's answer. `query` is the
 * produce query string a forwarded share carries (acks, timeoutMs).
 */
export async function produceAcrossLeaders(
  ctx: AppContext,
  c: Context,
  topic: Topic,
  body: z.output<typeof ProduceBody>,
  write: Required<WriteOptions>,
  query: string,
): Promise<Response> {
  const { broker, forwarder, partitioner } = ctx;
  const records = toProduceRecords(body); // Bad input is refused here, before any share is sent.
  const partitions = topic.logs.length;
  const sticky = partitioner.current(topic.name, partitions);
  let stuck = false;
  const shares = new Map<number, Share>();
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (r.partition === undefined && (r.key ?? null) === null) stuck = true;
    const p = r.partition ?? StickyPartitioner.partitionOf(r.key ?? null, partitions, sticky);
    topic.partition(p); // PARTITION_NOT_FOUND before anything is sent
    r.partition = p;
    const target = forwarder.leaderFor(c, topic.name, p);
    const key = target?.nodeId ?? HERE;
    let share = shares.get(key);
    if (share === undefined) shares.set(key, share = { target, records: [] });
    share.records.push(i);
  }
  if (stuck) partitioner.next(topic.name, partitions);
  const here = shares.get(HERE);
  if (shares.size === 1 && here !== undefined) {
    return c.json({ offsets: await broker.produce(topic.name, records, write) });
  }

  const offsets: (ProducedOffset | undefined)[] = new Array(records.length);
  const path = `/v1/topics/${encodeURIComponent(topic.name)}/records?${query}`;
  const failures = await Promise.all([...shares.values()].map(async (share) => {
    const first = share.records[0];
    try {
      if (share.target === undefined) {
        const written = await broker.produce(
          topic.name,
          share.records.map((i) => records[i]),
          write,
        );
        written.forEach((o, j) => offsets[share.records[j]] = o);
        return undefined;
      }
      const answer = await forwarder.forward(c, share.target, {
        path,
        method: "POST",
        body: JSON.stringify({
          records: share.records.map((i) => ({
            ...body.records[i],
            partition: records[i].partition,
          })),
          keyEncoding: body.keyEncoding,
          valueEncoding: body.valueEncoding,
        }),
        contentType: "application/json",
        waitMs: write.timeoutMs,
      });
      const json = await answer.json().catch(() => undefined);
      if (answer.status === 200 && Array.isArray(json?.offsets)) {
        (json.offsets as ProducedOffset[]).forEach((o, j) => offsets[share.records[j]] = o);
        return undefined;
      }
      if (json?.error?.code === undefined) {
        throw new SluiceError(
          "LEADER_NOT_AVAILABLE",
          `broker ${share.target.nodeId} answered the forwarded produce with ${answer.status} ` +
            `and no error body; retry`,
          { leader: share.target.nodeId },
        );
      }
      return { status: answer.status, body: json as ErrorBody, first };
    } catch (err) {
      return { ...toErrorResponse(err, ctx.logger), first } satisfies Failure;
    }
  }));

  let failed: Failure | undefined;
  for (const f of failures) {
    if (f !== undefined && (failed === undefined || f.first < failed.first)) failed = f;
  }
  if (failed === undefined) return c.json({ offsets });
  const error = failed.body.error;
  return c.json(
    {
      error: {
        ...error,
        details: {
          ...error.details,
          offsets: records.map((r, i) => offsets[i] ?? { partition: r.partition, offset: null }),
        },
      },
    },
    failed.status as 400,
  );
}
