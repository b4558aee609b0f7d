/**
 * What new memory costs on this machine, for reading a run's write-heavy figures: on some virtual
 * machines every page the guest takes for the first time, or again after handing it back to its
 * host (virtio-balloon free page reporting), is a fault in the host, ~10 us a 4 KiB page where a
 * resident one costs ~0.03 us (docs/bench/http_produce.md section 6). A log that writes GBs takes
 * new pages for its page cache all the time, and pays that. bench/memory_probe.ts measures more.
 */
import * as fs from "node:fs";
import type { BenchMetaStd } from "../types.ts";

export const PAGE_BYTES = 4096;
/** Anonymous memory touched for the run's meta: 64 MiB, 16,384 pages. */
export const FRESH_MEMORY_PROBE_BYTES = 64 * 1024 * 1024;
const RESIDENT_PASSES = 16;
const REPORTED_KIB = "/sys/module/page_reporting/parameters/reported_kib";

/**
 * Microseconds a 4 KiB page of a fresh ArrayBuffer of `bytes` takes to touch first, then again
 * (resident): one byte written per page, wall time.
 */
export function freshMemoryCost(
  bytes = FRESH_MEMORY_PROBE_BYTES,
): { firstTouchUsPerPage: number; residentUsPerPage: number } {
  const buf = new Uint8Array(bytes);
  const pages = Math.max(1, Math.floor(bytes / PAGE_BYTES));
  const touch = (value: number) => {
    for (let at = 0; at < bytes; at += PAGE_BYTES) buf[at] = value;
  };
  const t0 = performance.now();
  touch(1);
  const first = (performance.now() - t0) * 1000;
  // Resident pages are ~400 times cheaper: several passes, so the clock sees them.
  const t1 = performance.now();
  for (let pass = 0; pass < RESIDENT_PASSES; pass++) touch(2 + pass);
  const again = (performance.now() - t1) * 1000;
  return {
    firstTouchUsPerPage: first / pages,
    residentUsPerPage: again / (pages * RESIDENT_PASSES),
  };
}

/** KiB of free memory the kernel has reported to its host so far; undefined where it does not. */
export function reportedToHostKib(): number | undefined {
  try {
    const n = Number(fs.readFileSync(REPORTED_KIB, "utf8").trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** "10.52 us a 4 KiB page at first touch, 0.027 once resident; freed pages go back to the host". */
export function freshMemoryText(meta: BenchMetaStd): string {
  const f = meta.freshMemory;
  if (f === undefined) return "not measured";
  return `${f.firstTouchUsPerPage.toFixed(2)} us a 4 KiB page at first touch, ${
    f.residentUsPerPage.toFixed(3)
  } once resident${f.pagesReportedToHost ? "; freed pages go back to the host" : ""}`;
}
