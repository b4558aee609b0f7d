/**
 * What new memory costs on this machine, for reading the write-heavy figures (HTTP produce, the
 * embedded append): on some virtual machines every page the guest takes for the first time, or
 * takes again after handing it back to the host, is a fault in the host, and a log that writes
 * GBs takes new pages for its page cache all the time. Three measures:
 *
 * 1. page cache, rewrite: `--write-kib` writes (110 KB: the HTTP bench's batch) over the same
 *    cached 32 MiB of a file, again and again: no new page.
 * 2. page cache, append: the same writes appended to the file up to `--append-gib`, reported per
 *    512 MiB step: each write needs new pages (the log's own pattern). The file is deleted at the
 *    end; the dirty pages are written back (`sync`) before the appends.
 * 3. anonymous memory: a fresh ArrayBuffer of `--anon-mib` touched one byte per 4 KiB page, then
 *    touched again (resident): microseconds per page each time.
 *
 * Where the kernel reports free pages to the host (virtio-balloon free page reporting), the
 * KiB reported so far (/sys/module/page_reporting/parameters/reported_kib) is printed before and
 * after: freed memory going back to the host is why touching it again costs a fault.
 *
 * Run: deno run -A bench/memory_probe.ts [--anon-mib 1024] [--append-gib 4] [--dir DIR]
 * (about 10 s on a machine whose memory is resident; a minute where each page faults).
 */
import { closeSync, fsyncSync, openSync, unlinkSync, writeSync } from "node:fs";
import { cpuUsage } from "node:process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeBack } from "./bench_server.ts";
import { freshMemoryCost, PAGE_BYTES, reportedToHostKib } from "./runner/memory.ts";

const STEP_BYTES = 512 * 1024 * 1024;
const REWRITE_SPAN = 32 * 1024 * 1024;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "anon-mib": { type: "string", default: "1024" },
    "append-gib": { type: "string", default: "4" },
    "write-kib": { type: "string", default: "110" },
    dir: { type: "string", default: tmpdir() },
  },
});
const anonBytes = Number(values["anon-mib"]) * 1024 * 1024;
const appendBytes = Number(values["append-gib"]) * 1024 * 1024 * 1024;
const writeBytes = Math.round(Number(values["write-kib"]) * 1000);
if (!(anonBytes >= PAGE_BYTES) || !(appendBytes >= STEP_BYTES) || !(writeBytes > 0)) {
  console.error("memory_probe: --anon-mib >= 1, --append-gib >= 0.5 and --write-kib > 0");
  Deno.exit(2);
}

/** CPU microseconds (user + system) spent by `fn`. */
function cpuOf(fn: () => void): number {
  const before = cpuUsage();
  fn();
  const used = cpuUsage(before);
  return used.user + used.system;
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);
const reportedAtStart = reportedToHostKib();
console.log(
  `memory_probe: ${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores; ` +
    (reportedAtStart === undefined
      ? "no free page reporting to a host"
      : `free page reporting: ${reportedAtStart} KiB reported to the host so far`),
);

const path = join(values.dir, `sluice-memory-probe-${Deno.pid}`);
const data = new Uint8Array(writeBytes).fill(0x5a);
const fd = openSync(path, "w+");
try {
  // 1. Rewriting cached pages.
  {
    let at = 0;
    while (at + writeBytes <= REWRITE_SPAN) at += writeSync(fd, data, 0, writeBytes, at);
    fsyncSync(fd);
    const writes = 2000;
    const cpu = cpuOf(() => {
      for (let i = 0; i < writes; i++) {
        writeSync(fd, data, 0, writeBytes, (i * writeBytes) % (REWRITE_SPAN - writeBytes));
      }
    });
    console.log(
      `page cache, rewriting cached pages: ${
        fmt(cpu / writes)
      } us of CPU a ${writeBytes}-byte write`,
    );
  }
  // 2. Appending: new pages all the way.
  writeBack();
  let position = REWRITE_SPAN;
  for (let step = 0; step * STEP_BYTES < appendBytes; step++) {
    const writes = Math.floor(STEP_BYTES / writeBytes);
    const t0 = performance.now();
    const cpu = cpuOf(() => {
      for (let i = 0; i < writes; i++) position += writeSync(fd, data, 0, writeBytes, position);
    });
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      `page cache, appending, ${fmt(((step + 1) * STEP_BYTES) / 2 ** 30, 1)} GiB written: ` +
        `${fmt(cpu / writes)} us of CPU a write, ${
          fmt((writes * writeBytes) / seconds / 1e9, 2)
        } GB/s`,
    );
  }
} finally {
  closeSync(fd);
  unlinkSync(path);
}
// 3. Anonymous memory (last: what it touches stays taken until the process ends).
{
  const cost = freshMemoryCost(anonBytes);
  console.log(
    `anonymous memory, ${anonBytes >> 20} MiB: first touch ${
      fmt(cost.firstTouchUsPerPage, 2)
    } us a page, touched again ${fmt(cost.residentUsPerPage, 3)} us a page`,
  );
}

const reportedAtEnd = reportedToHostKib();
if (reportedAtStart !== undefined && reportedAtEnd !== undefined) {
  console.log(
    `free page reporting: ${reportedAtEnd - reportedAtStart} KiB handed back to the host meanwhile`,
  );
}
