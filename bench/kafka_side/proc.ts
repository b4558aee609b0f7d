/**
 * A server process's memory from /proc/<pid>/status (Linux): VmRSS (resident now) and VmHWM (the
 * resident peak since it started). Its CPU comes from bench_server.ts processCpuSeconds.
 */
import * as fs from "node:fs";

export interface ProcessMemory {
  rssBytes: number;
  hwmBytes: number;
}

/** VmRSS and VmHWM in bytes; undefined off Linux or once the process is gone. */
export function processMemory(pid: number): ProcessMemory | undefined {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status);
    return m === null ? undefined : Number(m[1]) * 1024;
  };
  const rssBytes = kb("VmRSS");
  const hwmBytes = kb("VmHWM");
  return rssBytes === undefined || hwmBytes === undefined ? undefined : { rssBytes, hwmBytes };
}
