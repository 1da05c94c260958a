import { expect } from 'vitest';
import type fc from 'fast-check';
import { Tensor, Random, mul, sum } from '../../src/node/index.js';
import * as R from './reference.js';
import type { Arr } from './reference.js';

/**
 * Finite-difference gradient checks. For each op f, with random inputs X and random output
 * weights V, L(X) = Σ f(X)·V. The autograd gradient of L (float32) must match the central
 * difference of L computed on an independent float64 reference implementation of f.
 */
export type Domain = 'any' | 'positive' | 'awayFromZero';
interface Input {
  shape: number[];
  domain?: Domain;
}

export interface GradCase<S> {
  name: string;
  spec: fc.Arbitrary<S>;
  inputs(spec: S): Input[];
  run(spec: S, xs: Tensor[]): Tensor;
  ref(spec: S, xs: Arr[]): Arr;
}

function sample(rng: Random, n: number, domain: Domain = 'any'): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    if (domain === 'positive') out[i] = 0.5 + 1.5 * u;
    else if (domain === 'awayFromZero') out[i] = (rng.uniform() < 0.5 ? -1 : 1) * (0.1 + u);
    else out[i] = 4 * u - 2;
  }
  return out;
}

export function checkGradient<S>(c: GradCase<S>, spec: S, seed: number): void {
  const rng = new Random(seed);
  const inputs = c.inputs(spec);
  const values = inputs.map((inp) => sample(rng, R.size(inp.shape), inp.domain));
  const tensors = values.map((v, i) => new Tensor(v.slice(), inputs[i].shape, true));
  const out = c.run(spec, tensors);
  const refOut = c.ref(
    spec,
    values.map((v, i) => R.arr(v, inputs[i].shape)),
  );
  expect(out.shape).toEqual(refOut.shape);
  out.data.forEach((v, i) => expect(v).toBeCloseTo(refOut.data[i], 4));

  const weights = sample(rng, out.size);
  sum(mul(out, new Tensor(weights, out.shape))).backward();
  const loss = (xs: Arr[]) => c.ref(spec, xs).data.reduce((s, v, i) => s + v * weights[i], 0);
  const h = 1e-6;
  values.forEach((v, which) => {
    const grad = tensors[which].grad?.data ?? new Float32Array(v.length);
    for (let j = 0; j < v.length; j++) {
      const probe = (delta: number) =>
        loss(
          values.map((u, k) => {
            const a = R.arr(u, inputs[k].shape);
            if (k === which) a.data[j] += delta;
            return a;
          }),
        );
      const numeric = (probe(h) - probe(-h)) / (2 * h);
      const ok = Math.abs(grad[j] - numeric) <= 1e-3 * (1 + Math.abs(numeric));
      if (!ok)
        expect.fail(
          `${c.name}: d/dx${which}[${j}] autograd ${grad[j]} vs finite difference ${numeric} (spec ${JSON.stringify(spec)})`,
        );
    }
  });
}
