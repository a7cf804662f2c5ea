/**
 * A sweep as a study: where its run summaries go by default and how its report section is
 * written from them (the glue `sweep`, `compare` and `summarize` share).
 */
import { existsSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import type { Sweep } from "../sweep/spec.js";
import { defaultSummariesDir, isB3Sweep, isPilot, reportKey, writeB3Report, type B3Report } from "./b3-report.js";
import { readSummaries, summarizeRunDir, writeSummary } from "./summary.js";

/** The proxy of a sweep's runs as summaries name it ("aesthetic", "digit-ocr+aesthetic"). */
export function sweepProxy(sweep: Sweep): string {
  const names = [...new Set(sweep.runs.map((r) => r.config.rewards.map((w) => w.name).join("+")))];
  return names.join(",") || "proxy";
}

/** A B3 sweep's default summaries directory (results/b3/<proxy>); null for other sweeps (no summaries unless asked for). */
export function studySummariesDir(sweep: Sweep): string | null {
  return isB3Sweep(sweep.name) ? defaultSummariesDir(sweepProxy(sweep)) : null;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * A planned run's directory: `<runs>/<name>`, else the one directory `<sweep>-<label>-<any id>-s<seed>`
 * (runs trained before ids counted shipped paths relative to the package root carry another id
 * when planned from another checkout).
 */
export function runDirOf(runsDir: string, sweepName: string, run: { name: string; label: string; seed: number }): string | null {
  const exact = join(runsDir, run.name);
  if (existsSync(exact)) return exact;
  const pattern = new RegExp(`^${escapeRegExp(`${sweepName}-${run.label}`)}-[0-9a-f]{12}-s${run.seed}$`);
  let names: string[] = [];
  try {
    names = readdirSync(runsDir).filter((n) => pattern.test(n));
  } catch {
    return null;
  }
  return names.length === 1 ? join(runsDir, names[0]) : null;
}

/** Summarise every planned run that has a directory under `runsDir` (only those named in `only`, by directory name); returns what was written and what has no directory yet. */
export function summarizeSweep(sweep: Sweep, runsDir: string, out: string, only?: ReadonlySet<string>): { written: string[]; finished: number; partial: number; missing: string[] } {
  const written: string[] = [];
  const missing: string[] = [];
  let finished = 0;
  for (const run of sweep.runs) {
    const dir = runDirOf(runsDir, sweep.name, run);
    if (only && (dir === null || !only.has(basename(dir)))) continue;
    if (dir === null) {
      missing.push(run.name);
      continue;
    }
    const summary = summarizeRunDir(dir, { sweep: sweep.name, label: run.label, method: run.method, overrides: run.overrides });
    if (summary.status === "finished") finished++;
    written.push(writeSummary(out, summary));
  }
  return { written, finished, partial: written.length - finished, missing };
}

/** Write the sweep's report section (page markers `b3:<key>`) and figures from the summaries in `summariesDir`; a pilot's (name ending in -pilot) shows proxy-side signals only. */
export function writeStudyReport(sweep: Sweep, options: { summariesDir: string; page: string; figuresDir: string; command: string; headlineFile?: string }): B3Report {
  return writeB3Report({
    key: reportKey(sweep.name),
    sweep: sweep.name,
    summaries: readSummaries(options.summariesDir),
    plan: sweep.runs.map((r) => ({ name: r.name, label: r.label, method: r.method, seed: r.seed, overrides: r.overrides })),
    summariesDir: options.summariesDir,
    command: options.command,
    page: options.page,
    figuresDir: options.figuresDir,
    headlineFile: options.headlineFile,
    proxySideOnly: isPilot(sweep.name),
  });
}
