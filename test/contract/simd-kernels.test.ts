import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Random } from '../../src/node/index.js';
import { conv2dBackpropFilterDirect, conv2dBackpropInputDirect, conv2dDirect, directConvApplies, directFilterGradApplies } from '../../kernels/cpu/conv-direct.js';
import { biasActivate, biasActivateGrad } from '../../kernels/cpu/bias.js';
import { maxPool2d } from '../../kernels/cpu/pool.js';
import type { Conv2dInfo } from '../../kernels/types.js';

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

function info(batch: number, h: number, w: number, c: number, k: number, outC: number, pad: number): Conv2dInfo {
  return { batch, inH: h, inW: w, channels: c, kH: k, kW: k, strideH: 1, strideW: 1, padTop: pad, padLeft: pad, outH: h + 2 * pad - k + 1, outW: w + 2 * pad - k + 1, outC };
}

describe('direct convolution kernels', () => {
  it('run the MNIST CNN\'s layers and stride-1 layers of 4–64 output channels in fours; im2col takes the rest', () => {
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
    expect(conv2dDirect(new Float32Array(8 * 13 * 13 * 8), new Float32Array(9 * 8 * 128), null, false, info(8, 13, 13, 8, 3, 128, 0))).toBeNull();
  });

  it('fuse bias and relu into the forward pass: the bits of the kernel without them, then biasActivate', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 3, max: 10 }), fc.constantFrom(1, 3, 8), fc.constantFrom(4, 8, 16, 24, 32), fc.nat(), (batch, h, c, outC, seed) => {
      const w = info(batch, h, h, c, 3, outC, 1), rng = new Random(seed);
      const x = rng.fillUniform(new Float32Array(batch * h * h * c), -1, 1);
      const f = rng.fillUniform(new Float32Array(9 * c * outC), -1, 1), b = rng.fillUniform(new Float32Array(outC), -1, 1);
      const fused = conv2dDirect(x, f, b, true, w)!;
      expect(bits(fused)).toEqual(bits(biasActivate(conv2dDirect(x, f, null, false, w)!, b, true)));
    }), { numRuns: 30 });
  });

  it('give the same bits on every call and for every batch it is split into (each image summed alone, taps in order)', () => {
    const w = info(4, 13, 13, 8, 3, 16, 0), rng = new Random(3);
    const x = rng.fillUniform(new Float32Array(4 * 13 * 13 * 8), -1, 1), f = rng.fillUniform(new Float32Array(9 * 8 * 16), -1, 1);
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
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.constantFrom(4, 8, 12), fc.boolean(), fc.array(value, { minLength: 96, maxLength: 96 }), (rows, channels, relu, values) => {
      const x = Float32Array.from(values.slice(0, rows * channels)), bias = Float32Array.from(values.slice(80, 80 + channels));
      const g = Float32Array.from(values.slice(8, 8 + rows * channels));
      const y = biasActivate(x, bias, relu), yJs = biasActivate(x, bias, relu, false);
      // A NaN keeps being NaN; its payload is the CPU's business.
      const canonical = (a: Float32Array) => bits(a.map((v) => (Number.isNaN(v) ? NaN : v)));
      expect(canonical(y)).toEqual(canonical(yJs));
      const simd = biasActivateGrad(y, g, channels, relu), js = biasActivateGrad(yJs, g, channels, relu, false);
      expect(canonical(simd.dz)).toEqual(canonical(js.dz));
      expect(canonical(simd.dbias)).toEqual(canonical(js.dbias));
    }), { numRuns: 300 });
  });
});

describe('2×2 max pooling in SIMD', () => {
  it('picks the cell and the index the scalar rule picks: row-major, a later cell only if larger or the first NaN', () => {
    const special = fc.constantFrom(0, -0, 1, -1, 2, NaN, Infinity, -Infinity);
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 2, max: 7 }), fc.integer({ min: 2, max: 7 }), fc.constantFrom(4, 8, 12), fc.array(special, { minLength: 2 * 7 * 7 * 12, maxLength: 2 * 7 * 7 * 12 }),
      (batch, h, w, c, values) => {
        const x = Float32Array.from(values.slice(0, batch * h * w * c));
        const outH = h >> 1, outW = w >> 1;
        const { out, argmax } = maxPool2d(x, { batch, inH: h, inW: w, channels: c, kH: 2, kW: 2, strideH: 2, strideW: 2, padTop: 0, padLeft: 0, outH, outW });
        for (let b = 0, o = 0; b < batch; b++) for (let oy = 0; oy < outH; oy++) for (let ox = 0; ox < outW; ox++) for (let ch = 0; ch < c; ch++, o++) {
          const cells = [[0, 0], [0, 1], [1, 0], [1, 1]].map(([dy, dx]) => ((b * h + 2 * oy + dy) * w + 2 * ox + dx) * c + ch);
          let at = cells[0];
          for (const i of cells.slice(1)) if (x[i] > x[at] || (Number.isNaN(x[i]) && !Number.isNaN(x[at]))) at = i;
          expect(argmax[o]).toBe(at);
          expect(Object.is(out[o], x[at]) || (Number.isNaN(out[o]) && Number.isNaN(x[at]))).toBe(true);
        }
      }), { numRuns: 100 });
  });
});

describe('fusedConv2d', () => {
  it('gives the bits of conv2d then biasAdd, forward and all three gradients, direct and im2col shapes alike', async () => {
    const { conv2d, fusedConv2d, biasAdd, sum, mul, Tensor: T } = await import('../../src/node/index.js');
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 3, max: 8 }), fc.constantFrom(1, 3, 8), fc.constantFrom(4, 6, 8, 16), fc.constantFrom<'same' | 'valid'>('same', 'valid'),
      fc.integer({ min: 1, max: 2 }), fc.boolean(), fc.nat(), (batch, h, c, outC, padding, stride, relu, seed) => {
        const rng = new Random(seed);
        const xs = rng.fillUniform(new Float32Array(batch * h * h * c), -1, 1), fs = rng.fillUniform(new Float32Array(9 * c * outC), -1, 1);
        const bs = rng.fillUniform(new Float32Array(outC), -1, 1);
        const run = (fused: boolean) => {
          const x = new T(xs.slice(), [batch, h, h, c], true), f = new T(fs.slice(), [3, 3, c, outC], true), b = new T(bs.slice(), [outC], true);
          const options = { padding, strides: stride };
          const y = fused ? fusedConv2d(x, f, b, relu ? 'relu' : 'linear', options) : biasAdd(conv2d(x, f, options), b, relu ? 'relu' : 'linear');
          sum(mul(y, new T(new Random(seed + 1).fillUniform(new Float32Array(y.size), -1, 1), y.shape))).backward();
          return [y.data, x.grad!.data, f.grad!.data, b.grad!.data].map(bits);
        };
        expect(run(true)).toEqual(run(false));
      }), { numRuns: 40 });
  });
});
