/**
 * safetensors read/write for parameter trees (https://github.com/huggingface/safetensors
 * format: u64-LE header length, JSON header of `name → {dtype, shape, data_offsets}` plus a
 * `__metadata__` map of strings, then the raw little-endian tensor bytes).
 *
 * We store float32 tensors only, named by their tree path ("blocks.0.qkv.w"), and put a
 * JSON document (model config, provenance) in `__metadata__`.
 * Writes are atomic: temp file in the same directory, fsync, rename.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, unlinkSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { numpy as np, type JaxArray } from "./jax.js";
import { UserError } from "./errors.js";
import { flattenNamed, type ParamTree, unflattenLike } from "./tree.js";

export interface TensorRecord {
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, TensorRecord>;
  metadata: Record<string, string>;
}

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Serialise host tensors to a safetensors byte buffer. */
export function encodeSafetensors(tensors: Map<string, TensorRecord>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, { shape, data }] of tensors) {
    const expected = shape.reduce((a, b) => a * b, 1);
    if (data.length !== expected) throw new Error(`tensor "${name}": ${data.length} values for shape [${shape}]`);
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8); // keep the data 8-byte aligned
  const headerBytes = Buffer.from(json, "utf8");
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let cursor = 8 + headerBytes.length;
  for (const { data } of tensors.values()) {
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, cursor);
    cursor += data.byteLength;
  }
  return out;
}

/** Parse a safetensors buffer; `source` names the file in error messages. */
export function decodeSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 8) throw new UserError(`${source}: not a safetensors file (only ${buf.length} bytes)`);
  const headerLength = Number(buf.readBigUInt64LE(0));
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > buf.length) {
    throw new UserError(`${source}: corrupt safetensors header (declared length ${headerLength}, file size ${buf.length})`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLength).toString("utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new UserError(`${source}: corrupt safetensors header (invalid JSON: ${(err as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new UserError(`${source}: corrupt safetensors header (expected a JSON object, got ${header === null ? "null" : Array.isArray(header) ? "a list" : typeof header})`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = buf.length - dataStart;
  const tensors = new Map<string, TensorRecord>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry) || !Object.values(entry).every((v) => typeof v === "string")) {
        throw new UserError(`${source}: corrupt safetensors header (__metadata__ must map names to strings)`);
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (dtype !== "F32") throw new UserError(`${source}: tensor "${name}" has dtype ${String(dtype)}, expected F32`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new UserError(`${source}: tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2) {
      throw new UserError(`${source}: tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as unknown[];
    if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end)) {
      throw new UserError(`${source}: tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)} (expected two integers)`);
    }
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (!((begin as number) >= 0 && (end as number) <= dataLength && (end as number) - (begin as number) === count * 4)) {
      throw new UserError(
        `${source}: tensor "${name}" data_offsets [${begin}, ${end}] do not fit shape [${shape}] in ${dataLength} data bytes (file truncated or corrupt?)`,
      );
    }
    const copy = new Float32Array(count);
    Buffer.from(copy.buffer).set(buf.subarray(dataStart + (begin as number), dataStart + (end as number)));
    tensors.set(name, { shape: shape as number[], data: copy });
  }
  return { tensors, metadata };
}

/** Write bytes atomically: temp file beside the target, fsync, rename. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(temp, "w");
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try { unlinkSync(temp); } catch { /* already gone */ }
    throw err;
  }
  closeSync(fd);
  renameSync(temp, path);
  try {
    const dirFd = openSync(dirname(path), "r");
    fsyncSync(dirFd);
    closeSync(dirFd);
  } catch {
    /* directory fsync is best-effort (not supported everywhere) */
  }
}

export function readSafetensorsFile(path: string): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${path}: cannot read weight file (${code === "ENOENT" ? "no such file" : (err as Error).message})`);
  }
  return decodeSafetensors(bytes, path);
}

/** Copy a parameter tree to the host (borrows the tree). */
export async function treeToHost(params: ParamTree): Promise<Map<string, TensorRecord>> {
  const out = new Map<string, TensorRecord>();
  for (const [name, leaf] of flattenNamed(params)) {
    const data = await leaf.ref.data();
    out.set(name, { shape: leaf.shape, data: data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>) });
  }
  return out;
}

export async function saveParams(path: string, params: ParamTree, metadata: Record<string, unknown> = {}): Promise<void> {
  const meta: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) meta[key] = typeof value === "string" ? value : JSON.stringify(value);
  writeFileAtomic(path, encodeSafetensors(await treeToHost(params), meta));
}

/**
 * Build device arrays shaped like `template` from loaded tensors, checking every name and
 * shape (the template itself is not consumed).
 */
export function treeFromTensors<T extends ParamTree>(template: T, tensors: Map<string, TensorRecord>, source: string): T {
  const expected = flattenNamed(template);
  for (const name of tensors.keys()) {
    if (!expected.has(name)) throw new UserError(`${source}: unexpected tensor "${name}" (not a parameter of this model)`);
  }
  return unflattenLike(template, (name) => {
    const record = tensors.get(name);
    const want = expected.get(name)!.shape;
    if (!record) throw new UserError(`${source}: missing tensor "${name}" (expected shape [${want}])`);
    if (record.shape.length !== want.length || record.shape.some((d, i) => d !== want[i])) {
      throw new UserError(`${source}: tensor "${name}" has shape [${record.shape}], expected [${want}]`);
    }
    return np.array(record.data, { shape: want });
  });
}

/** Parse a JSON metadata entry, naming the file and key when it is malformed. */
export function metadataJson<T>(file: SafetensorsFile, key: string, source: string): T {
  const raw = file.metadata[key];
  if (raw === undefined) throw new UserError(`${source}: metadata key "${key}" is missing`);
  try {
    return JSON.parse(raw) as T;
  } catch {
    throw new UserError(`${source}: metadata key "${key}" is not valid JSON`);
  }
}
