/**
 * One process per data dir: `<dataDir>/.lock` holds the owner's pid, created exclusively. Two
 * processes appending to the same logs would interleave their writes and corrupt them, so a
 * second one refuses to start (as Kafka does with its .lock). A lock left by a process that died
 * (SIGKILL, power loss) names a pid that no longer runs and is taken over.
 */
import * as fs from "node:fs";
import { SluiceError } from "../errors.ts";
import { errorCode, isNoSpace, joinPath, makeDir } from "./fs.ts";
import { processAlive, processId } from "./process.ts";

export interface DirLock {
  release(): void;
}

/** Lock files this process holds: its own pid in a file it does not hold means a dead namesake. */
const held = new Set<string>();

export function lockDataDir(dir: string): DirLock {
  makeDir(dir);
  const path = joinPath(dir, ".lock");
  const pid = processId();
  if (held.has(path)) {
    throw new SluiceError("STORAGE_ERROR", `data dir ${dir} is already open in this process`, {
      dir,
    });
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(path, "wx", 0o644);
      let failure: unknown;
      try {
        fs.writeSync(fd, `${pid}\n`);
      } catch (err) {
        failure = err;
      } finally {
        fs.closeSync(fd);
      }
      // On a full disk the lock is still ours (created exclusively) without its pid: the server
      // starts read-only rather than not at all; a later starter takes an empty lock as stale.
      if (failure !== undefined && !isNoSpace(failure)) {
        fs.rmSync(path, { force: true });
        throw failure;
      }
      held.add(path);
      return {
        release: () => {
          held.delete(path);
          try {
            if (fs.readFileSync(path, "utf8").trim() === String(pid)) fs.rmSync(path);
          } catch {
            // gone already
          }
        },
      };
    } catch (err) {
      if (errorCode(err) !== "EEXIST") throw err;
    }
    let owner = NaN;
    try {
      owner = Number(fs.readFileSync(path, "utf8").trim());
    } catch {
      continue; // removed meanwhile: try again
    }
    if (Number.isInteger(owner) && owner > 0 && owner !== pid && processAlive(owner)) {
      throw new SluiceError(
        "STORAGE_ERROR",
        `data dir ${dir} is in use by process ${owner} (${path}); stop it or use another --data-dir`,
        { dir, pid: owner },
      );
    }
    fs.rmSync(path, { force: true }); // stale: its owner is gone
  }
  throw new SluiceError("STORAGE_ERROR", `could not lock data dir ${dir}`, { dir });
}
