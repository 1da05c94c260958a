/**
 * The fused LSTM recurrence (lstmRecurrence) against the same recurrence composed from ops,
 * step by step, on random shapes: every output and the gradients of the projections and the
 * recurrent kernel agree to float32 rounding, for the last step and for every step.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  Random,
  Tensor,
  add,
  matmul,
  mul,
  randn,
  reshape,
  sigmoid,
  sub,
  slice,
  stack,
  sum,
  tanh,
} from '../../src/node/index.js';
import { gruRecurrence, lstmRecurrence } from '../../src/tensor/ops/recurrent.js';

function composed(p: Tensor, U: Tensor, sequences: boolean): Tensor {
  const [batch, time, width] = p.shape;
  const u = width / 4;
  let h = new Tensor(new Float32Array(batch * u), [batch, u]);
  let c = new Tensor(new Float32Array(batch * u), [batch, u]);
  const gate = (z: Tensor, k: number) => slice(z, [0, k * u], [batch, u]);
  const outs: Tensor[] = [];
  for (let t = 0; t < time; t++) {
    const z = add(reshape(slice(p, [0, t, 0], [batch, 1, width]), [batch, width]), matmul(h, U));
    c = add(mul(sigmoid(gate(z, 1)), c), mul(sigmoid(gate(z, 0)), tanh(gate(z, 2))));
    h = mul(sigmoid(gate(z, 3)), tanh(c));
    outs.push(h);
  }
  return sequences ? stack(outs, 1) : h;
}

function composedGru(p: Tensor, U: Tensor, rb: Tensor | null, sequences: boolean): Tensor {
  const [batch, time, width] = p.shape;
  const u = width / 3;
  let h = new Tensor(new Float32Array(batch * u), [batch, u]);
  const gate = (z: Tensor, k: number) => slice(z, [0, k * u], [batch, u]);
  const outs: Tensor[] = [];
  for (let t = 0; t < time; t++) {
    const xt = reshape(slice(p, [0, t, 0], [batch, 1, width]), [batch, width]);
    let inner = matmul(h, U);
    if (rb) inner = add(inner, rb);
    const z = sigmoid(add(gate(xt, 0), gate(inner, 0)));
    const r = sigmoid(add(gate(xt, 1), gate(inner, 1)));
    const n = tanh(add(gate(xt, 2), mul(r, gate(inner, 2))));
    h = add(mul(z, h), mul(sub(1, z), n));
    outs.push(h);
  }
  return sequences ? stack(outs, 1) : h;
}

function close(a: Float32Array, b: Float32Array, what: string) {
  for (let i = 0; i < a.length; i++)
    expect(Math.abs(a[i] - b[i]), `${what}[${i}]: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(b[i])));
}

describe('lstmRecurrence', () => {
  it('equals the composed recurrence: outputs and gradients, last step or every step', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        fc.nat(),
        (batch, time, u, sequences, seed) => {
          const rng = new Random(seed);
          const p1 = randn([batch, time, 4 * u], rng, true),
            U1 = new Tensor(rng.fillNormal(new Float32Array(u * 4 * u), 0, 0.5), [u, 4 * u], true);
          const p2 = new Tensor(p1.data.slice(), p1.shape, true),
            U2 = new Tensor(U1.data.slice(), U1.shape, true);
          const a = lstmRecurrence(p1, U1, sequences),
            b = composed(p2, U2, sequences);
          expect(a.shape).toEqual(b.shape);
          close(a.data, b.data, 'h');
          const w = randn(a.shape, rng);
          sum(mul(a, w)).backward();
          sum(mul(b, w)).backward();
          close(p1.grad!.data, p2.grad!.data, 'dP');
          close(U1.grad!.data, U2.grad!.data, 'dU');
        },
      ),
      { numRuns: 150 },
    );
  });

  it('gruRecurrence equals the composed GRU (resetAfter): outputs and every gradient, with and without the recurrent bias', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        fc.boolean(),
        fc.nat(),
        (batch, time, u, sequences, withBias, seed) => {
          const rng = new Random(seed);
          const p1 = randn([batch, time, 3 * u], rng, true),
            U1 = new Tensor(rng.fillNormal(new Float32Array(u * 3 * u), 0, 0.5), [u, 3 * u], true),
            b1 = withBias ? new Tensor(rng.fillNormal(new Float32Array(3 * u), 0, 0.5), [3 * u], true) : null;
          const copy = (t: Tensor) => new Tensor(t.data.slice(), t.shape, true);
          const p2 = copy(p1),
            U2 = copy(U1),
            b2 = b1 && copy(b1);
          const a = gruRecurrence(p1, U1, b1, sequences),
            b = composedGru(p2, U2, b2, sequences);
          expect(a.shape).toEqual(b.shape);
          close(a.data, b.data, 'h');
          const w = randn(a.shape, rng);
          sum(mul(a, w)).backward();
          sum(mul(b, w)).backward();
          close(p1.grad!.data, p2.grad!.data, 'dP');
          close(U1.grad!.data, U2.grad!.data, 'dU');
          if (b1) close(b1.grad!.data, b2!.grad!.data, 'dBias');
        },
      ),
      { numRuns: 150 },
    );
  });

  it("stacked: a second recurrence between the first's forward and backward pass leaves the first's gradients exact", () => {
    // The second layer's forward moves the first's saved state out of the kernel's memory; its backward moves it back.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 6 }),
        fc.nat(),
        (batch, time, u, seed) => {
          const rng = new Random(seed);
          const leaf = (shape: number[]) =>
            new Tensor(rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)), 0, 0.5), shape, true);
          const p = leaf([batch, time, 4 * u]),
            U1 = leaf([u, 4 * u]),
            W2 = leaf([u, 3 * u]),
            U2 = leaf([u, 3 * u]);
          const copies = [p, U1, W2, U2].map((t) => new Tensor(t.data.slice(), t.shape, true));
          const run = (fused: boolean, [p, U1, W2, U2]: Tensor[]) => {
            const h1 = fused ? lstmRecurrence(p, U1, true) : composed(p, U1, true);
            const p2 = reshape(matmul(reshape(h1, [batch * time, u]), W2), [batch, time, 3 * u]);
            return fused ? gruRecurrence(p2, U2, null, false) : composedGru(p2, U2, null, false);
          };
          const a = run(true, [p, U1, W2, U2]),
            b = run(false, copies);
          close(a.data, b.data, 'h');
          const w = randn(a.shape, rng);
          sum(mul(a, w)).backward();
          sum(mul(b, w)).backward();
          ['dP', 'dU1', 'dW2', 'dU2'].forEach((what, i) =>
            close([p, U1, W2, U2][i].grad!.data, copies[i].grad!.data, what),
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses shapes that are not [batch, time, 4u] and [u, 4u], naming them', () => {
    expect(() => lstmRecurrence(randn([2, 3, 8], new Random(1)), randn([3, 12], new Random(2)), false)).toThrow(
      /lstmRecurrence: projections \[2,3,8\] and recurrent kernel \[3,12\]/,
    );
  });
});
