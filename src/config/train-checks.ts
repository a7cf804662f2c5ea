/**
 * Checks of a training config that relate several fields (run by `TrainConfigSchema` after
 * every field has parsed): nothing a config says is silently clamped, dropped or ignored.
 */
import { z } from "zod";
import { DYNAMICS } from "../sampling/dynamics.js";
import { shiftedSchedule } from "../sampling/schedule.js";
import { trainableSteps, type WindowConfig } from "../sampling/window.js";
import { rewardOptionsSchema } from "../rewards/options.js";

/** The fields these checks read (a structural subset of TrainConfig). */
export interface CheckedFields {
  dynamics: string;
  sampling: { steps: number; shift: number; eta: number; window: WindowConfig | { mode: string } };
  prompts: { perEpoch: number };
  groupSize: number;
  rewards: { name: string; options: Record<string, unknown> }[];
  train: { minibatch: number };
  eval: { prompts?: string[]; steps: number; perPrompt: number };
}

type Issue = { path: (string | number)[]; message: string };

/**
 * CPS (E5): std = s'·sin(η·π/2). sin(η·π/2) rises from 0 at η = 0 to 1 at η = 1 (all of s' is
 * fresh noise, k = 0), then falls again: η and 2 − η give the same dynamics, η = 2 has std 0
 * (no exploration, zero policy gradient) and η > 2 a negative std. So only 0 < η ≤ 1 is meaningful.
 */
export const CPS_MAX_ETA = 1;
export const MAX_STEPS = 1000;
export const MAX_TRAJECTORIES = 100_000;

const count = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n > 0;

/**
 * The cross-field problems of a config. Zod runs this even when some field failed its own
 * check (that failure is reported too), so every input is checked before it is used.
 */
export function trainConfigIssues(config: CheckedFields): Issue[] {
  const issues: Issue[] = [];
  const samples = config.prompts?.perEpoch * config.groupSize;
  const mb = config.train?.minibatch;
  if (count(samples) && count(mb) && (mb > samples || samples % mb !== 0)) {
    const epoch = `the ${samples} trajectories of an epoch (prompts.perEpoch ${config.prompts.perEpoch} × groupSize ${config.groupSize})`;
    issues.push({
      path: ["train", "minibatch"],
      message: mb > samples ? `${mb} is larger than ${epoch}; use a divisor of ${samples}` : `must divide ${epoch}; with ${mb}, ${samples % mb} of them would never be trained`,
    });
  }
  const sampling = config.sampling ?? {};
  // Upper bounds that keep a typo (steps: 100000000) from allocating until the process dies.
  if (count(sampling.steps) && sampling.steps > MAX_STEPS) issues.push({ path: ["sampling", "steps"], message: `at most ${MAX_STEPS} steps` });
  if (count(config.eval?.steps) && config.eval.steps > MAX_STEPS) issues.push({ path: ["eval", "steps"], message: `at most ${MAX_STEPS} steps` });
  if (count(samples) && samples > MAX_TRAJECTORIES) issues.push({ path: ["groupSize"], message: `prompts.perEpoch × groupSize = ${samples} trajectories per epoch; at most ${MAX_TRAJECTORIES}` });
  if (count(config.eval?.perPrompt) && config.eval.perPrompt > MAX_TRAJECTORIES) issues.push({ path: ["eval", "perPrompt"], message: `at most ${MAX_TRAJECTORIES}` });
  if (config.dynamics === "cps" && typeof sampling.eta === "number" && !(sampling.eta <= CPS_MAX_ETA)) {
    issues.push({ path: ["sampling", "eta"], message: `CPS needs 0 < η ≤ ${CPS_MAX_ETA} (std = s'·sin(η·π/2): η and 2 − η are the same dynamics, η = 2 has no noise)` });
  }
  const dynamics = Object.hasOwn(DYNAMICS, config.dynamics) ? DYNAMICS[config.dynamics] : undefined;
  const window = sampling.window as WindowConfig | undefined;
  if (dynamics && count(sampling.steps) && sampling.steps <= MAX_STEPS && typeof sampling.shift === "number" && sampling.shift > 0 && window && windowParsed(window)) {
    const trainable = trainableSteps(shiftedSchedule(sampling.steps, sampling.shift), dynamics);
    const available = trainable.length;
    const tooLarge = (size: number) => `window size ${size} exceeds the ${available} trainable steps of ${config.dynamics} with sampling.steps = ${sampling.steps}`;
    if (window.mode === "fixed") {
      const outside = Array.from({ length: window.size }, (_, k) => window.start + k).filter((i) => !trainable.includes(i));
      if (outside.length > 0) {
        issues.push({
          path: ["sampling", "window"],
          message: `fixed window [${window.start}, ${window.start + window.size}) includes step${outside.length > 1 ? "s" : ""} ${outside.join(", ")}, outside the trainable steps ${available ? `0…${trainable[available - 1]}` : "(none)"} of ${config.dynamics} with sampling.steps = ${sampling.steps}`,
        });
      }
    } else if (window.mode === "random") {
      window.candidates.forEach((size, k) => {
        if (size > available) issues.push({ path: ["sampling", "window", "candidates", k], message: tooLarge(size) });
      });
    } else if (window.mode === "sliding" && window.size > available) {
      issues.push({ path: ["sampling", "window", "size"], message: tooLarge(window.size) });
    }
  }
  if (Array.isArray(config.eval?.prompts) && config.eval.prompts.length === 0) {
    issues.push({ path: ["eval", "prompts"], message: "needs at least one prompt (leave it out to evaluate on prompts.pool)" });
  }
  if (!Array.isArray(config.rewards)) return issues;
  config.rewards.forEach((reward, k) => {
    if (typeof reward !== "object" || reward === null || typeof reward.name !== "string") return;
    // An unknown name may be a reward handed to runTrainingJob in-process (library use);
    // createReward rejects it, with a suggestion, when the CLI builds rewards by name.
    const schema = rewardOptionsSchema(reward.name);
    if (!schema) return;
    const parsed = schema.safeParse(reward.options);
    if (parsed.success) return;
    for (const issue of parsed.error.issues) {
      const path = ["rewards", k, "options", ...issue.path.map((p) => (typeof p === "number" ? p : String(p)))];
      const message = issue.code === "unrecognized_keys" ? `unknown option${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((key) => `"${key}"`).join(", ")} for reward "${reward.name}"` : issue.message;
      issues.push({ path, message });
    }
  });
  return issues;
}

/** The window's own fields have the types its mode needs (else the field check reports it). */
function windowParsed(window: WindowConfig): boolean {
  switch (window.mode) {
    case "fixed":
      return Number.isInteger(window.start) && window.start >= 0 && count(window.size);
    case "random":
      return Array.isArray(window.candidates) && window.candidates.every(count);
    case "sliding":
      return count(window.size);
    default:
      return window.mode === "all";
  }
}

/** For `.superRefine` on the config schema. */
export function checkTrainConfig(config: CheckedFields, ctx: z.RefinementCtx): void {
  for (const issue of trainConfigIssues(config)) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
}
