/**
 * Sweep files: a base training config, overrides for every run, a list of named points and/or
 * a grid over any config paths, and seeds. Validated like the run configs; each expanded run
 * is validated against the training schema and gets a stable id (src/sweep/id.ts).
 *
 *   name: lr-study
 *   base: ../configs/grpo-guard/digits.yaml     # relative to the sweep file
 *   set: { train.epochs: 30, eval.every: 5 }    # or a list of "path=value" strings
 *   list:                                        # named points (optional)
 *     - { label: flow-grpo, set: [algorithm=flow-grpo] }
 *     - { label: guard, set: [algorithm=grpo-guard] }
 *     - { label: kl-0.04, method: kl, set: { train.kl.beta: 0.04 } }  # method: the family (default: the label)
 *   grid: { train.lr: [1e-4, 5e-4] }            # cartesian product (optional)
 *   seeds: [0, 1, 2]
 *
 * Runs = seeds × list points × grid points (seed-major: an interrupted sweep has every point
 * at the seeds it finished).
 */
import { dirname, isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { UserError } from "../engine/errors.js";
import { applyOverrides, readConfigFile, validateConfig } from "../config/load.js";
import { TrainConfigSchema, type TrainConfig } from "../config/train.js";
import { runId } from "./id.js";

const NAME = /^[A-Za-z0-9._-]+$/;
const nameField = z.string().regex(NAME, "letters, digits, '.', '_' and '-' only");

/** `["a.b=1", …]` or `{ a.b: 1, … }` (values as YAML would write them). */
const overridesSchema = z.union([z.array(z.string().regex(/^[^=]+=/, "expected path=value")), z.record(z.string(), z.unknown())]);

export const SweepSpecSchema = z.strictObject({
  name: nameField,
  /** The base training config (YAML/JSON), relative to the sweep file. */
  base: z.string().min(1),
  set: overridesSchema.default([]),
  /** Named points; `method` groups the knob settings of one method in reports (default: the label). */
  list: z.array(z.strictObject({ label: nameField, method: nameField.optional(), set: overridesSchema.default([]) })).min(1).optional(),
  grid: z.record(z.string().regex(/^[A-Za-z0-9_.]+$/, "a config path such as train.lr"), z.array(z.unknown()).min(1)).default({}),
  seeds: z.array(z.number().int()).min(1).default([0]),
});

export type SweepSpec = z.input<typeof SweepSpecSchema>;

export interface PlannedRun {
  /** Stable id of the resolved config (src/sweep/id.ts). */
  id: string;
  /** Run directory name: `<sweep>-<label>-<id>-s<seed>`. */
  name: string;
  /** The list point's label and/or the grid values. */
  label: string;
  /** The list point this run belongs to (null without a list). */
  point: string | null;
  /** The method family the point belongs to (its `method`, else its label; the sweep's name without a list). */
  method: string;
  seed: number;
  overrides: string[];
  /** Resolved and validated, with `name` and `output.dir` set. */
  config: TrainConfig;
}

export interface Sweep {
  name: string;
  runs: PlannedRun[];
}

const toOverrides = (set: z.infer<typeof overridesSchema>): string[] => (Array.isArray(set) ? set : Object.entries(set).map(([path, value]) => `${path}=${JSON.stringify(value)}`));

const labelPart = (path: string, value: unknown): string => {
  const key = path.slice(path.lastIndexOf(".") + 1);
  const text = typeof value === "string" ? value : `${key}${JSON.stringify(value)}`;
  return text.replace(/[^A-Za-z0-9._-]+/g, "_");
};

function gridPoints(grid: Record<string, unknown[]>): { overrides: string[]; label: string[] }[] {
  let points: { overrides: string[]; label: string[] }[] = [{ overrides: [], label: [] }];
  for (const [path, values] of Object.entries(grid)) {
    points = points.flatMap((p) => values.map((v) => ({ overrides: [...p.overrides, `${path}=${JSON.stringify(v)}`], label: [...p.label, labelPart(path, v)] })));
  }
  return points;
}

/** Resolve one run: base + overrides validated against the training schema, then named by its id. */
export function resolveRun(base: unknown, overrides: readonly string[], runsDir: string, source: string): { id: string; config: TrainConfig } {
  const data = applyOverrides(structuredClone(base), [...overrides, `output.dir=${JSON.stringify(runsDir)}`]) as Record<string, unknown>;
  delete data.name;
  const config = validateConfig(TrainConfigSchema, data, source);
  return { id: runId(config), config };
}

/**
 * Expand a validated sweep into its runs. `baseDir` resolves a relative `base`; `extra` are
 * overrides applied to every run last (the command line's --set).
 */
export function expandSweep(spec: SweepSpec, options: { baseDir: string; runsDir: string; source: string; extra?: readonly string[] }): Sweep {
  const parsed = validateConfig(SweepSpecSchema, spec, options.source);
  const basePath = isAbsolute(parsed.base) ? parsed.base : join(options.baseDir, parsed.base);
  const base = readConfigFile(basePath);
  const points: { label: string; method?: string; set: z.infer<typeof overridesSchema> }[] = parsed.list ?? [{ label: "", set: [] }];
  const runs: PlannedRun[] = [];
  const seen = new Map<string, string>();
  for (const seed of parsed.seeds) {
    for (const point of points) {
      for (const g of gridPoints(parsed.grid)) {
        const label = [point.label, ...g.label].filter(Boolean).join("-") || "run";
        const overrides = [...toOverrides(parsed.set), ...toOverrides(point.set), ...g.overrides, `seed=${seed}`, ...(options.extra ?? [])];
        const { id, config } = resolveRun(base, overrides, options.runsDir, `${options.source} (run ${label}, seed ${seed}; base ${basePath})`);
        const name = `${parsed.name}-${label}-${id}-s${seed}`;
        if (seen.has(id)) throw new UserError(`${options.source}: runs "${seen.get(id)}" and "${name}" resolve to the same config (id ${id}); remove the duplicate point`);
        seen.set(id, name);
        runs.push({ id, name, label, point: parsed.list ? point.label : null, method: point.method ?? (point.label || parsed.name), seed, overrides, config: { ...config, name } });
      }
    }
  }
  return { name: parsed.name, runs };
}

/** Read and expand a sweep file (YAML/JSON); `base` is relative to the file; `seeds` replace the file's. */
export function loadSweepFile(path: string, runsDir: string, options: { extra?: readonly string[]; seeds?: number[] } = {}): Sweep {
  const spec = readConfigFile(path) as SweepSpec;
  const withSeeds = options.seeds && spec !== null && typeof spec === "object" ? { ...spec, seeds: options.seeds } : spec;
  return expandSweep(withSeeds, { baseDir: dirname(resolve(path)), runsDir, source: path, extra: options.extra });
}
