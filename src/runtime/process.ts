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

/** Calls `handler` on SIGHUP (the server re-reads its auth file). */
export function onReloadSignal(handler: () => void): void {
  process.on("SIGHUP", handler);
}

export function processId(): number {
  return process.pid;
}

/** True when a process with this pid exists (signal 0 probes without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
}
