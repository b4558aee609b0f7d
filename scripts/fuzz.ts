/**
 * `deno task fuzz`: the fuzzers of test/fuzz/ at length. Runs the RecordBatch decoder, the
 * PartitionLog append, the HTTP and the Kafka protocol fuzzers (in that proportion: 60%, 5%, 15%,
 * 20% of the cases; the Kafka share is 85% codec cases, 15% listener cases), prints cases/s per
 * target and every failure with the seed that replays it.
 *
 *   deno run -A scripts/fuzz.ts [CASES] [--seed N] [--target decoder|log|http|kafka]
 *   deno run -A scripts/fuzz.ts --target decoder --replay CASE_SEED
 *   deno run -A scripts/fuzz.ts --target kafka-listener --replay CASE_SEED
 *
 * `--target kafka` is both kafka-decode (the table codec) and kafka-listener (a real listener);
 * either can be named alone. CASES defaults to 120,000 in total. The HTTP and Kafka listener
 * fuzzers keep state on their server (watermarks, groups), so such a case seed replays that
 * case's requests alone, not the state they met.
 */
import { ManualClock } from "../src/clock.ts";
import { silentLogger } from "../src/logger.ts";
import { PartitionLog } from "../src/storage/partition_log.ts";
import { caseSeed, decoderCase, HttpFuzzer, logCase } from "../test/fuzz/fuzz_lib.ts";
import { withServer } from "../test/http/server_harness.ts";
import { KAFKA_DECODE_STATS, kafkaDecodeCase, KafkaFuzzer } from "../test/fuzz/kafka_fuzz_lib.ts";

const CASES_DEFAULT = 120_000;
/** Failures printed per target; the rest are counted. */
const FAILURES_SHOWN_MAX = 20;
/** The log fuzzer opens a fresh log this often, so appends never meet a full segment. */
const LOG_CASES_PER_LOG = 2_000;

type Target = "decoder" | "log" | "http" | "kafka-decode" | "kafka-listener";
const TARGETS: readonly Target[] = ["decoder", "log", "http", "kafka-decode", "kafka-listener"];

interface Args {
  cases: number;
  seed: number;
  targets: Target[];
  replay: number | undefined;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    cases: CASES_DEFAULT,
    seed: (Math.random() * 0x1_0000_0000) >>> 0,
    targets: [...TARGETS],
    replay: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--seed") args.seed = Number(argv[++i]) >>> 0;
    else if (a === "--target") {
      const t = argv[++i];
      if (t === "kafka") args.targets = ["kafka-decode", "kafka-listener"];
      else if ((TARGETS as readonly string[]).includes(t)) args.targets = [t as Target];
      else throw new Error(`unknown target ${t} (${TARGETS.join(", ")}, kafka)`);
    } else if (a === "--replay") args.replay = Number(argv[++i]) >>> 0;
    else if (/^\d+$/.test(a)) args.cases = Number(a);
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

interface Report {
  target: Target;
  cases: number;
  elapsedMs: number;
  failures: number;
}

/** Share of the cases when every target runs; `--target kafka` splits its cases 85/15. */
const SHARES: Record<Target, number> = {
  decoder: 0.6,
  log: 0.05,
  http: 0.15,
  "kafka-decode": 0.2 * 0.85,
  "kafka-listener": 0.2 * 0.15,
};

function share(target: Target, args: Args): number {
  if (args.targets.length === 1) return args.cases;
  const total = args.targets.reduce((n, t) => n + SHARES[t], 0);
  return Math.max(1, Math.round(args.cases * SHARES[target] / total));
}

function fail(report: Report, seed: number, message: string): void {
  report.failures++;
  if (report.failures <= FAILURES_SHOWN_MAX) {
    console.log(`FAIL ${report.target} seed ${seed}: ${message}`);
    console.log(`  replay: deno run -A scripts/fuzz.ts --target ${report.target} --replay ${seed}`);
  }
}

function runDecoder(cases: number, seeds: (i: number) => number): Report {
  const report: Report = { target: "decoder", cases, elapsedMs: 0, failures: 0 };
  const started = performance.now();
  for (let i = 0; i < cases; i++) {
    const seed = seeds(i);
    const problem = decoderCase(seed);
    if (problem !== undefined) fail(report, seed, problem);
  }
  report.elapsedMs = performance.now() - started;
  return report;
}

async function runLog(cases: number, seeds: (i: number) => number): Promise<Report> {
  const report: Report = { target: "log", cases, elapsedMs: 0, failures: 0 };
  const started = performance.now();
  for (let done = 0; done < cases;) {
    const dir = await Deno.makeTempDir({ prefix: "sluice-fuzz-log-" });
    const log = await PartitionLog.open(dir, {
      config: { flushPolicy: "none", segmentBytes: 64 * 1024 * 1024 },
      clock: new ManualClock(1_700_000_000_000),
      logger: silentLogger,
    });
    try {
      for (let n = 0; n < LOG_CASES_PER_LOG && done < cases; n++, done++) {
        const seed = seeds(done);
        const problem = await logCase(log, dir, seed);
        if (problem !== undefined) fail(report, seed, problem);
      }
    } finally {
      await log.close();
      await Deno.remove(dir, { recursive: true });
    }
  }
  report.elapsedMs = performance.now() - started;
  return report;
}

async function runHttp(cases: number, seeds: (i: number) => number): Promise<Report> {
  const report: Report = { target: "http", cases, elapsedMs: 0, failures: 0 };
  await withServer({}, async (server) => {
    const fuzzer = new HttpFuzzer(server);
    await fuzzer.setup();
    const started = performance.now();
    for (let i = 0; i < cases; i++) {
      const seed = seeds(i);
      const problem = await fuzzer.run(seed).catch((err) => `fuzzer error: ${err}`);
      if (problem !== undefined) fail(report, seed, problem);
    }
    const last = await fuzzer.check();
    if (last !== undefined) fail(report, 0, `final check: ${last}`);
    report.elapsedMs = performance.now() - started;
    console.log(`http: ${fuzzer.requests} requests`);
  });
  return report;
}

function runKafkaDecode(cases: number, seeds: (i: number) => number): Report {
  const report: Report = { target: "kafka-decode", cases, elapsedMs: 0, failures: 0 };
  const started = performance.now();
  for (let i = 0; i < cases; i++) {
    const seed = seeds(i);
    const problem = kafkaDecodeCase(seed);
    if (problem !== undefined) fail(report, seed, problem);
  }
  report.elapsedMs = performance.now() - started;
  console.log(`kafka-decode: mutated decodes ${JSON.stringify(KAFKA_DECODE_STATS)}`);
  return report;
}

async function runKafkaListener(cases: number, seeds: (i: number) => number): Promise<Report> {
  const report: Report = { target: "kafka-listener", cases, elapsedMs: 0, failures: 0 };
  const fuzzer = await KafkaFuzzer.start();
  const started = performance.now();
  try {
    for (let i = 0; i < cases; i++) {
      const seed = seeds(i);
      const problem = await fuzzer.run(seed).catch((err) => `fuzzer error: ${err}`);
      if (problem !== undefined) fail(report, seed, problem);
    }
  } finally {
    report.elapsedMs = performance.now() - started;
    await fuzzer.close();
  }
  console.log(`kafka-listener: ${fuzzer.requests} frames ${JSON.stringify(fuzzer.stats)}`);
  return report;
}

async function main(): Promise<number> {
  const args = parseArgs(Deno.args);
  const reports: Report[] = [];
  if (args.replay !== undefined) {
    const seed = args.replay;
    const only = () => seed;
    for (const t of args.targets) {
      if (t === "decoder") reports.push(runDecoder(1, only));
      if (t === "log") reports.push(await runLog(1, only));
      if (t === "http") reports.push(await runHttp(1, only));
      if (t === "kafka-decode") reports.push(runKafkaDecode(1, only));
      if (t === "kafka-listener") reports.push(await runKafkaListener(1, only));
    }
  } else {
    console.log(`fuzz: ${args.cases} cases, run seed ${args.seed} (--seed ${args.seed} replays)`);
    const salt = { decoder: 1, log: 2, http: 3, "kafka-decode": 4, "kafka-listener": 5 } as const;
    for (const t of args.targets) {
      const seeds = (i: number) => caseSeed(args.seed ^ salt[t], i);
      if (t === "decoder") reports.push(runDecoder(share(t, args), seeds));
      if (t === "log") reports.push(await runLog(share(t, args), seeds));
      if (t === "http") reports.push(await runHttp(share(t, args), seeds));
      if (t === "kafka-decode") reports.push(runKafkaDecode(share(t, args), seeds));
      if (t === "kafka-listener") reports.push(await runKafkaListener(share(t, args), seeds));
    }
  }
  let cases = 0;
  let ms = 0;
  let failures = 0;
  for (const r of reports) {
    const perSecond = Math.round(r.cases / (r.elapsedMs / 1000));
    console.log(
      `${r.target.padEnd(14)} ${String(r.cases).padStart(8)} cases ${
        (r.elapsedMs / 1000).toFixed(1).padStart(7)
      } s ${String(perSecond).padStart(8)} cases/s  ${r.failures} failures`,
    );
    cases += r.cases;
    ms += r.elapsedMs;
    failures += r.failures;
  }
  console.log(
    `total          ${String(cases).padStart(8)} cases ${(ms / 1000).toFixed(1).padStart(7)} s ${
      String(Math.round(cases / (ms / 1000))).padStart(8)
    } cases/s  ${failures} failures`,
  );
  return failures === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
