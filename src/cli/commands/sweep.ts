import { dirname, join } from "node:path";
import type { Command } from "commander";
import { UserError } from "../../engine/errors.js";
import { loadSweepFile, type Sweep } from "../../sweep/spec.js";
import { defaultPresetRuns, DEFAULT_LOCAL_POOL, failureReport, filePresets, presetFile, presetSweep, runSweep, SWEEP_PRESETS } from "../../sweep/run-sweep.js";
import { isB3Sweep, reportKey } from "../../study/b3-report.js";
import { studySummariesDir, writeStudyReport } from "../../study/sweep-study.js";
import { collect, positiveInt } from "../options.js";

interface SweepOptions {
  preset?: string;
  set: string[];
  seeds?: string;
  runs?: string;
  processes?: number;
  threads?: number;
  queue?: string;
  detach?: boolean;
  status?: string;
  plan?: boolean;
  pollMs?: number;
  summaries?: string | false;
  results: string;
  headline?: string;
}

export function parseSeeds(raw: string | undefined, flag = "--seeds"): number[] | undefined {
  return raw?.split(",").map((s) => {
    const n = Number(s);
    if (s.trim() === "" || !Number.isInteger(n)) throw new UserError(`${flag} expects comma-separated integers, got "${raw}"`);
    return n;
  });
}

/** The command that rewrites a study's report section from its summaries without training. */
export function reportCommand(sweep: Sweep, source: { preset?: string; file?: string }, summariesDir: string, opts: { set: readonly string[]; seeds?: string }): string {
  const extra = `${opts.seeds ? ` --seeds ${opts.seeds}` : ""}${opts.set.map((s) => ` --set ${s}`).join("")}`;
  const preset = source.preset ?? (filePresets().includes(sweep.name) ? sweep.name : null);
  return preset ? `grpo-guard compare --preset ${preset} --from-summaries ${summariesDir}${extra}` : `grpo-guard sweep ${source.file} --summaries ${summariesDir}${extra}`;
}

export function registerSweep(program: Command): void {
  program
    .command("sweep [file]")
    .description("train every run of a sweep (a YAML sweep file or --preset) in a local pool of processes, or through a Redis queue with --queue; finished runs are skipped, partial ones resumed")
    .option("--preset <name>", `a built-in sweep (${SWEEP_PRESETS.join(", ")}: the B2 comparison; \`compare\` also writes its results page) or a sweep file of the package, sweeps/<name>.yaml (${filePresets().join(", ") || "none"})`)
    .option("--set <key=value>", "override a config field in every run (repeatable)", collect, [])
    .option("--seeds <list>", "comma-separated seeds, replacing the sweep's")
    .option("--runs <dir>", "the runs directory (default runs/sweeps; runs/compare for the built-in presets, runs/b3 for b3-* presets)")
    .option("--processes <n>", `local pool: worker processes (default ${DEFAULT_LOCAL_POOL.processes})`, positiveInt("--processes"))
    .option("--threads <n>", `local pool: jax-js threads per process (default ${DEFAULT_LOCAL_POOL.threads})`, positiveInt("--threads"))
    .option("--queue <url>", "submit the runs to BullMQ on redis://[:password@]HOST:PORT instead (start workers with `grpo-guard worker`)")
    .option("--detach", "with --queue: enqueue and return without following the sweep")
    .option("--status <file>", "the sweep status JSON for dashboards (default <runs>/sweep-status.json)")
    .option("--poll-ms <ms>", "with --queue: how often job states are checked besides the queue's events", positiveInt("--poll-ms"), 2000)
    .option("--summaries <dir>", "write each done run's summary (small JSON, docs/sweeps.md) here (default for b3-* sweeps: results/b3/<proxy>; none for others)")
    .option("--no-summaries", "write no run summaries (and no b3 report)")
    .option("--results <file>", "b3-* sweeps: the page whose b3:<name> section is rewritten after the sweep (figures in its results/ folder)", "docs/results.md")
    .option("--headline <file>", "b3-* sweeps: also write the generated headline block between <!-- b3:<name>-headline:begin/end --> of this file (e.g. README.md)")
    .option("--plan", "print the runs (id, name, overrides) and exit")
    .action(async (file: string | undefined, opts: SweepOptions) => {
      if (Boolean(file) === Boolean(opts.preset)) throw new UserError("sweep: give a sweep file or --preset NAME (one of them)");
      if (opts.detach && !opts.queue) throw new UserError("sweep: --detach needs --queue");
      if (opts.queue && (opts.processes || opts.threads)) throw new UserError("sweep: --processes/--threads set the local pool; with --queue each `grpo-guard worker` sets its own");
      const seeds = parseSeeds(opts.seeds);
      const runsDir = opts.runs ?? (opts.preset ? defaultPresetRuns(opts.preset) : "runs/sweeps");
      let sweep: Sweep;
      if (opts.preset) sweep = presetSweep(opts.preset, runsDir, { seeds, extra: opts.set });
      else sweep = loadSweepFile(file!, runsDir, { extra: opts.set, seeds });
      if (opts.plan) {
        for (const run of sweep.runs) console.log(`${run.id}  ${run.name}  ${run.overrides.join(" ")}`);
        return;
      }
      const summariesDir = opts.summaries === false ? null : (opts.summaries ?? studySummariesDir(sweep));
      const { tracker, stopped } = await runSweep(sweep, { runsDir, queue: opts.queue, detach: opts.detach, processes: opts.processes, threads: opts.threads, statusFile: opts.status, pollMs: opts.pollMs, summariesDir });
      if (stopped) {
        console.log("stopped; submit the same sweep again to continue");
        return;
      }
      if (summariesDir && isB3Sweep(sweep.name) && !opts.detach) {
        const command = reportCommand(sweep, { preset: opts.preset, file }, summariesDir, opts);
        const report = writeStudyReport(sweep, { summariesDir, page: opts.results, figuresDir: join(dirname(opts.results), "results"), command, headlineFile: opts.headline });
        const figures = [...(report.figure === null ? [] : [report.figureFile]), report.trajectoriesFile];
        console.log(`wrote the b3:${reportKey(sweep.name)} section of ${opts.results} and ${figures.join(", ")} (regenerate with: ${command})`);
      }
      const failure = failureReport(tracker);
      if (failure) throw failure;
      if (opts.preset && presetFile(opts.preset) === null && !opts.detach) console.log(`write the results page from these runs with: grpo-guard compare --preset ${opts.preset} --runs ${runsDir}${opts.set.map((s) => ` --set ${s}`).join("")}${opts.seeds ? ` --seeds ${opts.seeds}` : ""}`);
    });
}
