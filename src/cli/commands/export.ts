import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Option, type Command } from "commander";
import { UserError } from "../../engine/errors.js";
import { readValidatedMetrics } from "../../diagnostics/metrics-schema.js";
import { metricsScalars, scalarsCsv, tfEventsFile } from "../../diagnostics/export.js";
import { runPaths } from "../../rl/run-dir.js";
import { checkWritableFile, writeOrExplain } from "../paths.js";

type Format = "csv" | "tensorboard";

/** Export one run; returns the file written and how many scalars and skipped lines it had. */
export function exportRun(runDir: string, format: Format, out?: string): { file: string; scalars: number; skipped: number } {
  const paths = runPaths(runDir);
  let mtime: number;
  try {
    mtime = statSync(paths.metrics).mtimeMs;
  } catch {
    throw new UserError(`${runDir}: no metrics.jsonl (not a run directory, or a run that has not recorded anything yet)`);
  }
  const { records, skipped } = readValidatedMetrics(paths.metrics);
  const scalars = metricsScalars(records);
  const file = out ?? (format === "csv" ? join(paths.dir, "metrics.csv") : join(paths.dir, "tensorboard", `events.out.tfevents.${Math.floor(mtime / 1000)}.grpo-guard`));
  checkWritableFile(file, "--out");
  const total = scalars.length ? Math.max(...scalars.map((s) => s.seconds)) : 0;
  const bytes = format === "csv" ? scalarsCsv(scalars) : tfEventsFile(scalars, mtime / 1000 - total);
  writeOrExplain(file, "--out", () => writeFileSync(file, bytes));
  return { file, scalars: scalars.length, skipped: skipped.length };
}

export function registerExport(program: Command): void {
  program
    .command("export")
    .description("export a run's metrics.jsonl as a CSV (step,tag,value,seconds) or a TensorBoard event file")
    .argument("<run-dirs...>", "run directories")
    .addOption(new Option("-f, --format <format>", "csv or tensorboard").choices(["csv", "tensorboard"]).default("csv"))
    .option("-o, --out <file>", "output file (one run only; default: metrics.csv or tensorboard/events.out.tfevents.* in the run)")
    .action((dirs: string[], opts: { format: Format; out?: string }) => {
      if (opts.out && dirs.length > 1) throw new UserError("export: --out names one file; give one run directory or leave --out out");
      for (const dir of dirs) {
        const { file, scalars, skipped } = exportRun(dir, opts.format, opts.out);
        console.log(`wrote ${file} (${scalars} scalars)`);
        if (skipped > 0) process.stderr.write(`warning: ${dir}: ${skipped} line${skipped > 1 ? "s" : ""} of metrics.jsonl skipped (invalid records; see grpo-guard dashboard)\n`);
      }
    });
}
