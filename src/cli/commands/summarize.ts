import { existsSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { Command } from "commander";
import { UserError } from "../../engine/errors.js";
import { loadSweepFile, type Sweep } from "../../sweep/spec.js";
import { defaultPresetRuns, presetSweep } from "../../sweep/run-sweep.js";
import { resolveRunDirs } from "../../dashboard/runs.js";
import { FINAL_POLICY_FILE, summarizeRunDir, writeSummary } from "../../study/summary.js";
import { initEngine } from "../../engine/jax.js";
import { cachedGoldPanels } from "../../rewards/gold.js";
import { evaluateCheckpoints } from "../../rl/checkpoint-evals.js";
import { studySummariesDir, summarizeSweep } from "../../study/sweep-study.js";
import { collect } from "../options.js";
import { parseSeeds } from "./sweep.js";

interface SummarizeOptions {
  checkpointEvals?: boolean;
  preset?: string;
  sweep?: string;
  runs?: string;
  out?: string;
  set: string[];
  seeds?: string;
}

/** `--checkpoint-evals`: each finished run's unevaluated checkpoints, evaluated with the run's own gold panel (one panel per setting). */
async function evaluateRunCheckpoints(dirs: readonly string[]): Promise<void> {
  const finished = dirs.filter((dir) => existsSync(join(dir, FINAL_POLICY_FILE)));
  if (finished.length === 0) return;
  await initEngine();
  const goldFor = cachedGoldPanels();
  try {
    for (const [k, dir] of finished.entries()) {
      const { evaluated } = await evaluateCheckpoints(dir, goldFor, { log: (line) => console.log(line) });
      console.log(`[${k + 1}/${finished.length}] ${dir}: ${evaluated.length ? `${evaluated.length} checkpoints evaluated` : "every kept checkpoint already has an evaluation"}`);
    }
  } finally {
    await goldFor.dispose();
  }
}

export function registerSummarize(program: Command): void {
  program
    .command("summarize [runDirs...]")
    .description("(re)write the small per-run summaries (JSON, no images or checkpoints) the study report reads, from existing run directories, without training; partial runs are marked partial")
    .option("--preset <name>", "the runs of a preset's plan (label, method and overrides from the plan); run directories under --runs")
    .option("--sweep <file>", "the runs of a sweep file's plan, like --preset")
    .option("--runs <dir>", "with --preset/--sweep: the runs directory (default as for `grpo-guard sweep`)")
    .option("--set <key=value>", "with --preset/--sweep: the overrides the sweep was run with (they change run ids)", collect, [])
    .option("--seeds <list>", "with --preset/--sweep: the seeds the sweep was run with")
    .option("--out <dir>", "the summaries directory (default for b3-* sweeps: results/b3/<proxy>)")
    .option("--checkpoint-evals", "first evaluate each finished run (proxy and gold, as its own evaluations) at every kept checkpoint it did not evaluate, kept in <run>/checkpoints/checkpoint-evals.jsonl; the summaries then carry those points too (denser matched-proxy readings)")
    .action(async (runDirs: string[], opts: SummarizeOptions) => {
      if (opts.preset && opts.sweep) throw new UserError("summarize: give --preset or --sweep, not both");
      if (!opts.preset && !opts.sweep) {
        if (runDirs.length === 0) throw new UserError("summarize: give run directories, or --preset NAME / --sweep FILE for a sweep's runs");
        if (!opts.out) throw new UserError("summarize: --out DIR is required for run directories outside a sweep plan");
        let finished = 0;
        const dirs = resolveRunDirs(runDirs);
        if (opts.checkpointEvals) await evaluateRunCheckpoints(dirs);
        for (const dir of dirs) {
          const summary = summarizeRunDir(dir);
          if (summary.status === "finished") finished++;
          console.log(`${writeSummary(opts.out, summary)}  ${summary.status} ${summary.epochsDone}/${summary.epochsPlanned ?? "?"} epochs`);
        }
        console.log(`${runDirs.length} summaries in ${opts.out}: ${finished} finished, ${runDirs.length - finished} partial`);
        return;
      }
      const seeds = parseSeeds(opts.seeds);
      const runsDir = opts.runs ?? (opts.preset ? defaultPresetRuns(opts.preset) : "runs/sweeps");
      const sweep: Sweep = opts.preset ? presetSweep(opts.preset, runsDir, { seeds, extra: opts.set }) : loadSweepFile(opts.sweep!, runsDir, { seeds, extra: opts.set });
      const out = opts.out ?? studySummariesDir(sweep);
      if (!out) throw new UserError(`summarize: --out DIR is required (the sweep "${sweep.name}" is not a b3-* study with a default summaries directory)`);
      const only = runDirs.length ? new Set(runDirs.map((d) => basename(resolve(d)))) : undefined;
      if (opts.checkpointEvals) await evaluateRunCheckpoints(sweep.runs.filter((r) => !only || only.has(r.name)).map((r) => join(runsDir, r.name)));
      const result = summarizeSweep(sweep, runsDir, out, only);
      if (only && result.written.length < only.size) throw new UserError(`summarize: ${only.size - result.written.length} of the run directories given are not runs of the ${sweep.name} plan under ${runsDir} (check --runs, --set, --seeds)`);
      for (const path of result.written) console.log(path);
      console.log(`${result.written.length} summaries in ${out}: ${result.finished} finished, ${result.partial} partial; ${result.missing.length} planned runs have no directory in ${runsDir} yet`);
    });
}
