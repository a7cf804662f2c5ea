/**
 * What holds the canonical epoch's resident memory (issue #18 item 4).
 *
 *   npm run build && node dist/bench/memory.js [epochs=2] [chunkRows=train.chunkRows default]
 *
 * Runs benchmark B1's epoch (bench.ts's configuration) with every device-buffer allocation and
 * free recorded (src/engine/memory.ts), and prints one JSON line:
 * - per phase (sampling, training) of each epoch: resident set (VmRSS), its high-water mark
 *   (VmHWM), the V8 heap, and the peak of live device bytes in that phase;
 * - `wasm_memory_mib`: the engine's wasm linear memory as it is (its byte length, which only
 *   grows: what the allocator in use — jax-js patched by patches/ — has touched so far);
 * - `allocator_replay`: the recorded trace replayed through a model of jax-js 0.1.25's wasm
 *   allocator as published (exact size classes, one free list per class, bump pointer that
 *   never moves back) and through coalescing first- and best-fit allocators for blocks above
 *   64 KiB (best fit is what the patch does) — how much of the resident set is live data and
 *   how much is the allocator's policy.
 */
import { wasmMemoryBytes } from "./wasm-memory.js"; // first: it must see the engine's memory being made
import { readFileSync } from "node:fs";
import { initEngine, random } from "../src/engine/jax.js";
import { peakLiveBytes, recordBufferEvents, trackBuffers, type BufferEvent } from "../src/engine/memory.js";
import { TrainConfigSchema } from "../src/config/train.js";
import { createModel, presetConfig } from "../src/models/registry.js";
import { GrpoTrainer } from "../src/rl/trainer.js";
import { negAbs } from "./bench.js";

const MiB = 2 ** 20;
const status = (): { rss: number; hwm: number } => {
  const text = readFileSync("/proc/self/status", "utf8");
  const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(text)?.[1] ?? NaN);
  return { rss: kib("VmRSS") / 1024, hwm: kib("VmHWM") / 1024 };
};

// ---- allocator models -------------------------------------------------------------------
const PAGE = 65536;
const alignTo = (n: number, a: number) => Math.ceil(n / a) * a;

/** jax-js 0.1.25 `WasmAllocator`: size classes, one LIFO free list per class, bump pointer. */
export function jaxSizeClass(size: number): number {
  if (size <= 512) return alignTo(size, 64);
  if (size <= 2048) return alignTo(size, 512);
  if (size <= 65536) {
    let c = 4096;
    while (c < size) c *= 2;
    return c;
  }
  return alignTo(size, PAGE);
}

export function replaySizeClass(events: readonly BufferEvent[]): number {
  let head = 64;
  let high = head;
  const free = new Map<number, number[]>();
  const where = new Map<number, [number, number]>();
  for (const { slot, bytes } of events) {
    if (bytes > 0) {
      const c = jaxSizeClass(bytes);
      const list = free.get(c);
      let ptr: number;
      if (list && list.length > 0) ptr = list.pop()!;
      else {
        ptr = head;
        head += alignTo(c, 64);
        high = Math.max(high, head);
      }
      where.set(slot, [ptr, c]);
    } else {
      const at = where.get(slot);
      if (!at) continue;
      where.delete(slot);
      const list = free.get(at[1]);
      if (list) list.push(at[0]);
      else free.set(at[1], [at[0]]);
    }
  }
  return high;
}

/**
 * Small buffers (≤ 64 KiB) as jax-js does; larger ones from an address-ordered list of free
 * ranges: first (or best) fit, split, and merge with free neighbours (and with the top, which lowers the
 * bump pointer) on free.
 */
export function replayCoalescing(events: readonly BufferEvent[], fit: "first" | "best" = "first"): number {
  let head = 64;
  let high = head;
  const smallFree = new Map<number, number[]>();
  let ranges: [number, number][] = []; // sorted [start, size]
  const where = new Map<number, [number, number, boolean]>();
  for (const { slot, bytes } of events) {
    if (bytes > 0) {
      const c = jaxSizeClass(bytes);
      if (c <= PAGE) {
        const list = smallFree.get(c);
        let ptr: number;
        if (list && list.length > 0) ptr = list.pop()!;
        else {
          ptr = head;
          head += alignTo(c, 64);
        }
        where.set(slot, [ptr, c, true]);
      } else {
        let i = -1;
        for (let j = 0; j < ranges.length; j++) {
          if (ranges[j][1] < c) continue;
          if (i < 0 || (fit === "best" && ranges[j][1] < ranges[i][1])) i = j;
          if (fit === "first") break;
        }
        let ptr: number;
        if (i >= 0) {
          ptr = ranges[i][0];
          if (ranges[i][1] === c) ranges.splice(i, 1);
          else ranges[i] = [ptr + c, ranges[i][1] - c];
        } else {
          ptr = head;
          head = ptr + c;
        }
        where.set(slot, [ptr, c, false]);
      }
      high = Math.max(high, head);
    } else {
      const at = where.get(slot);
      if (!at) continue;
      where.delete(slot);
      const [ptr, c, small] = at;
      if (small) {
        const list = smallFree.get(c);
        if (list) list.push(ptr);
        else smallFree.set(c, [ptr]);
        continue;
      }
      let i = ranges.findIndex(([start]) => start > ptr);
      if (i < 0) i = ranges.length;
      ranges.splice(i, 0, [ptr, c]);
      if (i + 1 < ranges.length && ranges[i][0] + ranges[i][1] === ranges[i + 1][0]) {
        ranges[i][1] += ranges[i + 1][1];
        ranges.splice(i + 1, 1);
      }
      if (i > 0 && ranges[i - 1][0] + ranges[i - 1][1] === ranges[i][0]) {
        ranges[i - 1][1] += ranges[i][1];
        ranges.splice(i, 1);
        i -= 1;
      }
      const last = ranges.at(-1);
      if (last && last[0] + last[1] === head) {
        head = last[0];
        ranges = ranges.slice(0, -1);
      }
    }
  }
  return high;
}

/** The live buffers at the moment of peak live bytes, grouped by size (largest total first). */
export function liveAtPeak(events: readonly BufferEvent[], top = 8): { mib: number; count: number }[] {
  const live = new Map<number, number>();
  let bytes = 0;
  let peak = -1;
  let snapshot: number[] = [];
  for (const { slot, bytes: b } of events) {
    if (b > 0) live.set(slot, b);
    else live.delete(slot);
    bytes += b;
    if (bytes > peak) {
      peak = bytes;
      snapshot = [...live.values()];
    }
  }
  const groups = new Map<number, number>();
  for (const size of snapshot) groups.set(size, (groups.get(size) ?? 0) + 1);
  return [...groups]
    .sort((a, b) => b[0] * b[1] - a[0] * a[1])
    .slice(0, top)
    .map(([size, count]) => ({ mib: +(size / MiB).toFixed(2), count }));
}

// ---- the run ----------------------------------------------------------------------------

if (process.argv[1]?.endsWith("memory.js")) {
  const args = process.argv.slice(2);
  const epochs = Number(args[0] ?? 2);
  const chunkRows = Number(args[1] ?? TrainConfigSchema.parse({ name: "x" }).train.chunkRows);
  await initEngine();
  await trackBuffers();
  const events = recordBufferEvents();
  const start = status();
  const config = TrainConfigSchema.parse({
    name: "memory",
    algorithm: "flow-grpo",
    dynamics: "flow-sde",
    sampling: { steps: 10, shift: 3, eta: 0.7 },
    prompts: { perEpoch: 8 },
    groupSize: 8,
    train: { epochs, minibatch: 32, lr: 1e-4, clipLow: 1e-4, clipHigh: 1e-4, chunkRows },
    eval: { every: 0 },
  });
  const model = createModel(presetConfig("dit-s"));
  const trainer = new GrpoTrainer(config, model, model.init(random.key(0)), [{ reward: negAbs, weight: 1 }], { epoch: () => {} });
  const phases: Record<string, unknown>[] = [];
  const mark = (phase: string) => {
    const { rss, hwm } = status();
    const mem = process.memoryUsage();
    phases.push({
      phase,
      vm_rss_mib: +rss.toFixed(0),
      vm_hwm_mib: +hwm.toFixed(0),
      v8_heap_mib: +(mem.heapUsed / MiB).toFixed(0),
      peak_live_device_mib: +((peakLiveBytes(true) ?? 0) / MiB).toFixed(0),
      wasm_memory_mib: +(wasmMemoryBytes() / MiB).toFixed(0),
      v8_heap_total_mib: +(mem.heapTotal / MiB).toFixed(0),
    });
  };
  // Phase boundaries: the first minibatch gradient of an epoch ends its sampling.
  const proto = GrpoTrainer.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const minibatchGradients = proto.minibatchGradients;
  let sampled = false;
  proto.minibatchGradients = function (this: unknown, ...args: unknown[]) {
    if (!sampled) mark("sampling");
    sampled = true;
    return minibatchGradients.apply(this, args);
  };
  mark("model initialised");
  const seconds: Record<string, number>[] = [];
  for (let e = 0; e < epochs; e++) {
    sampled = false;
    const cpu0 = process.cpuUsage();
    const record = await trainer.runEpoch();
    const cpu = process.cpuUsage(cpu0);
    mark(`training (epoch ${e})`);
    seconds.push({ sample_s: +record.seconds.sample.toFixed(2), train_s: +record.seconds.train.toFixed(2), cpu_s: +((cpu.user + cpu.system) / 1e6).toFixed(2) });
  }
  trainer.dispose();
  console.log(
    JSON.stringify({
      chunk_rows: chunkRows,
      start_rss_mib: +start.rss.toFixed(0),
      peak_rss_mib: +status().hwm.toFixed(0),
      seconds,
      phases,
      events: events.length,
      allocator_replay: {
        peak_live_device_mib: +(Math.max(...phases.map((p) => p.peak_live_device_mib as number))).toFixed(0),
        jax_published_size_classes_mib: +(replaySizeClass(events) / MiB).toFixed(0),
        coalescing_first_fit_mib: +(replayCoalescing(events, "first") / MiB).toFixed(0),
        coalescing_best_fit_mib: +(replayCoalescing(events, "best") / MiB).toFixed(0),
      },
      live_at_peak_by_size: liveAtPeak(events),
    }),
  );
  process.exit(0);
}
