/**
 * Finite-difference gradient checks of the ops and layers of issue 19 against float64
 * references (test/helpers/reference-layers.ts): slicing and joining, average pooling,
 * dilated convolution, both normalizations in training mode, and backpropagation through
 * time in LSTM and GRU on short sequences, with respect to inputs and every weight.
 */
import { describe, it } from 'vitest';
import fc from 'fast-check';
import * as W from '../../src/node/index.js';
import { Random, type Layer, type Tensor } from '../../src/node/index.js';
import * as R from '../helpers/reference.js';
import * as L from '../helpers/reference-layers.js';
import { type GradCase, checkGradient } from '../helpers/gradcheck.js';

/** A built layer whose weights are the given tensors (so their gradients are the ones checked). */
function withWeights(layer: Layer, inputShape: number[], weights: Record<string, Tensor>): Layer {
  layer.build(inputShape, new Random(0));
  const map = (layer as unknown as { weights: Map<string, Tensor> }).weights;
  for (const [name, t] of Object.entries(weights)) map.set(name, t);
  return layer;
}
const train = { training: true, rng: new Random(0) };

const small = fc.integer({ min: 1, max: 3 });
const seq = fc.record({ batch: fc.integer({ min: 1, max: 2 }), time: fc.integer({ min: 1, max: 4 }), features: small, units: small, returnSequences: fc.boolean() });
const pool = fc.record({
  batch: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 3, max: 5 }), w: fc.integer({ min: 3, max: 5 }), c: small,
  kh: fc.integer({ min: 1, max: 3 }), kw: fc.integer({ min: 1, max: 3 }), sh: fc.integer({ min: 1, max: 2 }), sw: fc.integer({ min: 1, max: 2 }),
  padding: fc.constantFrom('same' as const, 'valid' as const),
});

const cases: GradCase<any>[] = [
  {
    name: 'slice', spec: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }).chain((shape) => fc.record({
      shape: fc.constant(shape), begin: fc.tuple(...shape.map((d) => fc.nat(d - 1))) })).chain((s) => fc.record({
      s: fc.constant(s), sizes: fc.tuple(...s.shape.map((d, i) => fc.integer({ min: 0, max: d - s.begin[i] }))) })),
    inputs: ({ s }) => [{ shape: s.shape }],
    run: ({ s, sizes }, [x]) => W.slice(x, s.begin, sizes), ref: ({ s, sizes }, [x]) => L.sliceRef(x, s.begin, sizes),
  },
  {
    name: 'concat', spec: fc.record({ rows: small, a: small, b: small, axis: fc.constantFrom(0, 1) }),
    inputs: (s) => (s.axis === 1 ? [{ shape: [s.rows, s.a] }, { shape: [s.rows, s.b] }] : [{ shape: [s.a, s.rows] }, { shape: [s.b, s.rows] }]),
    run: (s, xs) => W.concat(xs, s.axis), ref: (s, xs) => L.concatRef(xs, s.axis),
  },
  {
    name: 'stack (axis 1)', spec: fc.record({ rows: small, cols: small }), inputs: (s) => [{ shape: [s.rows, s.cols] }, { shape: [s.rows, s.cols] }],
    run: (_s, xs) => W.stack(xs, 1), ref: (s, [a, b]) => L.concatRef([{ ...a, shape: [s.rows, 1, s.cols] }, { ...b, shape: [s.rows, 1, s.cols] }], 1),
  },
  {
    name: 'avgPool2d', spec: pool.filter((s) => s.padding === 'same' || (s.kh <= s.h && s.kw <= s.w)),
    inputs: (s) => [{ shape: [s.batch, s.h, s.w, s.c] }],
    run: (s, [x]) => W.avgPool2d(x, { poolSize: [s.kh, s.kw], strides: [s.sh, s.sw], padding: s.padding }),
    ref: (s, [x]) => L.avgPoolRef(x, [s.kh, s.kw], [s.sh, s.sw], s.padding),
  },
  {
    name: 'conv2d (dilated)', spec: fc.record({ batch: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 4, max: 6 }), w: fc.integer({ min: 4, max: 6 }),
      c: small, o: small, kh: fc.integer({ min: 1, max: 2 }), kw: fc.integer({ min: 1, max: 2 }), dh: fc.integer({ min: 1, max: 2 }), dw: fc.integer({ min: 1, max: 3 }),
      padding: fc.constantFrom('same' as const, 'valid' as const) }).filter((s) => s.padding === 'same' || ((s.kh - 1) * s.dh < s.h && (s.kw - 1) * s.dw < s.w)),
    inputs: (s) => [{ shape: [s.batch, s.h, s.w, s.c] }, { shape: [s.kh, s.kw, s.c, s.o] }],
    run: (s, [x, f]) => W.conv2d(x, f, { padding: s.padding, dilationRate: [s.dh, s.dw] }),
    ref: (s, [x, f]) => R.conv2dRef(x, f, [1, 1], s.padding, [s.dh, s.dw]),
  },
  {
    name: 'BatchNormalization (training: batch statistics)', spec: fc.record({ rows: fc.integer({ min: 2, max: 4 }), mid: small, c: small }),
    inputs: (s) => [{ shape: [s.rows, s.mid, s.c] }, { shape: [s.c] }, { shape: [s.c] }],
    run: (s, [x, gamma, beta]) => withWeights(new W.BatchNormalization(), [s.mid, s.c], { gamma, beta }).call(x, train),
    ref: (_s, [x, gamma, beta]) => L.batchNormRef(x, gamma, beta, 1e-3),
  },
  {
    name: 'LayerNormalization', spec: fc.record({ rows: small, mid: small, c: fc.integer({ min: 2, max: 4 }) }),
    inputs: (s) => [{ shape: [s.rows, s.mid, s.c] }, { shape: [s.c] }, { shape: [s.c] }],
    run: (s, [x, gamma, beta]) => withWeights(new W.LayerNormalization(), [s.mid, s.c], { gamma, beta }).call(x, train),
    ref: (_s, [x, gamma, beta]) => L.layerNormRef(x, gamma, beta, 1e-3),
  },
  {
    name: 'LSTM (backpropagation through time)', spec: seq,
    inputs: (s) => [{ shape: [s.batch, s.time, s.features] }, { shape: [s.features, 4 * s.units] }, { shape: [s.units, 4 * s.units] }, { shape: [4 * s.units] }],
    run: (s, [x, kernel, recurrent, bias]) => withWeights(new W.LSTM({ units: s.units, returnSequences: s.returnSequences }), [s.time, s.features],
      { kernel, recurrent_kernel: recurrent, bias }).call(x, train),
    ref: (s, [x, kernel, recurrent, bias]) => L.lstmRef(x, kernel, recurrent, bias, s.returnSequences),
  },
  {
    name: 'GRU (backpropagation through time)', spec: seq,
    inputs: (s) => [{ shape: [s.batch, s.time, s.features] }, { shape: [s.features, 3 * s.units] }, { shape: [s.units, 3 * s.units] }, { shape: [2, 3 * s.units] }],
    run: (s, [x, kernel, recurrent, bias]) => withWeights(new W.GRU({ units: s.units, returnSequences: s.returnSequences }), [s.time, s.features],
      { kernel, recurrent_kernel: recurrent, bias }).call(x, train),
    ref: (s, [x, kernel, recurrent, bias]) => L.gruRef(x, kernel, recurrent, bias, s.returnSequences),
  },
  {
    name: 'GlobalAveragePooling2D', spec: fc.record({ batch: small, h: small, w: small, c: small }), inputs: (s) => [{ shape: [s.batch, s.h, s.w, s.c] }],
    run: (_s, [x]) => new W.GlobalAveragePooling2D().call(x),
    ref: (s, [x]) => R.map(R.reduce(x, [1, 2], false, 0, (a, v) => a + v), (v) => v / (s.h * s.w)),
  },
  {
    name: 'Dense on rank-3 inputs', spec: fc.record({ batch: small, time: small, f: small, units: small }),
    inputs: (s) => [{ shape: [s.batch, s.time, s.f] }, { shape: [s.f, s.units] }, { shape: [s.units] }],
    run: (s, [x, kernel, bias]) => withWeights(new W.Dense({ units: s.units }), [s.time, s.f], { kernel, bias }).call(x, train),
    ref: (s, [x, kernel, bias]) => {
      const flat = R.matmulRef({ data: x.data, shape: [s.batch * s.time, s.f] }, kernel);
      return { data: R.broadcast2(flat, bias, (a, b) => a + b).data, shape: [s.batch, s.time, s.units] };
    },
  },
];

describe('layer gradients match finite differences on a float64 reference', () => {
  for (const c of cases) {
    it(c.name, () => {
      fc.assert(fc.property(c.spec, fc.nat(), (spec, seed) => checkGradient(c, spec, seed)), { numRuns: 25 });
    });
  }
});
