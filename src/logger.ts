/** A structured logger as a dependency, so tests can capture warnings (e.g. about truncation). */

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

function line(level: string, message: string, fields?: LogFields): string {
  return JSON.stringify({ time: new Date().toISOString(), level, message, ...fields });
}

/** One JSON line per event on stderr. */
export const consoleLogger: Logger = {
  info: (m, f) => console.error(line("info", m, f)),
  warn: (m, f) => console.error(line("warn", m, f)),
  error: (m, f) => console.error(line("error", m, f)),
};

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** Keeps every event in memory: for tests that assert on what was reported. */
export class MemoryLogger implements Logger {
  readonly events: { level: string; message: string; fields: LogFields | undefined }[] = [];
  info(message: string, fields?: LogFields): void {
    this.events.push({ level: "info", message, fields });
  }
  warn(message: string, fields?: LogFields): void {
    this.events.push({ level: "warn", message, fields });
  }
  error(message: string, fields?: LogFields): void {
    this.events.push({ level: "error", message, fields });
  }
}
