/**
 * The cpu kernels (kernels/cpu) against naive references: the packed matmul in every engine and
 * transpose, im2col and direct convolutions, pooling, bias + activation and Adam's update in
 * SIMD against their scalar forms, bit for bit where the rule says so.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Random } from '../../src/node/index.js';
import { cpuBackend } from '../../src/backend/cpu.js';
import { matmul, jsEngine, defaultGemm } from '../../kernels/cpu/matmul.js';
import { col2im, conv2d, conv2dBackpropFilter, conv2dBackpropInput, im2col } from '../../kernels/cpu/conv2d.js';
import { maxPool2d } from '../../kernels/cpu/pool.js';
import { adamSlots, adamUpdate, adamUpdateScalar } from '../../kernels/cpu/adam.js';
import { emaAverage, emaUpdate, emaUpdateScalar } from '../../kernels/cpu/ema.js';
import { type Window2d, type Conv2dInfo } from '../../kernels/types.js';
import { kernelSuite, rand, expectClose, naiveMatmul } from '../helpers/kernel-suite.js';
import {
  conv2dBackpropFilterDirect,
  conv2dBackpropInputDirect,
  conv2dDirect,
  directConvApplies,
  directFilterGradApplies,
} from '../../kernels/cpu/conv-direct.js';
import { biasActivate, biasActivateGrad } from '../../kernels/cpu/bias.js';
import { activate, activateGrad, activateGradScalar, activateScalar } from '../../kernels/cpu/activation.js';
import { gatherGrad, gatherGradScalar, gatherRows, gatherRowsScalar } from '../../kernels/cpu/gather.js';
kernelSuite('cpu backend', cpuBackend);

describe('cpu matmul micro-kernels agree with each other', () => {
  it(`portable js and ${defaultGemm.name}`, () => {
    const js = jsEngine();
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: 1, max: 30 }),
        fc.boolean(),
        fc.boolean(),
        fc.nat(),
        (m, k, n, ta, tb, seed) => {
          const rng = new Random(seed);
          const a = rand(m * k, rng),
            b = rand(k * n, rng);
          const expected = naiveMatmul(a, b, m, k, n, ta, tb);
          expectClose(matmul(a, b, m, k, n, ta, tb, undefined, js), expected, 'js kernel');
          expectClose(matmul(a, b, m, k, n, ta, tb, undefined, defaultGemm), expected, `${defaultGemm.name} kernel`);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('packs done as SIMD transposes (row-major A, transposed B) give the bits the JavaScript packs give', () => {
    if (defaultGemm.transpose === undefined) return;
    const jsPacks = { ...defaultGemm, transpose: undefined };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 150 }),
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        fc.boolean(),
        fc.nat(),
        (m, k, n, ta, tb, seed) => {
          const rng = new Random(seed);
          const a = rand(m * k, rng),
            b = rand(k * n, rng);
          const simd = matmul(a, b, m, k, n, ta, tb, undefined, defaultGemm),
            js = matmul(a, b, m, k, n, ta, tb, undefined, jsPacks);
          expect(
            Buffer.from(simd.buffer, simd.byteOffset, simd.byteLength).equals(
              Buffer.from(js.buffer, js.byteOffset, js.byteLength),
            ),
          ).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('writes into a caller-provided output and zero-fills when k = 0', () => {
    const out = new Float32Array(6).fill(9);
    expect([...matmul(new Float32Array(0), new Float32Array(0), 2, 0, 3, false, false, out)]).toEqual([
      0, 0, 0, 0, 0, 0,
    ]);
  });
});

/** The window of output pixel (b, oy, ox): the input index of tap (ky, kx, ch), or -1 in the padding. */
function tap(w: Window2d, b: number, oy: number, ox: number, ky: number, kx: number, ch: number): number {
  const iy = oy * w.strideH - w.padTop + ky * (w.dilationH ?? 1),
    ix = ox * w.strideW - w.padLeft + kx * (w.dilationW ?? 1);
  return iy < 0 || iy >= w.inH || ix < 0 || ix >= w.inW ? -1 : ((b * w.inH + iy) * w.inW + ix) * w.channels + ch;
}

const windows = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  inH: fc.integer({ min: 1, max: 7 }),
  inW: fc.integer({ min: 1, max: 7 }),
  channels: fc.integer({ min: 1, max: 3 }),
  kH: fc.integer({ min: 1, max: 3 }),
  kW: fc.integer({ min: 1, max: 3 }),
  strideH: fc.integer({ min: 1, max: 2 }),
  strideW: fc.integer({ min: 1, max: 2 }),
  padTop: fc.integer({ min: 0, max: 2 }),
  padLeft: fc.integer({ min: 0, max: 2 }),
  dilationH: fc.integer({ min: 1, max: 2 }),
  dilationW: fc.integer({ min: 1, max: 2 }),
  outH: fc.integer({ min: 1, max: 5 }),
  outW: fc.integer({ min: 1, max: 5 }),
});

describe('im2col and col2im', () => {
  it('gather every tap of every window (zeros in the padding) and scatter-add them back, as a tap-by-tap reference', () => {
    const rng = new Random(4);
    fc.assert(
      fc.property(windows, (w) => {
        const x = rng.fillNormal(new Float32Array(w.batch * w.inH * w.inW * w.channels), 0, 1);
        const cols = im2col(x, w);
        const back = col2im(cols, w);
        const expected = new Float32Array(back.length);
        let d = 0;
        for (let b = 0; b < w.batch; b++)
          for (let oy = 0; oy < w.outH; oy++)
            for (let ox = 0; ox < w.outW; ox++) {
              for (let ky = 0; ky < w.kH; ky++)
                for (let kx = 0; kx < w.kW; kx++)
                  for (let ch = 0; ch < w.channels; ch++, d++) {
                    const at = tap(w, b, oy, ox, ky, kx, ch);
                    expect(cols[d]).toBe(at < 0 ? 0 : x[at]);
                    if (at >= 0) expected[at] += cols[d];
                  }
            }
        expect(Array.from(back)).toEqual(Array.from(expected));
      }),
      { numRuns: 300 },
    );
  });
});

describe('max pooling', () => {
  it('2×2 windows at stride 2 pick the first maximum (a NaN first of all), as the general loops do', () => {
    const values = fc.oneof(fc.constantFrom(0, 1, -1, NaN, Infinity, -Infinity), fc.float({ noNaN: true }));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 1 }),
        fc.integer({ min: 0, max: 1 }),
        fc.array(values, { minLength: 2 * 9 * 9 * 3, maxLength: 2 * 9 * 9 * 3 }),
        (batch, outH, outW, channels, extraH, extraW, pool) => {
          const w: Window2d = {
            batch,
            inH: 2 * outH + extraH,
            inW: 2 * outW + extraW,
            channels,
            kH: 2,
            kW: 2,
            strideH: 2,
            strideW: 2,
            padTop: 0,
            padLeft: 0,
            outH,
            outW,
          };
          const x = Float32Array.from(pool.slice(0, batch * w.inH * w.inW * channels));
          const { out, argmax } = maxPool2d(x, w);
          let o = 0;
          for (let b = 0; b < batch; b++)
            for (let oy = 0; oy < outH; oy++)
              for (let ox = 0; ox < outW; ox++)
                for (let ch = 0; ch < channels; ch++, o++) {
                  const cells = [
                    [0, 0],
                    [0, 1],
                    [1, 0],
                    [1, 1],
                  ].map(([ky, kx]) => tap(w, b, oy, ox, ky, kx, ch));
                  const nan = cells.find((at) => Number.isNaN(x[at]));
                  const winner = nan ?? cells.reduce((best, at) => (x[at] > x[best] ? at : best), cells[0]);
                  expect(argmax[o]).toBe(winner);
                  expect(Object.is(out[o], x[winner])).toBe(true);
                }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('the filter gradient and the forward im2col matrix it reuses', () => {
  it('is the same whether the matrix is reused, gathered again, or the forward ran on another input since', () => {
    const rng = new Random(6);
    const info = {
      batch: 2,
      inH: 6,
      inW: 5,
      channels: 3,
      kH: 3,
      kW: 2,
      strideH: 1,
      strideW: 2,
      padTop: 1,
      padLeft: 0,
      outH: 6,
      outW: 2,
      outC: 4,
    };
    const x = rng.fillNormal(new Float32Array(2 * 6 * 5 * 3), 0, 1),
      other = rng.fillNormal(new Float32Array(x.length), 0, 1);
    const f = rng.fillNormal(new Float32Array(3 * 2 * 3 * 4), 0, 1),
      dy = rng.fillNormal(new Float32Array(2 * 6 * 2 * 4), 0, 1);
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
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 1, max: 50 }), (n, t) => {
        const p = rng.fillNormal(new Float32Array(n), 0, 1),
          g = rng.fillNormal(new Float32Array(n), 0, 0.1);
        const m = rng.fillNormal(new Float32Array(n), 0, 0.01),
          v = Float32Array.from(rng.fillNormal(new Float32Array(n), 0, 0.01), Math.abs);
        const copies = [p, g, m, v].map((a) => a.slice());
        const alpha = (0.001 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
        adamUpdate(p, g, m, v, 0.1, 0.001, alpha, 1e-7);
        adamUpdateScalar(copies[0], copies[1], copies[2], copies[3], 0.1, 0.001, alpha, 1e-7);
        for (const [a, b] of [
          [p, copies[0]],
          [m, copies[2]],
          [v, copies[3]],
        ])
          expect(Array.from(new Uint32Array(a.buffer))).toEqual(Array.from(new Uint32Array(b.buffer)));
      }),
      { numRuns: 200 },
    );
  });

  it('gives the same bits with slots resident in its memory (adamSlots), step after step', () => {
    const rng = new Random(9);
    const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70 }), (n) => {
        const [m, v] = adamSlots(n);
        expect(bits(m)).toEqual(bits(new Float32Array(n)));
        const p = rng.fillNormal(new Float32Array(n), 0, 1),
          plain = [p.slice(), new Float32Array(n), new Float32Array(n)];
        for (let t = 1; t <= 3; t++) {
          const g = rng.fillNormal(new Float32Array(n), 0, 0.1);
          const alpha = (0.001 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
          adamUpdate(p, g, m, v, 0.1, 0.001, alpha, 1e-7);
          adamUpdateScalar(plain[0], g, plain[1], plain[2], 0.1, 0.001, alpha, 1e-7);
        }
        expect([p, m, v].map(bits)).toEqual(plain.map(bits));
      }),
      { numRuns: 60 },
    );
  });
});

describe('the moving-average kernel (ema)', () => {
  it('gives the bits of the float32 rule in JavaScript, resident in its memory (emaAverage) or not, step after step', () => {
    const rng = new Random(10);
    const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, momentum) => {
        const resident = emaAverage(n),
          plain = new Float32Array(n),
          loose = new Float32Array(n);
        expect(bits(resident)).toEqual(bits(plain));
        const m = Math.fround(momentum),
          rest = Math.fround(1 - m);
        for (let step = 0; step < 3; step++) {
          const w = rng.fillNormal(new Float32Array(n), 0, 1);
          emaUpdate(resident, w, m, rest);
          emaUpdate(loose, w, m, rest);
          emaUpdateScalar(plain, w, m, rest);
        }
        expect(bits(resident)).toEqual(bits(plain));
        expect(bits(loose)).toEqual(bits(plain));
        // The rule itself: each product rounded to float32, then the sum.
        const w = rng.fillNormal(new Float32Array(n), 0, 1);
        const expected = Float32Array.from(plain, (a, i) => Math.fround(m * a) + Math.fround(rest * w[i]));
        emaUpdate(resident, w, m, rest);
        expect(bits(resident)).toEqual(bits(expected));
      }),
      { numRuns: 80 },
    );
  });
});

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

function info(batch: number, h: number, w: number, c: number, k: number, outC: number, pad: number): Conv2dInfo {
  return {
    batch,
    inH: h,
    inW: w,
    channels: c,
    kH: k,
    kW: k,
    strideH: 1,
    strideW: 1,
    padTop: pad,
    padLeft: pad,
    outH: h + 2 * pad - k + 1,
    outW: w + 2 * pad - k + 1,
    outC,
  };
}

describe('direct convolution kernels', () => {
  it("run the MNIST CNN's layers and stride-1 layers of 4–64 output channels in fours; im2col takes the rest", () => {
    expect(directConvApplies(info(32, 28, 28, 1, 3, 8, 0), 1, 8)).toBe(true);
    expect(directConvApplies(info(32, 13, 13, 8, 3, 16, 0), 8, 16)).toBe(true);
    expect(directConvApplies(info(32, 13, 13, 8, 3, 16, 0), 16, 8)).toBe(true); // its input gradient
    expect(directConvApplies(info(8, 13, 13, 32, 3, 64, 0), 32, 64)).toBe(true);
    expect(directConvApplies(info(32, 28, 28, 1, 3, 128, 0), 1, 128)).toBe(false);
    expect(directConvApplies(info(32, 28, 28, 1, 3, 10, 0), 1, 10)).toBe(false);
    expect(directConvApplies(info(32, 28, 28, 8, 1, 8, 0), 8, 8)).toBe(false); // 1×1: a matmul already
    expect(directConvApplies({ ...info(8, 13, 13, 8, 3, 16, 0), strideH: 2 }, 8, 16)).toBe(false);
    expect(directConvApplies({ ...info(8, 13, 13, 8, 3, 16, 0), dilationW: 2 }, 8, 16)).toBe(false);
    // The filter gradient of few input channels into many output channels: im2col measured faster.
    expect(directFilterGradApplies(info(32, 28, 28, 1, 3, 32, 0))).toBe(false);
    expect(directFilterGradApplies(info(32, 28, 28, 1, 3, 16, 0))).toBe(true);
    expect(directFilterGradApplies(info(32, 28, 28, 8, 3, 32, 0))).toBe(true);
    expect(
      conv2dDirect(
        new Float32Array(8 * 13 * 13 * 8),
        new Float32Array(9 * 8 * 128),
        null,
        false,
        info(8, 13, 13, 8, 3, 128, 0),
      ),
    ).toBeNull();
  });

  it('fuse bias and relu into the forward pass: the bits of the kernel without them, then biasActivate', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 3, max: 10 }),
        fc.constantFrom(1, 3, 8),
        fc.constantFrom(4, 8, 16, 24, 32),
        fc.nat(),
        (batch, h, c, outC, seed) => {
          const w = info(batch, h, h, c, 3, outC, 1),
            rng = new Random(seed);
          const x = rng.fillUniform(new Float32Array(batch * h * h * c), -1, 1);
          const f = rng.fillUniform(new Float32Array(9 * c * outC), -1, 1),
            b = rng.fillUniform(new Float32Array(outC), -1, 1);
          const fused = conv2dDirect(x, f, b, true, w)!;
          expect(bits(fused)).toEqual(bits(biasActivate(conv2dDirect(x, f, null, false, w)!, b, true)));
        },
      ),
      { numRuns: 30 },
    );
  });

  it('give the same bits on every call and for every batch it is split into (each image summed alone, taps in order)', () => {
    const w = info(4, 13, 13, 8, 3, 16, 0),
      rng = new Random(3);
    const x = rng.fillUniform(new Float32Array(4 * 13 * 13 * 8), -1, 1),
      f = rng.fillUniform(new Float32Array(9 * 8 * 16), -1, 1);
    const dy = rng.fillUniform(new Float32Array(4 * 11 * 11 * 16), -1, 1);
    const whole = conv2dDirect(x, f, null, false, w)!;
    expect(bits(conv2dDirect(x, f, null, false, w)!)).toEqual(bits(whole));
    const half = conv2dDirect(x.subarray(0, 2 * 13 * 13 * 8), f, null, false, { ...w, batch: 2 })!;
    expect(bits(half)).toEqual(bits(whole.subarray(0, half.length)));
    expect(bits(conv2dBackpropInputDirect(dy, f, w)!)).toEqual(bits(conv2dBackpropInputDirect(dy, f, w)!));
    expect(bits(conv2dBackpropFilterDirect(x, dy, w)!)).toEqual(bits(conv2dBackpropFilterDirect(x, dy, w)!));
  });
});

describe('bias and relu kernels', () => {
  it('SIMD and JavaScript give the same bits, forward and backward, NaN, infinities and signed zeros included', () => {
    const special = fc.constantFrom(0, -0, 1, -1, NaN, Infinity, -Infinity, 1e-30, -1e-30);
    const value = fc.oneof(special, fc.float({ min: -4, max: 4, noNaN: true }));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom(4, 8, 12),
        fc.boolean(),
        fc.array(value, { minLength: 96, maxLength: 96 }),
        (rows, channels, relu, values) => {
          const x = Float32Array.from(values.slice(0, rows * channels)),
            bias = Float32Array.from(values.slice(80, 80 + channels));
          const g = Float32Array.from(values.slice(8, 8 + rows * channels));
          const y = biasActivate(x, bias, relu),
            yJs = biasActivate(x, bias, relu, false);
          // A NaN keeps being NaN; its payload is the CPU's business.
          const canonical = (a: Float32Array) => bits(a.map((v) => (Number.isNaN(v) ? NaN : v)));
          expect(canonical(y)).toEqual(canonical(yJs));
          const simd = biasActivateGrad(y, g, channels, relu),
            js = biasActivateGrad(yJs, g, channels, relu, false);
          expect(canonical(simd.dz)).toEqual(canonical(js.dz));
          expect(canonical(simd.dbias)).toEqual(canonical(js.dbias));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('2×2 max pooling in SIMD', () => {
  it('picks the cell and the index the scalar rule picks: row-major, a later cell only if larger or the first NaN', () => {
    const special = fc.constantFrom(0, -0, 1, -1, 2, NaN, Infinity, -Infinity);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 2, max: 7 }),
        fc.integer({ min: 2, max: 7 }),
        fc.constantFrom(4, 8, 12),
        fc.array(special, { minLength: 2 * 7 * 7 * 12, maxLength: 2 * 7 * 7 * 12 }),
        (batch, h, w, c, values) => {
          const x = Float32Array.from(values.slice(0, batch * h * w * c));
          const outH = h >> 1,
            outW = w >> 1;
          const { out, argmax } = maxPool2d(x, {
            batch,
            inH: h,
            inW: w,
            channels: c,
            kH: 2,
            kW: 2,
            strideH: 2,
            strideW: 2,
            padTop: 0,
            padLeft: 0,
            outH,
            outW,
          });
          for (let b = 0, o = 0; b < batch; b++)
            for (let oy = 0; oy < outH; oy++)
              for (let ox = 0; ox < outW; ox++)
                for (let ch = 0; ch < c; ch++, o++) {
                  const cells = [
                    [0, 0],
                    [0, 1],
                    [1, 0],
                    [1, 1],
                  ].map(([dy, dx]) => ((b * h + 2 * oy + dy) * w + 2 * ox + dx) * c + ch);
                  let at = cells[0];
                  for (const i of cells.slice(1))
                    if (x[i] > x[at] || (Number.isNaN(x[i]) && !Number.isNaN(x[at]))) at = i;
                  expect(argmax[o]).toBe(at);
                  expect(Object.is(out[o], x[at]) || (Number.isNaN(out[o]) && Number.isNaN(x[at]))).toBe(true);
                }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('fusedConv2d', () => {
  it('gives the bits of conv2d then biasAdd, forward and all three gradients, direct and im2col shapes alike', async () => {
    const { conv2d, fusedConv2d, biasAdd, sum, mul, Tensor: T } = await import('../../src/node/index.js');
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 3, max: 8 }),
        fc.constantFrom(1, 3, 8),
        fc.constantFrom(4, 6, 8, 16),
        fc.constantFrom<'same' | 'valid'>('same', 'valid'),
        fc.integer({ min: 1, max: 2 }),
        fc.boolean(),
        fc.nat(),
        (batch, h, c, outC, padding, stride, relu, seed) => {
          const rng = new Random(seed);
          const xs = rng.fillUniform(new Float32Array(batch * h * h * c), -1, 1),
            fs = rng.fillUniform(new Float32Array(9 * c * outC), -1, 1);
          const bs = rng.fillUniform(new Float32Array(outC), -1, 1);
          const run = (fused: boolean) => {
            const x = new T(xs.slice(), [batch, h, h, c], true),
              f = new T(fs.slice(), [3, 3, c, outC], true),
              b = new T(bs.slice(), [outC], true);
            const options = { padding, strides: stride };
            const y = fused
              ? fusedConv2d(x, f, b, relu ? 'relu' : 'linear', options)
              : biasAdd(conv2d(x, f, options), b, relu ? 'relu' : 'linear');
            sum(mul(y, new T(new Random(seed + 1).fillUniform(new Float32Array(y.size), -1, 1), y.shape))).backward();
            return [y.data, x.grad!.data, f.grad!.data, b.grad!.data].map(bits);
          };
          expect(run(true)).toEqual(run(false));
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('sigmoid and tanh kernels', () => {
  it('SIMD values within 4 ulp of the JavaScript loops (Math rounded once), gradients within float32 rounding, any length', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 70 }),
        fc.constantFrom('sigmoid' as const, 'tanh' as const),
        fc.nat(),
        (n, name, seed) => {
          const rng = new Random(seed);
          const x = rng.fillNormal(new Float32Array(n), 0, 4),
            dy = rng.fillNormal(new Float32Array(n), 0, 1);
          const y = activate(x, name),
            ref = activateScalar(x, name);
          expect(y.length).toBe(n);
          for (let i = 0; i < n; i++)
            expect(Math.abs(y[i] - ref[i]), `${name}(${x[i]})`).toBeLessThanOrEqual(
              4 * 2 ** -24 * Math.max(Math.abs(ref[i]), 2 ** -10),
            );
          expectClose(
            activateGrad(ref, dy, name),
            Float64Array.from(activateGradScalar(ref, dy, name)),
            `${name} gradient`,
          );
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('gather and its gradient (scatter-add)', () => {
  it('SIMD rows give the bits of the JavaScript loops: repeated, absent and every id, any row length', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 0, max: 12 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        fc.integer({ min: 1, max: 3 }),
        fc.nat(),
        (len, inner, raw, outer, seed) => {
          const indices = raw.map((v) => v % len);
          const g = new Random(seed).fillNormal(new Float32Array(outer * indices.length * inner), 0, 1);
          const simd = gatherGrad(g, indices, outer, len, inner),
            loop = gatherGradScalar(g, indices, outer, len, inner);
          expect(Array.from(simd)).toEqual(Array.from(loop));
          const table = new Random(seed + 1).fillNormal(new Float32Array(outer * len * inner), 0, 1);
          expect(Array.from(gatherRows(table, indices, outer, len, inner))).toEqual(
            Array.from(gatherRowsScalar(table, indices, outer, len, inner)),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('dilated convolutions phase by phase', () => {
  it("run on the direct kernels and equal im2col's forward pass and both gradients ('valid' and 'same' padding, any dilation)", () => {
    fc.assert(
      fc.property(
        fc.record({
          batch: fc.integer({ min: 1, max: 2 }),
          inH: fc.integer({ min: 3, max: 12 }),
          inW: fc.integer({ min: 3, max: 12 }),
          channels: fc.integer({ min: 1, max: 6 }),
          outC: fc.constantFrom(4, 8, 12),
          kH: fc.integer({ min: 1, max: 3 }),
          kW: fc.integer({ min: 2, max: 3 }),
          dilationH: fc.integer({ min: 1, max: 3 }),
          dilationW: fc.integer({ min: 2, max: 3 }),
          same: fc.boolean(),
        }),
        fc.nat(),
        (g, seed) => {
          const spanH = (g.kH - 1) * g.dilationH,
            spanW = (g.kW - 1) * g.dilationW;
          const padTop = g.same ? Math.floor(spanH / 2) : 0,
            padLeft = g.same ? Math.floor(spanW / 2) : 0;
          const outH = g.same ? g.inH : g.inH - spanH,
            outW = g.same ? g.inW : g.inW - spanW;
          fc.pre(outH > 0 && outW > 0);
          const w: Conv2dInfo = { ...g, strideH: 1, strideW: 1, padTop, padLeft, outH, outW };
          const rng = new Random(seed);
          const x = rand(g.batch * g.inH * g.inW * g.channels, rng),
            f = rand(g.kH * g.kW * g.channels * g.outC, rng),
            dy = rand(g.batch * outH * outW * g.outC, rng);
          const wide = (a: Float32Array) => Float64Array.from(a);
          expectClose(cpuBackend.conv2d(x, f, w), wide(conv2d(x, f, w)), 'forward');
          expectClose(cpuBackend.conv2dBackpropInput(dy, f, w), wide(conv2dBackpropInput(dy, f, w)), 'input gradient');
          expectClose(
            cpuBackend.conv2dBackpropFilter(x, dy, w),
            wide(conv2dBackpropFilter(x, dy, w)),
            'filter gradient',
          );
        },
      ),
      { numRuns: 150 },
    );
  });
});
