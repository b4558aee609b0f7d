/**
 * bench/compaction/kafka_cleaner.ts's parser of Kafka's log cleaner stats, on lines of the shape
 * Kafka 4.4's broker writes to logs/server.log (copied from a run of the bench): the clean's span
 * from the two lines' timestamps and every printed figure. No Kafka needed.
 */
import assert from "node:assert/strict";
import { parseCleanStats } from "../../bench/compaction/kafka_cleaner.ts";

const BEGIN = "[2026-12-05 07:02:02,471] INFO Cleaner 0: Beginning cleaning of log clean-100B-0 " +
  "(org.apache.kafka.storage.internals.log.Cleaner)";
const STATS = [
  "[2026-12-05 07:02:03,028] INFO [kafka-log-cleaner-thread-0]: ",
  "\tLog cleaner thread 0 cleaned log clean-100B-0 (dirty section = [0, 282600])",
  "\t32.0 MB of log processed in 0.6 seconds (57.6 MB/sec).",
  "\tIndexed 32.0 MB in 0.2 seconds (199.9 Mb/sec, 28.8% of total time)",
  "\tBuffer utilization: 31.5%",
  "\tCleaned 32.0 MB in 0.4 seconds (1,081.0 Mb/sec, 71.2% of total time)",
  "\tStart size: 32.0 MB (282,600 messages)",
  "\tEnd size: 2.5 MB (22,009 messages)",
  "\t92.2% size reduction (92.2% fewer messages)",
  " (org.apache.kafka.storage.internals.log.LogCleaner$CleanerThread)",
].join("\n");
const OTHER = "[2026-12-05 07:02:02,500] INFO Cleaner 0: Building offset map for clean-100B-0... " +
  "(org.apache.kafka.storage.internals.log.Cleaner)";

Deno.test("kafka cleaner stats parser", async (t) => {
  await t.step("a whole clean: span in ms and the printed figures", () => {
    const stats = parseCleanStats([OTHER, BEGIN, OTHER, STATS, ""].join("\n"), "clean-100B-0");
    assert.ok(stats);
    assert.equal(stats.spanMs, 557);
    assert.deepEqual([stats.dirtyStart, stats.dirtyEnd], [0, 282600]);
    assert.deepEqual([stats.processedMiB, stats.seconds, stats.mibPerSec], [32, 0.6, 57.6]);
    assert.deepEqual(
      [stats.indexedMiB, stats.indexSeconds, stats.indexMibPerSec, stats.indexPercent],
      [32, 0.2, 199.9, 28.8],
    );
    assert.equal(stats.bufferUtilizationPercent, 31.5);
    assert.deepEqual(
      [stats.cleanedMiB, stats.cleanSeconds, stats.cleanMibPerSec, stats.cleanPercent],
      [32, 0.4, 1081, 71.2],
    );
    assert.deepEqual([stats.startMiB, stats.startMessages], [32, 282600]);
    assert.deepEqual([stats.endMiB, stats.endMessages], [2.5, 22009]);
  });

  await t.step("not yet: no begin line, no stats block, or another partition's", () => {
    assert.equal(parseCleanStats(STATS, "clean-100B-0"), undefined);
    assert.equal(parseCleanStats([BEGIN, OTHER].join("\n"), "clean-100B-0"), undefined);
    assert.equal(parseCleanStats([BEGIN, STATS].join("\n"), "clean-100B-1"), undefined);
    assert.equal(parseCleanStats([BEGIN, STATS].join("\n"), "clean-100B"), undefined);
  });
});
