import { describe, it } from 'vitest';
import fc from 'fast-check';
import { Tensor, Random } from '../../src/node/index.js';
import * as W from '../../src/node/index.js';
import * as R from '../helpers/reference.js';
import { type Domain, type GradCase, checkGradient } from '../helpers/gradcheck.js';

/**
 * Finite-difference gradient checks of every op against a float64 reference (the harness:
 * test/helpers/gradcheck.ts).
 */
const dim = fc.integer({ min: 1, max: 4 });
const shapeArb = (minRank = 0, maxRank = 3) => fc.array(dim, { minLength: minRank, maxLength: maxRank });

/** Two shapes that broadcast: b drops leading dims of a and sets some of the rest to 1; maybe swapped. */
const broadcastPair = fc.tuple(shapeArb(), fc.nat(3), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.boolean())
  .map(([a, drop, ones, swap]) => {
    const b = a.slice(Math.min(drop, a.length)).map((d, i) => (ones[i] ? 1 : d));
    return swap ? { a: b, b: a } : { a, b };
  });

function binaryCase(name: string, f: (a: Tensor, b: Tensor) => Tensor, ref: (x: number, y: number) => number,
  domains: [Domain, Domain] = ['any', 'any']): GradCase<{ a: number[]; b: number[] }> {
  return {
    name, spec: broadcastPair,
    inputs: (s) => [{ shape: s.a, domain: domains[0] }, { shape: s.b, domain: domains[1] }],
    run: (_s, [a, b]) => f(a, b),
    ref: (_s, [a, b]) => R.broadcast2(a, b, ref),
  };
}

function unaryCase(name: string, f: (x: Tensor) => Tensor, ref: (x: number) => number, domain: Domain = 'any'): GradCase<number[]> {
  return {
    name, spec: shapeArb(),
    inputs: (shape) => [{ shape, domain }],
    run: (_s, [x]) => f(x),
    ref: (_s, [x]) => R.map(x, ref),
  };
}

/** A shape with an axis in range, for reductions and softmax. */
const shapeWithAxis = shapeArb(1, 3).chain((shape) => fc.record({
  shape: fc.constant(shape),
  axis: fc.integer({ min: -shape.length, max: shape.length - 1 }),
  keepDims: fc.boolean(),
}));
const positive = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

const convSpec = fc.record({
  batch: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 3, max: 6 }), w: fc.integer({ min: 3, max: 6 }),
  c: fc.integer({ min: 1, max: 3 }), kh: fc.integer({ min: 1, max: 3 }), kw: fc.integer({ min: 1, max: 3 }),
  o: fc.integer({ min: 1, max: 3 }), sh: fc.integer({ min: 1, max: 2 }), sw: fc.integer({ min: 1, max: 2 }),
  padding: fc.constantFrom('same' as const, 'valid' as const),
});

const cases: GradCase<any>[] = [
  binaryCase('add', W.add, (x, y) => x + y),
  binaryCase('sub', W.sub, (x, y) => x - y),
  binaryCase('mul', W.mul, (x, y) => x * y),
  binaryCase('div', W.div, (x, y) => x / y, ['any', 'awayFromZero']),
  binaryCase('pow', W.pow, (x, y) => x ** y, ['positive', 'any']),
  unaryCase('pow (scalar exponent)', (x) => W.pow(x, 3), (x) => x ** 3),
  unaryCase('neg', W.neg, (x) => -x),
  unaryCase('exp', W.exp, Math.exp),
  unaryCase('log', W.log, Math.log, 'positive'),
  unaryCase('sqrt', W.sqrt, Math.sqrt, 'positive'),
  unaryCase('relu', W.relu, (x) => Math.max(x, 0), 'awayFromZero'),
  unaryCase('sigmoid', W.sigmoid, (x) => 1 / (1 + Math.exp(-x))),
  unaryCase('tanh', W.tanh, Math.tanh),
  {
    name: 'sum', spec: shapeWithAxis, inputs: (s) => [{ shape: s.shape }],
    run: (s, [x]) => W.sum(x, s.axis, s.keepDims),
    ref: (s, [x]) => R.reduce(x, [positive(s.axis, s.shape.length)], s.keepDims, 0, (a, v) => a + v),
  },
  {
    name: 'sum (all axes)', spec: shapeArb(), inputs: (shape) => [{ shape }],
    run: (_s, [x]) => W.sum(x), ref: (s, [x]) => R.reduce(x, s.map((_: number, i: number) => i), false, 0, (a, v) => a + v),
  },
  {
    name: 'mean (two axes)', spec: shapeArb(2, 3), inputs: (shape) => [{ shape }],
    run: (_s, [x]) => W.mean(x, [0, -1], true),
    ref: (s, [x]) => R.map(R.reduce(x, [0, s.length - 1], true, 0, (a, v) => a + v), (v) => v / (s[0] * s[s.length - 1])),
  },
  {
    name: 'max', spec: shapeWithAxis, inputs: (s) => [{ shape: s.shape }],
    run: (s, [x]) => W.max(x, s.axis, s.keepDims),
    ref: (s, [x]) => R.reduce(x, [positive(s.axis, s.shape.length)], s.keepDims, -Infinity, Math.max),
  },
  {
    name: 'logSoftmax', spec: shapeWithAxis, inputs: (s) => [{ shape: s.shape }],
    run: (s, [x]) => W.logSoftmax(x, s.axis), ref: (s, [x]) => R.logSoftmaxRef(x, positive(s.axis, s.shape.length)),
  },
  {
    name: 'softmax', spec: shapeWithAxis, inputs: (s) => [{ shape: s.shape }],
    run: (s, [x]) => W.softmax(x, s.axis), ref: (s, [x]) => R.map(R.logSoftmaxRef(x, positive(s.axis, s.shape.length)), Math.exp),
  },
  {
    name: 'reshape', spec: shapeArb(1, 3), inputs: (shape) => [{ shape }],
    run: (_s, [x]) => W.mul(W.reshape(x, [-1]), W.reshape(x, [-1])), ref: (_s, [x]) => ({ data: x.data.map((v) => v * v), shape: [x.data.length] }),
  },
  {
    name: 'transpose', spec: shapeArb(1, 4).chain((shape) => fc.record({ shape: fc.constant(shape), perm: fc.shuffledSubarray([...shape.keys()], { minLength: shape.length }) })),
    inputs: (s) => [{ shape: s.shape }], run: (s, [x]) => W.transpose(x, s.perm), ref: (s, [x]) => R.transposeRef(x, s.perm),
  },
  {
    name: 'matmul', spec: fc.tuple(dim, fc.integer({ min: 1, max: 9 }), dim),
    inputs: ([m, k, n]) => [{ shape: [m, k] }, { shape: [k, n] }],
    run: (_s, [a, b]) => W.matmul(a, b), ref: (_s, [a, b]) => R.matmulRef(a, b),
  },
  {
    name: 'matmul (shared operand)', spec: dim, inputs: (n) => [{ shape: [n, n] }],
    run: (_s, [a]) => W.matmul(a, a), ref: (_s, [a]) => R.matmulRef(a, a),
  },
  {
    name: 'conv2d', spec: convSpec.filter((s) => s.padding === 'same' || (s.kh <= s.h && s.kw <= s.w)),
    inputs: (s) => [{ shape: [s.batch, s.h, s.w, s.c] }, { shape: [s.kh, s.kw, s.c, s.o] }],
    run: (s, [x, f]) => W.conv2d(x, f, { strides: [s.sh, s.sw], padding: s.padding }),
    ref: (s, [x, f]) => R.conv2dRef(x, f, [s.sh, s.sw], s.padding),
  },
  {
    name: 'maxPool2d', spec: convSpec.filter((s) => s.padding === 'same' || (s.kh <= s.h && s.kw <= s.w)),
    inputs: (s) => [{ shape: [s.batch, s.h, s.w, s.c] }],
    run: (s, [x]) => W.maxPool2d(x, { poolSize: [s.kh, s.kw], strides: [s.sh, s.sw], padding: s.padding }),
    ref: (s, [x]) => R.maxPoolRef(x, [s.kh, s.kw], [s.sh, s.sw], s.padding),
  },
  {
    name: 'gather', spec: shapeWithAxis.chain((s) => fc.record({ s: fc.constant(s), idx: fc.array(fc.nat(s.shape[positive(s.axis, s.shape.length)] - 1), { maxLength: 5 }) })),
    inputs: ({ s }) => [{ shape: s.shape }],
    run: ({ s, idx }, [x]) => W.gather(x, idx, positive(s.axis, s.shape.length)),
    ref: ({ s, idx }, [x]) => R.gatherRef(x, idx, positive(s.axis, s.shape.length)),
  },
  {
    name: 'dropout', spec: fc.record({ shape: shapeArb(1, 3), rate: fc.double({ min: 0, max: 0.9, noNaN: true }), seed: fc.nat() }),
    inputs: (s) => [{ shape: s.shape }],
    run: (s, [x]) => W.dropout(x, s.rate, new Random(s.seed)),
    ref: (s, [x]) => {
      if (s.rate === 0) return x;
      const rng = new Random(s.seed);
      return R.map(x, (v) => (rng.uniform() < s.rate ? 0 : v * Math.fround(1 / (1 - s.rate))));
    },
  },
];

describe('gradients match finite differences on a float64 reference', () => {
  for (const c of cases) {
    it(c.name, () => {
      fc.assert(fc.property(c.spec, fc.nat(), (spec, seed) => checkGradient(c, spec, seed)), { numRuns: 30 });
    });
  }
});
