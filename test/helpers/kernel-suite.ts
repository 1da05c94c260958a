import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Random } from '../../src/node/index.js';
import { type Backend, withCpuDefaults } from '../../src/backend/index.js';
import type { Conv2dInfo } from '../../kernels/types.js';

/**
 * Kernels against naive float64 loops on random shapes. One suite, run for every
 * backend (and every CPU micro-kernel), so a new backend inherits every check.
 */
export function rand(n: number, rng: Random): Float32Array {
  return rng.fillUniform(new Float32Array(n), -1, 1);
}

export function expectClose(actual: Float32Array, expected: Float64Array, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let scale = 1;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= 1e-4 * scale)) {
      expect.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

export function naiveMatmul(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  ta: boolean,
  tb: boolean,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
      out[i * n + j] = s;
    }
  return out;
}

function geometry(s: {
  batch: number;
  h: number;
  w: number;
  c: number;
  kh: number;
  kw: number;
  o: number;
  sh: number;
  sw: number;
  same: boolean;
}): Conv2dInfo {
  const dim = (size: number, k: number, st: number): [number, number] => {
    if (!s.same) return [Math.floor((size - k) / st) + 1, 0];
    const out = Math.ceil(size / st);
    return [out, Math.floor(Math.max((out - 1) * st + k - size, 0) / 2)];
  };
  const [outH, padTop] = dim(s.h, s.kh, s.sh);
  const [outW, padLeft] = dim(s.w, s.kw, s.sw);
  return {
    batch: s.batch,
    inH: s.h,
    inW: s.w,
    channels: s.c,
    kH: s.kh,
    kW: s.kw,
    strideH: s.sh,
    strideW: s.sw,
    padTop,
    padLeft,
    outH,
    outW,
    outC: s.o,
  };
}

/** Visits every (output position, filter tap) pair that touches the input: the definition of conv2d. */
function forEachTap(g: Conv2dInfo, visit: (xi: number, fi: number, yi: number) => void): void {
  for (let b = 0; b < g.batch; b++)
    for (let oy = 0; oy < g.outH; oy++)
      for (let ox = 0; ox < g.outW; ox++)
        for (let ky = 0; ky < g.kH; ky++)
          for (let kx = 0; kx < g.kW; kx++) {
            const iy = oy * g.strideH - g.padTop + ky,
              ix = ox * g.strideW - g.padLeft + kx;
            if (iy < 0 || iy >= g.inH || ix < 0 || ix >= g.inW) continue;
            for (let c = 0; c < g.channels; c++)
              for (let o = 0; o < g.outC; o++) {
                visit(
                  ((b * g.inH + iy) * g.inW + ix) * g.channels + c,
                  ((ky * g.kW + kx) * g.channels + c) * g.outC + o,
                  ((b * g.outH + oy) * g.outW + ox) * g.outC + o,
                );
              }
          }
}

const convShapes = fc
  .record({
    batch: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 9 }),
    w: fc.integer({ min: 1, max: 9 }),
    c: fc.integer({ min: 1, max: 5 }),
    kh: fc.integer({ min: 1, max: 4 }),
    kw: fc.integer({ min: 1, max: 4 }),
    o: fc.integer({ min: 1, max: 6 }),
    sh: fc.integer({ min: 1, max: 3 }),
    sw: fc.integer({ min: 1, max: 3 }),
    same: fc.boolean(),
  })
  .filter((s) => s.same || (s.kh <= s.h && s.kw <= s.w));
type ConvShape = typeof convShapes extends fc.Arbitrary<infer T> ? T : never;

const fewChannelShapes = fc
  .record({
    batch: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 12 }),
    w: fc.integer({ min: 1, max: 12 }),
    c: fc.constantFrom(1, 2, 3, 4, 8, 12, 16),
    kh: fc.integer({ min: 1, max: 5 }),
    kw: fc.integer({ min: 1, max: 5 }),
    o: fc.constantFrom(4, 8, 12, 16, 20, 32),
    sh: fc.constant(1),
    sw: fc.constant(1),
    same: fc.boolean(),
  })
  .filter((s) => s.same || (s.kh <= s.h && s.kw <= s.w));

export function kernelSuite(name: string, backend: Backend): void {
  const be = withCpuDefaults(backend); // the kernels it leaves to the cpu's defaults, as backend() fills them in
  describe(`${name} kernels`, () => {
    it('matmul matches naive loops for every transpose combination, including block edges', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 150 }),
          fc.integer({ min: 1, max: 300 }),
          fc.integer({ min: 1, max: 40 }),
          fc.boolean(),
          fc.boolean(),
          fc.nat(),
          (m, k, n, ta, tb, seed) => {
            const rng = new Random(seed);
            const a = rand(m * k, rng),
              b = rand(k * n, rng);
            expectClose(
              be.matmul(a, b, m, k, n, ta, tb),
              naiveMatmul(a, b, m, k, n, ta, tb),
              `matmul ${m}x${k}x${n} ta=${ta} tb=${tb}`,
            );
          },
        ),
        { numRuns: 40 },
      );
    });

    it('matmul handles the shapes training uses: batch 1, 1×1, and k past the cache block', () => {
      const rng = new Random(7);
      for (const [m, k, n] of [
        [1, 784, 128],
        [1, 1, 1],
        [32, 784, 10],
        [3, 517, 2],
        [130, 1, 9],
      ]) {
        const a = rand(m * k, rng),
          b = rand(k * n, rng);
        expectClose(
          be.matmul(a, b, m, k, n, false, false),
          naiveMatmul(a, b, m, k, n, false, false),
          `matmul ${m}x${k}x${n}`,
        );
      }
    });

    const convMatchesDefinition = (s: ConvShape, seed: number) => {
      const g = geometry(s);
      const rng = new Random(seed);
      const x = rand(g.batch * g.inH * g.inW * g.channels, rng);
      const f = rand(g.kH * g.kW * g.channels * g.outC, rng);
      const dy = rand(g.batch * g.outH * g.outW * g.outC, rng);
      const y = new Float64Array(dy.length),
        dx = new Float64Array(x.length),
        df = new Float64Array(f.length);
      forEachTap(g, (xi, fi, yi) => {
        y[yi] += x[xi] * f[fi];
        dx[xi] += dy[yi] * f[fi];
        df[fi] += dy[yi] * x[xi];
      });
      const label = `conv2d ${JSON.stringify(s)}`;
      expectClose(be.conv2d(x, f, g), y, `${label} forward`);
      expectClose(be.conv2dBackpropInput(dy, f, g), dx, `${label} input grad`);
      expectClose(be.conv2dBackpropFilter(x, dy, g), df, `${label} filter grad`);
    };

    it('conv2d forward and both gradients match the definition', () => {
      fc.assert(fc.property(convShapes, fc.nat(), convMatchesDefinition), { numRuns: 60 });
    });

    it("conv2d matches the definition on small-model shapes: stride 1, output channels in fours, up to 32 (the CPU's direct kernels, 16 a call)", () => {
      fc.assert(fc.property(fewChannelShapes, fc.nat(), convMatchesDefinition), { numRuns: 60 });
    });

    it('maxPool2d picks the window maximum and routes the gradient to it', () => {
      fc.assert(
        fc.property(convShapes, fc.nat(), (s, seed) => {
          const g = geometry(s);
          const rng = new Random(seed);
          const x = rand(g.batch * g.inH * g.inW * g.channels, rng);
          const { out, argmax } = be.maxPool2d(x, g);
          expect(out.length).toBe(g.batch * g.outH * g.outW * g.channels);
          for (let i = 0; i < out.length; i++) expect(out[i]).toBe(x[argmax[i]]);
          // Every input in a window is ≤ its maximum.
          forEachTap({ ...g, outC: 1 }, (xi, _fi, yi) => {
            const c = xi % g.channels;
            expect(x[xi]).toBeLessThanOrEqual(out[yi * g.channels + c]);
          });
          const dy = rand(out.length, rng);
          const dx = be.maxPool2dBackward(dy, argmax, x.length);
          const expected = new Float64Array(x.length);
          for (let i = 0; i < dy.length; i++) expected[argmax[i]] += dy[i];
          expectClose(dx, expected, 'maxPool2d backward');
        }),
        { numRuns: 40 },
      );
    });
  });
}
