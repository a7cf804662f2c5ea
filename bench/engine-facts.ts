/**
 * Measured jax-js facts that docs/engine.md and docs/performance.md rely on, re-measured on
 * this machine:   npm run engine-facts
 * 1. batched matmul with operands of different rank ([2,3,5,4] @ [3,4,6]) vs equal rank;
 * 2. a matmul reading a head-transposed view ([B,H,T,hd] → [B,T,D]) vs a contiguous input;
 * 3. nn.gelu (tanh: scalar kernel) vs geluSimd (adds/multiplies: SIMD kernel);
 * 4. the throughput of one large matmul ([3328,128] @ [128,512], the dit-s MLP at batch 64),
 *    and whether this Node accepts wasm relaxed SIMD (fused multiply-add), which jax-js uses
 *    when available: compare `node --experimental-wasm-relaxed-simd dist/bench/engine-facts.js`.
 * 5. the allocator patch (patches/@jax-js+jax+0.1.25.patch): wasm memory grown by an 8 MiB
 *    request right after two adjacent 4 MiB buffers were freed — 8 MiB unpatched (one free list
 *    per exact size), 0 patched (freed neighbours merge). Its effect on the canonical epoch's
 *    peak resident memory is measured by `node dist/bench/memory.js`.
 * Timings are medians of 9 runs under `jit`, one thread (GRPO_GUARD_THREADS=1 is set here).
 */
process.env.GRPO_GUARD_THREADS = "1";
let grownPages = 0;
const grow = WebAssembly.Memory.prototype.grow;
WebAssembly.Memory.prototype.grow = function (delta: number) {
  grownPages += delta;
  return grow.call(this, delta);
};
const { initEngine, jit, nn, numpy: np, random } = await import("../src/engine/jax.js");
const { geluSimd } = await import("../src/models/layers.js");
type Arr = ReturnType<typeof np.zeros>;
await initEngine();

async function medianMs(f: () => Arr): Promise<number> {
  const once = async () => {
    const out = f();
    await out.blockUntilReady();
    out.dispose();
  };
  await once();
  const times: number[] = [];
  for (let i = 0; i < 9; i++) {
    const t0 = performance.now();
    await once();
    times.push(performance.now() - t0);
  }
  return +times.sort((a, b) => a - b)[4].toFixed(2);
}

// 1. Rank-mismatched batched matmul.
const a = random.normal(random.key(1), [2, 3, 5, 4]);
const b = random.normal(random.key(2), [3, 4, 6]);
const A = (await a.ref.data()) as Float32Array;
const Bv = (await b.ref.data()) as Float32Array;
const mixedRank = (await np.matmul(a.ref, b.ref).data()) as Float32Array;
const equalRank = (await np.matmul(a, b.reshape([1, 3, 4, 6])).data()) as Float32Array;
let mixedError = 0;
let equalError = 0;
for (let i = 0; i < 2; i++)
  for (let h = 0; h < 3; h++)
    for (let t = 0; t < 5; t++)
      for (let d = 0; d < 6; d++) {
        let exact = 0;
        for (let k = 0; k < 4; k++) exact += A[((i * 3 + h) * 5 + t) * 4 + k] * Bv[(h * 4 + k) * 6 + d];
        const at = ((i * 3 + h) * 5 + t) * 6 + d;
        mixedError = Math.max(mixedError, Math.abs(mixedRank[at] - exact));
        equalError = Math.max(equalError, Math.abs(equalRank[at] - exact));
      }

// 2. Output projection reading a transposed view vs contiguous memory (dit-s, batch 64).
const [B, T, H, hd] = [64, 52, 4, 32];
const heads = random.normal(random.key(3), [B, H, T, hd]);
const tokens = random.normal(random.key(4), [B, T, H * hd]);
const w = random.normal(random.key(5), [H * hd, H * hd]);
const viaView = jit((x: Arr, m: Arr) => np.matmul(x.transpose([0, 2, 1, 3]).reshape([B, T, H * hd]), m));
const contiguous = jit((x: Arr, m: Arr) => np.matmul(x, m));
const viewMs = await medianMs(() => viaView(heads.ref, w.ref));
const contiguousMs = await medianMs(() => contiguous(tokens.ref, w.ref));

// 3. GELU kernels on the dit-s MLP activation shape.
const hidden = random.normal(random.key(6), [B, T, 4 * H * hd]);
const tanhGelu = jit((x: Arr) => nn.gelu(x));
const simdGelu = jit((x: Arr) => geluSimd(x));
const tanhMs = await medianMs(() => tanhGelu(hidden.ref));
const simdMs = await medianMs(() => simdGelu(hidden.ref));

// 4. One large matmul; relaxed SIMD availability (a module using f32x4.relaxed_madd).
const lhs = random.normal(random.key(7), [B * T, H * hd]);
const rhs = random.normal(random.key(8), [H * hd, 4 * H * hd]);
const product = jit((x: Arr, y: Arr) => np.matmul(x, y));
const matmulMs = await medianMs(() => product(lhs.ref, rhs.ref));
const relaxedMadd = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 253, 133, 2, 11]);

// 5. Allocator: merge of freed neighbours.
const MiB = 2 ** 20;
const first = np.array(new Float32Array(MiB).fill(1));
const second = np.array(new Float32Array(MiB).fill(2));
await Promise.all([first.blockUntilReady(), second.blockUntilReady()]);
first.dispose();
second.dispose();
const pagesBefore = grownPages;
const merged = np.array(new Float32Array(2 * MiB).fill(3));
await merged.blockUntilReady();
merged.dispose();
const allocatorGrownMiB = ((grownPages - pagesBefore) * 65536) / MiB;

console.log(
  JSON.stringify({
    allocator_merge_grown_mib: allocatorGrownMiB,
    matmul_gflops: +((2 * B * T * H * hd * 4 * H * hd) / matmulMs / 1e6).toFixed(1),
    wasm_relaxed_simd: WebAssembly.validate(relaxedMadd),
    matmul_rank_mismatch_max_error: +mixedError.toPrecision(3),
    matmul_equal_rank_max_error: +equalError.toPrecision(3),
    projection_from_transposed_view_ms: viewMs,
    projection_from_contiguous_ms: contiguousMs,
    gelu_tanh_ms: tanhMs,
    gelu_simd_ms: simdMs,
  }),
);
process.exit(0);
