/**
 * Child of topic_files_test.ts: opens a broker on Deno.args[0], creates topics `kill-<i>` of
 * Deno.args[1] partitions one after another, printing `created <name>` after each create answers,
 * until it is SIGKILLed. Not a test file itself.
 */
import { Broker } from "../../src/broker/broker.ts";
import { silentLogger } from "../../src/logger.ts";

const [dataDir, partitions] = Deno.args;
const broker = await Broker.open({ dataDir, logger: silentLogger });
const out = Deno.stdout;
for (let i = 0;; i++) {
  await broker.createTopic(`kill-${i}`, Number(partitions), {});
  out.writeSync(new TextEncoder().encode(`created kill-${i}\n`));
}
