/**
 * Image classifiers for the reward side: `cnn` (the proxy "OCR" reward's digit reader) and
 * `mlp` (a different architecture, for the held-out gold judge). Both map images
 * [B, C, H, W] in [−1, 1] to features (penultimate layer) and class logits.
 */
import { lax, nn, numpy as np, random, type JaxArray } from "../engine/jax.js";
import type { ParamTree } from "../engine/tree.js";
import { initLinear, linear, type LinearParams } from "./layers.js";

export interface CnnClassifierConfig {
  kind: "cnn";
  sampleShape: number[];
  classes: number;
  channels: [number, number];
  hidden: number;
}

export interface MlpClassifierConfig {
  kind: "mlp";
  sampleShape: number[];
  classes: number;
  hidden: number[];
}

export type ClassifierConfig = CnnClassifierConfig | MlpClassifierConfig;

export interface Classifier {
  readonly config: ClassifierConfig;
  readonly featureDim: number;
  init(key: JaxArray): ParamTree;
  /** Penultimate features [B, featureDim] (borrows params, consumes images). */
  features(params: ParamTree, images: JaxArray): JaxArray;
  /** Class logits [B, classes] (borrows params, consumes images). */
  logits(params: ParamTree, images: JaxArray): JaxArray;
}

interface ConvParams extends ParamTree {
  w: JaxArray;
  b: JaxArray;
}

function initConv(key: JaxArray, cin: number, cout: number, k: number): ConvParams {
  const bound = 1 / Math.sqrt(cin * k * k);
  return { w: random.uniform(key, [cout, cin, k, k], { minval: -bound, maxval: bound }), b: np.zeros([cout]) };
}

function conv(p: ConvParams, x: JaxArray, stride: number): JaxArray {
  const cout = p.w.shape[0];
  return lax.conv(x, p.w.ref, [stride, stride], "SAME").add(p.b.ref.reshape([1, cout, 1, 1]));
}

export function createClassifier(config: ClassifierConfig): Classifier {
  const [C, H, W] = config.sampleShape;
  if (config.kind === "cnn") {
    const [c1, c2] = config.channels;
    const flat = c2 * Math.ceil(H / 4) * Math.ceil(W / 4);
    const features = (params: ParamTree, images: JaxArray): JaxArray => {
      const p = params as { conv1: ConvParams; conv2: ConvParams; fc: LinearParams };
      const B = images.shape[0];
      const h1 = nn.relu(conv(p.conv1, images.reshape([B, C, H, W]), 2));
      const h2 = nn.relu(conv(p.conv2, h1, 2));
      return nn.relu(linear(p.fc, h2.reshape([B, flat])));
    };
    return {
      config,
      featureDim: config.hidden,
      init(key) {
        const keys = random.split(key, 4);
        return {
          conv1: initConv(keys.ref.slice(0), C, c1, 5),
          conv2: initConv(keys.ref.slice(1), c1, c2, 3),
          fc: initLinear(keys.ref.slice(2), flat, config.hidden),
          head: initLinear(keys.slice(3), config.hidden, config.classes),
        };
      },
      features,
      logits: (params, images) => linear((params as { head: LinearParams }).head, features(params, images)),
    };
  }
  const inputs = C * H * W;
  const features = (params: ParamTree, images: JaxArray): JaxArray => {
    const layers = (params as { hidden: LinearParams[] }).hidden;
    let h = images.reshape([images.shape[0], inputs]);
    for (const layer of layers) h = nn.relu(linear(layer, h));
    return h;
  };
  return {
    config,
    featureDim: config.hidden.at(-1) ?? inputs,
    init(key) {
      const keys = random.split(key, config.hidden.length + 1);
      const hidden: LinearParams[] = [];
      let fanIn = inputs;
      config.hidden.forEach((width, i) => {
        hidden.push(initLinear(keys.ref.slice(i), fanIn, width));
        fanIn = width;
      });
      return { hidden, head: initLinear(keys.slice(config.hidden.length), fanIn, config.classes) };
    },
    features,
    logits: (params, images) => linear((params as { head: LinearParams }).head, features(params, images)),
  };
}

export const CLASSIFIER_PRESETS: Record<string, ClassifierConfig> = {
  /** Proxy "OCR" reader (digit-ocr reward): two strided convs + dense, trained on the train split. */
  "digit-cnn": { kind: "cnn", sampleShape: [1, 28, 28], classes: 10, channels: [16, 32], hidden: 128 },
  /** Gold judge: a plain MLP (a different architecture), trained on the held-out split. */
  "judge-mlp": { kind: "mlp", sampleShape: [1, 28, 28], classes: 10, hidden: [256, 64] },
  /** GARDO's auxiliary reader (E14): another CNN shape and seed, trained on the aux split. */
  "aux-cnn": { kind: "cnn", sampleShape: [1, 28, 28], classes: 10, channels: [8, 24], hidden: 64 },
  /** Gold feature network (second opinion for KID/diversity): a narrow CNN, held-out split, another seed (docs/gold-panel.md). */
  "gold-cnn": { kind: "cnn", sampleShape: [1, 28, 28], classes: 10, channels: [8, 16], hidden: 32 },
};
