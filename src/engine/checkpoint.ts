/**
 * Checkpoints: one safetensors file per checkpoint holding the whole state tree (params,
 * EMA, optimizer moments…) plus a JSON `meta` document (step, RNG states, config) and a
 * SHA-256 checksum of the tensor bytes and the meta document. Files are written atomically; `latest.json` is
 * updated only after the checkpoint file is complete, so "latest" is never half-written.
 * Reading verifies the checksum and falls back to the previous checkpoint with a warning.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { UserError } from "./errors.js";
import { decodeSafetensors, encodeSafetensors, treeToHost, writeFileAtomic, type TensorRecord } from "./safetensors.js";
import type { ParamTree } from "./tree.js";

export interface LoadedCheckpoint<M> {
  file: string;
  tensors: Map<string, TensorRecord>;
  meta: M;
}

function checksum(tensors: Map<string, TensorRecord>): string {
  const hash = createHash("sha256");
  for (const [name, { shape, data }] of tensors) {
    hash.update(`${name}:${shape.join("x")};`);
    hash.update(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest("hex");
}

/** SHA-256 of the tensors and the meta document together (checkpoints written since the meta is covered). */
const stateChecksum = (tensors: Map<string, TensorRecord>, metaText: string): string =>
  createHash("sha256").update(checksum(tensors)).update("\0meta:").update(metaText, "utf8").digest("hex");

/** The file name of the checkpoint of `step` (epoch): ckpt-<8 digits>.safetensors. */
export const checkpointName = (step: number): string => `ckpt-${String(step).padStart(8, "0")}.safetensors`;

/**
 * Writes the checkpoint of `step` atomically, then keeps the newest `keep` files. With
 * `onSchedule`, an older checkpoint whose step is off the schedule (one written because a run
 * stopped or failed between scheduled saves) is removed once a newer one exists and does not
 * take one of the `keep` places: a run interrupted once keeps the same scheduled checkpoints as
 * one that never was.
 */
export async function writeCheckpoint(dir: string, step: number, state: ParamTree, meta: unknown, keep = 3, onSchedule?: (step: number) => boolean): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const tensors = await treeToHost(state);
  const file = checkpointName(step);
  const metaText = JSON.stringify(meta);
  const bytes = encodeSafetensors(tensors, { meta: metaText, stateChecksum: stateChecksum(tensors, metaText) });
  crashForTestsIfAsked(join(dir, file), bytes);
  try {
    writeFileAtomic(join(dir, file), bytes);
    writeFileAtomic(join(dir, "latest.json"), Buffer.from(JSON.stringify({ file, step }) + "\n"));
  } catch (err) {
    const previous = listCheckpoints(dir).filter((name) => name !== file).at(-1);
    const e = err as NodeJS.ErrnoException;
    throw new UserError(
      `${dir}: cannot write checkpoint ${file} (${e.code ?? "error"}: ${e.message})` +
        (previous ? `; the previous checkpoint ${previous} is intact — free space or fix permissions, then resume` : ""),
    );
  }
  const all = listCheckpoints(dir);
  const superseded = onSchedule
    ? all.filter((name) => {
        const at = checkpointStep(name)!;
        return at < step && !onSchedule(at);
      })
    : [];
  const kept = all.filter((name) => !superseded.includes(name));
  for (const name of [...superseded, ...kept.slice(0, -keep)]) unlinkSync(join(dir, name));
  return join(dir, file);
}

/**
 * Fault-injection hook for the resume tests: with GRPO_GUARD_CRASH_IN_CHECKPOINT=N the process
 * writes half of its N-th checkpoint's temp file and then kills itself with SIGKILL —
 * a crash in the middle of a checkpoint write.
 */
let checkpointsWritten = 0;
function crashForTestsIfAsked(path: string, bytes: Uint8Array): void {
  const target = Number(process.env.GRPO_GUARD_CRASH_IN_CHECKPOINT ?? 0);
  checkpointsWritten += 1;
  if (target > 0 && checkpointsWritten === target) {
    writeFileSync(join(dirname(path), `.${basename(path)}.${process.pid}.tmp`), bytes.subarray(0, bytes.length >> 1));
    process.kill(process.pid, "SIGKILL");
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000); // never returns: SIGKILL is pending
  }
}

const CHECKPOINT_FILE = /^ckpt-(\d{8})\.safetensors$/;

/** The step a checkpoint file name (checkpointName) stands for; null for any other name. */
export function checkpointStep(name: string): number | null {
  const match = CHECKPOINT_FILE.exec(name);
  return match ? Number(match[1]) : null;
}

export function listCheckpoints(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => CHECKPOINT_FILE.test(name))
    .sort();
}

/** One checkpoint file, its checksum verified (a UserError naming the file when it fails). */
export function readCheckpoint<M>(path: string): LoadedCheckpoint<M> {
  const file = decodeSafetensors(readFileSync(path), path);
  const metaText = file.metadata.meta;
  if (metaText === undefined) throw new UserError(`${path}: no "meta" entry in the metadata (corrupt checkpoint)`);
  const { stateChecksum: expected, checksum: legacy } = file.metadata;
  if (expected !== undefined) {
    if (stateChecksum(file.tensors, metaText) !== expected) throw new UserError(`${path}: checksum mismatch (corrupt checkpoint)`);
  } else if (legacy === undefined || checksum(file.tensors) !== legacy) {
    // Checkpoints written before the meta was covered carry a checksum of the tensors only.
    throw new UserError(`${path}: checksum ${legacy === undefined ? "missing" : "mismatch"} (corrupt checkpoint)`);
  }
  try {
    return { file: path, tensors: file.tensors, meta: JSON.parse(metaText) as M };
  } catch {
    throw new UserError(`${path}: metadata is not valid JSON (corrupt checkpoint)`);
  }
}

/**
 * The newest checkpoint in `dir` that passes its checksum, or null when there is none.
 * Corrupt or truncated files are skipped with a warning through `warn`.
 */
export function readLatestCheckpoint<M>(dir: string, warn: (message: string) => void = console.warn): LoadedCheckpoint<M> | null {
  const candidates = listCheckpoints(dir).reverse();
  for (const name of candidates) {
    try {
      return readCheckpoint<M>(join(dir, name));
    } catch (err) {
      warn(`warning: skipping checkpoint ${join(dir, name)}: ${(err as Error).message}`);
    }
  }
  return null;
}
