/**
 * Child of descriptors_test.ts, run under a low RLIMIT_NOFILE (`ulimit -n`): opens many more
 * segment files than it has descriptors (PARTITIONS logs of several small segments each), appends
 * to all of them (half with flush.policy always, so fsyncs pin descriptors), reads every record
 * back, closes, reopens and reads again; then exhausts the descriptors itself and checks that
 * creating a log fails typed and leaves nothing open. Prints one JSON line with what it saw.
 *
 * Usage: deno run -A descriptors_child.ts <dir> <partitions>
 */
import { isSluiceError } from "../../src/errors.ts";
import { silentLogger } from "../../src/logger.ts";
import { decodeBatches, encodeRecordBatch } from "../../src/record/record_batch.ts";
import { sharedLogFiles } from "../../src/storage/log_files.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";

const [dir, partitionsArg] = Deno.args;
const PARTITIONS = Number(partitionsArg);
const BATCHES = 12;
const config = { segmentBytes: 4096, indexIntervalBytes: 1024 };

function openFds(): number {
  let n = 0;
  for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
  return n;
}

let maxFds = 0;
const sample = () => (maxFds = Math.max(maxFds, openFds()));

function value(p: number, b: number): string {
  return `p${p}-b${b}-${"v".repeat(900)}`;
}

async function openAll(): Promise<PartitionLog[]> {
  const logs: PartitionLog[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    logs.push(
      await PartitionLog.open(`${dir}/${p}`, {
        config: { ...config, flushPolicy: p % 2 === 0 ? "always" : "none" },
        logger: silentLogger,
      }),
    );
    if (p % 50 === 0) sample();
  }
  return logs;
}

/** Every partition holds BATCHES batches of one record each, values as written. */
function readAll(logs: PartitionLog[]): number {
  let records = 0;
  for (let p = 0; p < logs.length; p++) {
    let offset = 0;
    while (offset < logs[p].logEndOffset) {
      const r = logs[p].read(offset, 2048)!;
      for (const b of decodeBatches(r.bytes)) {
        for (const rec of b.records) {
          const got = new TextDecoder().decode(rec.value!);
          if (got !== value(p, rec.offset)) throw new Error(`p${p}@${rec.offset}: ${got}`);
          records++;
        }
      }
      offset = r.nextOffset;
    }
    if (p % 50 === 0) sample();
  }
  return records;
}

const result: Record<string, unknown> = { capacity: sharedLogFiles().capacity };
const logs = await openAll();
for (let b = 0; b < BATCHES; b++) {
  await Promise.all(logs.map((log, p) => {
    const bytes = encodeRecordBatch([{ value: new TextEncoder().encode(value(p, b)) }], {
      timestampMs: 1_700_000_000_000,
    });
    return log.append(bytes);
  }));
  sample();
}
result.segments = logs.reduce((n, l) => n + l.segments().length, 0);
result.recordsRead = readAll(logs);
result.openAfterReads = sharedLogFiles().openCount;
for (const log of logs) await log.close();
const reopened = await openAll();
result.recordsReread = readAll(reopened);
for (const log of reopened) await log.close();
result.maxFds = maxFds;

// Out of descriptors: creating a log fails typed, leaving nothing open.
sharedLogFiles().closeIdle();
const before = openFds();
const hogs: Deno.FsFile[] = [];
try {
  for (let i = 0; i < 100_000; i++) hogs.push(Deno.openSync("/dev/null"));
} catch {
  // EMFILE: every descriptor is taken
}
try {
  await PartitionLog.open(`${dir}/new`, { config, logger: silentLogger });
  result.createError = "none";
} catch (err) {
  result.createError = isSluiceError(err) ? err.code : String(err);
  result.createErrorNamesFile = err instanceof Error && err.message.includes(`${dir}/new`);
}
for (const h of hogs) h.close();
result.fdsLeakedByFailedCreate = openFds() - before;
const created = await PartitionLog.open(`${dir}/new`, { config, logger: silentLogger });
result.createdAfterwards = (await created.append(
  encodeRecordBatch([{ value: new TextEncoder().encode("x") }], { timestampMs: 0 }),
)).baseOffset === 0;
await created.close();
console.log(JSON.stringify(result));
