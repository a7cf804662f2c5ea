/**
 * Stable run ids: a hash of the resolved, validated training config, so that the same run
 * submitted twice (from a sweep file, a preset, another machine) lands in the same run
 * directory and is never trained twice.
 */
import { createHash } from "node:crypto";
import type { TrainConfig } from "../config/train.js";

/**
 * Fields that never change a run's parameters or metrics, left out of the id:
 * - `name` (the run directory's name — it carries the id, so it cannot be part of it),
 * - `output` (where the run directory lives: every worker sets its own runs directory),
 * - `checkpoint` (how often state is saved and how many files are kept: resume is exact,
 *   test/resume.test.ts, so the parameters do not depend on it).
 * Every other field, defaults included (the config is resolved by the schema first), is in.
 */
export const ID_EXCLUDED_FIELDS = ["name", "output", "checkpoint"] as const;

/** JSON with object keys sorted at every level (arrays keep their order). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** 12 hex digits (48 bits) of SHA-256 over the canonical JSON of the result-relevant fields. */
export function runId(config: TrainConfig): string {
  const relevant: Record<string, unknown> = { ...config };
  for (const field of ID_EXCLUDED_FIELDS) delete relevant[field];
  return createHash("sha256").update(canonicalJson(relevant)).digest("hex").slice(0, 12);
}
