/**
 * Sluice's entry: `serve` (the default; what `deno task start` runs) or `demo` (a storage demo).
 * Runs on Deno (`deno task start`) and on Bun (`bun run src/main.ts serve`).
 */
import { demo } from "./cli/demo.ts";
import { serveCommand } from "./cli/serve.ts";
import { commandLineArgs, exitProcess } from "./runtime/process.ts";

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args[0]?.startsWith("--") || args.length === 0
    ? ["serve", ...args]
    : args;
  switch (command) {
    case "serve":
      return await serveCommand(rest);
    case "demo":
      return await demo(rest);
    default:
      console.error(`unknown command ${command}; use serve (default) or demo`);
      exitProcess(2);
  }
}

if (import.meta.main) {
  try {
    await main(commandLineArgs());
  } catch (err) {
    // A start-up failure (port in use, data dir locked or unwritable) is a message, not a trace.
    console.error(`sluice: ${err instanceof Error ? err.message : String(err)}`);
    exitProcess(1);
  }
}
