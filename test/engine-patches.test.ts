/**
 * The jax-js patches carried in patches/ (applied by `patch-package` at `npm install`),
 * checked against the behaviour of unpatched jax-js 0.1.25 (docs/engine.md, "Patches").
 */
import { test } from "node:test";
import assert from "node:assert/strict";

// Count the wasm memory jax-js grows, before jax-js creates its memory.
let grownPages = 0;
const grow = WebAssembly.Memory.prototype.grow;
WebAssembly.Memory.prototype.grow = function (delta: number) {
  grownPages += delta;
  return grow.call(this, delta);
};
// Keep the bytes of every wasm module jax-js compiles (which instructions a kernel uses).
const compiled: Uint8Array[] = [];
const keepBytes = (bytes: BufferSource) =>
  compiled.push(new Uint8Array(ArrayBuffer.isView(bytes) ? bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) : bytes.slice(0)));
const NativeModule = WebAssembly.Module;
WebAssembly.Module = function (bytes: BufferSource) {
  keepBytes(bytes);
  return new NativeModule(bytes);
} as unknown as typeof WebAssembly.Module;
WebAssembly.Module.prototype = NativeModule.prototype;
const nativeCompile = WebAssembly.compile;
WebAssembly.compile = (bytes: BufferSource) => {
  keepBytes(bytes);
  return nativeCompile(bytes);
};
process.env.GRPO_GUARD_THREADS = "1";
const { initEngine, numpy: np } = await import("../src/engine/jax.js");
await initEngine();
const MiB = 2 ** 20;

test("allocator patch: freed neighbouring large buffers merge and serve a larger request without growing memory", async () => {
  // Unpatched jax-js keeps one free list per exact size class, so the 8 MiB request would
  // grow the memory by 8 MiB although two adjacent 4 MiB blocks are free.
  // Uploaded host data: a real device buffer each (np.zeros/np.ones may stay lazy constants).
  const a = np.array(new Float32Array(MiB).fill(1));
  const b = np.array(new Float32Array(MiB).fill(2));
  await Promise.all([a.blockUntilReady(), b.blockUntilReady()]);
  a.dispose();
  b.dispose();
  const before = grownPages;
  const c = np.array(new Float32Array(2 * MiB).fill(1));
  const sum = await np.sum(c).data();
  assert.equal(sum[0], 2 * MiB);
  // Small buffers (the sum's output) may still take a fresh page; the 8 MiB must not.
  const grownMiB = ((grownPages - before) * 65536) / MiB;
  assert.ok(grownMiB < 1, `memory grew by ${grownMiB} MiB`);
});

test("allocator patch: live buffers never overlap under random allocation and frees (contents survive)", async () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const live: { array: ReturnType<typeof np.array>; value: number; n: number }[] = [];
  for (let i = 0; i < 120; i++) {
    if (live.length > 0 && rand() < 0.45) {
      const [gone] = live.splice(Math.floor(rand() * live.length), 1);
      gone.array.dispose();
    } else {
      // Mostly above the 64 KiB page (the patched path), some below (unchanged path).
      const n = Math.floor(2 ** (10 + rand() * 11)); // 1 Ki … 2 Mi floats
      live.push({ array: np.array(new Float32Array(n).fill(i + 1)), value: i + 1, n });
    }
  }
  for (const { array, value, n } of live) {
    const data = (await array.ref.data()) as Float32Array;
    assert.equal(data.length, n);
    assert.ok(data.every((x) => x === value), `buffer of ${n} floats holding ${value} was overwritten`);
    array.dispose();
  }
});

/** jax-js's scalar `exp` (wasm_exp in its builtins), step by step in float32: the reference the SIMD patch must match bit for bit. */
function scalarExpF32(x: number): number {
  const f = Math.fround;
  const nearestEven = (v: number) => {
    const r = Math.round(v);
    return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
  };
  const kf = nearestEven(f(x * f(1 / Math.LN2)));
  const k = Number.isNaN(kf) ? 0 : Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.trunc(kf)));
  if (k > 127) return Infinity;
  if (k < -126) return 0;
  const r = f(x - f(kf * f(Math.LN2)));
  const c = [1, 1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720].map(f);
  let p = c[6];
  for (let i = 5; i >= 0; i--) p = f(f(p * r) + c[i]);
  return f(p * 2 ** k);
}

const hasBytes = (haystack: Uint8Array, needle: number[]) =>
  haystack.some((_, i) => needle.every((b, j) => haystack[i + j] === b));

test("SIMD exp/reciprocal patch: four lanes at a time, every lane bit-identical to jax-js's scalar exp and to 1/x", async () => {
  const values: number[] = [];
  for (let v = -110; v <= 110; v += 0.0173) values.push(v);
  values.push(-87.33, -87.34, -88.72, -89, -103.9, 88.3, 88.72, 88.73, 89, 0, -0, 1e-30, -1e-30, 1e-45, NaN, Infinity, -Infinity, 3.4e38, -3.4e38, 0.5, -0.5, 1, 2, 10);
  values.push(0.25, 0.75, 1.5); // an odd count: the scalar tail after the last group of four runs too
  const x = Float32Array.from(values);
  const before = compiled.length;
  const exps = (await np.exp(np.array(x)).data()) as Float32Array;
  const recips = (await np.reciprocal(np.array(x)).data()) as Float32Array;
  const kernels = compiled.slice(before);
  // f32x4.nearest (0xfd 0x6a) is emitted only by the SIMD exp; f32x4.div (0xfd 0xe7 0x01) only by the SIMD reciprocal.
  assert.ok(kernels.some((k) => hasBytes(k, [0xfd, 0x6a])), "the exp kernel runs on f32x4 lanes (unpatched jax-js compiles it as scalar code)");
  assert.ok(kernels.some((k) => hasBytes(k, [0xfd, 0xe7, 0x01])), "the reciprocal kernel divides f32x4 lanes");
  let mismatches = 0;
  const bits = (v: number) => new Uint32Array(Float32Array.of(v).buffer)[0];
  for (let i = 0; i < x.length; i++) {
    const want = scalarExpF32(x[i]);
    if (!(Number.isNaN(want) ? Number.isNaN(exps[i]) : bits(want) === bits(exps[i]))) mismatches++;
    const wantR = Math.fround(1 / x[i]);
    if (!(Number.isNaN(wantR) ? Number.isNaN(recips[i]) : bits(wantR) === bits(recips[i]))) mismatches++;
  }
  assert.equal(mismatches, 0, `${mismatches} lanes differ from the scalar results (of ${2 * x.length})`);
});
