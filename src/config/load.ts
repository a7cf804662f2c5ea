/**
 * Configuration files as validated data: YAML (or JSON) parsed, `--set a.b=c` overrides
 * applied, then checked against a zod schema. Errors name the file, the field path, the
 * value and what was expected; unknown keys are errors with a "did you mean" suggestion.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { UserError } from "../engine/errors.js";

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

export function didYouMean(word: string, options: readonly string[]): string {
  let best = "";
  let bestDistance = Infinity;
  for (const option of options) {
    const d = editDistance(word.toLowerCase(), option.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [option, d];
  }
  return best && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? ` (did you mean "${best}"?)` : "";
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let node = data;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function shapeAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: z.ZodType | undefined = schema;
  for (const key of path) {
    node = unwrap(node);
    if (node instanceof z.ZodObject) node = (node.shape as Record<string, z.ZodType>)[String(key)];
    else if (node instanceof z.ZodArray) node = node.element as z.ZodType;
    else return [];
    if (!node) return [];
  }
  node = unwrap(node);
  return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let node = schema;
  // Default, prefault, optional, nullable… all wrap an inner type under `def.innerType`.
  for (;;) {
    const inner = (node as unknown as { _zod: { def: { innerType?: z.ZodType } } })._zod.def.innerType;
    if (!inner) return node;
    node = inner;
  }
}

/** `a.b.0`, with keys that are not plain words quoted (`rewards.0." "`). */
const formatPath = (path: readonly PropertyKey[]): string =>
  path.length ? path.map((key) => (typeof key === "number" || /^[A-Za-z0-9_-]+$/.test(String(key)) ? String(key) : JSON.stringify(String(key)))).join(".") : "(root)";

/** Validate `data` against `schema`, throwing a UserError that lists every problem. */
export function validateConfig<S extends z.ZodType>(schema: S, data: unknown, source: string): z.infer<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      const known = shapeAt(schema, issue.path);
      return issue.keys
        .map((key) => `${formatPath([...issue.path, key])}: unknown key${didYouMean(key, known)}`)
        .join("\n  ");
    }
    const value = valueAt(data, issue.path);
    // A cross-field check can concern a field left at its default.
    const shown = value === undefined ? (issue.code === "custom" ? "the default" : "missing") : JSON.stringify(value);
    return `${formatPath(issue.path)}: ${issue.message} (got ${shown})`;
  });
  throw new UserError(`${source}: invalid configuration\n  ${lines.join("\n  ")}`);
}

/** Parse `a.b.c=value` overrides (value parsed as YAML: numbers, booleans, lists). */
export function applyOverrides(data: unknown, overrides: readonly string[]): unknown {
  if (overrides.length === 0) return data;
  if (data !== undefined && data !== null && (typeof data !== "object" || Array.isArray(data))) {
    throw new UserError(`--set: the config is ${Array.isArray(data) ? "a list" : `a ${typeof data}`}, expected a mapping of fields`);
  }
  const root = (data ?? {}) as Record<string, unknown>;
  for (const override of overrides) {
    const eq = override.indexOf("=");
    if (eq <= 0) throw new UserError(`--set ${override}: expected key.path=value`);
    const path = override.slice(0, eq).split(".");
    const bad = path.find((key) => key === "" || FORBIDDEN_KEYS.has(key));
    if (bad !== undefined) throw new UserError(`--set ${override}: "${override.slice(0, eq)}" is not a field path (${bad === "" ? "empty segment" : `"${bad}" is not a config field`})`);
    let value: unknown;
    try {
      value = parseYaml(override.slice(eq + 1)) as unknown;
    } catch (err) {
      throw new UserError(`--set ${override}: value is not valid YAML (${(err as Error).message.split("\n")[0]})`);
    }
    let node = root;
    path.forEach((key, depth) => {
      if (Array.isArray(node) && !(/^\d+$/.test(key) && Number(key) <= node.length)) {
        // A list takes an index of an item or the next one (a huge index would allocate a huge list).
        throw new UserError(`--set ${override}: "${path.slice(0, depth).join(".")}" is a list of ${node.length}; "${key}" is not an index 0…${node.length}`);
      }
      if (depth === path.length - 1) node[key] = value;
      else {
        if (!Object.hasOwn(node, key) || node[key] === null || typeof node[key] !== "object") node[key] = {};
        node = node[key] as Record<string, unknown>;
      }
    });
  }
  return root;
}

/** Keys that would reach Object.prototype through `--set` (prototype pollution). */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${path}: cannot read config file (${code === "ENOENT" ? "no such file" : (err as Error).message})`);
  }
  let data: unknown;
  try {
    data = parseYaml(text) as unknown;
  } catch (err) {
    throw new UserError(`${path}: not valid YAML/JSON (${(err as Error).message.split("\n")[0]})`);
  }
  // An empty file would otherwise train with every default, silently.
  if (data === null || data === undefined) throw new UserError(`${path}: empty config file (expected a mapping of fields; see configs/)`);
  if (typeof data !== "object" || Array.isArray(data)) throw new UserError(`${path}: the config is ${Array.isArray(data) ? "a list" : `a ${typeof data}`}, expected a mapping of fields`);
  return data;
}

export function loadConfig<S extends z.ZodType>(schema: S, path: string | undefined, overrides: readonly string[] = []): z.infer<S> {
  const data = path === undefined ? {} : readConfigFile(path);
  return validateConfig(schema, applyOverrides(data, overrides), path ?? "config");
}
