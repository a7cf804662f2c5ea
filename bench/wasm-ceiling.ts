/**
 * The wasm arithmetic ceiling of this machine: how many float32 FLOP/s a WebAssembly SIMD128
 * kernel can issue when it does nothing but arithmetic on registers — the bound any jax-js
 * wasm kernel runs under, whatever its memory traffic.
 *
 * Two kernels, written as wasm bytes by the small builder below (no WAT toolchain):
 * - `fma`: `acc = f32x4.relaxed_madd(acc, b, c)` (relaxed SIMD, fused multiply-add: 8 FLOP per
 *   instruction). Needs relaxed SIMD: on by default from Node 22 (V8 11.4+); on Node 20 it is
 *   behind `--experimental-wasm-relaxed-simd`, which this module sets with `v8.setFlagsFromString`
 *   before compiling (run it in its own process: the flag also changes what jax-js compiles).
 * - `mul_add`: `acc = f32x4.add(f32x4.mul(acc, b), c)` (plain SIMD128: 8 FLOP per two instructions).
 * Each kernel keeps ACCUMULATORS independent dependency chains in registers, enough to cover
 * the multiply/add latency on current x86 and Arm cores, so the loop is throughput-bound.
 *
 * `measureCeiling(threads)` runs the kernel on 1 thread and on `threads` worker threads at once
 * and reports GFLOP/s (best of a few timed runs: a ceiling is a maximum, and other processes
 * only ever lower it).
 *
 *   node dist/bench/wasm-ceiling.js [threads]     prints one JSON line
 */
import { setFlagsFromString } from "node:v8";
import { Worker } from "node:worker_threads";
import { availableParallelism } from "node:os";

const ACCUMULATORS = 12;
const UNROLL = 4;
/** FLOPs per loop iteration: accumulators × unroll × 4 lanes × (multiply + add). */
export const FLOP_PER_ITERATION = ACCUMULATORS * UNROLL * 4 * 2;

type Kind = "fma" | "mul_add";

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};
const f32Bytes = (x: number): number[] => [...new Uint8Array(Float32Array.of(x).buffer)];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vector = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

const op = {
  localGet: (i: number) => [0x20, ...uleb(i)],
  localSet: (i: number) => [0x21, ...uleb(i)],
  f32Const: (x: number) => [0x43, ...f32Bytes(x)],
  i32Const1: [0x41, 0x01],
  i32Sub: [0x6b],
  i32Eqz: [0x45],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  brIf: (depth: number) => [0x0d, depth],
  br: (depth: number) => [0x0c, depth],
  end: [0x0b],
  f32x4Splat: [0xfd, ...uleb(0x13)],
  f32x4ExtractLane0: [0xfd, ...uleb(0x1f), 0x00],
  f32x4Add: [0xfd, ...uleb(0xe4)],
  f32x4Mul: [0xfd, ...uleb(0xe6)],
  f32x4RelaxedMadd: [0xfd, ...uleb(0x105)],
};

/**
 * `(func (export "run") (param $n i32) (result f32))`: `$n` iterations of the kernel, then the sum
 * of the accumulators' first lanes (so the work cannot be dropped as dead code).
 */
export function ceilingModuleBytes(kind: Kind): Uint8Array<ArrayBuffer> {
  const acc = (i: number) => 1 + i; // local 0 is $n
  const b = 1 + ACCUMULATORS;
  const c = b + 1;
  const body: number[] = [];
  for (let i = 0; i < ACCUMULATORS; i++) body.push(...op.f32Const(1 + i / 64), ...op.f32x4Splat, ...op.localSet(acc(i)));
  body.push(...op.f32Const(0.999), ...op.f32x4Splat, ...op.localSet(b));
  body.push(...op.f32Const(1e-3), ...op.f32x4Splat, ...op.localSet(c));
  body.push(...op.block, ...op.loop, ...op.localGet(0), ...op.i32Eqz, ...op.brIf(1));
  for (let u = 0; u < UNROLL; u++) {
    for (let i = 0; i < ACCUMULATORS; i++) {
      if (kind === "fma") body.push(...op.localGet(acc(i)), ...op.localGet(b), ...op.localGet(c), ...op.f32x4RelaxedMadd);
      else body.push(...op.localGet(acc(i)), ...op.localGet(b), ...op.f32x4Mul, ...op.localGet(c), ...op.f32x4Add);
      body.push(...op.localSet(acc(i)));
    }
  }
  body.push(...op.localGet(0), ...op.i32Const1, ...op.i32Sub, ...op.localSet(0), ...op.br(0), ...op.end, ...op.end);
  body.push(...op.localGet(acc(0)));
  for (let i = 1; i < ACCUMULATORS; i++) body.push(...op.localGet(acc(i)), ...op.f32x4Add);
  body.push(...op.f32x4ExtractLane0, ...op.end);
  const locals = vector([[...uleb(ACCUMULATORS + 2), 0x7b]]); // v128 locals
  const func = [...locals, ...body];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector([[0x60, 0x01, 0x7f, 0x01, 0x7d]])), // type 0: (i32) -> f32
    ...section(3, vector([[0x00]])), // func 0 has type 0
    ...section(7, vector([[0x03, 0x72, 0x75, 0x6e, 0x00, 0x00]])), // export "run" = func 0
    ...section(10, vector([[...uleb(func.length), ...func]])),
  ]);
}

/** Whether this V8 validates relaxed SIMD, turning on Node 20's experimental flag if needed. */
export function enableRelaxedSimd(): boolean {
  if (WebAssembly.validate(ceilingModuleBytes("fma"))) return true;
  setFlagsFromString("--experimental-wasm-relaxed-simd");
  return WebAssembly.validate(ceilingModuleBytes("fma"));
}

/** Source of a worker that compiles one kernel, waits at a barrier, and reports its GFLOP/s. */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { bytes, iterations, flopPerIteration, barrier, relaxed } = workerData;
if (relaxed) require("node:v8").setFlagsFromString("--experimental-wasm-relaxed-simd");
const run = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.run;
run(1000); run(iterations / 10); // tier up (Liftoff → TurboFan) before timing
const flags = new Int32Array(barrier);
Atomics.add(flags, 0, 1);
while (Atomics.load(flags, 0) < flags[1]) {}
const t0 = performance.now();
const sink = run(iterations);
const seconds = (performance.now() - t0) / 1000;
parentPort.postMessage({ gflops: (iterations * flopPerIteration) / seconds / 1e9, sink });
`;

async function runOnThreads(bytes: Uint8Array<ArrayBuffer>, threads: number, iterations: number, relaxed: boolean): Promise<number> {
  const barrier = new SharedArrayBuffer(8);
  new Int32Array(barrier)[1] = threads;
  const results = await Promise.all(
    Array.from({ length: threads }, () =>
      new Promise<number>((resolve, reject) => {
        const worker = new Worker(WORKER, { eval: true, workerData: { bytes, iterations, flopPerIteration: FLOP_PER_ITERATION, barrier, relaxed } });
        worker.once("message", (m: { gflops: number }) => {
          resolve(m.gflops);
          void worker.terminate();
        });
        worker.once("error", reject);
      }),
    ),
  );
  return results.reduce((a, b) => a + b, 0);
}

export interface Ceiling {
  /** GFLOP/s of one thread. */
  one_thread: number;
  /** Summed GFLOP/s of `threads` threads running at once. */
  all_threads: number;
  threads: number;
}

/** Best of `tries` timed runs of each kernel on 1 and on `threads` threads. */
export async function measureCeiling(threads: number, tries = 7, iterations = 5_000_000): Promise<{ fma: Ceiling | null; mul_add: Ceiling }> {
  const relaxed = enableRelaxedSimd();
  const measure = async (kind: Kind): Promise<Ceiling> => {
    const bytes = ceilingModuleBytes(kind);
    let one = 0;
    let all = 0;
    for (let t = 0; t < tries; t++) {
      one = Math.max(one, await runOnThreads(bytes, 1, iterations, relaxed));
      all = Math.max(all, await runOnThreads(bytes, threads, iterations, relaxed));
    }
    return { one_thread: +one.toFixed(1), all_threads: +all.toFixed(1), threads };
  };
  return { fma: relaxed ? await measure("fma") : null, mul_add: await measure("mul_add") };
}

if (process.argv[1]?.endsWith("wasm-ceiling.js")) {
  const threads = Number(process.argv[2] ?? Math.min(8, availableParallelism()));
  console.log(JSON.stringify(await measureCeiling(threads)));
}
