import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { Command } from "commander";
import { UserError } from "../../engine/errors.js";
import { FIGURES, imageTimelineFigure, writeReport } from "../../dashboard/report.js";
import { gridRegion } from "../../diagnostics/image-grid.js";
import { COMPARE_PRESETS, comparisonTable, frontierFigure, matchedProxyTables, perStepTable, type MethodRuns } from "../../experiments/compare.js";
import { loadRun } from "../../dashboard/runs.js";
import { runPaths } from "../../rl/run-dir.js";
import { collect, positiveInt } from "../options.js";
import { defaultPresetRuns, DEFAULT_LOCAL_POOL, failureReport, filePresets, presetFile, presetSweep, runSweep } from "../../sweep/run-sweep.js";
import type { Sweep } from "../../sweep/spec.js";
import { studySummariesDir, sweepProxy, writeStudyReport } from "../../study/sweep-study.js";
import { defaultSummariesDir, reportKey } from "../../study/b3-report.js";
import { parseSeeds, reportCommand } from "./sweep.js";

interface CompareOptions {
  preset: string;
  seeds?: string;
  methods?: string;
  epochs?: number;
  set: string[];
  runs?: string;
  results?: string;
  summaries?: string;
  fromSummaries?: string | true;
  headline?: string;
  processes?: number;
  threads?: number;
  queue?: string;
}

export function registerCompare(program: Command): void {
  program
    .command("compare")
    .description("benchmark B2: Flow-GRPO vs GRPO-Guard and DanceGRPO vs Dance+Guard, same seeds and budget; writes a results page (with a sweep-file preset such as b3-aesthetic: the B3 study's section of the page, from run summaries)")
    .option("--preset <name>", `comparison preset (${Object.keys(COMPARE_PRESETS).join(", ")}) or a study sweep file of the package, sweeps/<name>.yaml (${filePresets().join(", ") || "none"}: writes the b3:<name> section of --results)`, "digits")
    .option("--seeds <list>", "comma-separated seeds (default: the preset's)")
    .option("--methods <list>", "comma-separated method labels to run (default: all of the preset's)")
    .option("--epochs <n>", "epochs per run (default: the preset's)", positiveInt("--epochs"))
    .option("--set <key=value>", "override a config field in every run (repeatable)", collect, [])
    .option("--runs <dir>", "where the runs go (finished runs are reused, interrupted ones resumed; default runs/compare, runs/b3 for b3-* presets)")
    .option("--results <file>", "the results page to write, figures beside it (default docs/results-b2.md for digits, docs/results.md for the B3 presets)")
    .option("--processes <n>", `local pool: worker processes (default ${DEFAULT_LOCAL_POOL.processes})`, positiveInt("--processes"))
    .option("--threads <n>", `local pool: jax-js threads per process (default ${DEFAULT_LOCAL_POOL.threads})`, positiveInt("--threads"))
    .option("--queue <url>", "train through BullMQ on redis://[:password@]HOST:PORT (workers share --runs)")
    .option("--summaries <dir>", "sweep-file presets: where each run's summary is written (default results/b3/<proxy>)")
    .option("--headline <file>", "sweep-file presets: also write the generated headline block between <!-- b3:<name>-headline:begin/end --> of this file (e.g. README.md)")
    .option("--from-summaries [dir]", "sweep-file presets: train nothing; write the page from the run summaries in dir (default results/b3/<proxy>)")
    .action(async (opts: CompareOptions) => {
      if (presetFile(opts.preset) !== null) return studyCompare(opts);
      const results = opts.results ?? "docs/results-b2.md";
      if (opts.fromSummaries !== undefined || opts.summaries !== undefined) throw new UserError(`--summaries/--from-summaries: the built-in preset "${opts.preset}" writes its page from run directories; they are for sweep-file presets (${filePresets().join(", ")})`);
      const runsDir = opts.runs ?? defaultPresetRuns(opts.preset);
      const preset = COMPARE_PRESETS[opts.preset];
      const seeds = parseSeeds(opts.seeds);
      const labels = preset.variants.map((v) => v.label);
      const methods = opts.methods?.split(",").map((m) => m.trim());
      for (const m of methods ?? []) if (!labels.includes(m)) throw new UserError(`--methods: unknown method "${m}" (the ${opts.preset} preset has ${labels.join(", ")})`);
      // The comparison is a sweep preset: the same planner, pool/queue and run store as `grpo-guard sweep`.
      const sweep = presetSweep(opts.preset, runsDir, { seeds, epochs: opts.epochs, extra: opts.set });
      const plan = sweep.runs.filter((run) => !methods || methods.includes(run.point!));
      const { tracker, stopped } = await runSweep({ ...sweep, runs: plan }, { runsDir, queue: opts.queue, processes: opts.processes, threads: opts.threads });
      if (stopped) {
        console.log(`stopped; run the same command again to continue`);
        return;
      }
      const failure = failureReport(tracker);
      if (failure) throw failure;
      for (const run of plan) if (tracker.runs.get(run.id)?.outcome === "finished") console.log(`  finished earlier: ${run.name}`);
      const done = plan.map((run) => ({ variant: preset.variants.find((v) => v.label === run.point)!, dir: runPaths(join(runsDir, run.name)).dir }));
      const figuresDir = join(dirname(results), "results");
      writeReport(done.map((r) => r.dir), figuresDir, { imageTimeline: false });
      const groups: MethodRuns[] = preset.variants
        .filter((variant) => !methods || methods.includes(variant.label))
        .map((variant) => ({ variant, runs: done.filter((r) => r.variant.label === variant.label).map((r) => loadRun(r.dir)) }));
      writeFileSync(join(figuresDir, "frontier.svg"), frontierFigure(groups));
      // Image timeline of each method's first seed: the first 8 samples of digits 0–4, three epochs.
      const firstSeeds = groups.flatMap((g) => g.runs.slice(0, 1).map((run) => ({ run, name: `${g.variant.label} (${run.name.slice(run.name.lastIndexOf("-") + 1)})` })));
      const crop = gridRegion([1, 28, 28], 8, 5);
      const timeline = imageTimelineFigure(firstSeeds.map((r) => r.run), firstSeeds.map((r) => r.name), 3, crop, crop.width);
      if (timeline) writeFileSync(join(figuresDir, FIGURES.images), timeline);
      const rel = (p: string) => relative(dirname(results), p) || ".";
      const figure = (file: string, alt: string) => `![${alt}](${rel(join(figuresDir, file))})`;
      const page = [
        `# Results: ${opts.preset} comparison (benchmark B2)`,
        ``,
        `Written by \`grpo-guard compare --preset ${opts.preset}${seeds ? ` --seeds ${seeds.join(",")}` : ""}${methods ? ` --methods ${methods.join(",")}` : ""}${opts.epochs ? ` --epochs ${opts.epochs}` : ""}${opts.set.map((s) => ` --set ${s}`).join("")}\` (benchmark B2; the B3 study is [results.md](results.md)).`,
        `Base config \`${preset.config}\` with ${[...preset.overrides, ...opts.set].map((o) => `\`${o}\``).join(", ") || "no overrides"}; ${plan.length} runs (${groups.length} methods × ${(seeds ?? preset.seeds).length} seeds), ${opts.epochs ?? preset.epochs} epochs each, evaluation every ${preset.evalEvery} epochs.`,
        ``,
        keptFindings(results),
        ``,
        `## Gold against proxy (the frontier)`,
        ``,
        figure("frontier.svg", "frontier"),
        ``,
        `## Gold at matched proxy`,
        ``,
        matchedProxyTables(groups),
        ``,
        `## Per method`,
        ``,
        `Proxy = the digit-ocr reward of the EMA policy on the fixed evaluation set; gold = the gold panel's score (judge accuracy × diversity × KID terms, docs/gold-panel.md). Statistics are mean ± std over seeds.`,
        ``,
        comparisonTable(groups),
        ``,
        `## Importance ratios and clipping per sampling step`,
        ``,
        `Means over every trained epoch, then over seeds (step 0 = pure noise). The clipped log-ratio is what the clip acts on: log r for Flow-GRPO, the normalised log ρ̂ for GRPO-Guard (E9).`,
        ``,
        perStepTable(groups),
        ``,
        `## Figures of every run`,
        ``,
        `Per-run table: [results/summary.md](${rel(join(figuresDir, "summary.md"))}).`,
        ``,
        figure("proxy-gold.svg", "proxy and gold per epoch"),
        ``,
        figure("ratio-distribution.svg", "log-ratio distribution per step"),
        ``,
        figure("clip-fractions.svg", "clip fractions by advantage sign"),
        ``,
        `Image timeline (first seed of each method; the first 8 of 16 evaluation samples of digits 0–4, same noise in every run):`,
        ``,
        figure("image-timeline.svg", "image timeline"),
        ``,
      ].join("\n");
      mkdirSync(dirname(results), { recursive: true });
      writeFileSync(results, page);
      console.log(`\nwrote ${results} and ${figuresDir}/`);
    });
}

/**
 * `compare --preset NAME` for a sweep file of the package (the B3 study): train the sweep
 * (summaries written as runs finish), then rewrite the page's b3:<name> section from the
 * summaries; with --from-summaries, only the latter.
 */
async function studyCompare(opts: CompareOptions): Promise<void> {
  const page = opts.results ?? "docs/results.md";
  const seeds = parseSeeds(opts.seeds);
  const runsDir = opts.runs ?? defaultPresetRuns(opts.preset);
  const full: Sweep = presetSweep(opts.preset, runsDir, { seeds, epochs: opts.epochs, extra: opts.set });
  const methods = opts.methods?.split(",").map((m) => m.trim());
  const known = [...new Set(full.runs.flatMap((r) => [r.method, r.point ?? r.label]))];
  for (const m of methods ?? []) if (!known.includes(m)) throw new UserError(`--methods: unknown method or point "${m}" (the ${opts.preset} sweep has ${known.join(", ")})`);
  const sweep: Sweep = { ...full, runs: full.runs.filter((r) => !methods || methods.includes(r.method) || methods.includes(r.point ?? r.label)) };
  const fallback = studySummariesDir(sweep) ?? defaultSummariesDir(sweepProxy(sweep));
  const summariesDir = typeof opts.fromSummaries === "string" ? opts.fromSummaries : (opts.summaries ?? fallback);
  let failure: UserError | null = null;
  if (opts.fromSummaries === undefined) {
    const { tracker, stopped } = await runSweep(sweep, { runsDir, queue: opts.queue, processes: opts.processes, threads: opts.threads, summariesDir });
    if (stopped) {
      console.log(`stopped; run the same command again to continue`);
      return;
    }
    // A failed run does not stop the page: it is written from the summaries that exist (and says how many), then the failure is reported.
    failure = failureReport(tracker);
  }
  // --methods and --seeds choose what to train; the page always reports the whole study (the sweep
  // file's seeds, every method), so a subset never claims "n of n planned".
  const study: Sweep = seeds || methods ? presetSweep(opts.preset, runsDir, { epochs: opts.epochs, extra: opts.set }) : full;
  const command = reportCommand(study, { preset: opts.preset }, summariesDir, { set: opts.set }) + (opts.epochs ? ` --epochs ${opts.epochs}` : "");
  const report = writeStudyReport(study, { summariesDir, page: page, figuresDir: join(dirname(page), "results"), command, headlineFile: opts.headline });
  const runs = report.methods.flatMap((m) => m.settings.flatMap((s) => s.finished));
  const figures = [...(report.figure === null ? [] : [report.figureFile]), report.trajectoriesFile];
  console.log(`wrote the b3:${reportKey(study.name)} section of ${page} and ${figures.join(", ")}: ${runs.length} finished runs of ${study.runs.length} planned`);
  if (failure) throw failure;
}

const FINDINGS_START = "<!-- findings: kept when this page is rewritten -->";
const FINDINGS_END = "<!-- /findings -->";

/** The hand-written findings section of an existing results page (or an empty one to fill in). */
function keptFindings(path: string): string {
  const previous = existsSync(path) ? readFileSync(path, "utf8") : "";
  const start = previous.indexOf(FINDINGS_START);
  const end = previous.indexOf(FINDINGS_END);
  const body = start >= 0 && end > start ? previous.slice(start + FINDINGS_START.length, end).trim() : "## Findings\n\n(to be written from the figures and tables below)";
  return `${FINDINGS_START}\n${body}\n${FINDINGS_END}`;
}
