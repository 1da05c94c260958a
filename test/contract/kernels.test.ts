import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Random } from '../../src/node/index.js';
import { cpuBackend } from '../../src/backend/cpu.js';
import { matmul, jsEngine, defaultGemm } from '../../kernels/cpu/matmul.js';
import { col2im, conv2d, conv2dBackpropFilter, im2col } from '../../kernels/cpu/conv2d.js';
import { maxPool2d } from '../../kernels/cpu/pool.js';
import { adamSlots, adamUpdate, adamUpdateScalar } from '../../kernels/cpu/adam.js';
import type { Window2d } from '../../kernels/types.js';
import { kernelSuite, rand, expectClose, naiveMatmul } from '../helpers/kernel-suite.js';

kernelSuite('cpu backend', cpuBackend);

describe('cpu matmul micro-kernels agree with each other', () => {
  it(`portable js and ${defaultGemm.name}`, () => {
    const js = jsEngine();
    fc.assert(fc.property(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 30 }), fc.boolean(), fc.boolean(), fc.nat(),
      (m, k, n, ta, tb, seed) => {
        const rng = new Random(seed);
        const a = rand(m * k, rng), b = rand(k * n, rng);
        const expected = naiveMatmul(a, b, m, k, n, ta, tb);
        expectClose(matmul(a, b, m, k, n, ta, tb, undefined, js), expected, 'js kernel');
        expectClose(matmul(a, b, m, k, n, ta, tb, undefined, defaultGemm), expected, `${defaultGemm.name} kernel`);
      }), { numRuns: 30 });
  });

  it('writes into a caller-provided output and zero-fills when k = 0', () => {
    const out = new Float32Array(6).fill(9);
    expect([...matmul(new Float32Array(0), new Float32Array(0), 2, 0, 3, false, false, out)]).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

/** The window of output pixel (b, oy, ox): the input index of tap (ky, kx, ch), or -1 in the padding. */
function tap(w: Window2d, b: number, oy: number, ox: number, ky: number, kx: number, ch: number): number {
  const iy = oy * w.strideH - w.padTop + ky * (w.dilationH ?? 1), ix = ox * w.strideW - w.padLeft + kx * (w.dilationW ?? 1);
  return iy < 0 || iy >= w.inH || ix < 0 || ix >= w.inW ? -1 : ((b * w.inH + iy) * w.inW + ix) * w.channels + ch;
}

const windows = fc.record({
  batch: fc.integer({ min: 1, max: 2 }), inH: fc.integer({ min: 1, max: 7 }), inW: fc.integer({ min: 1, max: 7 }), channels: fc.integer({ min: 1, max: 3 }),
  kH: fc.integer({ min: 1, max: 3 }), kW: fc.integer({ min: 1, max: 3 }), strideH: fc.integer({ min: 1, max: 2 }), strideW: fc.integer({ min: 1, max: 2 }),
  padTop: fc.integer({ min: 0, max: 2 }), padLeft: fc.integer({ min: 0, max: 2 }), dilationH: fc.integer({ min: 1, max: 2 }), dilationW: fc.integer({ min: 1, max: 2 }),
  outH: fc.integer({ min: 1, max: 5 }), outW: fc.integer({ min: 1, max: 5 }),
});

describe('im2col and col2im', () => {
  it('gather every tap of every window (zeros in the padding) and scatter-add them back, as a tap-by-tap reference', () => {
    const rng = new Random(4);
    fc.assert(fc.property(windows, (w) => {
      const x = rng.fillNormal(new Float32Array(w.batch * w.inH * w.inW * w.channels), 0, 1);
      const cols = im2col(x, w);
      const back = col2im(cols, w);
      const expected = new Float32Array(back.length);
      let d = 0;
      for (let b = 0; b < w.batch; b++) for (let oy = 0; oy < w.outH; oy++) for (let ox = 0; ox < w.outW; ox++) {
        for (let ky = 0; ky < w.kH; ky++) for (let kx = 0; kx < w.kW; kx++) for (let ch = 0; ch < w.channels; ch++, d++) {
          const at = tap(w, b, oy, ox, ky, kx, ch);
          expect(cols[d]).toBe(at < 0 ? 0 : x[at]);
          if (at >= 0) expected[at] += cols[d];
        }
      }
      expect(Array.from(back)).toEqual(Array.from(expected));
    }), { numRuns: 300 });
  });
});

describe('max pooling', () => {
  it('2×2 windows at stride 2 pick the first maximum (a NaN first of all), as the general loops do', () => {
    const values = fc.oneof(fc.constantFrom(0, 1, -1, NaN, Infinity, -Infinity), fc.float({ noNaN: true }));
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 }), fc.array(values, { minLength: 2 * 9 * 9 * 3, maxLength: 2 * 9 * 9 * 3 }),
      (batch, outH, outW, channels, extraH, extraW, pool) => {
        const w: Window2d = { batch, inH: 2 * outH + extraH, inW: 2 * outW + extraW, channels, kH: 2, kW: 2, strideH: 2, strideW: 2, padTop: 0, padLeft: 0, outH, outW };
        const x = Float32Array.from(pool.slice(0, batch * w.inH * w.inW * channels));
        const { out, argmax } = maxPool2d(x, w);
        let o = 0;
        for (let b = 0; b < batch; b++) for (let oy = 0; oy < outH; oy++) for (let ox = 0; ox < outW; ox++) for (let ch = 0; ch < channels; ch++, o++) {
          const cells = [[0, 0], [0, 1], [1, 0], [1, 1]].map(([ky, kx]) => tap(w, b, oy, ox, ky, kx, ch));
          const nan = cells.find((at) => Number.isNaN(x[at]));
          const winner = nan ?? cells.reduce((best, at) => (x[at] > x[best] ? at : best), cells[0]);
          expect(argmax[o]).toBe(winner);
          expect(Object.is(out[o], x[winner])).toBe(true);
        }
      }), { numRuns: 300 });
  });
});

describe('the filter gradient and the forward im2col matrix it reuses', () => {
  it('is the same whether the matrix is reused, gathered again, or the forward ran on another input since', () => {
    const rng = new Random(6);
    const info = { batch: 2, inH: 6, inW: 5, channels: 3, kH: 3, kW: 2, strideH: 1, strideW: 2, padTop: 1, padLeft: 0, outH: 6, outW: 2, outC: 4 };
    const x = rng.fillNormal(new Float32Array(2 * 6 * 5 * 3), 0, 1), other = rng.fillNormal(new Float32Array(x.length), 0, 1);
    const f = rng.fillNormal(new Float32Array(3 * 2 * 3 * 4), 0, 1), dy = rng.fillNormal(new Float32Array(2 * 6 * 2 * 4), 0, 1);
    const fresh = Array.from(conv2dBackpropFilter(x.slice(), dy, info)); // another array: nothing to reuse
    conv2d(x, f, info);
    expect(Array.from(conv2dBackpropFilter(x, dy, info))).toEqual(fresh); // reused
    conv2d(x, f, info);
    conv2d(other, f, info); // the kept matrix is now other's
    expect(Array.from(conv2dBackpropFilter(x, dy, info))).toEqual(fresh);
  });
});

describe("Adam's update kernel", () => {
  it('gives the same bits in WebAssembly SIMD as in float32-rounded JavaScript, for any length', () => {
    const rng = new Random(8);
    fc.assert(fc.property(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 1, max: 50 }), (n, t) => {
      const p = rng.fillNormal(new Float32Array(n), 0, 1), g = rng.fillNormal(new Float32Array(n), 0, 0.1);
      const m = rng.fillNormal(new Float32Array(n), 0, 0.01), v = Float32Array.from(rng.fillNormal(new Float32Array(n), 0, 0.01), Math.abs);
      const copies = [p, g, m, v].map((a) => a.slice());
      const alpha = (0.001 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
      adamUpdate(p, g, m, v, 0.1, 0.001, alpha, 1e-7);
      adamUpdateScalar(copies[0], copies[1], copies[2], copies[3], 0.1, 0.001, alpha, 1e-7);
      for (const [a, b] of [[p, copies[0]], [m, copies[2]], [v, copies[3]]]) expect(Array.from(new Uint32Array(a.buffer))).toEqual(Array.from(new Uint32Array(b.buffer)));
    }), { numRuns: 200 });
  });

  it('gives the same bits with slots resident in its memory (adamSlots), step after step', () => {
    const rng = new Random(9);
    const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
    fc.assert(fc.property(fc.integer({ min: 1, max: 70 }), (n) => {
      const [m, v] = adamSlots(n);
      expect(bits(m)).toEqual(bits(new Float32Array(n)));
      const p = rng.fillNormal(new Float32Array(n), 0, 1), plain = [p.slice(), new Float32Array(n), new Float32Array(n)];
      for (let t = 1; t <= 3; t++) {
        const g = rng.fillNormal(new Float32Array(n), 0, 0.1);
        const alpha = (0.001 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
        adamUpdate(p, g, m, v, 0.1, 0.001, alpha, 1e-7);
        adamUpdateScalar(plain[0], g, plain[1], plain[2], 0.1, 0.001, alpha, 1e-7);
      }
      expect([p, m, v].map(bits)).toEqual(plain.map(bits));
    }), { numRuns: 60 });
  });
});
