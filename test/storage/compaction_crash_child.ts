/**
 * Child program for compaction_crash_test.ts: opens a compacting log, cleans it with a cleaner
 * whose step hook (segment_swap.ts's SwapHook) kills this process with SIGKILL at the
 * `occurrence`-th time it reaches `step`, and appends meanwhile, one record at a time.
 *
 * `deno run -A compaction_crash_child.ts <dir> <step> <occurrence> <segmentBytes>`
 *
 * Prints `ack <offset> <key>` once each append resolved (key and value are both `live-<n>`), and
 * `finished` when the clean ended without the step being reached. Warnings go to stderr.
 */
import type { Logger } from "../../src/logger.ts";
import { CleanerManager } from "../../src/storage/cleaner/cleaner_manager.ts";
import type { SwapStep } from "../../src/storage/cleaner/segment_swap.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { keyedBatch } from "./compaction_util.ts";

const stderrLogger: Logger = {
  info() {},
  warn: (m, f) => console.error(JSON.stringify({ level: "warn", message: m, ...f })),
  error: (m, f) => console.error(JSON.stringify({ level: "error", message: m, ...f })),
};

async function main([dir, step, occurrence, segmentBytes]: string[]): Promise<void> {
  const log = await PartitionLog.open(dir, {
    config: { compact: true, delete: false, segmentBytes: Number(segmentBytes) },
    logger: stderrLogger,
  });
  log.updateHighWatermark(log.logEndOffset);
  let reached = 0;
  const manager = new CleanerManager({
    logger: stderrLogger,
    dedupeBufferBytes: 1 << 20,
    hook: (at: SwapStep) => {
      if (at === step && ++reached === Number(occurrence)) Deno.kill(Deno.pid, "SIGKILL");
    },
  });
  manager.register(log);
  let cleaning = true;
  const clean = manager.cleanNow(log).finally(() => cleaning = false);
  for (let n = 0; cleaning; n++) {
    const key = `live-${n}`;
    const r = await log.append(keyedBatch([{ key, value: key }], { timestampMs: Date.now() }));
    console.log(`ack ${r.baseOffset} ${key}`);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await clean;
  await log.close();
  console.log("finished");
}

if (import.meta.main) {
  main(Deno.args).catch((err) => {
    console.error(`compaction_crash_child failed: ${err?.stack ?? err}`);
    Deno.exit(1);
  });
}
