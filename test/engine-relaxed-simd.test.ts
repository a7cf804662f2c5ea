/**
 * Relaxed SIMD stays off unless asked for (src/engine/platform.ts `relaxedSimdRequested`), also on
 * a runtime whose V8 accepts it (Node ≥ 22 by default; here Node 20 with the V8 flag): jax-js then
 * compiles no `f32x4.relaxed_madd` and its matmuls are bit-identical to a runtime without relaxed
 * SIMD. With GRPO_GUARD_RELAXED_SIMD=1 it uses fused multiply-add (other rounding).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { relaxedSimdRequested } from "../src/engine/platform.js";
import { UserError } from "../src/engine/errors.js";

const jaxModule = new URL("../src/engine/jax.js", import.meta.url).href;
/** A child that records every compiled wasm module, runs one float32 matmul and prints its bits and whether relaxed_madd (0xfd 0x85 0x02) was compiled. */
const child = `
const compiled = [];
const Native = WebAssembly.Module;
WebAssembly.Module = function (bytes) { compiled.push(new Uint8Array(bytes.buffer ? bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) : bytes.slice(0))); return new Native(bytes); };
WebAssembly.Module.prototype = Native.prototype;
const nativeCompile = WebAssembly.compile;
WebAssembly.compile = (bytes) => { compiled.push(new Uint8Array(bytes.buffer ? bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) : bytes.slice(0))); return nativeCompile(bytes); };
const { initEngine, numpy: np } = await import(${JSON.stringify(jaxModule)});
await initEngine();
const values = (n, seed) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 12.9898) * 43758.5453 % 1);
const a = np.array(values(96 * 128, 1)).reshape([96, 128]);
const b = np.array(values(128 * 80, 2)).reshape([128, 80]);
const out = await np.matmul(a, b).data();
const madd = compiled.some((m) => m.some((x, i) => x === 0xfd && m[i + 1] === 0x85 && m[i + 2] === 0x02));
console.log(JSON.stringify({ madd, bits: Buffer.from(out.buffer).toString("base64") }));
`;

function runChild(flags: string[], env: Record<string, string | undefined>): { madd: boolean; bits: string } {
  const r = spawnSync(process.execPath, [...flags, "--input-type=module", "-e", child], { encoding: "utf8", env: { ...process.env, GRPO_GUARD_THREADS: "1", GRPO_GUARD_RELAXED_SIMD: undefined, JAX_JS_WASM_FEATURES_OFF: undefined, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { madd: boolean; bits: string };
}

test("relaxed SIMD: off by default even where V8 accepts it (bit-identical matmul, no relaxed_madd); on with GRPO_GUARD_RELAXED_SIMD=1", () => {
  const plain = runChild([], {});
  const acceptedButOff = runChild(["--experimental-wasm-relaxed-simd"], {});
  const on = runChild([], { GRPO_GUARD_RELAXED_SIMD: "1" });
  assert.equal(plain.madd, false);
  assert.equal(acceptedButOff.madd, false, "V8 accepts relaxed SIMD, but jax-js must not use it unless asked");
  assert.equal(acceptedButOff.bits, plain.bits, "bit-identical to a runtime without relaxed SIMD");
  assert.equal(on.madd, true, "GRPO_GUARD_RELAXED_SIMD=1: jax-js's matmul uses fused multiply-add");
  assert.notEqual(on.bits, plain.bits, "fused multiply-add rounds differently somewhere in a 96×128·128×80 product");
});

test("GRPO_GUARD_RELAXED_SIMD accepts 0, 1 or nothing", () => {
  assert.equal(relaxedSimdRequested(undefined), false);
  assert.equal(relaxedSimdRequested(""), false);
  assert.equal(relaxedSimdRequested("0"), false);
  assert.equal(relaxedSimdRequested("1"), true);
  assert.throws(() => relaxedSimdRequested("yes"), (e: unknown) => e instanceof UserError && /GRPO_GUARD_RELAXED_SIMD must be "0" or "1", got "yes"/.test(e.message));
});
