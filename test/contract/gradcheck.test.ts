/**
 * Finite-difference gradient checks in float64 (the harness: test/helpers/gradcheck.ts): every
 * op against its reference, and the layers (slicing and joining, pooling, dilated convolution,
 * both normalizations in training mode, backpropagation through time in LSTM and GRU) with
 * respect to their inputs and every weight.
 */
import { describe, it } from 'vitest';
import fc from 'fast-check';
import * as W from '../../src/node/index.js';
import { Tensor, Random, type Layer } from '../../src/node/index.js';
import * as R from '../helpers/reference.js';
import { type Domain, type GradCase, checkGradient } from '../helpers/gradcheck.js';
import * as L from '../helpers/reference-layers.js';
const dim = fc.integer({ min: 1, max: 4 });
const shapeArb = (minRank = 0, maxRank = 3) => fc.array(dim, { minLength: minRank, maxLength: maxRank });

/** Two shapes that broadcast: b drops leading dims of a and sets some of the rest to 1; maybe swapped. */
const broadcastPair = fc
  .tuple(shapeArb(), fc.nat(3), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.boolean())
  .map(([a, drop, ones, swap]) => {
    const b = a.slice(Math.min(drop, a.length)).map((d, i) => (ones[i] ? 1 : d));
    return swap ? { a: b, b: a } : { a, b };
  });

function binaryCase(
  name: string,
  f: (a: Tensor, b: Tensor) => Tensor,
  ref: (x: number, y: number) => number,
  domains: [Domain, Domain] = ['any', 'any'],
): GradCase<{ a: number[]; b: number[] }> {
  return {
    name,
    spec: broadcastPair,
    inputs: (s) => [
      { shape: s.a, domain: domains[0] },
      { shape: s.b, domain: domains[1] },
    ],
    run: (_s, [a, b]) => f(a, b),
    ref: (_s, [a, b]) => R.broadcast2(a, b, ref),
  };
}

function unaryCase(
  name: string,
  f: (x: Tensor) => Tensor,
  ref: (x: number) => number,
  domain: Domain = 'any',
): GradCase<number[]> {
  return {
    name,
    spec: shapeArb(),
    inputs: (shape) => [{ shape, domain }],
    run: (_s, [x]) => f(x),
    ref: (_s, [x]) => R.map(x, ref),
  };
}

/** A shape with an axis in range, for reductions and softmax. */
const shapeWithAxis = shapeArb(1, 3).chain((shape) =>
  fc.record({
    shape: fc.constant(shape),
    axis: fc.integer({ min: -shape.length, max: shape.length - 1 }),
    keepDims: fc.boolean(),
  }),
);
const positive = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

const convSpec = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  h: fc.integer({ min: 3, max: 6 }),
  w: fc.integer({ min: 3, max: 6 }),
  c: fc.integer({ min: 1, max: 3 }),
  kh: fc.integer({ min: 1, max: 3 }),
  kw: fc.integer({ min: 1, max: 3 }),
  o: fc.integer({ min: 1, max: 3 }),
  sh: fc.integer({ min: 1, max: 2 }),
  sw: fc.integer({ min: 1, max: 2 }),
  padding: fc.constantFrom('same' as const, 'valid' as const),
});

const cases: GradCase<any>[] = [
  binaryCase('add', W.add, (x, y) => x + y),
  binaryCase('sub', W.sub, (x, y) => x - y),
  binaryCase('mul', W.mul, (x, y) => x * y),
  binaryCase('div', W.div, (x, y) => x / y, ['any', 'awayFromZero']),
  binaryCase('pow', W.pow, (x, y) => x ** y, ['positive', 'any']),
  unaryCase(
    'pow (scalar exponent)',
    (x) => W.pow(x, 3),
    (x) => x ** 3,
  ),
  unaryCase('neg', W.neg, (x) => -x),
  unaryCase('exp', W.exp, Math.exp),
  unaryCase('log', W.log, Math.log, 'positive'),
  unaryCase('sqrt', W.sqrt, Math.sqrt, 'positive'),
  unaryCase('relu', W.relu, (x) => Math.max(x, 0), 'awayFromZero'),
  unaryCase('sigmoid', W.sigmoid, (x) => 1 / (1 + Math.exp(-x))),
  unaryCase('tanh', W.tanh, Math.tanh),
  {
    name: 'sum',
    spec: shapeWithAxis,
    inputs: (s) => [{ shape: s.shape }],
    run: (s, [x]) => W.sum(x, s.axis, s.keepDims),
    ref: (s, [x]) => R.reduce(x, [positive(s.axis, s.shape.length)], s.keepDims, 0, (a, v) => a + v),
  },
  {
    name: 'sum (all axes)',
    spec: shapeArb(),
    inputs: (shape) => [{ shape }],
    run: (_s, [x]) => W.sum(x),
    ref: (s, [x]) =>
      R.reduce(
        x,
        s.map((_: number, i: number) => i),
        false,
        0,
        (a, v) => a + v,
      ),
  },
  {
    name: 'mean (two axes)',
    spec: shapeArb(2, 3),
    inputs: (shape) => [{ shape }],
    run: (_s, [x]) => W.mean(x, [0, -1], true),
    ref: (s, [x]) =>
      R.map(
        R.reduce(x, [0, s.length - 1], true, 0, (a, v) => a + v),
        (v) => v / (s[0] * s[s.length - 1]),
      ),
  },
  {
    name: 'max',
    spec: shapeWithAxis,
    inputs: (s) => [{ shape: s.shape }],
    run: (s, [x]) => W.max(x, s.axis, s.keepDims),
    ref: (s, [x]) => R.reduce(x, [positive(s.axis, s.shape.length)], s.keepDims, -Infinity, Math.max),
  },
  {
    name: 'logSoftmax',
    spec: shapeWithAxis,
    inputs: (s) => [{ shape: s.shape }],
    run: (s, [x]) => W.logSoftmax(x, s.axis),
    ref: (s, [x]) => R.logSoftmaxRef(x, positive(s.axis, s.shape.length)),
  },
  {
    name: 'softmax',
    spec: shapeWithAxis,
    inputs: (s) => [{ shape: s.shape }],
    run: (s, [x]) => W.softmax(x, s.axis),
    ref: (s, [x]) => R.map(R.logSoftmaxRef(x, positive(s.axis, s.shape.length)), Math.exp),
  },
  {
    name: 'reshape',
    spec: shapeArb(1, 3),
    inputs: (shape) => [{ shape }],
    run: (_s, [x]) => W.mul(W.reshape(x, [-1]), W.reshape(x, [-1])),
    ref: (_s, [x]) => ({ data: x.data.map((v) => v * v), shape: [x.data.length] }),
  },
  {
    name: 'transpose',
    spec: shapeArb(1, 4).chain((shape) =>
      fc.record({
        shape: fc.constant(shape),
        perm: fc.shuffledSubarray([...shape.keys()], { minLength: shape.length }),
      }),
    ),
    inputs: (s) => [{ shape: s.shape }],
    run: (s, [x]) => W.transpose(x, s.perm),
    ref: (s, [x]) => R.transposeRef(x, s.perm),
  },
  {
    name: 'matmul',
    spec: fc.tuple(dim, fc.integer({ min: 1, max: 9 }), dim),
    inputs: ([m, k, n]) => [{ shape: [m, k] }, { shape: [k, n] }],
    run: (_s, [a, b]) => W.matmul(a, b),
    ref: (_s, [a, b]) => R.matmulRef(a, b),
  },
  {
    name: 'matmul (shared operand)',
    spec: dim,
    inputs: (n) => [{ shape: [n, n] }],
    run: (_s, [a]) => W.matmul(a, a),
    ref: (_s, [a]) => R.matmulRef(a, a),
  },
  {
    name: 'conv2d',
    spec: convSpec.filter((s) => s.padding === 'same' || (s.kh <= s.h && s.kw <= s.w)),
    inputs: (s) => [{ shape: [s.batch, s.h, s.w, s.c] }, { shape: [s.kh, s.kw, s.c, s.o] }],
    run: (s, [x, f]) => W.conv2d(x, f, { strides: [s.sh, s.sw], padding: s.padding }),
    ref: (s, [x, f]) => R.conv2dRef(x, f, [s.sh, s.sw], s.padding),
  },
  {
    name: 'maxPool2d',
    spec: convSpec.filter((s) => s.padding === 'same' || (s.kh <= s.h && s.kw <= s.w)),
    inputs: (s) => [{ shape: [s.batch, s.h, s.w, s.c] }],
    run: (s, [x]) => W.maxPool2d(x, { poolSize: [s.kh, s.kw], strides: [s.sh, s.sw], padding: s.padding }),
    ref: (s, [x]) => R.maxPoolRef(x, [s.kh, s.kw], [s.sh, s.sw], s.padding),
  },
  {
    name: 'gather',
    spec: shapeWithAxis.chain((s) =>
      fc.record({
        s: fc.constant(s),
        idx: fc.array(fc.nat(s.shape[positive(s.axis, s.shape.length)] - 1), { maxLength: 5 }),
      }),
    ),
    inputs: ({ s }) => [{ shape: s.shape }],
    run: ({ s, idx }, [x]) => W.gather(x, idx, positive(s.axis, s.shape.length)),
    ref: ({ s, idx }, [x]) => R.gatherRef(x, idx, positive(s.axis, s.shape.length)),
  },
  {
    name: 'dropout',
    spec: fc.record({ shape: shapeArb(1, 3), rate: fc.double({ min: 0, max: 0.9, noNaN: true }), seed: fc.nat() }),
    inputs: (s) => [{ shape: s.shape }],
    run: (s, [x]) => W.dropout(x, s.rate, new Random(s.seed)),
    ref: (s, [x]) => {
      if (s.rate === 0) return x;
      const rng = new Random(s.seed);
      // A value is dropped when a 32-bit draw falls below rate·2³².
      return R.map(x, (v) => (rng.nextUint32() < s.rate * 2 ** 32 ? 0 : v * Math.fround(1 / (1 - s.rate))));
    },
  },
];

describe('gradients match finite differences on a float64 reference', () => {
  for (const c of cases) {
    it(c.name, () => {
      fc.assert(
        fc.property(c.spec, fc.nat(), (spec, seed) => checkGradient(c, spec, seed)),
        { numRuns: 30 },
      );
    });
  }
});

/** A built layer whose weights are the given tensors (so their gradients are the ones checked). */
function withWeights(layer: Layer, inputShape: number[], weights: Record<string, Tensor>): Layer {
  layer.build(inputShape, new Random(0));
  const map = (layer as unknown as { weights: Map<string, Tensor> }).weights;
  for (const [name, t] of Object.entries(weights)) map.set(name, t);
  return layer;
}
const train = { training: true, rng: new Random(0) };

const small = fc.integer({ min: 1, max: 3 });
const seq = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  time: fc.integer({ min: 1, max: 4 }),
  features: small,
  units: small,
  returnSequences: fc.boolean(),
});
const pool = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  h: fc.integer({ min: 3, max: 5 }),
  w: fc.integer({ min: 3, max: 5 }),
  c: small,
  kh: fc.integer({ min: 1, max: 3 }),
  kw: fc.integer({ min: 1, max: 3 }),
  sh: fc.integer({ min: 1, max: 2 }),
  sw: fc.integer({ min: 1, max: 2 }),
  padding: fc.constantFrom('same' as const, 'valid' as const),
});

const layerCases: GradCase<any>[] = [
  {
    name: 'slice',
    spec: fc
      .array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 })
      .chain((shape) =>
        fc.record({
          shape: fc.constant(shape),
          begin: fc.tuple(...shape.map((d) => fc.nat(d - 1))),
        }),
      )
      .chain((s) =>
        fc.record({
          s: fc.constant(s),
          sizes: fc.tuple(...s.shape.map((d, i) => fc.integer({ min: 0, max: d - s.begin[i] }))),
        }),
      ),
    inputs: ({ s }) => [{ shape: s.shape }],
    run: ({ s, sizes }, [x]) => W.slice(x, s.begin, sizes),
    ref: ({ s, sizes }, [x]) => L.sliceRef(x, s.begin, sizes),
  },
  {
    name: 'concat',
    spec: fc.record({ rows: small, a: small, b: small, axis: fc.constantFrom(0, 1) }),
    inputs: (s) =>
      s.axis === 1
        ? [{ shape: [s.rows, s.a] }, { shape: [s.rows, s.b] }]
        : [{ shape: [s.a, s.rows] }, { shape: [s.b, s.rows] }],
    run: (s, xs) => W.concat(xs, s.axis),
    ref: (s, xs) => L.concatRef(xs, s.axis),
  },
  {
    name: 'stack (axis 1)',
    spec: fc.record({ rows: small, cols: small }),
    inputs: (s) => [{ shape: [s.rows, s.cols] }, { shape: [s.rows, s.cols] }],
    run: (_s, xs) => W.stack(xs, 1),
    ref: (s, [a, b]) =>
      L.concatRef(
        [
          { ...a, shape: [s.rows, 1, s.cols] },
          { ...b, shape: [s.rows, 1, s.cols] },
        ],
        1,
      ),
  },
  {
    name: 'avgPool2d',
    spec: pool.filter((s) => s.padding === 'same' || (s.kh <= s.h && s.kw <= s.w)),
    inputs: (s) => [{ shape: [s.batch, s.h, s.w, s.c] }],
    run: (s, [x]) => W.avgPool2d(x, { poolSize: [s.kh, s.kw], strides: [s.sh, s.sw], padding: s.padding }),
    ref: (s, [x]) => L.avgPoolRef(x, [s.kh, s.kw], [s.sh, s.sw], s.padding),
  },
  {
    name: 'conv2d (dilated)',
    spec: fc
      .record({
        batch: fc.integer({ min: 1, max: 2 }),
        h: fc.integer({ min: 4, max: 6 }),
        w: fc.integer({ min: 4, max: 6 }),
        c: small,
        o: small,
        kh: fc.integer({ min: 1, max: 2 }),
        kw: fc.integer({ min: 1, max: 2 }),
        dh: fc.integer({ min: 1, max: 2 }),
        dw: fc.integer({ min: 1, max: 3 }),
        padding: fc.constantFrom('same' as const, 'valid' as const),
      })
      .filter((s) => s.padding === 'same' || ((s.kh - 1) * s.dh < s.h && (s.kw - 1) * s.dw < s.w)),
    inputs: (s) => [{ shape: [s.batch, s.h, s.w, s.c] }, { shape: [s.kh, s.kw, s.c, s.o] }],
    run: (s, [x, f]) => W.conv2d(x, f, { padding: s.padding, dilationRate: [s.dh, s.dw] }),
    ref: (s, [x, f]) => R.conv2dRef(x, f, [1, 1], s.padding, [s.dh, s.dw]),
  },
  {
    name: 'BatchNormalization (training: batch statistics)',
    spec: fc.record({ rows: fc.integer({ min: 2, max: 4 }), mid: small, c: small }),
    inputs: (s) => [{ shape: [s.rows, s.mid, s.c] }, { shape: [s.c] }, { shape: [s.c] }],
    run: (s, [x, gamma, beta]) => withWeights(new W.BatchNormalization(), [s.mid, s.c], { gamma, beta }).call(x, train),
    ref: (_s, [x, gamma, beta]) => L.batchNormRef(x, gamma, beta, 1e-3),
  },
  {
    name: 'LayerNormalization',
    spec: fc.record({ rows: small, mid: small, c: fc.integer({ min: 2, max: 4 }) }),
    inputs: (s) => [{ shape: [s.rows, s.mid, s.c] }, { shape: [s.c] }, { shape: [s.c] }],
    run: (s, [x, gamma, beta]) => withWeights(new W.LayerNormalization(), [s.mid, s.c], { gamma, beta }).call(x, train),
    ref: (_s, [x, gamma, beta]) => L.layerNormRef(x, gamma, beta, 1e-3),
  },
  {
    name: 'LSTM (backpropagation through time)',
    spec: seq,
    inputs: (s) => [
      { shape: [s.batch, s.time, s.features] },
      { shape: [s.features, 4 * s.units] },
      { shape: [s.units, 4 * s.units] },
      { shape: [4 * s.units] },
    ],
    run: (s, [x, kernel, recurrent, bias]) =>
      withWeights(new W.LSTM({ units: s.units, returnSequences: s.returnSequences }), [s.time, s.features], {
        kernel,
        recurrent_kernel: recurrent,
        bias,
      }).call(x, train),
    ref: (s, [x, kernel, recurrent, bias]) => L.lstmRef(x, kernel, recurrent, bias, s.returnSequences),
  },
  {
    name: 'GRU (backpropagation through time)',
    spec: seq,
    inputs: (s) => [
      { shape: [s.batch, s.time, s.features] },
      { shape: [s.features, 3 * s.units] },
      { shape: [s.units, 3 * s.units] },
      { shape: [2, 3 * s.units] },
    ],
    run: (s, [x, kernel, recurrent, bias]) =>
      withWeights(new W.GRU({ units: s.units, returnSequences: s.returnSequences }), [s.time, s.features], {
        kernel,
        recurrent_kernel: recurrent,
        bias,
      }).call(x, train),
    ref: (s, [x, kernel, recurrent, bias]) => L.gruRef(x, kernel, recurrent, bias, s.returnSequences),
  },
  {
    name: 'GlobalAveragePooling2D',
    spec: fc.record({ batch: small, h: small, w: small, c: small }),
    inputs: (s) => [{ shape: [s.batch, s.h, s.w, s.c] }],
    run: (_s, [x]) => new W.GlobalAveragePooling2D().call(x),
    ref: (s, [x]) =>
      R.map(
        R.reduce(x, [1, 2], false, 0, (a, v) => a + v),
        (v) => v / (s.h * s.w),
      ),
  },
  {
    name: 'Dense on rank-3 inputs',
    spec: fc.record({ batch: small, time: small, f: small, units: small }),
    inputs: (s) => [{ shape: [s.batch, s.time, s.f] }, { shape: [s.f, s.units] }, { shape: [s.units] }],
    run: (s, [x, kernel, bias]) =>
      withWeights(new W.Dense({ units: s.units }), [s.time, s.f], { kernel, bias }).call(x, train),
    ref: (s, [x, kernel, bias]) => {
      const flat = R.matmulRef({ data: x.data, shape: [s.batch * s.time, s.f] }, kernel);
      return { data: R.broadcast2(flat, bias, (a, b) => a + b).data, shape: [s.batch, s.time, s.units] };
    },
  },
];

describe('layer gradients match finite differences on a float64 reference', () => {
  for (const c of layerCases) {
    it(c.name, () => {
      fc.assert(
        fc.property(c.spec, fc.nat(), (spec, seed) => checkGradient(c, spec, seed)),
        { numRuns: 25 },
      );
    });
  }
});
