/**
 * Randomness. Two kinds, both reproducible from a seed and checkpointable as plain numbers:
 *
 * - `KeyChain`: jax PRNG keys for on-device noise (ε, SDE noise z, logit-normal s). A chain
 *   holds (seed, counter); `next()` derives a fresh key as fold(seed, counter) — so saving
 *   the counter is enough to resume the exact stream.
 * - `HostRng`: a small counter-based generator (SplitMix64 over a 64-bit state) for host-side
 *   choices such as data order and minibatch permutations.
 */
import { numpy as np, type JaxArray } from "./jax.js";

const MASK64 = (1n << 64n) - 1n;

function splitmix64(state: bigint): [bigint, bigint] {
  const next = (state + 0x9e3779b97f4a7c15n) & MASK64;
  let z = next;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return [next, z ^ (z >> 31n)];
}

/** Mix two integers into a 31-bit seed (deterministic across platforms). */
export function mixSeed(a: number, b: number): number {
  const [, z] = splitmix64((BigInt(a >>> 0) << 32n) | BigInt(b >>> 0));
  return Number(z & 0x7fffffffn);
}

/**
 * A threefry key from two 32-bit words, built from host data. `random.key(seed)` gives the
 * same layout ([0, seed]) but bakes the seed into the generated kernel, so a new seed per
 * step compiles a new wasm module per step and memory grows without bound (measured: +5 MiB
 * per 100 steps); a key uploaded as data reuses one kernel.
 */
export function keyFromWords(hi: number, lo: number): JaxArray {
  return np.array(new Uint32Array([hi >>> 0, lo >>> 0]), { dtype: np.uint32 });
}

/** Equivalent to `random.key(seed)`, without the per-seed kernel. */
export const keyFromSeed = (seed: number): JaxArray => keyFromWords(0, seed);

export interface KeyChainState {
  seed: number;
  counter: number;
}

export class KeyChain {
  constructor(private readonly seed: number, private counter = 0) {
    if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  }

  static restore(state: KeyChainState): KeyChain {
    return new KeyChain(state.seed, state.counter);
  }

  /** A fresh jax PRNG key (owned by the caller). */
  next(): JaxArray {
    const key = keyFromWords(mixSeed(this.seed, this.counter), mixSeed(this.counter, this.seed));
    this.counter += 1;
    return key;
  }

  /** A child chain with an independent stream (e.g. one per purpose). */
  fork(label: number): KeyChain {
    return new KeyChain(mixSeed(this.seed ^ 0x5bd1e995, label));
  }

  state(): KeyChainState {
    return { seed: this.seed, counter: this.counter };
  }
}

export class HostRng {
  private state: bigint;

  constructor(seed: number | bigint) {
    this.state = BigInt.asUintN(64, BigInt(seed));
  }

  static restore(state: string): HostRng {
    const rng = new HostRng(0);
    rng.state = BigInt(state);
    return rng;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const [next, z] = splitmix64(this.state);
    this.state = next;
    return Number(z >> 11n) / 2 ** 53;
  }

  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A uniformly random permutation of 0..n−1 (Fisher–Yates). */
  permutation(n: number): number[] {
    const out = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  save(): string {
    return this.state.toString();
  }
}
