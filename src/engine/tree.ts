/**
 * Parameter trees: nested plain objects whose leaves are jax arrays. Keys are names
 * ("blocks.0.qkv.w" once flattened), so trees round-trip through safetensors by name.
 */
import { numpy as np, tree, type JaxArray } from "./jax.js";

export interface ParamTree {
  [name: string]: JaxArray | ParamTree | ParamTree[];
}

export type NamedLeaves = Map<string, JaxArray>;

/** Arrays and tracers (under jit/grad) both count as leaves. */
export function isArrayLeaf(value: unknown): value is JaxArray {
  if (value instanceof np.Array) return true;
  const v = value as { shape?: unknown; dtype?: unknown; dispose?: unknown } | null;
  return typeof v === "object" && v !== null && Array.isArray(v.shape) && typeof v.dtype === "string" && typeof v.dispose === "function";
}

/** Flatten a tree into `name → array` in a stable (insertion) order; does not touch refcounts. */
export function flattenNamed(params: ParamTree, prefix = ""): NamedLeaves {
  const out: NamedLeaves = new Map();
  const visit = (node: unknown, path: string): void => {
    if (isArrayLeaf(node)) {
      out.set(path, node);
    } else if (Array.isArray(node)) {
      node.forEach((child, i) => visit(child, path ? `${path}.${i}` : String(i)));
    } else if (node !== null && typeof node === "object") {
      for (const [key, child] of Object.entries(node)) visit(child, path ? `${path}.${key}` : key);
    } else {
      throw new TypeError(`parameter tree has a non-array leaf at "${path}"`);
    }
  };
  visit(params, prefix);
  return out;
}

/** Rebuild a tree with the same structure as `template`, taking leaves by name from `leaves`. */
export function unflattenLike<T extends ParamTree>(template: T, leaves: (name: string) => JaxArray): T {
  const build = (node: unknown, path: string): unknown => {
    if (isArrayLeaf(node)) return leaves(path);
    if (Array.isArray(node)) return node.map((child, i) => build(child, path ? `${path}.${i}` : String(i)));
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(node as object)) out[key] = build(child, path ? `${path}.${key}` : key);
    return out;
  };
  return build(template, "") as T;
}

export function countParams(params: ParamTree): number {
  let n = 0;
  for (const leaf of flattenNamed(params).values()) n += leaf.size;
  return n;
}

export const refTree = <T extends ParamTree>(params: T): T => tree.ref(params);
export const disposeTree = (params: ParamTree | null | undefined): void => tree.dispose(params);

/** Elementwise map over one or more trees of identical structure (consumes nothing itself). */
export function mapTrees<T extends ParamTree>(fn: (...leaves: JaxArray[]) => JaxArray, first: T, ...rest: T[]): T {
  return tree.map(fn as (...args: JaxArray[]) => JaxArray, first, ...rest) as unknown as T;
}

export function zerosLikeTree<T extends ParamTree>(params: T): T {
  return mapTrees((leaf) => np.zeros(leaf.shape), params);
}
