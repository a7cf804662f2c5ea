import type { Command } from "commander";
import { UserError } from "../../engine/errors.js";
import { resolveRunDirs } from "../../dashboard/runs.js";
import { shortPath, writeReport } from "../../dashboard/report.js";
import { positiveInt } from "../options.js";
import { checkWritableDir } from "../paths.js";

export function registerReport(program: Command): void {
  program
    .command("report")
    .description("the dashboard's figures as standalone SVG files plus a markdown summary table of the runs")
    .argument("<run-dirs...>", "run directories (each holding metrics.jsonl)")
    .requiredOption("-o, --out <dir>", "output directory for the SVG figures and summary.md")
    .option("--epochs <n>", "epochs shown side by side in the per-timestep figures", positiveInt("--epochs"), 4)
    .action((dirs: string[], opts: { out: string; epochs: number }) => {
      if (dirs.length === 0) throw new UserError("report: give at least one run directory");
      const runs = resolveRunDirs(dirs);
      checkWritableDir(opts.out, "--out");
      const { files } = writeReport(runs, opts.out, { epochPanels: opts.epochs });
      console.log(`report of ${runs.length} run${runs.length === 1 ? "" : "s"} written:`);
      for (const file of files) console.log(`  ${shortPath(file)}`);
    });
}
