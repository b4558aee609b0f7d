/**
 * What the `sluice` client prints: tables for people, JSON for scripts (`--json`), progress and
 * summaries on stderr (only progress on a terminal; neither with `--quiet`). Results go to
 * stdout, everything else to stderr, so `sluice ... --json | jq` sees only JSON.
 */
import { stderrIsTerminal, writeStderr, writeStdout } from "../../runtime/stdio.ts";
import type { Parsed } from "./args.ts";

/** How often a progress line is rewritten at most. */
export const PROGRESS_INTERVAL_MS = 250;

export type Cell = string | number | boolean | null | undefined;

/** Columns padded to their widest cell; numbers right-aligned. */
export function renderTable(header: readonly string[], rows: readonly Cell[][]): string {
  const text = (c: Cell) => c === null || c === undefined ? "-" : String(c);
  const cells = rows.map((r) => r.map(text));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const numeric = header.map((_, i) =>
    rows.length > 0 && rows.every((r) => typeof r[i] === "number" || r[i] === null)
  );
  const line = (r: string[]) =>
    r.map((c, i) => numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])).join("  ")
      .trimEnd();
  return [line([...header]), ...cells.map(line)].join("\n") + "\n";
}

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly #progressOn: boolean;
  #lastProgress = -Infinity;
  #progressShown = false;

  constructor(args: Parsed) {
    this.json = args.has("json");
    this.quiet = args.has("quiet");
    this.#progressOn = !this.quiet && stderrIsTerminal();
  }

  /** Text or bytes to stdout, as they are. */
  write(data: string | Uint8Array): Promise<void> {
    return writeStdout(data);
  }

  /** One JSON document on stdout (indented: it is read by people too). */
  printJson(value: unknown): Promise<void> {
    return writeStdout(JSON.stringify(value, null, 2) + "\n");
  }

  table(header: readonly string[], rows: readonly Cell[][]): Promise<void> {
    return writeStdout(renderTable(header, rows));
  }

  /** A summary line on stderr for people (not with --quiet). */
  note(text: string): void {
    this.clearProgress();
    if (!this.quiet) writeStderr(text + "\n");
  }

  /** Rewrites the progress line on a terminal, at most every PROGRESS_INTERVAL_MS. */
  progress(text: () => string): void {
    if (!this.#progressOn) return;
    const now = performance.now();
    if (now - this.#lastProgress < PROGRESS_INTERVAL_MS) return;
    this.#lastProgress = now;
    this.#progressShown = true;
    writeStderr(`\r\x1b[K${text()}`);
  }

  clearProgress(): void {
    if (!this.#progressShown) return;
    this.#progressShown = false;
    writeStderr("\r\x1b[K");
  }
}
