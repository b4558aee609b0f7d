/**
 * Child program for replicated_log_test.ts: truncates a log as a follower does, then waits to be
 * killed.
 *
 * `deno run -A truncate_child.ts <dir> <offset> [<bytesFile>]`
 *
 * Opens the log in `dir` (flush policy none, so that only the truncation itself makes anything
 * durable), follows in epoch 9, truncates it to `offset`, then, with `bytesFile`, appends that
 * file's batches as replicated, one an append (a leader's batches starting at the new log end).
 * Prints one line,
 * `done <logEndOffset after the truncation> <logEndOffset at the end> <leader epochs as JSON>`,
 * and then waits forever: the test kills it with SIGKILL. Errors go to stderr, exit code 1.
 */
import type { Logger } from "../../src/logger.ts";
import { batchSizeAt, viewOf } from "../../src/record/record_batch.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";

const stderrLogger: Logger = {
  info() {},
  warn: (m, f) => console.error(JSON.stringify({ level: "warn", message: m, ...f })),
  error: (m, f) => console.error(JSON.stringify({ level: "error", message: m, ...f })),
};

async function main(args: string[]): Promise<void> {
  const [dir, offset, bytesFile] = args;
  if (offset === undefined) {
    throw new Error("usage: truncate_child.ts <dir> <offset> [<bytesFile>]");
  }
  const log = await PartitionLog.open(dir, {
    config: { segmentBytes: 1024, indexIntervalBytes: 256, flushPolicy: "none" },
    logger: stderrLogger,
  });
  log.becomeFollower(9);
  const truncatedTo = await log.truncateTo(Number(offset));
  if (bytesFile !== undefined) {
    // One batch an append, as a leader's log holds them: the segments roll where its did.
    const bytes = Deno.readFileSync(bytesFile);
    const dv = viewOf(bytes);
    for (let pos = 0; pos < bytes.length; pos += batchSizeAt(dv, pos)) {
      await log.appendReplicated(bytes.subarray(pos, pos + batchSizeAt(dv, pos)));
    }
  }
  const epochs = JSON.stringify(log.leaderEpochs().map((e) => [e.epoch, e.startOffset]));
  console.log(`done ${truncatedTo} ${log.logEndOffset} ${epochs}`);
  // Stays alive (and the log open) until the kill.
  setInterval(() => {}, 60_000);
}

if (import.meta.main) {
  main(Deno.args).catch((err) => {
    console.error(`truncate_child failed: ${err?.stack ?? err}`);
    Deno.exit(1);
  });
}
