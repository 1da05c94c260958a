/**
 * The fused ops (layerNorm, batchNormTraining, globalAvgPool2d) against the same formula
 * composed from elementwise ops, on random shapes: outputs, statistics and every gradient agree
 * to float32 rounding.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  Random,
  Tensor,
  add,
  batchNormTraining,
  div,
  globalAvgPool2d,
  layerNorm,
  mean,
  mul,
  randn,
  sqrt,
  sub,
  sum,
} from '../../src/node/index.js';

/** Agreement to float32 rounding, `scale` times looser where the reference itself is ill-conditioned (see conditioning). */
function close(a: Float32Array, b: Float32Array, what: string, scale = 1) {
  expect(a.length, what).toBe(b.length);
  for (let i = 0; i < a.length; i++)
    expect(Math.abs(a[i] - b[i]), `${what}[${i}]: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(
      2e-5 * scale * (1 + Math.abs(b[i])),
    );
}

/**
 * How much the composed float32 formula amplifies its own rounding on rows of `f` values: its
 * x − mean loses digits of |x|, which 1/√(variance + ε) then scales. A row of two nearly equal
 * values (variance 5e-4 against ε 1e-3: ×26) put the composed gradient 2.7e-5 off, where the
 * fused kernel agreed with a float64 computation to 1e-8.
 */
function conditioning(x: Float32Array, f: number, eps: number): number {
  let worst = 1;
  for (let at = 0; at < x.length; at += f) {
    const row = x.subarray(at, at + f);
    const m = row.reduce((a, v) => a + v, 0) / f;
    const v = row.reduce((a, q) => a + (q - m) ** 2, 0) / f;
    const big = row.reduce((a, q) => Math.max(a, Math.abs(q)), 0);
    worst = Math.max(worst, big / Math.sqrt(v + eps));
  }
  return worst;
}

/** (x − m) / √(v + ε) · γ + β, composed. */
const composed = (x: Tensor, m: Tensor, v: Tensor, eps: number, gamma: Tensor | null, beta: Tensor | null) => {
  let y = div(sub(x, m), sqrt(add(v, eps)));
  if (gamma) y = mul(y, gamma);
  if (beta) y = add(y, beta);
  return y;
};

/** Values, then the gradients of Σ y·w (w fixed random weights) for x, γ and β, through `f`. */
function run(
  f: (x: Tensor, g: Tensor | null, b: Tensor | null) => Tensor,
  shape: number[],
  affine: boolean,
  seed: number,
) {
  const rng = new Random(seed);
  const c = shape[shape.length - 1];
  const x = randn(shape, rng, true);
  const gamma = affine ? new Tensor(rng.fillUniform(new Float32Array(c), 0.5, 1.5), [c], true) : null;
  const beta = affine ? new Tensor(rng.fillNormal(new Float32Array(c)), [c], true) : null;
  const w = randn(shape, rng);
  const y = f(x, gamma, beta);
  sum(mul(y, w)).backward();
  return { x: x.data, y: y.data, dx: x.grad!.data, dgamma: gamma?.grad?.data, dbeta: beta?.grad?.data };
}

const shapes = fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 2, maxLength: 4 });

describe('fused normalization', () => {
  it('layerNorm equals the composed formula over the last axis, values and gradients', () => {
    fc.assert(
      fc.property(shapes, fc.boolean(), fc.nat(), (shape, affine, seed) => {
        const eps = 1e-3;
        const fused = run((x, g, b) => layerNorm(x, g, b, eps), shape, affine, seed);
        const ref = run(
          (x, g, b) => {
            const m = mean(x, -1, true);
            const c = sub(x, m);
            return composed(x, m, mean(mul(c, c), -1, true), eps, g, b);
          },
          shape,
          affine,
          seed,
        );
        const scale = conditioning(fused.x, shape[shape.length - 1], eps);
        close(fused.y, ref.y, 'y', scale);
        close(fused.dx, ref.dx, 'dx', scale);
        if (affine) {
          close(fused.dgamma!, ref.dgamma!, 'dgamma', scale);
          close(fused.dbeta!, ref.dbeta!, 'dbeta');
        }
      }),
      // The counterexample CI found (seed -765701836): a row of two nearly equal values.
      { numRuns: 200, examples: [[[6, 4, 4, 2], false, 7]] },
    );
  });

  it('batchNormTraining equals the composed formula over every axis but the last, with its statistics', () => {
    fc.assert(
      fc.property(shapes, fc.boolean(), fc.nat(), (shape, affine, seed) => {
        const eps = 1e-3;
        let stats: { mean: Float32Array; variance: Float32Array } | null = null;
        const fused = run(
          (x, g, b) => {
            const r = batchNormTraining(x, g, b, eps);
            stats = r;
            return r.y;
          },
          shape,
          affine,
          seed,
        );
        let refStats: { mean: Float32Array; variance: Float32Array } | null = null;
        const ref = run(
          (x, g, b) => {
            const axes = x.shape.slice(0, -1).map((_, i) => i);
            const m = mean(x, axes);
            const c = sub(x, m);
            const v = mean(mul(c, c), axes);
            refStats = { mean: m.data, variance: v.data };
            return composed(x, m, v, eps, g, b);
          },
          shape,
          affine,
          seed,
        );
        close(fused.y, ref.y, 'y');
        close(fused.dx, ref.dx, 'dx');
        close(stats!.mean, refStats!.mean, 'mean');
        close(stats!.variance, refStats!.variance, 'variance');
        if (affine) {
          close(fused.dgamma!, ref.dgamma!, 'dgamma');
          close(fused.dbeta!, ref.dbeta!, 'dbeta');
        }
      }),
      { numRuns: 200 },
    );
  });

  it('globalAvgPool2d equals mean over height and width, value and gradient', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 4, maxLength: 4 }), fc.nat(), (shape, seed) => {
        const rng = new Random(seed);
        const x = randn(shape, rng, true),
          x2 = new Tensor(x.data.slice(), shape, true);
        const w = randn([shape[0], shape[3]], rng);
        const a = globalAvgPool2d(x),
          b = mean(x2, [1, 2]);
        close(a.data, b.data, 'y');
        sum(mul(a, w)).backward();
        sum(mul(b, w)).backward();
        close(x.grad!.data, x2.grad!.data, 'dx');
      }),
      { numRuns: 200 },
    );
    expect(() => globalAvgPool2d(randn([2, 3], new Random(1)))).toThrow(
      /globalAvgPool2d: input must be rank 4 NHWC, got \[2,3\]/,
    );
  });

  it('refuses γ or β that do not match the last axis, naming the shapes', () => {
    const x = randn([2, 3], new Random(1));
    expect(() => layerNorm(x, new Tensor(new Float32Array(4), [4]), null, 1e-3)).toThrow(
      /layerNorm: gamma \[4\] does not match the last axis of \[2,3\]/,
    );
    expect(() => batchNormTraining(x, null, new Tensor(new Float32Array(2), [2]), 1e-3)).toThrow(/beta \[2\]/);
  });
});
