/**
 * exp, sigmoid and tanh in WebAssembly SIMD (kernels/cpu/simd-math.ts) against Math's float64
 * functions rounded to float32, over a dense sweep of their useful range and the edges: within
 * a few ulp; beyond the range exp saturates (e^88.38 above, about 2⁻¹²⁶ below), which leaves
 * sigmoid and tanh at their limits to within 5e-39; NaN is kept.
 */
import { describe, it, expect } from 'vitest';
import { expOf, sigmoidOf, tanhOf } from '../../kernels/cpu/simd-math.js';
import { I32, V128, compileModule, encodeModule, forLoop, op } from '../../kernels/cpu/wasm-asm.js';

type Fn = 'exp' | 'sigmoid' | 'tanh';

/** f(x) over `n` vectors at byte 0, in place. */
function simdMap(fn: Fn, xs: Float32Array): Float32Array {
  const [PTR, N, I, X, A, S, T, M] = [0, 1, 2, 3, 4, 5, 6, 7];
  const value = fn === 'exp' ? expOf(X, T, M) : fn === 'sigmoid' ? sigmoidOf(X, T, M) : tanhOf(X, A, S, T, M);
  const module = compileModule(
    encodeModule([
      {
        exportName: 'map',
        params: [I32, I32],
        locals: [
          [1, I32],
          [5, V128],
        ],
        body: forLoop(I, N, [
          op.get(PTR),
          op.v128Load(0),
          op.set(X),
          op.get(PTR),
          ...value,
          op.v128Store(0),
          op.get(PTR),
          op.i32(16),
          op.add,
          op.set(PTR),
        ]),
      },
    ]),
  );
  expect(module).not.toBeNull();
  const memory = new WebAssembly.Memory({ initial: Math.ceil((xs.length * 4) / 65536) + 1 });
  const map = new WebAssembly.Instance(module!, { env: { memory } }).exports.map as (p: number, n: number) => void;
  const n = Math.ceil(xs.length / 4);
  new Float32Array(memory.buffer).set(xs);
  map(0, n);
  return new Float32Array(memory.buffer).slice(0, xs.length);
}

const reference: Record<Fn, (x: number) => number> = {
  exp: Math.exp,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: Math.tanh,
};

/** Distance in ulps of float32 at the reference's magnitude. */
function ulps(got: number, want: number): number {
  const w = Math.fround(want);
  if (got === w) return 0;
  const ulp = Math.max(2 ** (Math.floor(Math.log2(Math.abs(w) || 2 ** -149)) - 23), 2 ** -149);
  return Math.abs(got - want) / ulp;
}

function sweep(from: number, to: number, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => from + ((to - from) * i) / (n - 1));
}

describe('SIMD exp, sigmoid and tanh', () => {
  const cases: Array<[Fn, number, number, number]> = [
    ['exp', -87, 88, 4],
    ['sigmoid', -80, 80, 4],
    ['tanh', -20, 20, 4],
  ];
  for (const [fn, from, to, bound] of cases) {
    it(`${fn} is within ${bound} ulp of Math's on [${from}, ${to}], small arguments included`, () => {
      const xs = new Float32Array([...sweep(from, to, 40_001), ...sweep(-1e-3, 1e-3, 4001), 1e-30, -1e-30, 0, -0]);
      const got = simdMap(fn, xs);
      let worst = 0,
        at = 0;
      for (let i = 0; i < xs.length; i++) {
        const e = ulps(got[i], reference[fn](xs[i]));
        if (e > worst) [worst, at] = [e, xs[i]];
      }
      expect(worst, `worst at x = ${at}`).toBeLessThanOrEqual(bound);
    });
  }

  it('keeps NaN, saturates exp past its range and leaves sigmoid and tanh at their limits', () => {
    const xs = new Float32Array([NaN, Infinity, -Infinity, 200, -200, 1e30, -1e30, 0]);
    const e = simdMap('exp', xs),
      s = simdMap('sigmoid', xs),
      t = simdMap('tanh', xs);
    expect(e[0]).toBeNaN();
    for (const i of [1, 3, 5]) expect(e[i]).toBeCloseTo(Math.fround(Math.exp(88.3762626647949)), -34);
    for (const i of [2, 4, 6]) expect(e[i]).toBeCloseTo(2 ** -126, 42);
    expect(s[0]).toBeNaN();
    for (const i of [1, 3, 5]) expect(s[i]).toBe(1);
    for (const i of [2, 4, 6]) expect(s[i]).toBeLessThan(5e-39);
    expect(s[7]).toBe(0.5);
    expect(Array.from(t)).toEqual([NaN, 1, -1, 1, -1, 1, -1, 0]);
  });
});
