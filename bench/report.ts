/**
 * Renders a bench report (bench/types.ts BenchReportStd) as text: the Markdown report and the SVG
 * chart bench/main.ts writes beside the results JSON, and the live progress line. Pure functions,
 * report -> string: no I/O, no clock, so the same report always renders the same bytes.
 *
 * Units: MB/s is decimal (10^6 bytes per second); ratioToLimit is the scenario's MB/s over its
 * baseline's (the same runtime doing plain file I/O on the same bytes); ratioToSluice is a peer's
 * records/s over the Sluice scenario's it is set beside.
 */
import { CLUSTER_NOTES, clusterGoals, clusterTables, loadLine } from "./cluster/results.ts";
import { sideGoals, sidePairs } from "./kafka_side/results.ts";
import { freshMemoryText } from "./runner/memory.ts";
import type { BenchReportStd, KafkaReference, PeerResult, ScenarioResult } from "./types.ts";

// ---------------------------------------------------------------------------------------------
// Numbers

function grouped(n: number, digits: number): string {
  return n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** Records/s with thousands separators, no decimals. */
export function formatRecordsPerSec(n: number): string {
  return grouped(Math.round(n), 0);
}

/** MB/s: one decimal below 100, none above (the runs differ by more than that). */
export function formatMbPerSec(n: number): string {
  return n >= 100 ? grouped(n, 0) : grouped(n, n >= 1 ? 1 : 3);
}

/** Milliseconds: three decimals below 1 ms (in-process latencies are tens of µs), two below 100. */
function formatMs(n: number | null | undefined): string {
  if (n === null || n === undefined) return "";
  return n >= 100 ? grouped(n, 0) : grouped(n, n >= 1 ? 2 : 3);
}

function formatRatio(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "";
  return n >= 10 ? grouped(n, 1) : grouped(n, 2);
}

/** A compact rate for the chart: 812k, 1.25M. */
function compactRecords(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 1 : 2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e5 ? 0 : 1)}k`;
  return n.toFixed(0);
}

// ---------------------------------------------------------------------------------------------
// Progress

/** The live progress line: `scenario  run k/n  records/s so far`. */
export function formatProgress(
  scenario: string,
  run: number,
  of: number,
  recordsPerSec?: number,
): string {
  const rate = recordsPerSec === undefined || !Number.isFinite(recordsPerSec)
    ? ""
    : `  ${formatRecordsPerSec(recordsPerSec)} records/s`;
  return `${scenario}  run ${run}/${of}${rate}`;
}

// ---------------------------------------------------------------------------------------------
// Markdown

function cell(text: string | number): string {
  return String(text).replaceAll("|", "\\|").replaceAll("\n", " ");
}

/** `l` left-aligned text, `r` right-aligned numbers, one letter a column. */
function markdownTable(
  header: readonly string[],
  align: string,
  rows: readonly (string | number)[][],
): string {
  return [
    `| ${header.map(cell).join(" | ")} |`,
    `|${[...align].map((a) => (a === "r" ? " --: " : " --- ")).join("|")}|`,
    ...rows.map((row) => `| ${row.map(cell).join(" | ")} |`),
  ].join("\n");
}

/** True when the scenario measures a rate (a rebalance measures only a time). */
function hasRate(s: ScenarioResult): boolean {
  return s.recordsPerSec > 0;
}

/**
 * The scenarios as one Markdown table: records/s, MB/s, ratio to limit (and which), p50/p99 ms.
 * This is the table the README's Performance section quotes.
 */
export function renderScenarioTable(scenarios: readonly ScenarioResult[]): string {
  const rows = scenarios.map((s) => [
    `\`${s.name}\``,
    hasRate(s) ? formatRecordsPerSec(s.recordsPerSec) : "",
    hasRate(s) ? formatMbPerSec(s.mbPerSec) : "",
    formatRatio(s.ratioToLimit),
    s.limit === null ? "" : `\`${s.limit}\``,
    formatMs(s.p50Ms),
    formatMs(s.p99Ms),
  ]);
  return markdownTable(
    ["scenario", "records/s", "MB/s", "ratio to limit", "limit", "p50 ms", "p99 ms"],
    "lrrrlrr",
    rows,
  );
}

function metaTable(report: BenchReportStd): string {
  const m = report.meta;
  const rows: [string, string][] = [
    ["runtime", `${m.runtime} ${m.runtimeVersion}`],
    ["os", m.os],
    ["cpu", `${m.cpu}, ${m.cores} cores`],
    ["memory", `${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB`],
    ["filesystem", m.filesystem],
    ...(m.freshMemory === undefined
      ? []
      : [["fresh memory", freshMemoryText(m)] as [string, string]]),
    ["commit", m.commit],
    ["started", m.startedAt],
    ["quick", m.quick ? "yes (smaller workloads: a smoke run, not the figures to quote)" : "no"],
  ];
  return markdownTable(["", ""], "ll", rows.map(([k, v]) => [`**${k}**`, v]));
}

function peersTable(peers: readonly PeerResult[]): string {
  // Latency columns only when a peer measured one (the kafka suite's end-to-end rows).
  const latency = peers.some((p) => typeof p.p99Ms === "number");
  return markdownTable(
    [
      "peer",
      "version",
      "set beside",
      "records/s",
      "MB/s",
      "ratio to Sluice",
      ...(latency ? ["p50 ms", "p99 ms"] : []),
    ],
    latency ? "lllrrrrr" : "lllrrr",
    peers.map((p) => [
      p.name,
      p.version,
      `\`${p.scenario}\``,
      formatRecordsPerSec(p.recordsPerSec),
      formatMbPerSec(p.mbPerSec),
      formatRatio(p.ratioToSluice),
      ...(latency ? [formatMs(p.p50Ms), formatMs(p.p99Ms)] : []),
    ]),
  );
}

function paramNumber(params: Record<string, unknown> | undefined, key: string): string {
  const v = params?.[key];
  if (typeof v !== "number" || !Number.isFinite(v)) return "";
  return v >= 100 ? grouped(v, 0) : grouped(v, v >= 10 ? 1 : 2);
}

/**
 * The kafka suite's rows (params.suite `vs-kafka`) as pairs: each Sluice scenario beside Kafka's
 * row, with latencies, each server's CPU seconds per million records and RSS, then the goals.
 * Undefined when the suite did not run.
 */
export function renderKafkaSide(report: BenchReportStd): string | undefined {
  const pairs = sidePairs(report.scenarios, report.peers);
  if (pairs.length === 0) return undefined;
  const kafka = pairs.find((p) => p.kafka !== undefined)?.kafka;
  const latency = (p50: number | null | undefined, p99: number | null | undefined) =>
    typeof p99 === "number" ? `${formatMs(p50)} / ${formatMs(p99)}` : "";
  const table = markdownTable(
    [
      "scenario",
      "Sluice records/s",
      "Kafka records/s",
      "Kafka / Sluice",
      "Sluice p50 / p99 ms",
      "Kafka p50 / p99 ms",
      "Sluice CPU s / M records",
      "Kafka CPU s / M records",
      "Sluice RSS MiB",
      "Kafka RSS MiB",
    ],
    "lrrrrrrrrr",
    pairs.map(({ scenario: s, kafka: k }) => [
      `\`${s.name}\``,
      formatRecordsPerSec(s.recordsPerSec),
      k === undefined ? "" : formatRecordsPerSec(k.recordsPerSec),
      formatRatio(k?.ratioToSluice),
      latency(s.p50Ms, s.p99Ms),
      latency(k?.p50Ms, k?.p99Ms),
      paramNumber(s.params, "serverCpuSecondsPerMillionRecords"),
      paramNumber(k?.params, "serverCpuSecondsPerMillionRecords"),
      paramNumber(s.params, "serverRssMiB"),
      paramNumber(k?.params, "serverRssMiB"),
    ]),
  );
  const goals = sideGoals(report.scenarios, report.peers).map((g) =>
    `- ${g.met ? "**met**" : "**missed**"}: \`${g.scenario}\`: ${g.text}`
  );
  return [
    `Apache Kafka ${kafka?.version ?? ""} (one KRaft node started by the bench, heap ${
      kafka?.params.brokerHeap ?? "?"
    }) and Sluice on the same machine in the same run, the same ` +
    "clients, settings and record counts against each, taking turns on each step: librdkafka " +
    "through confluent-kafka (bench/kafka_client.py) and through node-rdkafka " +
    "(bench/kafka_client/node_rdkafka_client.mjs), and Kafka's own ProducerPerformance, ConsumerPerformance and " +
    "EndToEndLatency. *Kafka / Sluice* is the peer's ratioToSluice. CPU is the server's " +
    "user + system seconds over the client's run (its start-up included) per million records; " +
    "RSS is the server's VmRSS after the run (peak: VmHWM). EndToEndLatency prints whole " +
    "milliseconds; its records/s is 1000 / its average.",
    table,
    ...(goals.length === 0 ? [] : [goals.join("\n")]),
  ].join("\n\n");
}

/**
 * The cluster suite's rows (params.suite `cluster`) as its three tables, each with what it
 * measures, then issue 15's goals. Undefined when the suite did not run.
 */
export function renderCluster(report: BenchReportStd): string | undefined {
  const t = clusterTables(report.scenarios);
  if (t.throughput.length + t.lag.length + t.failover.length === 3) return undefined;
  const parts: string[] = [];
  const load = loadLine(report.scenarios);
  if (load !== undefined) parts.push(load);
  const table = (rows: string[][], align: string) => markdownTable(rows[0], align, rows.slice(1));
  if (t.throughput.length > 1) {
    parts.push(CLUSTER_NOTES.throughput, table(t.throughput, "lrrrrrrrr"));
  }
  if (t.lag.length > 1) parts.push(CLUSTER_NOTES.lag, table(t.lag, "lrrrrr"));
  if (t.failover.length > 1) parts.push(CLUSTER_NOTES.failover, table(t.failover, "lrrrll"));
  const goals = clusterGoals(report.scenarios).map((g) =>
    `- ${g.met ? "**met**" : "**missed**"}: \`${g.scenario}\`: ${g.text}`
  );
  if (goals.length > 0) parts.push(goals.join("\n"));
  return parts.join("\n\n");
}

function kafkaTable(refs: readonly KafkaReference[]): string {
  return markdownTable(
    ["source (published, not measured here)", "setup", "records/s", "MB/s"],
    "llrr",
    refs.map((k) => [
      k.source,
      k.setup,
      formatRecordsPerSec(k.recordsPerSec),
      grouped(k.mbPerSec, 1), // as published, to its one decimal
    ]),
  );
}

/** A published latency figure (KafkaReference has no latency fields). */
export interface LatencyReference {
  source: string;
  setup: string;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
}

/**
 * The whole Markdown report: meta, the chart (when `chartFile` names it), scenarios, baselines,
 * peers, and Kafka's published figures (throughput, and latency when given).
 */
export function renderMarkdown(
  report: BenchReportStd,
  chartFile?: string,
  kafkaLatency?: LatencyReference,
): string {
  const parts: string[] = [];
  parts.push(`# Sluice bench report, ${report.meta.startedAt}`);
  parts.push(metaTable(report));
  if (chartFile !== undefined) parts.push(`![throughput chart](${chartFile})`);

  parts.push("## Scenarios");
  parts.push(
    "Median of the measured runs. MB/s is decimal (10^6 bytes/s) of the bytes the scenario " +
      "moves (`params.mbBasis` says which: log bytes, request bytes or record values). " +
      "*ratio to limit* is the scenario's MB/s over the named baseline's: the same runtime " +
      "writing or reading the same bytes to a plain file, so 1.0 is the file system's own speed " +
      "(`http.hono-post-sink.*`: a bare Hono app on the same runtime whose one POST route reads " +
      "the body, run alternately with Sluice; the ratio is the median of the per-round ratios).",
  );
  parts.push(
    report.scenarios.length === 0 ? "_No scenario ran._" : renderScenarioTable(report.scenarios),
  );

  parts.push("## Baselines");
  parts.push(
    report.baselines.length === 0 ? "_No baseline ran._" : markdownTable(
      ["baseline", "MB/s", "runs (MB/s)"],
      "lrl",
      report.baselines.map((b) => [
        `\`${b.name}\``,
        formatMbPerSec(b.mbPerSec),
        b.runs.map(formatMbPerSec).join(", "),
      ]),
    ),
  );

  parts.push("## Peers");
  parts.push(
    report.peers.length === 0
      ? "_No peer ran (Redis and NATS are measured when installed: `scripts/install-peers.sh`; " +
        "Kafka with `--kafka` and KAFKA_BROKERS)._"
      : "Measured in this run on this machine with the same record size and count. " +
        "*ratio to Sluice* is the peer's records/s over the Sluice scenario's (blank: that " +
        "scenario did not run). A peer's MB/s counts record values; see its params.\n\n" +
        peersTable(report.peers),
  );

  const side = renderKafkaSide(report);
  if (side !== undefined) {
    parts.push("## Kafka beside Sluice, measured in this run");
    parts.push(side);
  }

  const cluster = renderCluster(report);
  if (cluster !== undefined) {
    parts.push("## Sluice as a cluster, measured in this run");
    parts.push(cluster);
  }

  parts.push("## Kafka: published figures, not measured here");
  parts.push(
    "Numbers Kafka's authors and others published for their own hardware and setup. They are " +
      "context, not a comparison: nothing in this table ran on this machine.",
  );
  parts.push(
    report.kafkaReference.length === 0 ? "_None listed._" : kafkaTable(report.kafkaReference),
  );
  if (kafkaLatency !== undefined) {
    parts.push(
      markdownTable(
        ["latency source (published, not measured here)", "setup", "p50 ms", "p99 ms", "p99.9 ms"],
        "llrrr",
        [[
          kafkaLatency.source,
          kafkaLatency.setup,
          formatMs(kafkaLatency.p50Ms),
          formatMs(kafkaLatency.p99Ms),
          formatMs(kafkaLatency.p999Ms),
        ]],
      ),
    );
  }
  return `${parts.join("\n\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// SVG

function xml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&apos;");
}

const COLORS = { sluice: "#2563eb", baseline: "#9ca3af", peer: "#ea580c" } as const;
/** Darker shades for text in the bar's colour (on white, as readable as the black labels). */
const LABEL_COLORS = { sluice: "#1d4ed8", baseline: "#4b5563", peer: "#c2410c" } as const;
type BarKind = keyof typeof COLORS;

interface Bar {
  kind: BarKind;
  label: string;
  mbPerSec: number;
  recordsPerSec?: number;
  /** The first bar of a scenario's group (a Sluice bar, or a peer with no Sluice figure). */
  first: boolean;
}

interface Section {
  /** The scenario name's first two parts: `embedded.produce`, `http.fetch`. */
  title: string;
  bars: Bar[];
}

/**
 * Scenarios with a rate, grouped by `<where>.<what>`, each followed by its baseline and peers;
 * then the peers set beside a scenario this run did not measure, in that scenario's section.
 */
function chartSections(report: BenchReportStd): Section[] {
  const baselines = new Map(report.baselines.map((b) => [b.name, b]));
  const sections: Section[] = [];
  const sectionOf = (name: string) => {
    const title = name.split(".").slice(0, 2).join(".");
    let section = sections.find((x) => x.title === title);
    if (section === undefined) {
      section = { title, bars: [] };
      sections.push(section);
    }
    return section;
  };
  const rest = (name: string) => name.split(".").slice(2).join(".") || name;
  const peerBar = (p: PeerResult, first: boolean): Bar => ({
    kind: "peer",
    label: first ? `${rest(p.scenario)}: ${p.name} ${p.version}` : `${p.name} ${p.version}`,
    mbPerSec: p.mbPerSec,
    recordsPerSec: p.recordsPerSec,
    first,
  });
  const measured = new Set<string>();
  for (const s of report.scenarios) {
    if (!hasRate(s) || !(s.mbPerSec > 0)) continue;
    measured.add(s.name);
    const section = sectionOf(s.name);
    section.bars.push({
      kind: "sluice",
      label: rest(s.name),
      mbPerSec: s.mbPerSec,
      recordsPerSec: s.recordsPerSec,
      first: true,
    });
    const limit = s.limit === null ? undefined : baselines.get(s.limit);
    if (limit !== undefined) {
      section.bars.push({
        kind: "baseline",
        label: limit.name,
        mbPerSec: limit.mbPerSec,
        first: false,
      });
    }
    for (const p of report.peers) if (p.scenario === s.name) section.bars.push(peerBar(p, false));
  }
  for (const p of report.peers) {
    if (!measured.has(p.scenario) && p.mbPerSec > 0) {
      sectionOf(p.scenario).bars.push(peerBar(p, true));
    }
  }
  return sections;
}

/**
 * A self-contained SVG (no fonts, scripts or links to fetch) of horizontal bars: MB/s per
 * scenario, each Sluice bar followed by its baseline (grey) and the peers measured beside it
 * (orange). Each section has its own linear scale, from 0 to its largest bar, so the bars in a
 * section compare; across sections compare the printed numbers.
 */
export function renderSvg(report: BenchReportStd): string {
  const width = 960;
  const labelX = 12;
  const barX = 330;
  const barMaxW = 440;
  const rowH = 17;
  const barH = 12;
  const groupGap = 5;
  const indent = 18;
  /** Width of one character of the 11 px monospace font (0.6 em). */
  const charW = 6.6;
  const font = `font-family="ui-monospace, Menlo, Consolas, monospace" font-size="11"`;
  const out: string[] = [];
  let y = 24;
  const text = (x: number, yy: number, s: string, extra = "") =>
    out.push(`<text x="${x}" y="${yy}"${extra === "" ? "" : ` ${extra}`}>${xml(s)}</text>`);

  const m = report.meta;
  text(
    labelX,
    y,
    "Sluice throughput in MB/s (10^6 bytes/s), median of the measured runs",
    'font-size="14" font-weight="bold"',
  );
  y += 18;
  text(
    labelX,
    y,
    `${m.runtime} ${m.runtimeVersion} · ${m.cpu} · ${m.cores} cores · ${m.filesystem} · ` +
      `${m.startedAt}${m.quick ? " · quick run" : ""}`,
  );
  y += 18;
  const legend: [BarKind, string][] = [
    ["sluice", "Sluice"],
    ["baseline", "limit: the same runtime, plain file I/O (or a bare Hono sink)"],
    ["peer", "peer, same machine and run"],
  ];
  let lx = labelX;
  for (const [kind, label] of legend) {
    out.push(`<rect x="${lx}" y="${y - 10}" width="12" height="12" fill="${COLORS[kind]}"/>`);
    text(lx + 16, y, label);
    lx += 16 + label.length * charW + 24;
  }
  y += 10;

  const sections = chartSections(report);
  if (sections.length === 0) {
    y += 24;
    text(labelX, y, "no scenario with a throughput ran");
  }
  for (const section of sections) {
    const max = Math.max(...section.bars.map((b) => b.mbPerSec));
    y += 26;
    text(labelX, y, section.title, 'font-weight="bold"');
    text(barX, y, `scale 0 to ${formatMbPerSec(max)} MB/s`, 'fill="#6b7280"');
    y += 6;
    for (const bar of section.bars) {
      y += rowH + (bar.first ? groupGap : 0);
      const w = max > 0 ? Math.max(1, (bar.mbPerSec / max) * barMaxW) : 1;
      // A baseline or peer row is indented under its scenario, its label in the bar's colour.
      const x = bar.first ? labelX : labelX + indent;
      const room = Math.floor((barX - x - 8) / charW);
      const label = bar.label.length > room ? `${bar.label.slice(0, room - 1)}…` : bar.label;
      text(x, y, label, bar.first ? "" : `fill="${LABEL_COLORS[bar.kind]}"`);
      out.push(
        `<rect x="${barX}" y="${y - barH + 2}" width="${w.toFixed(1)}" height="${barH}" ` +
          `fill="${COLORS[bar.kind]}"/>`,
      );
      const records = bar.recordsPerSec === undefined
        ? ""
        : `  ${compactRecords(bar.recordsPerSec)} rec/s`;
      text(
        Math.round((barX + w + 6) * 10) / 10,
        y,
        `${formatMbPerSec(bar.mbPerSec)} MB/s${records}`,
      );
    }
  }
  y += 24;
  text(
    labelX,
    y,
    "Each section has its own linear scale. MB/s counts what each side moves (params.mbBasis; " +
      "peers: record values). Kafka's published",
    'fill="#6b7280"',
  );
  y += 14;
  text(labelX, y, "figures are in the .md report: published, not measured here.", 'fill="#6b7280"');
  const height = y + 14;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" role="img">`,
    `<title>Sluice bench ${xml(m.startedAt)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<g ${font} fill="#111827">`,
    ...out,
    "</g>",
    "</svg>",
    "",
  ].join("\n");
}
