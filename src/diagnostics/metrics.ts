/**
 * `metrics.jsonl`: one JSON record per line, append-only, readable while a run is going.
 * Each append is a single write of a whole line followed by fsync, so a reader (or a crash)
 * sees complete records plus at most one truncated last line. On resume the file is cut
 * back to the offset stored in the checkpoint, so no epoch is ever recorded twice.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, statSync, truncateSync, writeSync } from "node:fs";

export type MetricsRecord = { type: string } & Record<string, unknown>;

export class MetricsWriter {
  constructor(readonly path: string) {}

  /** Current size in bytes (the offset a checkpoint stores). */
  offset(): number {
    return existsSync(this.path) ? statSync(this.path).size : 0;
  }

  append(record: MetricsRecord): void {
    const fd = openSync(this.path, "a");
    try {
      writeSync(fd, JSON.stringify(record) + "\n");
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Drop everything after `offset` (records written after the checkpoint being resumed). */
  truncateTo(offset: number): void {
    if (existsSync(this.path) && statSync(this.path).size > offset) truncateSync(this.path, offset);
  }
}

export interface ReadResult {
  records: MetricsRecord[];
  /** The 1-based line number of each record. */
  lines: number[];
  /** Lines that could not be parsed (e.g. a last line cut by a crash), 1-based. */
  skipped: { line: number; reason: string }[];
}

export function readMetrics(path: string): ReadResult {
  const text = readFileSync(path, "utf8");
  const records: MetricsRecord[] = [];
  const lines: number[] = [];
  const skipped: ReadResult["skipped"] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      const value = JSON.parse(line) as MetricsRecord;
      if (typeof value !== "object" || value === null || Array.isArray(value) || typeof value.type !== "string") throw new Error("no record type");
      records.push(value);
      lines.push(i + 1);
    } catch (err) {
      skipped.push({ line: i + 1, reason: (err as Error).message });
    }
  });
  return { records, lines, skipped };
}
