/**
 * Loading shipped or user weight files: the safetensors metadata carries the model config,
 * from which the model is rebuilt and every tensor's name and shape checked.
 */
import { random } from "../engine/jax.js";
import { UserError } from "../engine/errors.js";
import { metadataJson, readSafetensorsFile, treeFromTensors } from "../engine/safetensors.js";
import { disposeTree, type ParamTree } from "../engine/tree.js";
import { createClassifier, type Classifier, type ClassifierConfig } from "./classifier.js";
import type { VelocityModel } from "./model.js";
import { createModel, type ModelConfig } from "./registry.js";
import { velocityConfigProblem } from "./config-schema.js";

export interface LoadedWeights<M> {
  model: M;
  params: ParamTree;
  metadata: Record<string, unknown>;
}

function parseAll(raw: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    try {
      out[key] = JSON.parse(value);
    } catch {
      out[key] = value;
    }
  }
  return out;
}

function load<M extends { init(key: ReturnType<typeof random.key>): ParamTree }, C>(
  path: string,
  format: string,
  build: (config: C) => M,
  check: (config: unknown) => string | null = () => null,
): LoadedWeights<M> {
  const file = readSafetensorsFile(path);
  const declared = file.metadata.format;
  if (declared !== undefined && declared !== format) {
    throw new UserError(`${path}: is a "${declared}" file, expected "${format}"`);
  }
  const config = metadataJson<C>(file, "config", path);
  const problem = check(config);
  if (problem) throw new UserError(`${path}: metadata "config" does not describe a valid model (${problem})`);
  let model: M;
  let template: ParamTree;
  try {
    model = build(config);
    template = model.init(random.key(0));
  } catch (err) {
    throw new UserError(`${path}: metadata "config" does not describe a valid model (${(err as Error).message})`);
  }
  try {
    const params = treeFromTensors(template, file.tensors, path);
    return { model, params, metadata: parseAll(file.metadata) };
  } finally {
    disposeTree(template);
  }
}

export function loadVelocityModel(path: string): LoadedWeights<VelocityModel> {
  return load<VelocityModel, ModelConfig>(path, "grpo-guard/model", createModel, velocityConfigProblem);
}

export function loadClassifier(path: string): LoadedWeights<Classifier> {
  return load<Classifier, ClassifierConfig>(path, "grpo-guard/classifier", createClassifier);
}
