import { ArgumentError } from '../errors.js';

/** The serializable state of a `Random`: four 32-bit words of xoshiro128**. */
export interface RandomState {
  algorithm: 'xoshiro128**';
  state: [number, number, number, number];
}

/** SplitMix32 step: spreads a seed into well-mixed words (xoshiro must not start all-zero). */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Seeded xoshiro128** generator. Every random number in Waypoint comes from one of these,
 * so a run can be replayed and its generator saved and restored exactly.
 */
export class Random {
  private s = new Uint32Array(4);

  constructor(seed = 0) {
    this.seed(seed);
  }

  /** A generator for a sub-stream that depends only on `seed` and `keys` (e.g. seed and epoch). */
  static derive(seed: number, ...keys: number[]): Random {
    let h = splitmix32(seed >>> 0);
    for (const k of keys) h = splitmix32(h ^ splitmix32(k >>> 0));
    return new Random(h);
  }

  seed(seed: number): void {
    if (!Number.isFinite(seed)) throw new ArgumentError(`Random: seed must be a finite number, got ${seed}`);
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = splitmix32(x + i);
      this.s[i] = x;
    }
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal by Box–Muller (one draw per pair: no hidden cached state to serialize). */
  normal(mean = 0, std = 1): number {
    const u1 = 1 - this.uniform(); // (0, 1]: log stays finite
    const u2 = this.uniform();
    return mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Integer in [0, n), unbiased (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32)
      throw new ArgumentError(`Random.int: n must be an integer in [1, 2^32], got ${n}`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    let x: number;
    do x = this.nextUint32();
    while (x >= limit);
    return x % n;
  }

  fillUniform(out: Float32Array, low = 0, high = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * this.uniform();
    return out;
  }

  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: unknown }>(items: T): T {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  getState(): RandomState {
    return { algorithm: 'xoshiro128**', state: [this.s[0], this.s[1], this.s[2], this.s[3]] };
  }

  /** Trackable: the generator's state as a JSON leaf, so checkpoints restore the stream. */
  stateDict(): { state: RandomState } {
    return { state: this.getState() };
  }

  loadStateDict(dict: { [key: string]: unknown }): void {
    this.setState(dict.state as RandomState);
  }

  setState(state: RandomState): void {
    const words = state?.state;
    if (
      state?.algorithm !== 'xoshiro128**' ||
      !Array.isArray(words) ||
      words.length !== 4 ||
      !words.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32) ||
      words.every((w) => w === 0)
    ) {
      throw new ArgumentError(
        `Random.setState: expected { algorithm: 'xoshiro128**', state: four uint32 words, not all zero }, got ${JSON.stringify(state)}`,
      );
    }
    this.s.set(words);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

let globalRandom = new Random(0);

/** The generator used when an API is given none (e.g. `randn(shape)`); seed it with `setGlobalSeed`. */
export function defaultRandom(): Random {
  return globalRandom;
}

export function setGlobalSeed(seed: number): void {
  globalRandom = new Random(seed);
}
