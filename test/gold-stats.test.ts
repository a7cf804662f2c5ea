import { test } from "node:test";
import assert from "node:assert/strict";
import { halfSampleCi, holmRejected, incompleteBeta, meanCi, studentT975, studentTTwoSidedP, SubsetRng, tTestP } from "../src/diagnostics/bootstrap.js";
import { nearDuplicateThreshold, pairStatistics, pairwiseDistances } from "../src/diagnostics/diversity.js";
import { kid, KidReference, polynomialKernel } from "../src/diagnostics/kid.js";
import { frechetDistance, meanAndCovariance } from "../src/diagnostics/linalg.js";
import { atProxyLevel, matchedProxy } from "../src/diagnostics/matched-proxy.js";

/** n rows of N(shift, I_d). */
function gaussian(rng: SubsetRng, n: number, d: number, shift = 0): Float64Array {
  const out = new Float64Array(n * d);
  for (let i = 0; i < out.length; i++) {
    const u = 1 - rng.uniform();
    out[i] = shift + Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.uniform());
  }
  return out;
}
const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(xs.reduce((a, b) => a + (b - avg(xs)) ** 2, 0) / (xs.length - 1));

test("KID: the unbiased MMD² formula, checked against a brute-force sum", () => {
  const rng = new SubsetRng(1);
  const d = 3;
  const x = gaussian(rng, 5, d);
  const y = gaussian(rng, 7, d, 0.3);
  let xx = 0;
  let yy = 0;
  let xy = 0;
  for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) if (i !== j) xx += (avg([...Array(d)].map((_, k) => x[i * d + k] * x[j * d + k])) + 1) ** 3;
  for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) if (i !== j) yy += (avg([...Array(d)].map((_, k) => y[i * d + k] * y[j * d + k])) + 1) ** 3;
  for (let i = 0; i < 5; i++) for (let j = 0; j < 7; j++) xy += polynomialKernel(x, i, y, j, d);
  const expected = xx / 20 + yy / 42 - (2 * xy) / 35;
  assert.ok(Math.abs(kid(x, 5, y, 7, d) - expected) < 1e-12, `${kid(x, 5, y, 7, d)} vs ${expected}`);
  // A subset of X through the precomputed terms equals KID of that subset computed directly.
  const terms = new KidReference(y, 7, d).against(x, 5);
  const sub = [0, 2, 3];
  const direct = kid(Float64Array.from(sub.flatMap((i) => [...x.subarray(i * d, (i + 1) * d)])), 3, y, 7, d);
  assert.ok(Math.abs(terms.value(sub) - direct) < 1e-12);
});

test("KID is unbiased where the Fréchet distance is not: equal Gaussians, repeated draws at two sample sizes", () => {
  const d = 8;
  const repeats = 150;
  const rng = new SubsetRng(7);
  const at = (n: number) => {
    const fd: number[] = [];
    const k: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const x = gaussian(rng, n, d);
      const y = gaussian(rng, n, d);
      fd.push(frechetDistance(meanAndCovariance(x, n, d), meanAndCovariance(y, n, d), d));
      k.push(kid(x, n, y, n, d));
    }
    return { fd: avg(fd), kid: avg(k), kidSe: sd(k) / Math.sqrt(repeats) };
  };
  const small = at(12);
  const large = at(48);
  // The true distance is 0. FD's mean is far above 0 and shrinks with n (its bias is O(d/n)).
  assert.ok(small.fd > 2, `FD mean at n=12: ${small.fd}`);
  assert.ok(large.fd < small.fd / 2.5 && large.fd > 0.3, `FD mean at n=48: ${large.fd} (n=12: ${small.fd})`);
  // KID's mean is 0 within three standard errors at both sizes.
  assert.ok(Math.abs(small.kid) < 3 * small.kidSe, `KID mean at n=12: ${small.kid} ± ${small.kidSe}`);
  assert.ok(Math.abs(large.kid) < 3 * large.kidSe, `KID mean at n=48: ${large.kid} ± ${large.kidSe}`);
});

/** KID of 4 groups of 8 samples against a 200-row reference, with its half-sampling CI. */
function kidWithCi(rng: SubsetRng, shift: number, seed: number) {
  const d = 6;
  const reference = new KidReference(gaussian(rng, 200, d), 200, d);
  const x = gaussian(rng, 32, d, shift);
  const terms = reference.against(x, 32);
  const [estimate] = halfSampleCi([8, 8, 8, 8], (subsets) => [terms.value(subsets.flatMap((s, g) => s.map((i) => 8 * g + i)))], { seed });
  return estimate;
}

test("KID confidence interval: same distribution → 0 inside the CI; shifted → clearly above 0", () => {
  const rng = new SubsetRng(11);
  let covered = 0;
  const trials = 40;
  for (let t = 0; t < trials; t++) {
    const same = kidWithCi(rng, 0, t);
    assert.ok(same.ci[0] <= same.value && same.value <= same.ci[1]);
    if (same.ci[0] <= 0 && 0 <= same.ci[1]) covered++;
  }
  assert.ok(covered >= 0.85 * trials, `0 inside the 95 % CI in ${covered}/${trials} same-distribution trials`);
  for (let t = 0; t < 5; t++) {
    const shifted = kidWithCi(rng, 0.6, t);
    assert.ok(shifted.ci[0] > 0, `shifted: KID ${shifted.value}, CI [${shifted.ci}]`);
  }
});

test("half-sampling CI of a mean has the width of the usual standard error", () => {
  const rng = new SubsetRng(3);
  const values = Array.from({ length: 64 }, () => rng.uniform());
  const [estimate] = halfSampleCi([64], ([s]) => [avg(s.map((i) => values[i]))], { draws: 400, seed: 2 });
  const se = sd(values) / 8;
  const halfWidth = (estimate.ci[1] - estimate.ci[0]) / 2;
  assert.ok(Math.abs(halfWidth / (1.96 * se) - 1) < 0.25, `half width ${halfWidth} vs 1.96·se ${1.96 * se}`);
  assert.equal(estimate.value, avg(values));
});

test("diversity and near-duplicates: duplicates are caught, real-like samples sit at the threshold's percentile", () => {
  const rng = new SubsetRng(5);
  const d = 8;
  const real = gaussian(rng, 300, d);
  const tau = nearDuplicateThreshold(real, 300, d, 0.05);
  // Fresh samples of the same distribution: about 5 % of pairs under τ, diversity ≈ E‖x − y‖ = 2Γ(4.5)/Γ(4).
  const fresh = gaussian(rng, 200, d);
  const all = Array.from({ length: 200 }, (_, i) => i);
  const s = pairStatistics(pairwiseDistances(fresh, all, d), 200, tau);
  assert.ok(Math.abs(s.nearDuplicates - 0.05) < 0.015, `near-duplicates ${s.nearDuplicates}`);
  assert.ok(Math.abs(s.diversity - 3.8772) < 0.1, `diversity ${s.diversity}`);
  // A collapsed prompt: 8 copies of 2 images (+ tiny noise) — most pairs are near-duplicates, diversity falls.
  const collapsed = new Float64Array(8 * d);
  for (let i = 0; i < 8; i++) for (let k = 0; k < d; k++) collapsed[i * d + k] = fresh[(i % 2) * d + k] + 1e-3 * (rng.uniform() - 0.5);
  const c = pairStatistics(pairwiseDistances(collapsed, all.slice(0, 8), d), 8, tau);
  assert.ok(c.nearDuplicates >= 12 / 28 - 1e-9, `collapsed near-duplicates ${c.nearDuplicates}`);
  assert.ok(c.diversity < s.diversity);
  // Its CI over half-samples stays above the real fraction.
  const dist = pairwiseDistances(collapsed, all.slice(0, 8), d);
  const [ci] = halfSampleCi([8], ([sub]) => [pairStatistics(dist, 8, tau, sub).nearDuplicates]);
  assert.ok(ci.ci[0] > 0.05, `collapse CI [${ci.ci}]`);
});

test("gold at matched proxy: first crossing, linear interpolation, censored runs counted", () => {
  const series = (points: [number, number, number][]) => points.map(([epoch, proxy, g]) => ({ epoch, proxy, values: { g } }));
  const a = series([[0, 0.8, 10], [5, 0.9, 20], [10, 0.85, 30], [15, 0.95, 40]]);
  // 0.85 first crossed between epochs 0 and 5 (t = 0.5), not at the later dip to 0.85.
  const crossing = atProxyLevel(a, 0.85);
  assert.ok(crossing.reached && Math.abs(crossing.values.g! - 15) < 1e-12 && Math.abs(crossing.epoch - 2.5) < 1e-12);
  // 0.92: between epochs 10 (0.85) and 15 (0.95) → t = 0.7 → 37.
  const later = atProxyLevel(a, 0.92);
  assert.ok(later.reached && Math.abs(later.values.g! - 37) < 1e-9);
  // Already above the level at the first evaluation: read there.
  const first = atProxyLevel(a, 0.7);
  assert.ok(first.reached && first.values.g === 10);
  assert.deepEqual(atProxyLevel(a, 0.99), { reached: false, lastProxy: 0.95 });

  const b = series([[0, 0.8, 12], [5, 0.88, 28]]);
  const c = series([[0, 0.8, 11], [5, 0.9, 19]]);
  const cells = matchedProxy([a, b, c], [0.85, 0.89], ["g"]);
  const at85 = cells.find((x) => x.level === 0.85)!;
  // a: 15; b: 12 + (0.05/0.08)·16 = 22; c: 11 + 0.5·8 = 15.
  assert.deepEqual(at85.values.map((v) => Math.round(v * 1e9) / 1e9), [15, 22, 15]);
  assert.equal(at85.censored, 0);
  const expected = meanCi([15, 22, 15]);
  assert.ok(Math.abs(at85.mean - expected.value) < 1e-9 && Math.abs(at85.ci[1] - expected.ci[1]) < 1e-9);
  // t-interval: mean ± 4.303·sd/√3.
  assert.ok(Math.abs(at85.ci[1] - at85.mean - (4.303 * sd([15, 22, 15])) / Math.sqrt(3)) < 1e-9);
  const at89 = cells.find((x) => x.level === 0.89)!;
  assert.equal(at89.reached, 2);
  assert.equal(at89.censored, 1, "b never reaches 0.89: censored, not dropped silently");
  assert.equal(at89.runs, 3);
});

test("feature cache: computed once, read back bit-identical, a truncated file is recomputed", async () => {
  const { cachedFeatures, FEATURE_CACHE_DIR } = await import("../src/rewards/feature-cache.js");
  const { truncateSync } = await import("node:fs");
  const { join } = await import("node:path");
  const key = `test-${process.pid}-${Date.now()}`;
  let calls = 0;
  const compute = async () => {
    calls++;
    return [Float32Array.from([1.5, -2, Math.PI]), new Float32Array(0), Float32Array.from([7])];
  };
  const first = await cachedFeatures(key, compute);
  const second = await cachedFeatures(key, compute);
  assert.equal(calls, 1);
  assert.deepEqual(second, first);
  truncateSync(join(FEATURE_CACHE_DIR, `${key}.f32`), 10);
  assert.deepEqual(await cachedFeatures(key, compute), first);
  assert.equal(calls, 2, "the truncated file was recomputed");
});

test("Student-t p-values: closed forms at 1 and 2 degrees of freedom, the tabulated 97.5 % quantiles give p = 0.05, the normal limit", () => {
  const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
  for (const t of [0, 0.3, 1, 2.5, 8.2, 40]) {
    close(studentTTwoSidedP(t, 1), 1 - (2 / Math.PI) * Math.atan(t), 1e-12, `df 1, t ${t}`);
    close(studentTTwoSidedP(-t, 2), 1 - t / Math.sqrt(t * t + 2), 1e-12, `df 2, t ${-t}`);
  }
  for (let df = 1; df <= 30; df++) close(studentTTwoSidedP(studentT975(df), df), 0.05, 5e-4, `t975 at df ${df} (table rounded to 3 decimals)`);
  close(studentTTwoSidedP(1.959964, 1e7), 0.05, 1e-5, "normal limit");
  // I_x(a, b) against closed forms: I_x(1, 1) = x, I_x(a, 1) = x^a, I_x(1, b) = 1 − (1 − x)^b; the symmetry.
  for (const x of [0.01, 0.2, 0.5, 0.77, 0.99]) {
    close(incompleteBeta(x, 1, 1), x, 1e-13, `I_${x}(1,1)`);
    close(incompleteBeta(x, 3.5, 1), x ** 3.5, 1e-13, `I_${x}(3.5,1)`);
    close(incompleteBeta(x, 1, 4), 1 - (1 - x) ** 4, 1e-13, `I_${x}(1,4)`);
    close(incompleteBeta(x, 2.5, 7), 1 - incompleteBeta(1 - x, 7, 2.5), 1e-13, "symmetry");
  }
  assert.equal(incompleteBeta(0, 2, 3), 0);
  assert.equal(incompleteBeta(1, 2, 3), 1);
  // The one-sample test on seed-paired differences.
  close(tTestP([1, 2, 3]), studentTTwoSidedP(2 / (1 / Math.sqrt(3)), 2), 1e-15, "mean 2, sd 1, n 3");
  assert.ok(Number.isNaN(tTestP([0.4])));
  assert.equal(tTestP([0.25, 0.25, 0.25]), 0, "a nonzero constant difference");
  assert.equal(tTestP([0, 0]), 1);
});

test("Holm's step-down: the smallest p against α/m, then α/(m−1), …, stopping at the first that fails; NaN left out", () => {
  assert.deepEqual(holmRejected([0.01, 0.04, 0.03, 0.005]), [true, false, false, true]); // 0.005 < 0.0125, 0.01 < 0.0167, 0.03 > 0.025: stop
  assert.deepEqual(holmRejected([0.001, 0.002, 0.003]), [true, true, true]);
  assert.deepEqual(holmRejected([0.02, NaN, 0.02]), [true, false, true], "two tests count: 0.02 < 0.025, then 0.02 < 0.05");
  assert.deepEqual(holmRejected([0.2]), [false]);
  assert.deepEqual(holmRejected([]), []);
});
