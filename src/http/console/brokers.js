// Brokers: GET /v1/cluster, this broker's view of the cluster: the brokers (live or not, the
// controller marked), and each partition's leader, replicas and in-sync replicas. On one node, the
// one broker leading every partition.
import { get } from "./api.js";
import { h, num, table } from "./format.js";

/** Partition rows shown at most (the rest counted). */
const PARTITION_ROWS_MAX = 1000;

export async function render(root, signal) {
  const cluster = await get("/v1/cluster", { signal });
  root.append(
    h("h1", {}, "Brokers"),
    h(
      "p",
      { class: "muted", id: "cluster-summary" },
      cluster.clusterMode
        ? `Cluster mode · this is node ${cluster.nodeId} · controller ${
          cluster.controller === -1 ? "none" : cluster.controller
        }`
        : "Single node: node 0 is the only broker and the controller.",
    ),
    table(
      ["#Node", "Host", "#Kafka port", "HTTP", "Live", "Role"],
      cluster.brokers.map((b) => [
        String(b.nodeId),
        b.host,
        b.kafkaPort === null ? "—" : String(b.kafkaPort),
        b.httpUrl,
        b.live ? "yes" : "no",
        [
          b.nodeId === cluster.controller ? "controller" : "",
          b.nodeId === cluster.nodeId ? "this broker" : "",
        ]
          .filter((x) => x !== "").join(", "),
      ]),
      { id: "brokers-table" },
    ),
    h("h2", {}, "Partitions"),
  );
  const rows = [];
  let total = 0;
  for (const t of [...cluster.topics].sort((a, b) => a.name.localeCompare(b.name))) {
    for (const p of t.partitions) {
      total++;
      if (rows.length >= PARTITION_ROWS_MAX) continue;
      const underReplicated = p.isr.length < p.replicas.length;
      rows.push([
        h("a", { href: `#/topics/${encodeURIComponent(t.name)}` }, t.name),
        String(p.partition),
        p.leader === -1 ? h("span", { class: "error" }, "none") : String(p.leader),
        String(p.leaderEpoch),
        p.replicas.join(", "),
        underReplicated
          ? h("span", { class: "tag hex" }, p.isr.join(", ") || "empty")
          : p.isr.join(", "),
      ]);
    }
  }
  root.append(
    total === 0 ? h("p", { class: "muted" }, "No partitions yet.") : table(
      ["Topic", "#Partition", "#Leader", "#Epoch", "Replicas", "ISR"],
      rows,
      { id: "leaders-table" },
    ),
  );
  if (total > rows.length) {
    root.append(
      h("p", { class: "muted" }, `${num(total - rows.length)} more partitions not shown.`),
    );
  }
}
