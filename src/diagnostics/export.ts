/**
 * Metrics export for the tools people already use: every number of a run's `metrics.jsonl`
 * as scalar series (tag, step, value), written as a tidy CSV or as a TensorBoard event file.
 *
 * Steps count finished epochs: an epoch record `epoch: k` (the k+1-th epoch) is step k+1, an
 * evaluation after k epochs is step k. Non-finite statistics (null in JSON) are left out.
 *
 * TensorBoard event files are TFRecord files of `tensorflow.Event` protocol buffers: each
 * record is [u64 length][u32 masked CRC32C of the length][data][u32 masked CRC32C of the data],
 * all little-endian; the first event carries `file_version: "brain.Event:2"`, the others
 * `wall_time`, `step` and a `Summary` of `{tag, simple_value}` pairs. No npm package writes
 * them without TensorFlow's native library, so the few fields needed are encoded here.
 */
import type { ValidMetricsRecord } from "./metrics-schema.js";

export interface Scalar {
  tag: string;
  step: number;
  value: number;
  /** Seconds since the run's start (sum of the epochs' sample/reward/train times so far). */
  seconds: number;
}

function push(out: Scalar[], tag: string, step: number, seconds: number, value: unknown): void {
  if (typeof value === "number" && Number.isFinite(value)) out.push({ tag, step, value, seconds });
}

/** Every scalar of the records, in record order. */
export function metricsScalars(records: readonly ValidMetricsRecord[]): Scalar[] {
  const out: Scalar[] = [];
  let elapsed = 0;
  for (const record of records) {
    if (record.type === "epoch") {
      const step = record.epoch + 1;
      elapsed += record.seconds.sample + record.seconds.reward + record.seconds.train;
      const add = (tag: string, value: unknown) => push(out, tag, step, elapsed, value);
      for (const r of record.rewards) {
        add(`train/reward/${r.name}/mean`, r.mean);
        add(`train/reward/${r.name}/std`, r.std);
      }
      add("train/loss", record.loss);
      add("train/grad_norm", record.gradNorm);
      add("train/advantage_abs_mean", record.advantageAbsMean);
      add("train/optimizer_steps", record.optimizerSteps);
      record.zeroStdFraction.forEach((v, k) => add(`train/zero_std_fraction/${k}`, v));
      record.groupStdMean.forEach((v, k) => add(`train/group_std_mean/${k}`, v));
      for (const s of record.steps) {
        const p = `step${String(s.step).padStart(2, "0")}`;
        for (const field of ["logRatio", "clippedLogRatio"] as const) {
          for (const [key, v] of Object.entries(s[field])) add(`${p}/${field}/${key}`, v);
        }
        add(`${p}/clip_positive`, s.clipPositive);
        add(`${p}/clip_negative`, s.clipNegative);
        add(`${p}/clip_total`, s.clipTotal);
        add(`${p}/approx_kl`, s.approxKl);
        add(`${p}/kl_ref`, s.klRef);
      }
      for (const g of record.stepGradNorms ?? []) {
        add(`step${String(g.step).padStart(2, "0")}/grad_norm_before`, g.before);
        add(`step${String(g.step).padStart(2, "0")}/grad_norm_after`, g.after);
      }
      for (const [key, v] of Object.entries(record.seconds)) add(`time/${key}_seconds`, v);
    } else if (record.type === "eval") {
      const add = (tag: string, value: unknown) => push(out, tag, record.epoch, elapsed, value);
      add("eval/proxy", record.proxy);
      for (const r of record.rewards) add(`eval/reward/${r.name}/mean`, r.mean);
      if (record.gold) {
        for (const [key, v] of Object.entries(record.gold)) if (typeof v === "number") add(`eval/gold/${key}`, v);
        record.gold.frechet.forEach((v, k) => add(`eval/gold/frechet/${k}`, v));
        for (const c of record.gold.components ?? []) add(`eval/gold/components/${c.key}`, c.value);
      }
    } else if (record.type === "alarm") {
      push(out, "events/alarm", record.epoch, elapsed, 1);
    } else if (record.type === "fault") {
      push(out, `events/fault/${record.kind}`, record.epoch + 1, elapsed, 1);
    }
  }
  return out;
}

const csvField = (text: string): string => (/[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);

/** Tidy CSV: one row per scalar (`step,tag,value,seconds`), numbers in full precision. */
export function scalarsCsv(scalars: readonly Scalar[]): string {
  return ["step,tag,value,seconds", ...scalars.map((s) => `${s.step},${csvField(s.tag)},${s.value},${s.seconds}`)].join("\n") + "\n";
}

// ---- TFRecord / tensorflow.Event encoding ----

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli), as TFRecord uses. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) crc = CRC32C_TABLE[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15, add a constant. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

function varint(value: number | bigint): number[] {
  let v = BigInt(value);
  if (v < 0n) v += 1n << 64n;
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

const key = (field: number, wire: number): number[] => varint((field << 3) | wire);
const lengthDelimited = (field: number, bytes: Uint8Array | number[]): number[] => [...key(field, 2), ...varint(bytes.length), ...bytes];

function summaryValue(tag: string, value: number): number[] {
  const float = Buffer.alloc(4);
  float.writeFloatLE(value);
  return [...lengthDelimited(1, Buffer.from(tag, "utf8")), ...key(2, 5), ...float];
}

/** One `tensorflow.Event` with wall_time (1), step (2) and either file_version (3) or summary (5). */
export function encodeEvent(wallTime: number, step: number, content: { fileVersion: string } | { values: readonly { tag: string; value: number }[] }): Uint8Array {
  const wall = Buffer.alloc(8);
  wall.writeDoubleLE(wallTime);
  const bytes = [...key(1, 1), ...wall, ...key(2, 0), ...varint(step)];
  if ("fileVersion" in content) bytes.push(...lengthDelimited(3, Buffer.from(content.fileVersion, "utf8")));
  else bytes.push(...lengthDelimited(5, content.values.flatMap((v) => lengthDelimited(1, summaryValue(v.tag, v.value)))));
  return Uint8Array.from(bytes);
}

/** Frame one record: length, masked CRC of the length, data, masked CRC of the data. */
export function tfRecord(data: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header.writeBigUInt64LE(BigInt(data.length));
  const out = Buffer.alloc(16 + data.length);
  header.copy(out, 0);
  out.writeUInt32LE(maskedCrc32c(header), 8);
  Buffer.from(data).copy(out, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

/** A TensorBoard event file of the scalars; `startTime` (s since 1970) is the run's start. */
export function tfEventsFile(scalars: readonly Scalar[], startTime: number): Buffer {
  const records = [tfRecord(encodeEvent(startTime, 0, { fileVersion: "brain.Event:2" }))];
  // One event per (step, time): TensorBoard reads every tag of a summary at that step.
  const groups = new Map<string, Scalar[]>();
  for (const s of scalars) {
    const k = `${s.step}:${s.seconds}`;
    const group = groups.get(k);
    if (group) group.push(s);
    else groups.set(k, [s]);
  }
  for (const group of groups.values()) records.push(tfRecord(encodeEvent(startTime + group[0].seconds, group[0].step, { values: group })));
  return Buffer.concat(records);
}

/** Read the records of a TFRecord file back, checking both CRCs (tests, and a sanity check). */
export function readTfRecords(bytes: Uint8Array, source: string): Uint8Array[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let offset = 0;
  while (offset < buf.length) {
    if (offset + 12 > buf.length) throw new Error(`${source}: truncated record header at byte ${offset}`);
    const length = Number(buf.readBigUInt64LE(offset));
    if (buf.readUInt32LE(offset + 8) !== maskedCrc32c(buf.subarray(offset, offset + 8))) throw new Error(`${source}: length CRC mismatch at byte ${offset}`);
    if (offset + 16 + length > buf.length) throw new Error(`${source}: truncated record at byte ${offset}`);
    const data = buf.subarray(offset + 12, offset + 12 + length);
    if (buf.readUInt32LE(offset + 12 + length) !== maskedCrc32c(data)) throw new Error(`${source}: data CRC mismatch at byte ${offset}`);
    out.push(data);
    offset += 16 + length;
  }
  return out;
}
