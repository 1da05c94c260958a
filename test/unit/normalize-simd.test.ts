/**
 * The normalization passes in WebAssembly SIMD against the JavaScript loops they replace:
 * both sum and multiply in float64, the channel sums in the same order, so on random shapes
 * whose last axis comes in fours the channel passes give the same bits and the row passes
 * (which sum a row in lane pairs) values at most an ulp apart — outputs, statistics and
 * gradients, with and without γ and β.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Random } from '../../src/node/index.js';
import {
  normalizeChannels,
  normalizeChannelsGrad,
  normalizeChannelsGradScalar,
  normalizeChannelsScalar,
  normalizeRows,
  normalizeRowsGrad,
  normalizeRowsGradScalar,
  normalizeRowsScalar,
} from '../../kernels/cpu/normalize.js';
import { normalizeKernel } from '../../kernels/cpu/normalize-simd.js';

/** Float32 values at most `ulps` apart (0: the same bits). */
function within(a: Float32Array | null, b: Float32Array | null, what: string, ulps = 0) {
  expect(a === null, what).toBe(b === null);
  if (a === null || b === null) return;
  expect(a.length, what).toBe(b.length);
  const ia = new Int32Array(a.buffer, a.byteOffset, a.length),
    ib = new Int32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) {
    if (Object.is(a[i], b[i])) continue;
    expect(
      Math.sign(a[i]) === Math.sign(b[i]) && Math.abs(ia[i] - ib[i]) <= ulps,
      `${what}[${i}]: ${a[i]} vs ${b[i]}`,
    ).toBe(true);
  }
}

const shapes = fc.record({
  rows: fc.integer({ min: 1, max: 40 }),
  groups: fc.integer({ min: 1, max: 12 }),
  // Offsets far from zero make the variance small against the mean: the hard case for the statistics.
  offset: fc.constantFrom(0, 3, 1000),
  affine: fc.boolean(),
  seed: fc.nat(),
});

function inputs({
  rows,
  groups,
  offset,
  affine,
  seed,
}: {
  rows: number;
  groups: number;
  offset: number;
  affine: boolean;
  seed: number;
}) {
  const rng = new Random(seed);
  const width = 4 * groups;
  const x = rng.fillNormal(new Float32Array(rows * width), offset, 2);
  const dy = rng.fillNormal(new Float32Array(rows * width), 0, 1);
  const gamma = affine ? rng.fillNormal(new Float32Array(width), 1, 0.5) : null;
  const beta = affine ? rng.fillNormal(new Float32Array(width), 0, 0.5) : null;
  return { width, x, dy, gamma, beta };
}

describe('normalization passes in WebAssembly SIMD', () => {
  it('run here (this suite compares them with the loops)', () => {
    expect(normalizeKernel()).not.toBeNull();
  });

  it('channels (BatchNormalization): the same bits as the JavaScript loops, forward and backward', () => {
    fc.assert(
      fc.property(shapes, (s) => {
        const { width, x, dy, gamma, beta } = inputs(s);
        const simd = normalizeChannels(x, s.rows, width, gamma, beta, 1e-3);
        const loops = normalizeChannelsScalar(x, s.rows, width, gamma, beta, 1e-3);
        for (const key of ['y', 'xhat', 'rstd', 'mean', 'variance'] as const) within(simd[key], loops[key], key);
        const g1 = normalizeChannelsGrad(dy, loops, s.rows, width, gamma, s.affine, s.affine);
        const g2 = normalizeChannelsGradScalar(dy, loops, s.rows, width, gamma, s.affine, s.affine);
        for (const key of ['dx', 'dgamma', 'dbeta'] as const) within(g1[key], g2[key], key);
      }),
      { numRuns: 100 },
    );
  });

  it('rows (LayerNormalization): within an ulp of the JavaScript loops, forward and backward', () => {
    fc.assert(
      fc.property(shapes, (s) => {
        const { width, x, dy, gamma, beta } = inputs(s);
        const simd = normalizeRows(x, s.rows, width, gamma, beta, 1e-3);
        const loops = normalizeRowsScalar(x, s.rows, width, gamma, beta, 1e-3);
        for (const key of ['y', 'xhat', 'rstd', 'mean', 'variance'] as const) within(simd[key], loops[key], key, 1);
        const g1 = normalizeRowsGrad(dy, loops, s.rows, width, gamma, s.affine, true);
        const g2 = normalizeRowsGradScalar(dy, loops, s.rows, width, gamma, s.affine, true);
        for (const key of ['dx', 'dgamma', 'dbeta'] as const) within(g1[key], g2[key], key, 1);
      }),
      { numRuns: 100 },
    );
  });
});
