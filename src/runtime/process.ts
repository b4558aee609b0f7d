/** Process-level calls (arguments, environment, exit). node:process exists in Deno and Bun. */
import process from "node:process";

export function commandLineArgs(): string[] {
  return process.argv.slice(2);
}

export function envVar(name: string): string | undefined {
  try {
    return process.env[name];
  } catch {
    return undefined; // Deno without --allow-env
  }
}

export function exitProcess(code: number): never {
  process.exit(code);
}

/** Calls `handler` on SIGINT and SIGTERM (node:process signals work in Deno and Bun). */
export function onTerminationSignal(handler: (signal: string) => void): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => handler(signal));
}
