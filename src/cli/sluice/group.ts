/**
 * `sluice group list|describe|reset-offsets|delete`, as kafka-consumer-groups.sh and `rpk group`:
 * `GET /v1/groups` (of every live broker in a cluster), `GET /v1/groups/{g}` with its offsets, `PUT /v1/groups/{g}/offsets` and
 * `DELETE /v1/groups/{g}` (docs/API.md "Consumer groups").
 *
 * reset-offsets computes the new offsets here, as Kafka's tool does (earliest, latest, an offset,
 * a time, a shift; each kept within the partition's log start and high watermark), prints them,
 * and sets them only with --execute (without it, a dry run, Kafka's default too). The server
 * refuses a group that has members (GROUP_NOT_EMPTY).
 */
import { type CommandSpec, parseCommand, type Parsed, renderFamilyUsage } from "./args.ts";
import { ApiClient, type Json } from "./client.ts";
import { resolveSettings } from "./config.ts";
import { GROUP_OFFSETS_PER_REQUEST_MAX } from "../../limits.ts";
import { CliError, isCliError } from "./errors.ts";
import { Output } from "./output.ts";

/** Pages of GET /v1/groups read at most (1,000 groups each). */
export const GROUP_LIST_PAGES_MAX = 1000;

export const GROUP_COMMANDS: Record<string, CommandSpec> = {
  list: { path: "sluice group list", summary: "List the consumer groups." },
  describe: {
    path: "sluice group describe",
    summary: "Show a group's state, members and committed offsets with their lag.",
    positionals: [{ name: "GROUP" }],
  },
  "reset-offsets": {
    path: "sluice group reset-offsets",
    summary: "Set an empty group's committed offsets (a dry run unless --execute).",
    positionals: [{ name: "GROUP" }],
    options: [
      {
        name: "topic",
        short: "t",
        value: "TOPIC[:P,P]",
        repeat: true,
        help: "a topic, or some of its partitions",
      },
      { name: "all-topics", help: "every topic the group has committed offsets for" },
      { name: "to-earliest", help: "to each partition's first offset" },
      { name: "to-latest", help: "to each partition's end (skip everything)" },
      { name: "to-offset", value: "N", help: "to offset N" },
      {
        name: "to-datetime",
        value: "TIME",
        help: "to the first record at or after TIME (ms or ISO)",
      },
      { name: "shift-by", value: "N", help: "move the committed offsets by N (negative: back)" },
      { name: "execute", help: "set the offsets (without it: only print them)" },
    ],
    notes: ["Example: sluice group reset-offsets billing -t orders --to-earliest --execute"],
  },
  delete: {
    path: "sluice group delete",
    summary: "Delete groups without members and their committed offsets.",
    positionals: [{ name: "GROUP", variadic: true }],
  },
};

export const GROUP_USAGE = renderFamilyUsage("sluice group", "Manage consumer groups.", [
  { name: "list", summary: GROUP_COMMANDS.list.summary },
  { name: "describe", summary: GROUP_COMMANDS.describe.summary },
  { name: "reset-offsets", summary: GROUP_COMMANDS["reset-offsets"].summary },
  { name: "delete", summary: GROUP_COMMANDS.delete.summary },
]);

interface Committed {
  topic: string;
  partition: number;
  offset: number;
  lag: number | null;
}

async function committedOffsets(client: ApiClient, group: string): Promise<Committed[]> {
  try {
    return (await client.get(ApiClient.path`/v1/groups/${group}/offsets`)).offsets;
  } catch (err) {
    if (isCliError(err, "GROUP_NOT_FOUND")) return [];
    throw err;
  }
}

/** Every group one broker lists (GET /v1/groups, page after page). */
async function groupsOf(client: ApiClient, out: Output, into: Map<string, Json>): Promise<void> {
  let after: string | undefined;
  for (let page = 0; page < GROUP_LIST_PAGES_MAX; page++) {
    const res = await client.get("/v1/groups", { query: { after } });
    for (const g of res.groups) if (!into.has(g.group)) into.set(g.group, g);
    if (res.next === null || res.next === undefined) return;
    after = res.next;
    out.progress(() => `${into.size} groups`);
  }
}

/**
 * In a cluster each broker lists the groups it coordinates (as Kafka's ListGroups), so the list
 * is every live broker's, asked at the HTTP address it registered; on one node, the server's.
 */
async function listGroups(client: ApiClient, out: Output): Promise<void> {
  const cluster = await client.get("/v1/cluster");
  const found = new Map<string, Json>();
  if (cluster.clusterMode) {
    for (const b of cluster.brokers as { nodeId: number; httpUrl: string; live: boolean }[]) {
      if (!b.live || !b.httpUrl) continue;
      await groupsOf(new ApiClient({ ...client.settings, url: b.httpUrl }), out, found);
    }
  } else {
    await groupsOf(client, out, found);
  }
  out.clearProgress();
  const groups = [...found.values()].sort((a, b) =>
    a.group < b.group ? -1 : a.group > b.group ? 1 : 0
  );
  if (out.json) return await out.printJson({ groups });
  await out.table(
    ["GROUP", "STATE", "PROTOCOL", "TYPE", "MEMBERS"],
    groups.map((g) => [g.group, g.state, g.protocol, g.protocolType || "-", g.members]),
  );
}

async function describeGroup(client: ApiClient, out: Output, group: string): Promise<void> {
  const d = await client.get(ApiClient.path`/v1/groups/${group}`);
  const offsets = await committedOffsets(client, group);
  if (out.json) return await out.printJson({ ...d, offsets });
  const owner = new Map<string, string>();
  for (const m of d.members) {
    for (const a of m.assignment) owner.set(`${a.topic}\0${a.partition}`, m.memberId);
  }
  await out.write(
    `GROUP       ${d.group}\nSTATE       ${d.state}\nPROTOCOL    ${d.protocol}\n` +
      `GENERATION  ${d.generation}\nASSIGNOR    ${d.assignor || "-"}\n\n`,
  );
  await out.table(
    ["TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG", "MEMBER"],
    offsets.map((o) => [
      o.topic,
      o.partition,
      o.offset,
      o.lag === null ? null : o.offset + o.lag,
      o.lag,
      owner.get(`${o.topic}\0${o.partition}`) ?? null,
    ]),
  );
  await out.write("\n");
  await out.table(
    ["MEMBER", "KIND", "TOPICS", "ASSIGNMENT"],
    d.members.map((m: Json) => [
      m.memberId,
      m.kind,
      m.topics.join(","),
      m.assignment.map((a: Json) => `${a.topic}-${a.partition}`).join(",") || "-",
    ]),
  );
}

type Target =
  | { kind: "earliest" | "latest" }
  | { kind: "offset"; offset: number }
  | { kind: "time"; ms: number }
  | { kind: "shift"; by: number };

function targetOf(args: Parsed): Target {
  const given = ["to-earliest", "to-latest", "to-offset", "to-datetime", "shift-by"].filter((k) =>
    args.has(k)
  );
  if (given.length !== 1) {
    args.fail("give one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by");
  }
  switch (given[0]) {
    case "to-earliest":
      return { kind: "earliest" };
    case "to-latest":
      return { kind: "latest" };
    case "to-offset":
      return { kind: "offset", offset: args.int("to-offset", 0, 0, Number.MAX_SAFE_INTEGER) };
    case "shift-by":
      return {
        kind: "shift",
        by: args.int("shift-by", 0, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
      };
    default: {
      const text = args.get("to-datetime")!;
      const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
      if (!Number.isFinite(ms)) args.fail(`--to-datetime takes ms or an ISO date, not "${text}"`);
      return { kind: "time", ms };
    }
  }
}

async function resetOffsets(
  client: ApiClient,
  out: Output,
  args: Parsed,
  group: string,
): Promise<void> {
  const target = targetOf(args);
  const current = await committedOffsets(client, group);
  const wanted = new Map<string, Set<number> | "all">();
  if (args.has("all-topics")) {
    if (args.has("topic")) args.fail("--topic and --all-topics do not go together");
    for (const o of current) wanted.set(o.topic, "all");
    if (wanted.size === 0) args.fail(`group ${group} has no committed offsets: name --topic`);
  }
  for (const spec of args.all("topic")) {
    const [topic, parts] = spec.split(":", 2);
    if (topic === "") args.fail(`--topic takes TOPIC or TOPIC:P,P, not "${spec}"`);
    if (parts === undefined) wanted.set(topic, "all");
    else {
      const set = new Set(
        parts.split(",").map((p) => {
          if (!/^\d{1,9}$/.test(p)) args.fail(`"${p}" in --topic ${spec} is not a partition`);
          return Number(p);
        }),
      );
      wanted.set(topic, set);
    }
  }
  if (wanted.size === 0) args.fail("name the partitions: --topic TOPIC[:P,P] or --all-topics");

  const rows: { topic: string; partition: number; current: number | null; offset: number }[] = [];
  for (const [topic, parts] of wanted) {
    const t = await client.get(ApiClient.path`/v1/topics/${topic}`);
    const all = t.partitions as {
      partition: number;
      logStartOffset: number;
      highWatermark: number;
    }[];
    if (parts !== "all") {
      for (const p of parts) {
        if (!all.some((x) => x.partition === p)) {
          args.fail(`topic ${topic} has no partition ${p} (it has ${all.length})`);
        }
      }
    }
    for (const p of all) {
      if (parts !== "all" && !parts.has(p.partition)) continue;
      const now = current.find((o) => o.topic === topic && o.partition === p.partition)?.offset;
      let offset: number;
      switch (target.kind) {
        case "earliest":
          offset = p.logStartOffset;
          break;
        case "latest":
          offset = p.highWatermark;
          break;
        case "offset":
          offset = target.offset;
          break;
        case "shift":
          offset = (now ?? p.logStartOffset) + target.by;
          break;
        case "time": {
          const path = ApiClient.path`/v1/topics/${topic}/partitions/${p.partition}/offsets`;
          offset = (await client.get(path, { query: { timestamp: target.ms } })).offset ??
            p.highWatermark;
        }
      }
      offset = Math.min(Math.max(offset, p.logStartOffset), p.highWatermark);
      rows.push({ topic, partition: p.partition, current: now ?? null, offset });
    }
    out.progress(() => `${rows.length} partitions`);
  }
  out.clearProgress();
  const execute = args.has("execute");
  if (execute && rows.length > GROUP_OFFSETS_PER_REQUEST_MAX) {
    // One request, so the reset is all or nothing; the server takes this many at most.
    throw new CliError(
      "TOO_MANY_PARTITIONS",
      `${rows.length} partitions: reset at most ${GROUP_OFFSETS_PER_REQUEST_MAX} at once (--topic)`,
    );
  }
  if (execute) {
    await client.request("PUT", ApiClient.path`/v1/groups/${group}/offsets`, {
      body: { offsets: rows.map(({ topic, partition, offset }) => ({ topic, partition, offset })) },
    });
  }
  if (out.json) return await out.printJson({ group, executed: execute, offsets: rows });
  await out.table(
    ["TOPIC", "PARTITION", "CURRENT", "NEW"],
    rows.map((r) => [r.topic, r.partition, r.current, r.offset]),
  );
  out.note(execute ? `reset ${rows.length} offsets of group ${group}` : "dry run: add --execute");
}

export async function groupCommand(sub: string, argv: string[]): Promise<void> {
  const args = parseCommand(GROUP_COMMANDS[sub], argv);
  const client = new ApiClient(resolveSettings(args));
  const out = new Output(args);
  switch (sub) {
    case "list":
      return await listGroups(client, out);
    case "describe":
      return await describeGroup(client, out, args.positionals[0]);
    case "reset-offsets":
      return await resetOffsets(client, out, args, args.positionals[0]);
    case "delete": {
      for (const group of args.positionals) {
        await client.request("DELETE", ApiClient.path`/v1/groups/${group}`);
        if (!out.json) await out.write(`deleted group ${group}\n`);
      }
      if (out.json) await out.printJson({ deleted: args.positionals });
    }
  }
}
