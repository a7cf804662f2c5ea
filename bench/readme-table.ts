/**
 * Print the README's default-experiment table from a run directory's metrics.jsonl:
 *   npm run readme-table -- runs/grpo-guard-digits
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { readValidatedMetrics } from "../src/diagnostics/metrics-schema.js";
import { defaultExperimentTable } from "../src/experiments/readme-table.js";

const dir = process.argv[2] ?? "runs/grpo-guard-digits";
const file = join(dir, "metrics.jsonl");
if (!existsSync(file)) {
  process.stderr.write(`readme-table: no metrics.jsonl in ${dir} (expected a run directory, e.g. runs/grpo-guard-digits)\n`);
  process.exit(2);
}
console.log(defaultExperimentTable(readValidatedMetrics(file).records));
