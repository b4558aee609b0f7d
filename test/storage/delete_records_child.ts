/**
 * Child program for delete_records_test.ts: DeleteRecords on a log, then waits to be killed.
 *
 * `deno run -A delete_records_child.ts <dir> <offset>`
 *
 * Opens the log in `dir` (flush policy none and a checkpoint interval of an hour, so that only
 * DeleteRecords itself writes a recovery checkpoint), calls deleteRecordsBefore(`offset`), prints
 * one line, `done <logStartOffset> <first segment's base offset>`, and then waits forever: the
 * test kills it with SIGKILL. Errors go to stderr, exit code 1.
 */
import type { Logger } from "../../src/logger.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";

const stderrLogger: Logger = {
  info() {},
  warn: (m, f) => console.error(JSON.stringify({ level: "warn", message: m, ...f })),
  error: (m, f) => console.error(JSON.stringify({ level: "error", message: m, ...f })),
};

async function main(args: string[]): Promise<void> {
  const [dir, offset] = args;
  if (offset === undefined) throw new Error("usage: delete_records_child.ts <dir> <offset>");
  const log = await PartitionLog.open(dir, {
    config: {
      segmentBytes: 1024,
      indexIntervalBytes: 256,
      flushPolicy: "none",
      checkpointIntervalMs: 3_600_000,
    },
    logger: stderrLogger,
  });
  const start = await log.deleteRecordsBefore(Number(offset));
  console.log(`done ${start} ${log.segments()[0].baseOffset}`);
  // Stays alive (and the log open) until the kill.
  setInterval(() => {}, 60_000);
}

if (import.meta.main) {
  main(Deno.args).catch((err) => {
    console.error(`delete_records_child failed: ${err?.stack ?? err}`);
    Deno.exit(1);
  });
}
