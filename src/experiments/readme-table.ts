/**
 * The README's default-experiment table, generated from a run's metrics.jsonl (never typed by
 * hand): one row per quantity (proxy, then every gold component), one column per evaluation,
 * each gold value with its 95 % confidence interval, and the real-digit floor at the same
 * number of samples per prompt beside it.
 */
import type { EvalMetrics, ValidMetricsRecord } from "../diagnostics/metrics-schema.js";

const PERCENT = new Set(["judge-accuracy", "near-duplicates"]);

function format(key: string, v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  if (PERCENT.has(key)) return `${(100 * v).toFixed(1)} %`;
  if (key === "gold") return v.toFixed(3);
  if (key === "proxy") return v.toFixed(4);
  return v.toFixed(Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2);
}

const strip = (s: string) => s.replace(/ %$/, "");

export function defaultExperimentTable(records: readonly ValidMetricsRecord[]): string {
  const evals = records.filter((r): r is EvalMetrics => r.type === "eval");
  if (evals.length === 0) return "No evaluation in this run.";
  const last = evals[evals.length - 1];
  const perPrompt = Math.round(last.prompts.length / Math.max(1, new Set(last.prompts).size));
  const header = `| EMA policy, ${last.prompts.length} fixed evaluation samples (${perPrompt} per prompt) | real digits (floor, same n) | ${evals.map((e) => `epoch ${e.epoch}`).join(" | ")} |`;
  const lines = [header, `|---|---|${evals.map(() => "---|").join("")}`];
  lines.push(`| proxy (${last.rewards.map((r) => r.name).join(" + ")}) | — | ${evals.map((e) => format("proxy", e.proxy)).join(" | ")} |`);
  const components = last.gold?.components ?? [];
  for (const c of components) {
    const cells = evals.map((e) => {
      const x = e.gold?.components?.find((y) => y.key === c.key);
      if (!x) return "—";
      const ci = x.ci && x.ci[0] !== null && x.ci[1] !== null ? ` [${strip(format(c.key, x.ci[0]))}, ${strip(format(c.key, x.ci[1]))}]` : "";
      return `${format(c.key, x.value)}${ci}`;
    });
    lines.push(`| ${c.label} (${c.better} is better) | ${format(c.key, c.floor)} | ${cells.join(" | ")} |`);
  }
  if (components.length === 0 && last.gold) {
    lines.push(`| gold score (legacy) | — | ${evals.map((e) => format("gold", e.gold?.gold)).join(" | ")} |`);
  }
  return lines.join("\n");
}
