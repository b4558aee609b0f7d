/**
 * Consumer-group lag for /metrics, read at scrape time: per group, topic and partition the committed
 * offset and the lag (the partition's high watermark minus the commit, as `GET
 * /v1/groups/{group}/offsets` shows it), plus each group's summed lag; the names of
 * kafka_exporter's `kafka_consumergroup_lag` and `_lag_sum`, with Sluice's prefix. Groups are the
 * ones with commits that this broker coordinates, sorted by id, each group's partitions by topic and
 * partition. The series are bounded (GROUP_LAG_METRIC_PARTITIONS_MAX, whole groups only): what is
 * left out is counted, never silently dropped.
 */
import type { Broker } from "../broker/broker.ts";
import { GROUP_LAG_METRIC_PARTITIONS_MAX } from "../limits.ts";

function label(value: string | number): string {
  return String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Renders the group lag families in Prometheus text format 0.0.4 (each line ends in "\n"). */
export function renderGroupLag(
  broker: Broker,
  partitionsMax: number = GROUP_LAG_METRIC_PARTITIONS_MAX,
): string {
  const committed: string[] = [];
  const lag: string[] = [];
  const sums: string[] = [];
  let shown = 0;
  let omitted = 0;
  for (const group of [...broker.offsets.groupsWithOffsets()].sort()) {
    let offsets;
    try {
      offsets = broker.groups.offsets(group);
    } catch {
      continue; // forgotten meanwhile
    }
    if (shown + offsets.length > partitionsMax) {
      omitted += offsets.length;
      continue;
    }
    shown += offsets.length;
    const g = label(group);
    let sum = 0;
    for (const o of offsets) {
      const at = `group="${g}",topic="${label(o.topic)}",partition="${o.partition}"`;
      committed.push(`sluice_consumer_group_committed_offset{${at}} ${o.offset}\n`);
      if (o.lag === null) continue; // a deleted topic, or a Kafka client's -1 commit
      lag.push(`sluice_consumer_group_lag{${at}} ${o.lag}\n`);
      sum += o.lag;
    }
    sums.push(`sluice_consumer_group_lag_sum{group="${g}"} ${sum}\n`);
  }
  return [
    "# HELP sluice_consumer_group_committed_offset The group's committed offset (the next to read).\n",
    "# TYPE sluice_consumer_group_committed_offset gauge\n",
    ...committed,
    "# HELP sluice_consumer_group_lag Records behind: the high watermark minus the committed offset.\n",
    "# TYPE sluice_consumer_group_lag gauge\n",
    ...lag,
    "# HELP sluice_consumer_group_lag_sum The group's lag summed over its partitions.\n",
    "# TYPE sluice_consumer_group_lag_sum gauge\n",
    ...sums,
    "# HELP sluice_consumer_group_lag_partitions_omitted Group partitions left out of these " +
    "families (GROUP_LAG_METRIC_PARTITIONS_MAX).\n",
    "# TYPE sluice_consumer_group_lag_partitions_omitted gauge\n",
    `sluice_consumer_group_lag_partitions_omitted ${omitted}\n`,
  ].join("");
}
