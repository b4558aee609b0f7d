/** The three files of a run: `<time>-<host>.json`, `.md` and `.svg` in the results dir. */
import * as fs from "node:fs";
import { join } from "node:path";
import { renderMarkdown, renderSvg } from "../report.ts";
import type { BenchResultsFile } from "./details.ts";

/** The stem the .json, .md and .svg share: `<ISO time>-<host>` in `dir`. */
function resultsStem(dir: string, startedAt: string, hostname: string): string {
  // Colons are legal on Linux but not on every file system the results may be copied to.
  const stamp = startedAt.replace(/\.\d+Z$/, "Z").replaceAll(":", "-");
  const host = hostname.replace(/[^A-Za-z0-9._-]/g, "_");
  return join(dir, `${stamp}-${host}`);
}

export function writeReportFiles(
  dir: string,
  report: BenchResultsFile,
): { json: string; md: string; svg: string } {
  fs.mkdirSync(dir, { recursive: true });
  const stem = resultsStem(dir, report.meta.startedAt, report.details.run.hostname);
  const files = { json: `${stem}.json`, md: `${stem}.md`, svg: `${stem}.svg` };
  const svgName = files.svg.slice(files.svg.lastIndexOf("/") + 1);
  fs.writeFileSync(files.json, JSON.stringify(report, null, 2) + "\n");
  fs.writeFileSync(
    files.md,
    renderMarkdown(report, svgName, report.details.kafkaReferenceLatency),
  );
  fs.writeFileSync(files.svg, renderSvg(report));
  return files;
}
