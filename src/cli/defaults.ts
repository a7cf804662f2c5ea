import { fileURLToPath } from "node:url";

/** The shipped base policy: class-conditional dit-s on MNIST (docs/base-model.md). */
export const DEFAULT_BASE_MODEL = fileURLToPath(new URL("../../../weights/dit-s-digits.safetensors", import.meta.url));
/** Default ODE steps for sampling and evaluation of the base model. */
export const DEFAULT_SAMPLE_STEPS = 20;
