import type { Command } from "commander";
import { MODEL_PRESETS } from "../../models/registry.js";
import { CLASSIFIER_PRESETS } from "../../models/classifier.js";

/** Left-aligned columns, two spaces apart, with a header and a rule. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: readonly string[]) => cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]))).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const detail = (value: unknown): string => (Array.isArray(value) ? value.join("×") : String(value));

function details(config: Record<string, unknown>, skip: readonly string[]): string {
  return Object.entries(config)
    .filter(([key]) => !skip.includes(key))
    .map(([key, value]) => `${key} ${detail(value)}`)
    .join(", ");
}

export function registerModels(program: Command): void {
  program
    .command("models")
    .description("list the model and classifier presets")
    .option("--json", "print the presets as JSON (machine-readable)")
    .action((opts: { json?: boolean }) => {
      if (opts.json) {
        console.log(JSON.stringify({ models: MODEL_PRESETS, classifiers: CLASSIFIER_PRESETS }, null, 2));
        return;
      }
      const models = Object.entries(MODEL_PRESETS).map(([name, c]) => [
        name,
        c.kind,
        c.sampleShape.join("×"),
        `${c.vocab.length} words × ${c.promptLength}`,
        details(c as unknown as Record<string, unknown>, ["kind", "sampleShape", "vocab", "promptLength"]),
      ]);
      console.log("Velocity models (use as model.preset, or their weights as model.weights)\n");
      console.log(formatTable(["preset", "kind", "sample", "prompts", "architecture"], models));
      const classifiers = Object.entries(CLASSIFIER_PRESETS).map(([name, c]) => [
        name,
        c.kind,
        c.sampleShape.join("×"),
        String(c.classes),
        details(c as unknown as Record<string, unknown>, ["kind", "sampleShape", "classes"]),
      ]);
      console.log("\nClassifiers (train-classifier; digit-cnn reads digit-ocr, judge-mlp is the gold judge)\n");
      console.log(formatTable(["preset", "kind", "sample", "classes", "architecture"], classifiers));
    });
}
