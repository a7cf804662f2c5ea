/**
 * A disk cache for the gold panel's real-digit features: they depend only on the network's
 * weight file and the fixed digit selection, cost ~10 s of convolutions for gold-cnn, and every
 * run (every run of a sweep, every test run) would otherwise recompute them. Files live in
 * `<os tmpdir>/grpo-guard-gold-cache/<sha256 of weights + selection>.f32`; a missing, short or
 * unreadable file is recomputed, a failed write only costs the next run the recomputation.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const FEATURE_CACHE_DIR = join(tmpdir(), "grpo-guard-gold-cache");

/** A cache key from a weight file's bytes and a description of what was computed from it. */
export function featureCacheKey(weightsPath: string, what: string): string {
  return createHash("sha256").update(readFileSync(weightsPath)).update(`\0${what}`).digest("hex");
}

function readCached(path: string): Float32Array[] | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return null;
  }
  if (bytes.length < 4) return null;
  const count = bytes.readUInt32LE(0);
  const headerBytes = 4 + 4 * count;
  if (bytes.length < headerBytes) return null;
  const lengths = Array.from({ length: count }, (_, i) => bytes.readUInt32LE(4 + 4 * i));
  if (bytes.length !== headerBytes + 4 * lengths.reduce((a, b) => a + b, 0)) return null;
  const out: Float32Array[] = [];
  let offset = headerBytes;
  for (const length of lengths) {
    out.push(new Float32Array(bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + 4 * length)));
    offset += 4 * length;
  }
  return out;
}

function writeCached(path: string, arrays: readonly Float32Array[]): void {
  const header = Buffer.alloc(4 + 4 * arrays.length);
  header.writeUInt32LE(arrays.length, 0);
  arrays.forEach((a, i) => header.writeUInt32LE(a.length, 4 + 4 * i));
  const body = Buffer.concat([header, ...arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))]);
  try {
    mkdirSync(FEATURE_CACHE_DIR, { recursive: true });
    const temp = `${path}.${process.pid}.tmp`;
    writeFileSync(temp, body);
    renameSync(temp, path);
  } catch {
    // A read-only or full temp dir: the features are recomputed next time.
  }
}

/** The cached arrays for `key`, or `compute()`'s result, stored for next time. */
export async function cachedFeatures(key: string | null, compute: () => Promise<Float32Array[]>): Promise<Float32Array[]> {
  if (key === null) return compute();
  const path = join(FEATURE_CACHE_DIR, `${key}.f32`);
  const cached = readCached(path);
  if (cached) return cached;
  const fresh = await compute();
  writeCached(path, fresh);
  return fresh;
}
