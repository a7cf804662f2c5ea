/**
 * Stable run ids: a hash of the resolved, validated training config, so that the same run
 * submitted twice (from a sweep file, a preset, another machine) lands in the same run
 * directory and is never trained twice.
 */
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { TrainConfig } from "../config/train.js";

/** This checkout's root: shipped files (weights the schema defaults to) are named relative to it in ids. */
const PACKAGE_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const PACKAGE_PREFIX = "<package>/";

/**
 * Fields that never change a run's parameters or metrics, left out of the id:
 * - `name` (the run directory's name — it carries the id, so it cannot be part of it),
 * - `output` (where the run directory lives: every worker sets its own runs directory),
 * - `checkpoint` (how often state is saved and how many files are kept: resume is exact,
 *   test/resume.test.ts, so the parameters do not depend on it).
 * Every other field, defaults included (the config is resolved by the schema first), is in.
 * Defaults that name shipped files are absolute paths into this checkout (so a run works from
 * any directory); in the id they count relative to the package root, so the same run planned in
 * another checkout or on another machine gets the same id.
 */
export const ID_EXCLUDED_FIELDS = ["name", "output", "checkpoint"] as const;

/** `value` with every string that names a file inside this package written relative to it. */
export function portablePaths(value: unknown, root = PACKAGE_ROOT): unknown {
  if (typeof value === "string") return value.startsWith(root) ? PACKAGE_PREFIX + value.slice(root.length) : value;
  if (Array.isArray(value)) return value.map((v) => portablePaths(v, root));
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, portablePaths(v, root)]));
  return value;
}

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
  return createHash("sha256").update(canonicalJson(portablePaths(relevant))).digest("hex").slice(0, 12);
}
