/**
 * Making a rating study: which weights each argument names (a run directory's final EMA
 * policy, a checkpoint's EMA policy or a weight file), the pair plan (method pairs × prompts, a noise row per pair,
 * left/right drawn per pair from the study's seeded generator, shown in a shuffled order) and
 * the images — both images of a pair sampled by the ODE sampler from the same prompt and
 * the same initial noise, stored content-addressed as images/<sha256>.png.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { initEngine, numpy as np } from "../engine/jax.js";
import { UserError } from "../engine/errors.js";
import { HostRng, KeyChain } from "../engine/prng.js";
import { disposeTree } from "../engine/tree.js";
import { encodeGridPng } from "../diagnostics/image-grid.js";
import { loadVelocityModel, type LoadedWeights } from "../models/io.js";
import type { VelocityModel } from "../models/model.js";
import { tokenizePrompt } from "../models/prompts.js";
import { initialNoise, OdeSampler } from "../sampling/ode.js";
import { runPaths } from "../rl/run-dir.js";
import { checkpointAt, checkpointAtProxy, checkpointEpochOf, checkpointEpochs, isCheckpointFile, knownProxies, loadCheckpointPolicy, parseRunAtEpoch } from "../rl/policy.js";
import { checkVoteStoreLoads, IMAGES_DIR, imagePath, StudyStore, type Method, type Pair, type Question, type StudyConfig } from "./store.js";

/** Where a method's images come from. */
export interface StudySource {
  label: string;
  /** The weight file or training checkpoint (absolute). */
  weights: string;
  /** A run directory's config.yaml, when the argument was a run. */
  runConfig?: string;
  /** When `weights` is a training checkpoint: its epoch and, if the run evaluated it, the proxy reward there. */
  checkpoint?: { epoch: number; proxy: number | null };
}

/** What the command line sets of a study; the rest of its config (shape, token, time) is derived. */
export type StudyOptions = Omit<StudyConfig, "sampleShape" | "token" | "createdAt">;

/** Image side scale of the stored PNGs (28 px digits → 112 px; the page shows them larger). */
const IMAGE_SCALE = 4;
const SAMPLE_BATCH = 50;

/**
 * What each argument names: a run directory (its final EMA policy), `<run>@<epoch>` (the EMA
 * policy of that epoch's checkpoint), a checkpoint file, or a .safetensors weight file.
 */
export function resolveSources(args: readonly string[]): StudySource[] {
  const fromCheckpoint = (file: string, name: string): Omit<StudySource, "label"> & { name: string } => {
    const runDir = dirname(dirname(file));
    const epoch = checkpointEpochOf(file)!;
    const config = runPaths(runDir).config;
    return { name: `${name}@${epoch}`, weights: file, runConfig: existsSync(config) ? config : undefined, checkpoint: { epoch, proxy: knownProxies(runDir).get(epoch) ?? null } };
  };
  const sources = args.map((arg): Omit<StudySource, "label"> & { name: string } => {
    const at = parseRunAtEpoch(arg);
    if (at) {
      const dir = resolve(at.run);
      if (!existsSync(runPaths(dir).config)) throw new UserError(`${arg}: ${at.run} is not a run directory (no config.yaml); <run>@<epoch> names the policy of a run's checkpoint`);
      return fromCheckpoint(checkpointAt(dir, at.epoch), basename(dir));
    }
    const abs = resolve(arg);
    let isDir: boolean;
    try {
      isDir = statSync(abs).isDirectory();
    } catch {
      throw new UserError(`${arg}: not found (expected a run directory, <run>@<epoch>, a checkpoint or a .safetensors weight file)`);
    }
    if (!isDir) {
      if (!abs.endsWith(".safetensors")) throw new UserError(`${arg}: expected a run directory, <run>@<epoch>, a checkpoint or a .safetensors weight file`);
      if (isCheckpointFile(abs)) return fromCheckpoint(abs, basename(dirname(dirname(abs))));
      return { name: basename(abs, ".safetensors"), weights: abs };
    }
    const paths = runPaths(abs);
    if (!existsSync(paths.policy)) throw new UserError(`${arg}: no ${basename(paths.policy)} (a run writes its final EMA policy there when training ends; <run>@<epoch> rates a checkpoint)`);
    return { name: basename(abs), weights: paths.policy, runConfig: existsSync(paths.config) ? paths.config : undefined };
  });
  const seen = new Map<string, number>();
  return sources.map(({ name, ...rest }) => {
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    return { label: n === 1 ? name : `${name} (${n})`, ...rest };
  });
}

/**
 * `--at-proxy`: each run-directory argument becomes `<run>@<epoch>`, its checkpoint whose proxy
 * is nearest `level` (checkpointAtProxy; it may measure checkpoints the run did not evaluate).
 * Other arguments pass unchanged.
 */
export async function argumentsAtProxy(args: readonly string[], level: number, log: (line: string) => void = () => {}): Promise<string[]> {
  await initEngine(); // measuring a checkpoint's proxy samples with it
  const out: string[] = [];
  for (const arg of args) {
    const abs = resolve(arg);
    let isDir = false;
    try {
      isDir = statSync(abs).isDirectory();
    } catch {
      /* not found: resolveSources names it */
    }
    if (!isDir || parseRunAtEpoch(arg)) {
      out.push(arg); // weight files, checkpoints and <run>@<epoch> name their policy already
      continue;
    }
    if (!existsSync(runPaths(abs).config)) throw new UserError(`${arg}: --at-proxy needs run directories (config.yaml, metrics.jsonl, checkpoints/); this one has no config.yaml`);
    const match = await checkpointAtProxy(abs, level, log);
    if (!match) throw new UserError(`${arg}: --at-proxy needs a checkpoint with a proxy (checkpoints of epochs ${checkpointEpochs(abs).join(", ") || "none"}; keep them with checkpoint.keep)`);
    if (!match.reached) log(`warning: ${basename(abs)} never reaches proxy ${level}; rating its nearest checkpoint (epoch ${match.epoch}, proxy ${match.proxy.toFixed(4)})`);
    out.push(`${abs}@${match.epoch}`);
  }
  return out;
}

/** The velocity model and parameters a source names. */
function loadSource(source: StudySource): LoadedWeights<VelocityModel> {
  return source.checkpoint ? loadCheckpointPolicy(source.weights) : loadVelocityModel(source.weights);
}

/** ratings/<a>-vs-<b>…, from the sources' labels. */
export function defaultStudyDir(sources: readonly StudySource[]): string {
  return join("ratings", sources.map((s) => s.label.replace(/[^A-Za-z0-9._-]+/g, "_")).join("-vs-"));
}

export interface PlannedPair {
  id: number;
  prompt: string;
  noiseIndex: number;
  methodA: number;
  methodB: number;
  leftIsA: boolean;
}

/**
 * The pair plan: pair k compares method pair k mod C (C = M(M−1)/2) on prompt
 * ⌊k / C⌋ mod P from noise row k, so every method pair sees the prompts in turn; each pair's
 * side (A left or right) is a fair coin of the seeded generator, and the ids 1..N follow a
 * seeded permutation (each rater then sees the pairs in an order of their own, StudyStore.orderFor).
 */
export function planPairs(methods: number, count: number, prompts: readonly string[], seed: number): PlannedPair[] {
  if (methods < 2) throw new UserError(`a rating study compares at least two runs, got ${methods}`);
  if (prompts.length === 0) throw new UserError("--prompts: give at least one prompt");
  const combos: [number, number][] = [];
  for (let a = 0; a < methods; a++) for (let b = a + 1; b < methods; b++) combos.push([a, b]);
  const rng = new HostRng(seed);
  const planned = Array.from({ length: count }, (_, k) => {
    const [methodA, methodB] = combos[k % combos.length];
    return { prompt: prompts[Math.floor(k / combos.length) % prompts.length], noiseIndex: k, methodA, methodB, leftIsA: rng.uniform() < 0.5 };
  });
  return rng.permutation(count).map((k, position) => ({ id: position + 1, ...planned[k] }));
}

/** What produced a weight file, from the run's config.yaml or the file's metadata. */
function describeMethod(source: StudySource, metadata: Record<string, unknown>): string {
  let trained = metadata.trainedWith as { algorithm?: string; dynamics?: string } | undefined;
  if (source.runConfig) {
    try {
      trained = parseYaml(readFileSync(source.runConfig, "utf8")) as typeof trained;
    } catch {
      /* fall back to the weight file's metadata */
    }
  }
  const at = source.checkpoint ? `, epoch ${source.checkpoint.epoch}${source.checkpoint.proxy !== null ? ` (proxy ${source.checkpoint.proxy.toFixed(3)})` : ""}` : "";
  if (trained?.algorithm) return `${trained.algorithm}${trained.dynamics ? ` on ${trained.dynamics}` : ""}${at}`;
  const recipe = metadata.recipe as { command?: string } | undefined;
  if (recipe?.command === "grpo-guard pretrain") return "pretrained base";
  return "unknown method";
}

const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

/** Sample every pair's two images and write the study (images + study.db) into `dir`. */
export async function createStudy(dir: string, sources: readonly StudySource[], options: StudyOptions, log: (line: string) => void = () => {}): Promise<StudyStore> {
  if (options.pairs < 1) throw new UserError(`--pairs expects a positive integer, got ${options.pairs}`);
  checkVoteStoreLoads();
  await initEngine();
  const loaded = sources.map((source) => ({ source, ...loadSource(source) }));
  try {
    const first = loaded[0];
    const shape = first.model.config.sampleShape;
    for (const { source, model } of loaded.slice(1)) {
      if (model.config.sampleShape.join("x") !== shape.join("x")) {
        throw new UserError(`${source.weights}: samples of shape [${model.config.sampleShape}], but ${first.source.weights} samples [${shape}]; a study compares images of one shape`);
      }
    }
    for (const { source, model } of loaded) {
      for (const prompt of options.prompts) {
        try {
          tokenizePrompt(prompt, model.config.vocab, model.config.promptLength);
        } catch (err) {
          throw new UserError(`--prompts: ${(err as Error).message} in ${source.weights}`);
        }
      }
    }
    if (shape.length !== 3) throw new UserError(`${first.source.weights}: a rating study shows images ([C, H, W] samples), this model samples [${shape}]`);
    const plan = planPairs(sources.length, options.pairs, options.prompts, options.seed);
    const per = shape.reduce((a, b) => a * b, 1);
    const noiseKey = new KeyChain(options.seed).next();
    const noise = (await initialNoise(first.model, noiseKey, options.pairs).data()) as Float32Array;

    mkdirSync(join(dir, IMAGES_DIR), { recursive: true });
    const images = new Map<string, string>(); // `${method}:${noiseIndex}` → hash
    for (const [index, { source, model, params }] of loaded.entries()) {
      const jobs = plan.filter((p) => p.methodA === index || p.methodB === index);
      const sampler = new OdeSampler(model, { steps: options.steps, shift: options.shift, guidance: options.guidance });
      for (let start = 0; start < jobs.length; start += SAMPLE_BATCH) {
        const chunk = jobs.slice(start, start + SAMPLE_BATCH);
        const rows = new Float32Array(chunk.length * per);
        chunk.forEach((p, i) => rows.set(noise.subarray(p.noiseIndex * per, (p.noiseIndex + 1) * per), i * per));
        const x = await sampler.sample(params, np.array(rows, { shape: [chunk.length, ...shape] }), chunk.map((p) => p.prompt));
        const out = (await x.data()) as Float32Array;
        chunk.forEach((p, i) => {
          const png = encodeGridPng(out.subarray(i * per, (i + 1) * per), { cols: 1, shape, pad: 0, scale: IMAGE_SCALE });
          const hash = sha256(png);
          const path = imagePath(dir, hash);
          if (!existsSync(path)) writeFileSync(path, png);
          images.set(`${index}:${p.noiseIndex}`, hash);
        });
        log(`sampled ${Math.min(start + SAMPLE_BATCH, jobs.length)} of ${jobs.length} images of ${source.label}`);
      }
      sampler.dispose();
    }

    const methods: Method[] = loaded.map(({ source, metadata }, id) => ({
      id,
      label: source.label,
      method: describeMethod(source, metadata),
      source: source.weights,
      sha256: sha256(readFileSync(source.weights)),
    }));
    const pairs: Pair[] = plan.map((p) => ({ ...p, imageA: images.get(`${p.methodA}:${p.noiseIndex}`)!, imageB: images.get(`${p.methodB}:${p.noiseIndex}`)! }));
    const config: StudyConfig = { ...options, sampleShape: [...shape], token: randomBytes(16).toString("hex"), createdAt: new Date().toISOString() };
    return StudyStore.create(dir, config, methods, pairs);
  } finally {
    for (const { params } of loaded) disposeTree(params);
  }
}

/** Flags that define a study, for checking a reopened study against the command line. */
export const STUDY_FLAGS: Record<string, keyof StudyOptions> = {
  pairs: "pairs",
  question: "question",
  prompts: "prompts",
  seed: "seed",
  steps: "steps",
  shift: "shift",
  guidance: "guidance",
  simulated: "simulated",
};

/** A reopened study must be the one the command line describes: same weights, same settings. */
export function checkReopened(store: StudyStore, sources: readonly StudySource[], explicit: Partial<StudyOptions>): void {
  const methods = store.methods();
  if (sources.length > 0) {
    const stored = methods.map((m) => m.source).join("\n");
    const given = sources.map((s) => s.weights).join("\n");
    if (stored !== given) {
      throw new UserError(`${store.dir}: this study compares ${methods.map((m) => m.source).join(", ")}; pass the same runs, or a new --study directory`);
    }
  }
  for (const [flag, key] of Object.entries(STUDY_FLAGS)) {
    const value = explicit[key];
    if (value === undefined) continue;
    const stored = store.config[key];
    if (JSON.stringify(value) !== JSON.stringify(stored)) {
      throw new UserError(`--${flag}: the study in ${store.dir} was made with ${JSON.stringify(stored)}, not ${JSON.stringify(value)}; leave the flag out to continue it, or use a new --study directory`);
    }
  }
}

/** Weight files that changed since the study was made (their images no longer show them). */
export function changedWeights(store: StudyStore): string[] {
  return store
    .methods()
    .filter((m) => !existsSync(m.source) || sha256(readFileSync(m.source)) !== m.sha256)
    .map((m) => m.source);
}
