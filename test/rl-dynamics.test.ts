import { test } from "node:test";
import assert from "node:assert/strict";
import { initEngine, numpy as np, random } from "../src/engine/jax.js";
import { KeyChain } from "../src/engine/prng.js";
import type { VelocityModel } from "../src/models/model.js";
import { DYNAMICS } from "../src/sampling/dynamics.js";
import { shiftedSchedule } from "../src/sampling/schedule.js";
import { disposeRollout, SdeSampler } from "../src/sampling/sde.js";

await initEngine();

/** A velocity field with a closed form, v = 0.5·x − 0.2 + 0.3·s, for checking the sampler's algebra. */
const linearField: VelocityModel = {
  config: { kind: "linear", sampleShape: [6], vocab: ["a"], promptLength: 1 },
  init: (key) => { key.dispose(); return {}; },
  apply(_params, x, s, tokens) {
    tokens.dispose();
    return x.mul(0.5).sub(0.2).add(s.reshape([-1, 1]).mul(0.3));
  },
};

/** Float64 reference of one step, written from algorithms.md E3–E5 directly (not via α, β). */
function referenceStep(name: string, x: number[], xNext: number[], s: number, sNext: number, s1: number, eta: number): { mu: number[]; logp: number } {
  const dt = sNext - s;
  const v = x.map((xi) => 0.5 * xi - 0.2 + 0.3 * s);
  let mu: number[];
  let std: number;
  if (name === "flow-sde") {
    const sigma = eta * Math.sqrt(s / (1 - (s >= 1 ? s1 : s)));
    mu = x.map((xi, d) => xi * (1 + (sigma ** 2 * dt) / (2 * s)) + v[d] * (1 + (sigma ** 2 * (1 - s)) / (2 * s)) * dt);
    std = sigma * Math.sqrt(-dt);
  } else if (name === "dance-sde") {
    const x0 = x.map((xi, d) => xi - s * v[d]);
    const score = x.map((xi, d) => -(xi - (1 - s) * x0[d]) / s ** 2);
    std = eta * Math.sqrt(-dt);
    mu = x.map((xi, d) => xi + v[d] * dt - 0.5 * eta ** 2 * score[d] * dt);
  } else {
    std = sNext * Math.sin((eta * Math.PI) / 2);
    mu = x.map((xi, d) => {
      const x0 = xi - s * v[d];
      const eps = xi + (1 - s) * v[d];
      return (1 - sNext) * x0 + Math.sqrt(sNext ** 2 - std ** 2) * eps;
    });
    const logp = -mu.reduce((a, m, d) => a + (xNext[d] - m) ** 2, 0) / mu.length; // simplified convention (E5)
    return { mu, logp };
  }
  const quad = mu.reduce((a, m, d) => a + (xNext[d] - m) ** 2 / (2 * std ** 2), 0) / mu.length;
  return { mu, logp: -quad - Math.log(std) - 0.5 * Math.log(2 * Math.PI) };
}

for (const name of ["flow-sde", "dance-sde", "cps"]) {
  test(`${name}: μ and log p of every stochastic step match a float64 closed form (incl. the s = 1 step)`, async () => {
    const schedule = shiftedSchedule(6, 3);
    const eta = 0.7;
    const sampler = new SdeSampler(linearField, DYNAMICS[name], schedule, eta);
    const n = 5;
    const noise = random.normal(random.key(11), [n, 6]);
    const tokens = np.zeros([n, 1], { dtype: np.int32 });
    const trained = new Set([0, 1, 2, 3, 4, 5]);
    const keys = new KeyChain(3);
    const rollout = await sampler.rollout({}, noise, tokens, trained, () => keys.next());
    const expectedSteps = name === "cps" ? 5 : 6; // CPS's last step (s' = 0) is deterministic
    assert.equal(rollout.steps.length, expectedSteps);
    assert.equal(rollout.steps[0].coefficients.s, 1);
    for (const record of rollout.steps) {
      const xs = (await record.x.ref.data()) as Float32Array;
      const xn = (await record.xNext.ref.data()) as Float32Array;
      const mus = (await record.muOld.ref.data()) as Float32Array;
      const lps = (await record.logProbOld.ref.data()) as Float32Array;
      const { s, sNext } = record.coefficients;
      for (let j = 0; j < n; j++) {
        const row = (a: Float32Array) => Array.from(a.subarray(j * 6, (j + 1) * 6));
        const ref = referenceStep(name, row(xs), row(xn), s, sNext, schedule.sigmas[1], eta);
        ref.mu.forEach((m, d) => assert.ok(Math.abs(m - mus[j * 6 + d]) < 1e-5, `step ${record.index} μ[${d}]: ${mus[j * 6 + d]} vs ${m}`));
        assert.ok(Math.abs(ref.logp - lps[j]) < 1e-4 * Math.max(1, Math.abs(ref.logp)), `step ${record.index} log p: ${lps[j]} vs ${ref.logp}`);
      }
    }
    disposeRollout(rollout);
    tokens.dispose();
    sampler.dispose();
  });
}

test("ODE dynamics and CPS with η → 0 reduce to the Euler step x + v·dt", () => {
  const schedule = shiftedSchedule(10, 3);
  for (let i = 0; i < 10; i++) {
    const ode = DYNAMICS.ode.coefficients(schedule, i, 0.7);
    const cps = DYNAMICS.cps.coefficients(schedule, i, 1e-9);
    assert.equal(ode.alpha, 1);
    assert.ok(Math.abs(ode.beta - ode.dt) < 1e-15);
    assert.ok(Math.abs(cps.alpha - 1) < 1e-9 && Math.abs(cps.beta - cps.dt) < 1e-9, `step ${i}`);
  }
});

