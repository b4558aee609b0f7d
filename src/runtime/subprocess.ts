/**
 * Runs a script of this source tree in a child process of the same runtime, with the parent's
 * stdin, stdout and stderr, and resolves with its exit code: `deno run -A SCRIPT ARGS` on Deno,
 * `bun SCRIPT ARGS` on Bun. The `sluice bench` command hands the bench suite (bench/main.ts,
 * outside src/) its own process this way.
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { runtimeName } from "./serve.ts";

export function runScript(script: string, args: readonly string[]): Promise<number> {
  const argv = runtimeName() === "bun" ? [script, ...args] : ["run", "-A", script, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve(code ?? (signal === null ? 1 : 128 + 15)));
  });
}
