import { writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import { UserError } from "../../engine/errors.js";
import { plural, resultsMarkdown, studyResults, votesCsv } from "../../rating/results.js";
import { sizingTable } from "../../rating/stats.js";
import { LOOPBACK_HOSTS, startRatingServer } from "../../rating/server.js";
import { QUESTIONS, StudyStore, type Question } from "../../rating/store.js";
import { argumentsAtProxy, changedWeights, checkReopened, createStudy, defaultStudyDir, resolveSources, STUDY_FLAGS, type StudyOptions } from "../../rating/study.js";
import { DEFAULT_SAMPLE_STEPS } from "../defaults.js";
import { finiteNumber, nonNegativeInt, positiveInt, positiveNumber } from "../options.js";

interface RateOptions {
  study?: string;
  pairs: number;
  question: Question;
  prompts: string;
  seed: number;
  steps: number;
  shift: number;
  guidance: number;
  simulated: boolean;
  port: number;
  host: string;
  export?: string;
  report?: boolean;
  out?: string;
  bootstrap: number;
  plan?: boolean;
  raters: number;
  agreement: number;
  atProxy?: number;
}

function agreementValue(raw: string): number {
  const x = Number(raw);
  if (!Number.isFinite(x) || x < 0 || x > 1) throw new InvalidArgumentError(`--agreement expects a number from 0 to 1, got "${raw}"`);
  return x;
}

/** `--plan`: votes and pairs for a range of interval half-widths (docs/human-eval.md). */
function printPlan(raters: number, rho: number): void {
  console.log(`95 % interval half-width of a preference share, normal approximation 1.96·sqrt(p(1−p)/n);`);
  console.log(`pairs for ${plural(raters, "rater")} per pair whose answers on a pair correlate by ρ = ${rho} (effective votes = pairs·m / (1 + (m−1)ρ)):`);
  console.log("half-width  votes (p = 0.5)  votes (p = 0.7)  pairs (p = 0.5)");
  for (const row of sizingTable([0.2, 0.15, 0.1, 0.075, 0.05], raters, rho)) {
    console.log(`±${row.halfWidth.toFixed(3).padEnd(10)} ${String(row.votesAtHalf).padStart(15)}  ${String(row.votesAt70).padStart(15)}  ${String(row.pairs).padStart(15)}`);
  }
}

function writeOutputs(store: StudyStore, opts: RateOptions): void {
  if (opts.export !== undefined && opts.report && opts.out !== undefined) throw new UserError("--out: give it with --export or with --report, not both");
  const [methods, pairs, votes] = [store.methods(), store.pairs(), store.votes()];
  if (opts.export !== undefined) {
    if (opts.export !== "csv") throw new UserError(`--export: expected "csv", got "${opts.export}"`);
    const out = opts.out ?? join(store.dir, "votes.csv");
    writeFileSync(out, votesCsv(store.config, methods, pairs, votes));
    console.log(`wrote ${out} (${plural(votes.length, "vote")}${store.config.simulated ? ", SIMULATED" : ""})`);
  }
  if (opts.report) {
    const out = opts.out ?? join(store.dir, "results.md");
    writeFileSync(out, resultsMarkdown(studyResults(store.config, methods, pairs, votes, { resamples: opts.bootstrap })));
    console.log(`wrote ${out} (${plural(votes.length, "vote")} from ${plural(new Set(votes.map((v) => v.rater)).size, "rater")} on ${plural(pairs.length, "pair")}${store.config.simulated ? ", SIMULATED" : ""})`);
  }
}

/** `rate`: a blind pairwise A/B study of runs' final policies, served to raters in a browser. */
export function registerRate(program: Command): void {
  program
    .command("rate")
    .description("blind pairwise human rating (win / tie / lose) of runs' final EMA policies, served on 127.0.0.1; votes kept in the study's SQLite file")
    .argument("[runs...]", "run directories (their policy-ema.safetensors), <run>@<epoch> (the EMA policy of that epoch's checkpoint), checkpoint files or .safetensors weight files; two or more to make a study, none to reopen --study")
    .option("--at-proxy <level>", "rate each run directory's policy at a matched proxy reward: its checkpoint whose proxy is nearest <level> (checkpoints between the evaluations around the crossing are measured first)", finiteNumber("--at-proxy"))
    .option("--study <dir>", "study directory (default: ratings/<a>-vs-<b>); an existing study is continued")
    .option("--pairs <n>", "image pairs in a new study", positiveInt("--pairs"), 20)
    .addOption(new Option("--question <q>", "likeness: which looks more like a real handwritten digit; alignment: which is a clearer <prompt>").choices(QUESTIONS).default("likeness"))
    .option("--prompts <list>", "comma-separated prompts the pairs cycle through", "0,1,2,3,4,5,6,7,8,9")
    .option("--seed <n>", "seed of the noise, the left/right sides and the showing order", nonNegativeInt("--seed"), 0)
    .option("--steps <n>", "ODE Euler steps", positiveInt("--steps"), DEFAULT_SAMPLE_STEPS)
    .option("--shift <x>", "schedule shift (E1)", positiveNumber("--shift"), 3)
    .option("--guidance <w>", "classifier-free guidance scale (1 = none)", positiveNumber("--guidance"), 1)
    .option("--simulated", "label the study's votes as simulated (scripted raters for tests and demos), in every page and report", false)
    .option("-p, --port <n>", "port (0 = any free port)", nonNegativeInt("--port"), 8300)
    .option("--host <address>", "address to listen on; anything but loopback exposes the page to the network (a warning is printed)", "127.0.0.1")
    .option("--export <format>", "write the votes as CSV (format: csv) instead of serving")
    .option("--report", "write the results as markdown (win/tie/lose with Wilson intervals, Bradley–Terry, κ) instead of serving")
    .option("-o, --out <file>", "file for --export or --report (default: in the study directory)")
    .option("--bootstrap <n>", "bootstrap resamples for the Bradley–Terry intervals in --report", positiveInt("--bootstrap"), 1000)
    .option("--plan", "print how many votes and pairs a study needs for a given interval width, then exit")
    .option("--raters <m>", "raters per pair, for --plan", positiveInt("--raters"), 1)
    .option("--agreement <rho>", "correlation of raters' answers on the same pair (e.g. a pilot's κ), for --plan", agreementValue, 0)
    .action(async (runs: string[], opts: RateOptions, command: Command) => {
      if (opts.plan) return printPlan(opts.raters, opts.agreement);
      if (opts.port > 65535) throw new UserError(`--port expects a port number up to 65535, got ${opts.port}`);
      const sources = resolveSources(opts.atProxy === undefined ? runs : await argumentsAtProxy(runs, opts.atProxy, (line) => process.stderr.write(line + "\n")));
      for (const s of sources) {
        if (s.checkpoint) console.log(`${s.label}: checkpoint of epoch ${s.checkpoint.epoch}${s.checkpoint.proxy !== null ? `, proxy ${s.checkpoint.proxy.toFixed(3)}` : " (proxy not measured)"}`);
      }
      const dir = opts.study ?? (sources.length > 0 ? defaultStudyDir(sources) : undefined);
      if (!dir) throw new UserError("rate: give two or more runs to compare (run directories or .safetensors files), or --study DIR to continue a study");
      const options: StudyOptions = {
        name: basename(dir),
        question: opts.question,
        prompts: opts.prompts.split(",").map((p) => p.trim()),
        pairs: opts.pairs,
        seed: opts.seed,
        steps: opts.steps,
        shift: opts.shift,
        guidance: opts.guidance,
        simulated: opts.simulated,
      };
      const explicit: Partial<StudyOptions> = {};
      for (const [flag, key] of Object.entries(STUDY_FLAGS)) {
        if (command.getOptionValueSource(flag) === "cli") Object.assign(explicit, { [key]: options[key] });
      }

      if (opts.export !== undefined || opts.report) {
        const store = StudyStore.open(dir);
        try {
          checkReopened(store, sources, {});
          writeOutputs(store, opts);
        } finally {
          store.close();
        }
        return;
      }

      let store: StudyStore;
      if (StudyStore.exists(dir)) {
        store = StudyStore.open(dir);
        checkReopened(store, sources, explicit);
        for (const file of changedWeights(store)) process.stderr.write(`warning: ${file} changed or is gone since the study was made; its images are those of the old weights\n`);
        const votes = store.votes();
        console.log(`continuing study ${dir}: ${plural(store.pairs().length, "pair")}, ${plural(votes.length, "vote")} from ${plural(new Set(votes.map((v) => v.rater)).size, "rater")} so far`);
      } else {
        if (sources.length < 2) throw new UserError(`${dir}: no study here yet; give two or more runs to compare`);
        console.log(`making study ${dir}: ${options.pairs} pairs of ${sources.map((s) => s.label).join(" / ")}, ${options.steps} ODE steps`);
        store = await createStudy(dir, sources, options, (line) => process.stderr.write(line + "\n"));
      }
      if (!LOOPBACK_HOSTS.has(opts.host)) {
        process.stderr.write(`warning: --host ${opts.host}: the rating page is reachable from other machines; anyone with the link (it carries the study's token) can vote. Use this only on a network you trust.\n`);
      }
      let server;
      try {
        server = await startRatingServer({ store, port: opts.port, host: opts.host, log: (line) => process.stderr.write(line + "\n") });
      } catch (err) {
        store.close();
        throw err;
      }
      console.log(`rating page at ${server.url} (votes saved in ${join(dir, "study.db")}; Ctrl-C to stop, run the same command to continue)`);
      console.log(`results: grpo-guard rate --study ${dir} --report`);
      await new Promise<void>((resolve) => {
        const stop = () => void server.close().then(resolve);
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      store.close();
    });
}
