/**
 * `sluice topic create|list|describe|alter|delete`: the topic routes of docs/API.md ("Topics"),
 * as kafka-topics.sh and `rpk topic` offer them.
 */
import { type CommandSpec, parseCommand, type Parsed, renderFamilyUsage } from "./args.ts";
import { ApiClient } from "./client.ts";
import { resolveSettings } from "./config.ts";
import { Output } from "./output.ts";

/** Partitions a topic may be created with or grown to from the command line (as the server's). */
export const TOPIC_PARTITIONS_MAX = 100_000;

const CONFIG_OPTION = {
  name: "config-entry",
  short: "c",
  value: "KEY=VALUE",
  repeat: true,
  help: "a topic config (retention.ms=3600000, cleanup.policy=compact, ...)",
};

export const TOPIC_COMMANDS: Record<string, CommandSpec> = {
  create: {
    path: "sluice topic create",
    summary: "Create a topic.",
    positionals: [{ name: "TOPIC" }],
    options: [
      { name: "partitions", short: "p", value: "N", help: "partitions (default 1)" },
      {
        name: "replication-factor",
        short: "r",
        value: "N",
        help: "replicas per partition (a cluster's default when absent)",
      },
      CONFIG_OPTION,
    ],
    notes: ["Example: sluice topic create orders -p 3 -c retention.ms=86400000"],
  },
  list: { path: "sluice topic list", summary: "List the topics and their partition counts." },
  describe: {
    path: "sluice topic describe",
    summary: "Show a topic's config (overrides marked *) and its partitions' offsets and sizes.",
    positionals: [{ name: "TOPIC" }],
  },
  alter: {
    path: "sluice topic alter",
    summary: "Change a topic's config or add partitions.",
    positionals: [{ name: "TOPIC" }],
    options: [
      { name: "partitions", short: "p", value: "N", help: "the new partition count (more)" },
      CONFIG_OPTION,
      {
        name: "delete-config",
        short: "d",
        value: "KEY",
        repeat: true,
        help: "a config key back to its default",
      },
    ],
    notes: ["Example: sluice topic alter orders -c retention.ms=3600000 -d segment.bytes"],
  },
  delete: {
    path: "sluice topic delete",
    summary: "Delete topics and all their records.",
    positionals: [{ name: "TOPIC", variadic: true }],
  },
};

export const TOPIC_USAGE = renderFamilyUsage("sluice topic", "Manage topics.", [
  { name: "create", summary: TOPIC_COMMANDS.create.summary },
  { name: "list", summary: TOPIC_COMMANDS.list.summary },
  { name: "describe", summary: TOPIC_COMMANDS.describe.summary },
  { name: "alter", summary: TOPIC_COMMANDS.alter.summary },
  { name: "delete", summary: TOPIC_COMMANDS.delete.summary },
]);

/** `KEY=VALUE` entries as a config object; integers as numbers, the rest as strings. */
function configEntries(args: Parsed): Record<string, string | number | null> {
  const config: Record<string, string | number | null> = {};
  for (const entry of args.all("config-entry")) {
    const eq = entry.indexOf("=");
    if (eq <= 0) args.fail(`-c takes KEY=VALUE, not "${entry}"`);
    const value = entry.slice(eq + 1);
    config[entry.slice(0, eq)] = /^-?\d{1,15}$/.test(value) ? Number(value) : value;
  }
  return config;
}

export async function topicCommand(sub: string, argv: string[]): Promise<void> {
  const args = parseCommand(TOPIC_COMMANDS[sub], argv);
  const client = new ApiClient(resolveSettings(args));
  const out = new Output(args);
  const path = ApiClient.path;
  switch (sub) {
    case "create": {
      const topic = args.positionals[0];
      const config = configEntries(args);
      const body = {
        name: topic,
        partitions: args.int("partitions", 1, 1, TOPIC_PARTITIONS_MAX),
        replicationFactor: args.int("replication-factor", undefined, 1, 1000),
        config: Object.keys(config).length === 0 ? undefined : config,
      };
      const created = await client.post("/v1/topics", body);
      if (out.json) return await out.printJson(created);
      return await out.write(`created topic ${topic} (${body.partitions} partitions)\n`);
    }
    case "list": {
      const { topics } = await client.get("/v1/topics");
      if (out.json) return await out.printJson({ topics });
      const sorted = [...topics].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
      return await out.table(["NAME", "PARTITIONS"], sorted.map((t) => [t.name, t.partitions]));
    }
    case "describe": {
      const t = await client.get(path`/v1/topics/${args.positionals[0]}`);
      if (out.json) return await out.printJson(t);
      const overrides = new Set(Object.keys(t.overrides ?? {}));
      const keys = Object.keys(t.config ?? {}).sort();
      await out.write(`NAME        ${t.name}\nPARTITIONS  ${t.partitions.length}\n\n`);
      await out.table(
        ["CONFIG", "VALUE", "SOURCE"],
        keys.map((k) => [k, String(t.config[k]), overrides.has(k) ? "topic *" : "default"]),
      );
      await out.write("\n");
      return await out.table(
        ["PARTITION", "LOG-START", "HIGH-WATERMARK", "SIZE-BYTES", "STATE"],
        t.partitions.map((p: Record<string, unknown>) => [
          p.partition as number,
          p.logStartOffset as number,
          p.highWatermark as number,
          p.sizeBytes as number,
          p.error === undefined
            ? String(p.state)
            : `${p.state} (${(p.error as { code: string }).code})`,
        ]),
      );
    }
    case "alter": {
      const config = configEntries(args);
      for (const key of args.all("delete-config")) config[key] = null;
      const partitions = args.int("partitions", undefined, 1, TOPIC_PARTITIONS_MAX);
      if (partitions === undefined && Object.keys(config).length === 0) {
        args.fail("nothing to change: give --partitions, -c KEY=VALUE or -d KEY");
      }
      const body = {
        partitions,
        config: Object.keys(config).length === 0 ? undefined : config,
      };
      const t = await client.request("PATCH", path`/v1/topics/${args.positionals[0]}`, { body });
      if (out.json) return await out.printJson(t);
      return await out.write(`altered topic ${t.name} (${t.partitions.length} partitions)\n`);
    }
    case "delete": {
      for (const topic of args.positionals) {
        await client.request("DELETE", path`/v1/topics/${topic}`);
        if (!out.json) await out.write(`deleted topic ${topic}\n`);
      }
      if (out.json) return await out.printJson({ deleted: args.positionals });
      return;
    }
  }
}
