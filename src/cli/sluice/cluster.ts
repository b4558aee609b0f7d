/**
 * `sluice cluster info`: the server's view of its cluster, `GET /v1/cluster` (docs/API.md
 * "Cluster"): the brokers, the controller, and each topic's partitions with their leaders, as
 * `rpk cluster info` and `kcat -L`. On one node: node 0, leading everything.
 */
import { type CommandSpec, parseCommand, renderFamilyUsage } from "./args.ts";
import { ApiClient, type Json } from "./client.ts";
import { resolveSettings } from "./config.ts";
import { Output } from "./output.ts";

export const CLUSTER_COMMANDS: Record<string, CommandSpec> = {
  info: {
    path: "sluice cluster info",
    summary: "Show the brokers, the controller and each topic's partition leaders.",
  },
};

export const CLUSTER_USAGE = renderFamilyUsage("sluice cluster", "Look at the cluster.", [
  { name: "info", summary: CLUSTER_COMMANDS.info.summary },
]);

export async function clusterCommand(sub: string, argv: string[]): Promise<void> {
  const args = parseCommand(CLUSTER_COMMANDS[sub], argv);
  const client = new ApiClient(resolveSettings(args));
  const out = new Output(args);
  const c = await client.get("/v1/cluster");
  if (out.json) return await out.printJson(c);
  await out.write(
    `CLUSTER     ${c.clusterMode ? "yes" : "no (one node)"}\nNODE        ${c.nodeId}\n` +
      `CONTROLLER  ${c.controller}\n\n`,
  );
  await out.table(
    ["BROKER", "HOST", "KAFKA-PORT", "HTTP", "LIVE"],
    c.brokers.map((b: Json) => [
      b.nodeId === c.controller ? `${b.nodeId}*` : String(b.nodeId),
      b.host,
      b.kafkaPort,
      b.httpUrl,
      b.live ? "yes" : "no",
    ]),
  );
  await out.write("\n");
  const rows: (string | number)[][] = [];
  for (const t of c.topics) {
    for (const p of t.partitions) {
      rows.push([
        t.name,
        p.partition,
        p.leader,
        p.leaderEpoch,
        p.replicas.join(","),
        p.isr.join(","),
      ]);
    }
  }
  await out.table(["TOPIC", "PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR"], rows);
}
