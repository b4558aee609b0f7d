/**
 * The embedded suite's limits (BaselineResult): plain file I/O measured by the same process in the
 * same run, gathered by name over every scenario compared with them (runs pooled).
 *
 * The write limit, measured in the same iteration just before each produce run: the same batch
 * bytes in the same chunks, written with positional node:fs writeSync to new plain files, one per
 * producer, each by its own async loop:
 *   - `file.write.<size>[.lz4][.1-record-batches][.x4]`  no fsync (flush none)
 *   - `file.write-fsync.1KiB[.x4]`                        one fdatasync per file at the end
 *                                                          (flush interval)
 *   - `file.write-fsync-each.1KiB[.x4]`                   fdatasync after every chunk (always)
 * The read limit, `file.read-cached.<size>`, is storage_bench's rawReadRun (bench/embedded/consume.ts).
 */
import * as fs from "node:fs";
import { join } from "node:path";
import { MB, median } from "../bench_util.ts";
import { freshDir, removeDir, writeAll } from "../storage_bench.ts";
import type { BaselineResult } from "../types.ts";

export type FileWriteSync = "none" | "end" | "each";

/** Baseline runs by name, gathered over every scenario that is compared with them. */
export class Baselines {
  readonly #runs = new Map<string, { bytesPerRun: number; mbPerSec: number[] }>();

  add(name: string, bytesPerRun: number, seconds: number): void {
    let entry = this.#runs.get(name);
    if (entry === undefined) this.#runs.set(name, entry = { bytesPerRun, mbPerSec: [] });
    if (entry.bytesPerRun !== bytesPerRun) {
      throw new Error(`baseline ${name}: ${bytesPerRun} bytes per run, was ${entry.bytesPerRun}`);
    }
    entry.mbPerSec.push(bytesPerRun / MB / seconds);
  }

  mbPerSec(name: string): number {
    const entry = this.#runs.get(name);
    if (entry === undefined) throw new Error(`no baseline ${name}`);
    return median(entry.mbPerSec);
  }

  results(): BaselineResult[] {
    return [...this.#runs].map(([name, e]) => ({
      name,
      mbPerSec: median(e.mbPerSec),
      runs: e.mbPerSec,
    }));
  }
}

/**
 * The write limit: `chunks` positional writes of `chunk`, split evenly over `files` new files each
 * written by its own async loop (as the producers are); seconds. Under `each` the loops overlap
 * their fdatasyncs as 4 logs' group commits do; under `none` they run one after the other.
 */
export async function fileWriteRun(
  chunk: Uint8Array,
  chunks: number,
  sync: FileWriteSync,
  files: number,
) {
  const dir = freshDir();
  try {
    const t0 = performance.now();
    const loop = async (f: number) => {
      const path = join(dir, `raw${f}.log`);
      const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
      let position = 0;
      for (let i = 0; i < chunks / files; i++) {
        writeAll(fd, chunk, position);
        position += chunk.length;
        // Asynchronous like the log's fsync (a thread-pool call), so both pay the same hop.
        if (sync === "each") await fdatasync(fd);
      }
      if (sync === "end") await fdatasync(fd);
      fs.closeSync(fd);
    };
    await Promise.all(Array.from({ length: files }, (_, f) => loop(f)));
    return (performance.now() - t0) / 1000;
  } finally {
    removeDir(dir);
  }
}

function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => err ? reject(err) : resolve()));
}
