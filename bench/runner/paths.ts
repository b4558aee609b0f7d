/** Where the bench runner finds the repository, the bench sources and the default results dir. */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** bench/ */
export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
/** The repository root: the working directory of git and of the subprocess suites. */
export const REPO_DIR = dirname(BENCH_DIR);
export const DEFAULT_RESULTS_DIR = join(BENCH_DIR, "results");
