/**
 * `src/main.ts serve` (what `deno task start` runs): the HTTP server on the broker.
 *
 * Settings, each from the first place that has it: a flag, an environment variable, the JSON file
 * given by --config (or SLUICE_CONFIG), the default.
 *
 * | flag                  | env                      | config key        | default      |
 * | --host                | SLUICE_HOST              | host              | 127.0.0.1    |
 * | --port                | SLUICE_PORT              | port              | 8080         |
 * | --data-dir            | SLUICE_DATA_DIR          | dataDir           | ./data       |
 * | --max-request-bytes   | SLUICE_MAX_REQUEST_BYTES | maxRequestBytes   | 16 MiB       |
 * |                       |                          | topicDefaults     | Kafka's      |
 *
 * SIGINT/SIGTERM: stop accepting, end streams and long polls, finish in-flight requests, flush
 * every log and write its recovery checkpoint, exit 0. A second signal exits at once (code 130).
 */
import { z } from "zod";
import { Broker } from "../broker/broker.ts";
import { DEFAULT_TOPIC_CONFIG, parseTopicConfig } from "../broker/topic_config.ts";
import type { SluiceError } from "../errors.ts";
import { createApp } from "../http/app.ts";
import { REQUEST_BYTES_DEFAULT } from "../limits.ts";
import { consoleLogger } from "../logger.ts";
import { readWholeFile } from "../runtime/fs.ts";
import { envVar, exitProcess, onTerminationSignal } from "../runtime/process.ts";
import { runtimeName, serve } from "../runtime/serve.ts";

const ServerConfig = z.strictObject({
  host: z.string().min(1),
  port: z.coerce.number().int().min(0).max(65535),
  dataDir: z.string().min(1),
  maxRequestBytes: z.coerce.number().int().min(1024).max(2 ** 31 - 1),
  topicDefaults: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
});

type ServerConfig = z.output<typeof ServerConfig>;

const SETTINGS = [
  ["host", "--host", "SLUICE_HOST"],
  ["port", "--port", "SLUICE_PORT"],
  ["dataDir", "--data-dir", "SLUICE_DATA_DIR"],
  ["maxRequestBytes", "--max-request-bytes", "SLUICE_MAX_REQUEST_BYTES"],
] as const;

function usage(message: string): never {
  console.error(`${message}
usage: src/main.ts serve [--host H] [--port P] [--data-dir DIR] [--max-request-bytes N]
                         [--config FILE]`);
  exitProcess(2);
}

/** The server's settings from flags, environment, config file and defaults. */
export function resolveServerConfig(args: string[]): ServerConfig {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const known = arg === "--config" || SETTINGS.some(([, flag]) => flag === arg);
    if (!known) usage(`unknown argument ${arg}`);
    if (i + 1 >= args.length) usage(`${arg} needs a value`);
    flags.set(arg, args[++i]);
  }
  const configPath = flags.get("--config") ?? envVar("SLUICE_CONFIG");
  let file: Record<string, unknown> = {};
  if (configPath !== undefined) {
    const bytes = readWholeFile(configPath);
    if (bytes === undefined) usage(`config file ${configPath} does not exist`);
    try {
      file = JSON.parse(new TextDecoder().decode(bytes));
    } catch (err) {
      usage(`config file ${configPath} is not JSON: ${(err as Error).message}`);
    }
  }
  const merged: Record<string, unknown> = {
    host: "127.0.0.1",
    port: 8080,
    dataDir: "./data",
    maxRequestBytes: REQUEST_BYTES_DEFAULT,
    ...file,
  };
  for (const [key, flag, env] of SETTINGS) {
    const value = flags.get(flag) ?? envVar(env);
    if (value !== undefined) merged[key] = value;
  }
  const parsed = ServerConfig.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    usage(`invalid setting ${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}

export async function serveCommand(args: string[]): Promise<void> {
  const config = resolveServerConfig(args);
  const logger = consoleLogger;
  let topicDefaults = DEFAULT_TOPIC_CONFIG;
  try {
    topicDefaults = parseTopicConfig(config.topicDefaults ?? {});
  } catch (err) {
    usage(`invalid topicDefaults: ${(err as SluiceError).message}`);
  }
  const broker = await Broker.open({ dataDir: config.dataDir, logger, topicDefaults });
  const app = createApp(broker, { logger, maxRequestBytes: config.maxRequestBytes });
  const server = await serve({
    hostname: config.host,
    port: config.port,
    fetch: app.fetch,
    onError: (err) => logger.error("unhandled server error", { error: String(err) }),
  });
  const url = `http://${server.hostname}:${server.port}`;
  console.log(`sluice listening on ${url} (data: ${config.dataDir})`);
  logger.info("started", {
    url,
    dataDir: config.dataDir,
    runtime: runtimeName(),
    topics: broker.topics.list().length,
  });

  let stopping = false;
  onTerminationSignal(async (signal) => {
    if (stopping) exitProcess(130);
    stopping = true;
    logger.info("shutting down", { signal });
    try {
      const drained = server.shutdown();
      app.beginShutdown();
      broker.stopWaiting();
      await drained;
      await broker.close();
      logger.info("stopped cleanly");
      exitProcess(0);
    } catch (err) {
      logger.error("shutdown failed", { error: String(err) });
      exitProcess(1);
    }
  });
}
