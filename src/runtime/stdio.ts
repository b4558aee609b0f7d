/**
 * The process's standard streams for command-line tools (the `sluice` client, src/cli/sluice):
 * stdin read as chunks of bytes, stdout written with back-pressure, stderr, and whether each is a
 * terminal. node:process's streams exist in Deno and Bun alike.
 *
 * A closed stdout (`sluice consume ... | head`) is not an error for a command-line tool: the write
 * rejects with StdoutClosed, which the caller turns into a quiet exit, as `cat` does.
 */
import process from "node:process";

/** A write to stdout found it closed by the reader (EPIPE). */
export class StdoutClosed extends Error {
  constructor() {
    super("stdout is closed");
    this.name = "StdoutClosed";
  }
}

let stdoutClosed = false;
let stdoutErrorHooked = false;

function hookStdoutErrors(): void {
  if (stdoutErrorHooked) return;
  stdoutErrorHooked = true;
  // An EPIPE also arrives as an 'error' event; unhandled, it would end the process with a trace.
  process.stdout.on("error", () => {
    stdoutClosed = true;
  });
}

/** Writes bytes or text to stdout and resolves once the stream took them (back-pressure). */
export function writeStdout(data: Uint8Array | string): Promise<void> {
  hookStdoutErrors();
  if (stdoutClosed) return Promise.reject(new StdoutClosed());
  return new Promise((resolve, reject) => {
    process.stdout.write(data, (err?: Error | null) => {
      if (err) {
        stdoutClosed = true;
        reject(new StdoutClosed());
      } else resolve();
    });
  });
}

/** Writes text to stderr (messages, progress); never throws. */
export function writeStderr(text: string): void {
  try {
    process.stderr.write(text);
  } catch {
    // stderr gone: nowhere left to say anything
  }
}

/** Stdin's bytes as they arrive, until end of input. */
export async function* stdinChunks(): AsyncGenerator<Uint8Array> {
  for await (const chunk of process.stdin as AsyncIterable<Uint8Array | string>) {
    yield typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
  }
}

export function stdinIsTerminal(): boolean {
  return process.stdin.isTTY === true;
}

export function stderrIsTerminal(): boolean {
  return process.stderr.isTTY === true;
}

export function stdoutIsTerminal(): boolean {
  return process.stdout.isTTY === true;
}
