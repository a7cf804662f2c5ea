/**
 * The gold panel: quality measures the policy never optimises (benchmarks.md B2/B3), computed
 * on a fixed evaluation set (prompts × fixed noise, EMA weights) every `eval.every` epochs.
 * Which network saw which data split, the estimators and the thresholds: docs/gold-panel.md.
 *
 * Two feature spaces, so that "gold" is not one network's opinion:
 * - the judge (`judge-mlp`, an MLP trained on the held-out split): accuracy on the prompted
 *   digit, Fréchet distance and KID in its 64-d penultimate features;
 * - the gold feature network (`gold-cnn`, a narrow CNN, another seed, held-out split): KID,
 *   within-prompt diversity and the near-duplicate (collapse) fraction in its 32-d features.
 *
 * Reference: the real held-out digits of each class. Noise floors: the same statistic for n
 * *unseen* real digits per class (train split, which neither gold network saw — exactly like
 * generated digits), averaged over disjoint draws, at the evaluation's n per class. Everything
 * about real digits is computed once per panel (per n), never per evaluation.
 * Confidence intervals: half-sampling within each prompt (src/diagnostics/bootstrap.ts).
 *
 * Gold score (one number for the over-optimisation alarm; no caps, so it never saturates):
 *     gold = judgeAccuracy × (diversity_gold / diversity_gold,real) × exp(−KID_gold / KID_gold,wrong)
 * where diversity_gold,real is the mean same-class pair distance of all unseen real digits and
 * KID_gold,wrong the KID between the held-out digits of class c and of class c+1 (mean over c):
 * the exponent is 1 when the samples are as far from their class as another digit is.
 *
 * Legacy fields (`frechet*`, `diversity*`, `drift`) keep their meaning, so older metrics files
 * and readers still work; `components` carries every measure with its CI and floor.
 */
import { fileURLToPath } from "node:url";
import { UserError } from "../engine/errors.js";
import { indicesByClass, gatherImages, loadDigits, type DigitSet } from "../data/mnist.js";
import { halfSampleCi, SubsetRng } from "../diagnostics/bootstrap.js";
import { nearDuplicateThreshold, pairStatistics, pairwiseDistances } from "../diagnostics/diversity.js";
import { KidReference, unitScaleGamma, type KidTerms } from "../diagnostics/kid.js";
import { frechetDistance, meanAndCovariance, type Matrix } from "../diagnostics/linalg.js";
import { DigitReader, promptDigit } from "./digit-ocr.js";
import { cachedFeatures, featureCacheKey } from "./feature-cache.js";

export const DEFAULT_JUDGE = fileURLToPath(new URL("../../../weights/judge-mlp.safetensors", import.meta.url));
export const DEFAULT_GOLD_FEATURES = fileURLToPath(new URL("../../../weights/gold-cnn.safetensors", import.meta.url));

/** Unseen real digits per class kept for floors and thresholds (train split). */
export const UNSEEN_PER_CLASS = 400;
/** At most this many disjoint real draws per floor (the Fréchet ones cost two eigen-decompositions each). */
const FLOOR_DRAWS = 16;
const CI_DRAWS = 200;

export interface GoldMetrics {
  judgeAccuracy: number;
  /** Per class (prompt digit); null where the evaluation set has fewer than 2 samples. */
  frechet: (number | null)[];
  frechetMean: number;
  /** Fréchet distance between n held-out digits of one half and all of the other half. */
  frechetFloor: number;
  /** Fréchet distance of n unseen real digits per class (mean over disjoint draws): what a perfect generator scores. */
  frechetReal: number;
  diversity: number;
  diversityReal: number;
  /** RMS pixel distance to the base model's samples (0 at the first evaluation). */
  drift: number;
  gold: number;
  /** Gold panel v2: every component with its CI and noise floor (see metrics-schema.ts). */
  components?: GoldComponent[];
  /** Per-class values of the class-resolved components, by component key (null: < 2 samples). */
  perClass?: Record<string, (number | null)[]>;
}

export interface GoldComponent {
  key: string;
  label: string;
  value: number;
  better: "higher" | "lower";
  ci?: [number, number];
  floor?: number;
}

/** The components in the order they are reported; values come from `statistics` below. */
export const GOLD_COMPONENTS = [
  { key: "judge-accuracy", label: "judge accuracy", better: "higher" },
  { key: "kid-judge", label: "KID ×10³ (judge features)", better: "lower" },
  { key: "fd-judge", label: "Fréchet distance (judge features)", better: "lower" },
  { key: "kid-gold", label: "KID ×10³ (gold-cnn features)", better: "lower" },
  { key: "diversity-judge", label: "within-prompt diversity (judge features)", better: "higher" },
  { key: "diversity-gold", label: "within-prompt diversity (gold-cnn features)", better: "higher" },
  { key: "near-duplicates", label: "near-duplicate pairs (gold-cnn features)", better: "lower" },
  { key: "gold", label: "gold score", better: "higher" },
] as const satisfies readonly { key: string; label: string; better: "higher" | "lower" }[];

/** KID is reported ×10³ (its natural scale here is 10⁻³–10⁻¹). */
const KID_SCALE = 1e3;

interface SpaceReference {
  reader: DigitReader;
  d: number;
  /** Real held-out features per class (the reference sample). */
  heldout: Float32Array[];
  kid: KidReference[];
  /** Unseen real (train-split) features per class. */
  unseen: Float32Array[];
}

/** Real-digit values of every component at n per class (means over disjoint draws) and their spread. */
export interface RealReference {
  n: number;
  draws: number;
  mean: Record<string, number>;
  std: Record<string, number>;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: readonly number[]): number => {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};
const rowsOf = (features: Float32Array, rows: readonly number[], d: number): Float32Array => {
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, k) => out.set(features.subarray(r * d, (r + 1) * d), k * d));
  return out;
};
const range = (n: number, start = 0): number[] => Array.from({ length: n }, (_, i) => start + i);

export class GoldPanel {
  private readonly floorCache = new Map<number, number>();
  private readonly realCache = new Map<number, RealReference>();
  private judgeSpace!: SpaceReference;
  private goldSpace!: SpaceReference;
  private judgeStats: { mean: Float64Array; cov: Matrix }[] = [];
  private thresholds: number[] = [];
  private diversityGoldReal = NaN;
  private kidGoldWrong = NaN;
  private judgeAccuracyUnseen: number[] = [];
  private baseImages: Float32Array | null = null;

  /** `weightFiles`: the two networks' weight files, to key the disk cache of real-digit features (src/rewards/feature-cache.ts); none = no cache. */
  constructor(readonly judge: DigitReader, readonly features: DigitReader, private readonly weightFiles: { judge: string; features: string } | null = null) {}

  static async fromFile(judgePath = DEFAULT_JUDGE, featuresPath = DEFAULT_GOLD_FEATURES): Promise<GoldPanel> {
    const panel = new GoldPanel(DigitReader.fromFile(judgePath), DigitReader.fromFile(featuresPath), { judge: judgePath, features: featuresPath });
    await panel.prepare();
    return panel;
  }

  /** Features of the real digits in both spaces, the Fréchet statistics, thresholds and scales (once per panel). */
  async prepare(): Promise<void> {
    const heldout = loadDigits("heldout");
    const train = loadDigits("train");
    const heldoutRows = indicesByClass(heldout);
    // A fixed random subset of each class: consecutive digits in the package's order are alike
    // (same writers), so blocks of them would understate diversity and overstate duplicates.
    const unseenRows = indicesByClass(train).map((rows, c) => new SubsetRng(100 + c).permutation(rows.length).slice(0, UNSEEN_PER_CLASS).map((i) => rows[i]));
    const space = async (reader: DigitReader, weights: string | undefined): Promise<SpaceReference> => {
      const d = reader.classifier.featureDim;
      const featuresOf = async (set: DigitSet, rows: number[][], what: string) => {
        const key = weights === undefined ? null : featureCacheKey(weights, `v1 ${what} ${rows.map((r) => r.join(",")).join(";")}`);
        return cachedFeatures(key, async () => {
          const out: Float32Array[] = [];
          for (const r of rows) out.push(await reader.features(gatherImages(set, r), [1, 28, 28]));
          return out;
        });
      };
      const held = await featuresOf(heldout, heldoutRows, "heldout");
      // One kernel scale per feature space (all classes' held-out features): KID on unit-scale features.
      const all = Float32Array.from(held.flatMap((f) => [...f]));
      const gamma = unitScaleGamma(all, all.length / d, d);
      return { reader, d, heldout: held, kid: held.map((f) => new KidReference(f, f.length / d, d, gamma)), unseen: await featuresOf(train, unseenRows, "train") };
    };
    this.judgeSpace = await space(this.judge, this.weightFiles?.judge);
    this.goldSpace = await space(this.features, this.weightFiles?.features);
    const dj = this.judgeSpace.d;
    this.judgeStats = this.judgeSpace.heldout.map((f) => meanAndCovariance(f, f.length / dj, dj));
    const dg = this.goldSpace.d;
    this.thresholds = this.goldSpace.unseen.map((f) => nearDuplicateThreshold(f, f.length / dg, dg));
    this.diversityGoldReal = mean(this.goldSpace.unseen.map((f) => pairStatistics(pairwiseDistances(f, range(f.length / dg), dg), f.length / dg, 0).diversity));
    this.kidGoldWrong = mean(this.goldSpace.heldout.map((f, c) => this.goldSpace.kid[(c + 1) % 10].against(f, f.length / dg).value()));
    const classes = this.judge.classifier.config.classes;
    this.judgeAccuracyUnseen = [];
    for (const [c, rows] of unseenRows.entries()) {
      const probs = await this.judge.probabilities(gatherImages(train, rows), [1, 28, 28]);
      this.judgeAccuracyUnseen.push(rows.filter((_, i) => argmax(probs, i, classes) === c).length / rows.length);
    }
  }

  /** The constants of the gold score (docs/gold-panel.md). */
  get goldScale(): { diversityReal: number; kidWrongDigit: number } {
    return { diversityReal: this.diversityGoldReal, kidWrongDigit: this.kidGoldWrong };
  }

  /** The near-duplicate distance threshold τ_c of each class (gold-cnn features). */
  get nearDuplicateThresholds(): readonly number[] {
    return this.thresholds;
  }

  private goldScore(accuracy: number, diversityGold: number, kidGold: number): number {
    return accuracy * (diversityGold / this.diversityGoldReal) * Math.exp(-kidGold / this.kidGoldWrong);
  }

  /**
   * Every component for n unseen real digits per class, over disjoint draws (draw j uses rows
   * j·n … (j+1)·n−1 of each class): the floors printed beside the generated values.
   */
  realReference(n: number): RealReference {
    const cached = this.realCache.get(n);
    if (cached) return cached;
    const draws = Math.max(1, Math.min(FLOOR_DRAWS, Math.floor(UNSEEN_PER_CLASS / Math.max(2, n))));
    const take = Math.min(n, UNSEEN_PER_CLASS);
    const perDraw: Record<string, number[]> = {};
    const push = (key: string, v: number) => (perDraw[key] ??= []).push(v);
    const { d: dj } = this.judgeSpace;
    const { d: dg } = this.goldSpace;
    for (let j = 0; j < draws; j++) {
      const rows = range(take, j * take);
      const per = (f: (c: number) => number) => mean(range(10).map(f));
      const kidJudge = per((c) => this.judgeSpace.kid[c].against(rowsOf(this.judgeSpace.unseen[c], rows, dj), take).value());
      const kidGold = per((c) => this.goldSpace.kid[c].against(rowsOf(this.goldSpace.unseen[c], rows, dg), take).value());
      const fd = per((c) => frechetDistance(meanAndCovariance(rowsOf(this.judgeSpace.unseen[c], rows, dj), take, dj), this.judgeStats[c], dj));
      const pairs = (space: SpaceReference, c: number) => pairStatistics(pairwiseDistances(space.unseen[c], rows, space.d), take, this.thresholds[c]);
      const divJudge = per((c) => pairs(this.judgeSpace, c).diversity);
      const goldPairs = range(10).map((c) => pairs(this.goldSpace, c));
      const divGold = mean(goldPairs.map((p) => p.diversity));
      const accuracy = mean(this.judgeAccuracyUnseen);
      push("judge-accuracy", accuracy);
      push("kid-judge", KID_SCALE * kidJudge);
      push("fd-judge", fd);
      push("kid-gold", KID_SCALE * kidGold);
      push("diversity-judge", divJudge);
      push("diversity-gold", divGold);
      push("near-duplicates", mean(goldPairs.map((p) => p.nearDuplicates)));
      push("gold", this.goldScore(accuracy, divGold, kidGold));
    }
    const reference: RealReference = {
      n: take,
      draws,
      mean: Object.fromEntries(Object.entries(perDraw).map(([k, v]) => [k, mean(v)])),
      std: Object.fromEntries(Object.entries(perDraw).map(([k, v]) => [k, std(v)])),
    };
    this.realCache.set(n, reference);
    return reference;
  }

  /** Legacy floor: FD between n held-out digits of half A and all of half B, averaged over classes. */
  noiseFloor(n: number): number {
    const cached = this.floorCache.get(n);
    if (cached !== undefined) return cached;
    const d = this.judgeSpace.d;
    let total = 0;
    for (const feats of this.judgeSpace.heldout) {
      const count = feats.length / d;
      const half = Math.floor(count / 2);
      const take = Math.min(n, half);
      total += frechetDistance(meanAndCovariance(feats.subarray(0, take * d), take, d), meanAndCovariance(feats.subarray(half * d), count - half, d), d);
    }
    const floor = total / this.judgeSpace.heldout.length;
    this.floorCache.set(n, floor);
    return floor;
  }

  /** Gold metrics of an evaluation set; the first call's images become the drift reference. */
  async evaluate(images: Float32Array, prompts: readonly string[]): Promise<GoldMetrics> {
    const shape = [1, 28, 28];
    const classes = this.judge.classifier.config.classes;
    const probs = await this.judge.probabilities(images, shape);
    const judgeFeatures = await this.judge.features(images, shape);
    const goldFeatures = await this.features.features(images, shape);
    const { d: dj } = this.judgeSpace;
    const { d: dg } = this.goldSpace;

    // Groups: the samples of one prompt; a class gathers the prompts naming its digit.
    const byPrompt = new Map<string, number[]>();
    prompts.forEach((prompt, i) => byPrompt.set(prompt, [...(byPrompt.get(prompt) ?? []), i]));
    const groups = [...byPrompt.entries()].map(([prompt, rows]) => ({ digit: promptDigit(prompt), rows }));
    const correct = prompts.map((prompt, i) => argmax(probs, i, classes) === promptDigit(prompt));
    const classRows: number[][] = Array.from({ length: classes }, () => []);
    groups.forEach((g) => classRows[g.digit].push(...g.rows));
    const kidTerms = (space: SpaceReference, features: Float32Array): (KidTerms | null)[] =>
      classRows.map((rows, c) => (rows.length < 2 ? null : space.kid[c].against(rowsOf(features, rows, space.d), rows.length)));
    const kidJudge = kidTerms(this.judgeSpace, judgeFeatures);
    const kidGold = kidTerms(this.goldSpace, goldFeatures);
    const distJudge = groups.map((g) => pairwiseDistances(judgeFeatures, g.rows, dj));
    const distGold = groups.map((g) => pairwiseDistances(goldFeatures, g.rows, dg));

    // One statistic of per-group subsets for every component (half-sampling CIs are paired).
    const statistic = (subsets: number[][]): number[] => {
      const local: number[][] = classRows.map(() => []);
      const offsets = new Map<number, number>();
      groups.forEach((g, k) => {
        const offset = offsets.get(g.digit) ?? 0;
        local[g.digit].push(...subsets[k].map((i) => offset + i));
        offsets.set(g.digit, offset + g.rows.length);
      });
      const classMean = (terms: (KidTerms | null)[]) => {
        const values = terms.flatMap((t, c) => (t && local[c].length >= 2 ? [t.value(local[c])] : []));
        return values.length ? mean(values) : NaN;
      };
      const judgePairs = groups.map((g, k) => pairStatistics(distJudge[k], g.rows.length, Infinity, subsets[k]));
      const goldPairs = groups.map((g, k) => pairStatistics(distGold[k], g.rows.length, this.thresholds[g.digit], subsets[k]));
      const finite = (xs: number[]) => xs.filter(Number.isFinite);
      let hits = 0;
      let count = 0;
      groups.forEach((g, k) => subsets[k].forEach((i) => ((hits += correct[g.rows[i]] ? 1 : 0), count++)));
      const accuracy = hits / Math.max(1, count);
      const kJ = classMean(kidJudge);
      const kG = classMean(kidGold);
      const divGold = mean(finite(goldPairs.map((p) => p.diversity)));
      return [
        accuracy,
        KID_SCALE * kJ,
        NaN, // fd-judge: no interval (below)
        KID_SCALE * kG,
        mean(finite(judgePairs.map((p) => p.diversity))),
        divGold,
        mean(finite(goldPairs.map((p) => p.nearDuplicates))),
        this.goldScore(accuracy, divGold, kG),
      ];
    };
    const estimates = halfSampleCi(
      groups.map((g) => g.rows.length),
      statistic,
      { draws: CI_DRAWS, seed: 1 },
    );

    const frechet = classRows.map((rows, c) => (rows.length < 2 ? null : frechetDistance(meanAndCovariance(rowsOf(judgeFeatures, rows, dj), rows.length, dj), this.judgeStats[c], dj)));
    const present = frechet.filter((x): x is number => x !== null);
    const frechetMean = present.length ? mean(present) : NaN;
    const perClass = Math.round(prompts.length / Math.max(1, classRows.filter((r) => r.length > 0).length));
    const real = this.realReference(perClass);

    if (this.baseImages === null || this.baseImages.length !== images.length) this.baseImages = Float32Array.from(images);
    let drift = 0;
    for (let i = 0; i < images.length; i++) drift += (images[i] - this.baseImages[i]) ** 2;
    drift = Math.sqrt(drift / images.length);

    const components: GoldComponent[] = GOLD_COMPONENTS.map((spec, k) => {
      const value = spec.key === "fd-judge" ? frechetMean : estimates[k].value;
      const ci = estimates[k].ci;
      return { ...spec, value, ...(Number.isFinite(ci[0]) ? { ci } : {}), floor: real.mean[spec.key] };
    });
    const valueOf = (key: string) => components.find((c) => c.key === key)!.value;
    const kidPerClass = (terms: (KidTerms | null)[]) => terms.map((t) => (t ? KID_SCALE * t.value() : null));
    return {
      judgeAccuracy: valueOf("judge-accuracy"),
      frechet,
      frechetMean,
      frechetFloor: this.noiseFloor(perClass),
      frechetReal: real.mean["fd-judge"],
      diversity: valueOf("diversity-judge"),
      diversityReal: real.mean["diversity-judge"],
      drift,
      gold: valueOf("gold"),
      components,
      perClass: { "kid-judge": kidPerClass(kidJudge), "kid-gold": kidPerClass(kidGold), "fd-judge": frechet },
    };
  }

  /** The drift reference (base-model images), for checkpoints. */
  get driftReference(): Float32Array | null {
    return this.baseImages;
  }

  set driftReference(images: Float32Array | null) {
    this.baseImages = images;
  }

  dispose(): void {
    this.judge.dispose();
    this.features.dispose();
  }
}

function argmax(probs: Float32Array, row: number, classes: number): number {
  let best = 0;
  for (let c = 1; c < classes; c++) if (probs[row * classes + c] > probs[row * classes + best]) best = c;
  return best;
}

/** What decides a run's gold panel (the run config's `gold` section). */
export interface GoldSettings {
  enabled: "auto" | "on" | "off";
  judge?: string;
  features?: string;
}

/**
 * The gold panel a run evaluates with: its judge and feature network (shipped defaults), for a
 * 28×28 digit model; none when `gold.enabled` is off, or "auto" and the samples are not digits.
 */
export async function goldPanelFor(gold: GoldSettings, sampleShape: readonly number[]): Promise<GoldPanel | null> {
  const isDigits = sampleShape.join("x") === "1x28x28";
  if (gold.enabled === "on" && !isDigits) throw new UserError(`gold.enabled = on needs a 28×28 digit model; this model makes samples of shape [${sampleShape.join(", ")}]`);
  return gold.enabled === "off" || !isDigits ? null : GoldPanel.fromFile(gold.judge ?? DEFAULT_JUDGE, gold.features ?? DEFAULT_GOLD_FEATURES);
}

/** `goldPanelFor`, each panel made once per settings and sample shape (a panel prepares real-digit features when made). */
export function cachedGoldPanels(): ((gold: GoldSettings, sampleShape: readonly number[]) => Promise<GoldPanel | null>) & { dispose(): Promise<void> } {
  const panels = new Map<string, Promise<GoldPanel | null>>();
  const goldFor = (gold: GoldSettings, sampleShape: readonly number[]) => {
    const key = JSON.stringify([gold, sampleShape]);
    if (!panels.has(key)) panels.set(key, goldPanelFor(gold, sampleShape));
    return panels.get(key)!;
  };
  /** Release every panel made (their judge and feature networks). */
  const dispose = async () => {
    const made = await Promise.allSettled(panels.values());
    panels.clear();
    for (const p of made) if (p.status === "fulfilled") p.value?.dispose();
  };
  return Object.assign(goldFor, { dispose });
}

/** One line of an evaluation's gold components: value [95 % CI] (real-digit floor at the same n). */
export function formatGoldLine(g: GoldMetrics): string {
  if (!g.components) return `gold ${g.gold.toFixed(3)} (judge ${(100 * g.judgeAccuracy).toFixed(1)}%, Fréchet ${g.frechetMean.toFixed(1)} vs real ${g.frechetReal.toFixed(1)}, diversity ${g.diversity.toFixed(2)})`;
  const short: Record<string, string> = {
    gold: "gold",
    "judge-accuracy": "judge",
    "kid-judge": "KID×10³ judge",
    "kid-gold": "KID×10³ gold-cnn",
    "fd-judge": "FD judge",
    "diversity-gold": "diversity",
    "near-duplicates": "near-dup",
  };
  const num = (key: string, v: number) => (key === "gold" ? v.toFixed(3) : key === "judge-accuracy" || key === "near-duplicates" ? `${(100 * v).toFixed(1)}%` : v.toFixed(1));
  const order = ["gold", "judge-accuracy", "kid-judge", "kid-gold", "fd-judge", "diversity-gold", "near-duplicates"];
  return order
    .map((key) => g.components!.find((c) => c.key === key))
    .filter((c): c is GoldComponent => c !== undefined)
    .map((c) => `${short[c.key]} ${num(c.key, c.value)}${c.ci ? ` [${num(c.key, c.ci[0])}, ${num(c.key, c.ci[1])}]` : ""}${c.floor !== undefined ? ` (real ${num(c.key, c.floor)})` : ""}`)
    .join(" | ");
}
