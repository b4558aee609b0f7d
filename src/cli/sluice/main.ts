/**
 * `sluice`: the command line for a running Sluice server (`deno task sluice ...`, or a `sluice`
 * binary from `deno install -g -A -n sluice src/cli/sluice/main.ts`), in the spirit of Redpanda's
 * rpk, Kafka's kafka-*.sh tools and kcat:
 *
 *   sluice topic create|list|describe|alter|delete     topic.ts
 *   sluice produce TOPIC                                produce.ts
 *   sluice consume TOPIC                                consume.ts, consume_group.ts (-g)
 *   sluice group list|describe|reset-offsets|delete     group.ts
 *   sluice cluster info                                 cluster.ts
 *   sluice serve [flags]                                the server (src/cli/serve.ts)
 *   sluice bench [flags]                                the bench suite (bench/main.ts)
 *
 * `--help` at every level. The client commands talk to the server's HTTP API (client.ts; server
 * and token from config.ts). Exit status: 0 done, 1 an error (one line on stderr: `sluice: CODE:
 * message`), 2 a usage mistake (the message and the command's usage on stderr).
 */
import { commandLineArgs, exitProcess } from "../../runtime/process.ts";
import { StdoutClosed, writeStderr, writeStdout } from "../../runtime/stdio.ts";
import { runScript } from "../../runtime/subprocess.ts";
import { HelpRequested, renderFamilyUsage, UsageError } from "./args.ts";
import { CLUSTER_COMMANDS, CLUSTER_USAGE, clusterCommand } from "./cluster.ts";
import { consumeCommand } from "./consume.ts";
import { CliError } from "./errors.ts";
import { GROUP_COMMANDS, GROUP_USAGE, groupCommand } from "./group.ts";
import { produceCommand } from "./produce.ts";
import { TOPIC_COMMANDS, TOPIC_USAGE, topicCommand } from "./topic.ts";
import { SERVE_USAGE as SERVE_FLAGS } from "../usage.ts";

export const USAGE = renderFamilyUsage(
  "sluice",
  "Sluice's command line: topics, produce, consume, groups and the cluster of a running server\n" +
    "(--url, SLUICE_URL, ~/.config/sluice/config.json; default http://127.0.0.1:8080).",
  [
    { name: "topic", summary: "create, list, describe, alter, delete topics" },
    { name: "produce", summary: "produce stdin's lines to a topic" },
    { name: "consume", summary: "print a topic's records (kcat-style formats, -g group)" },
    { name: "group", summary: "list, describe, reset-offsets, delete consumer groups" },
    { name: "cluster", summary: "info: brokers, controller, partition leaders" },
    { name: "serve", summary: "run the server (the flags of `deno task start`)" },
    { name: "bench", summary: "run the benchmark suite (the flags of `deno task bench`)" },
  ],
);

const SERVE_USAGE = `Usage: sluice serve [flags]

Runs the Sluice server: the HTTP API (default 127.0.0.1:8080) and the Kafka protocol (9092),
with its data in ./data. The same command as \`deno task start\`; its flags:

${SERVE_FLAGS.replace("usage: src/main.ts serve", "  sluice serve")}
`;

const BENCH_USAGE = `Usage: sluice bench [flags]

Runs the benchmark suite (bench/main.ts, as \`deno task bench\`) in its own process and writes
its report under bench/results. Needs the source tree. Common flags:

  --quick            smaller workloads (under a minute)
  --scenario NAME    one suite: embedded, storage, index, http, groups, kafka-client, kafka, cluster
  --json             print the report as JSON too
`;

type Family = {
  usage: string;
  commands: Record<string, unknown>;
  run: (sub: string, argv: string[]) => Promise<void>;
};

const FAMILIES: Record<string, Family> = {
  topic: { usage: TOPIC_USAGE, commands: TOPIC_COMMANDS, run: topicCommand },
  group: { usage: GROUP_USAGE, commands: GROUP_COMMANDS, run: groupCommand },
  cluster: { usage: CLUSTER_USAGE, commands: CLUSTER_COMMANDS, run: clusterCommand },
};

const isHelp = (arg: string | undefined) => arg === "--help" || arg === "-h" || arg === "help";

/** How the command line was started. */
export interface MainOptions {
  /** A standalone binary (scripts/compile.ts): no source tree, no deno or bun to run scripts. */
  standalone?: boolean;
}

async function run(argv: string[], options: MainOptions): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || isHelp(command)) {
    if (command === undefined) throw new UsageError("a command is needed", USAGE);
    await writeStdout(USAGE);
    return 0;
  }
  switch (command) {
    case "produce":
      await produceCommand(rest);
      return 0;
    case "consume":
      await consumeCommand(rest);
      return 0;
    case "serve":
      if (rest.some(isHelp)) {
        await writeStdout(SERVE_USAGE);
        return 0;
      }
      // Loaded only here: the client commands start without the server's modules.
      await (await import("../serve.ts")).serveCommand(rest);
      return -1; // serving: the server's signals end the process
    case "bench": {
      if (rest.some(isHelp)) {
        await writeStdout(BENCH_USAGE);
        return 0;
      }
      const script = new URL("../../../bench/main.ts", import.meta.url);
      if (options.standalone === true || script.protocol !== "file:") {
        throw new CliError(
          "NOT_FOUND",
          "bench needs the source tree (bench/main.ts) and deno or bun, not a standalone binary",
        );
      }
      return await runScript(decodeURIComponent(script.pathname), rest);
    }
  }
  const family = FAMILIES[command];
  if (family === undefined) throw new UsageError(`unknown command "${command}"`, USAGE);
  const [sub, ...args] = rest;
  if (sub === undefined || isHelp(sub)) {
    if (sub === undefined) throw new UsageError(`sluice ${command} needs a command`, family.usage);
    await writeStdout(family.usage);
    return 0;
  }
  if (!Object.hasOwn(family.commands, sub)) {
    throw new UsageError(`unknown command "${command} ${sub}"`, family.usage);
  }
  await family.run(sub, args);
  return 0;
}

/** Runs the command line and turns every outcome into an exit status. */
export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  try {
    return await run(argv, options);
  } catch (err) {
    if (err instanceof HelpRequested) {
      await writeStdout(err.usage).catch(() => {});
      return 0;
    }
    if (err instanceof UsageError) {
      writeStderr(`sluice: ${err.message}\n\n${err.usage}`);
      return 2;
    }
    if (err instanceof StdoutClosed) return 0; // `sluice consume ... | head`: the reader is done
    if (err instanceof CliError) {
      writeStderr(`sluice: ${err.code}: ${err.message}\n`);
      return 1;
    }
    writeStderr(`sluice: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (import.meta.main) {
  const code = await main(commandLineArgs());
  if (code >= 0) exitProcess(code);
}
