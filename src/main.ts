/**
 * Sluice's entry: `serve` (the default; what `deno task start` runs), `demo` (a storage demo) or
 * `help`. Runs on Deno (`deno task start`) and on Bun (`bun run src/main.ts serve`).
 */
import { demo } from "./cli/demo.ts";
import { serveCommand } from "./cli/serve.ts";
import { SERVE_USAGE } from "./cli/usage.ts";
import { startFailureMessage } from "./cli/start_failure.ts";
import { commandLineArgs, exitProcess } from "./runtime/process.ts";

const HELP = `Sluice: an event log engine with Kafka's model, an HTTP API and the Kafka protocol.

usage: src/main.ts [serve] [flags]   serve the HTTP API (127.0.0.1:8080) and the Kafka protocol
                                     (127.0.0.1:9092) with the data in ./data; the default
       src/main.ts demo [--data-dir DIR] [--records N] [--record-bytes B]
                        [--compression none|lz4|gzip]
                                     append records to a log, read them back, reopen it
       src/main.ts help | --help | -h

${SERVE_USAGE}

The API: docs/API.md, or /docs and /openapi.json on a running server.`;

async function main(args: string[]): Promise<void> {
  if (args[0] === "help" || args[0] === "--help" || args[0] === "-h") {
    console.log(HELP);
    return;
  }
  const [command, ...rest] = args[0]?.startsWith("-") || args.length === 0
    ? ["serve", ...args]
    : args;
  switch (command) {
    case "serve":
      return await serveCommand(rest);
    case "demo":
      return await demo(rest);
    default:
      console.error(`unknown command ${command}; use serve (the default), demo or help`);
      exitProcess(2);
  }
}

if (import.meta.main) {
  try {
    await main(commandLineArgs());
  } catch (err) {
    // A start-up failure (port in use, data dir locked, unwritable or on a full disk) is one
    // message naming the file or address and what was being done, then exit code 1; never a trace.
    console.error(`sluice: ${startFailureMessage(err)}`);
    exitProcess(1);
  }
}
