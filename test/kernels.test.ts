import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Random } from '../src/node/index.js';
import { cpuBackend } from '../src/backend/cpu.js';
import { matmul, jsEngine, defaultGemm } from '../kernels/cpu/matmul.js';
import { kernelSuite, rand, expectClose, naiveMatmul } from './helpers/kernel-suite.js';

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
