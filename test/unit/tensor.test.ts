import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  Tensor,
  tensor,
  zeros,
  ones,
  randn,
  noGrad,
  isGradEnabled,
  add,
  mul,
  sum,
  matmul,
  conv2d,
  maxPool2d,
  reshape,
  transpose,
  gather,
  oneHot,
  logSoftmax,
  dropout,
  Random,
  ShapeError,
  ArgumentError,
  WaypointError,
  broadcastData,
  slice,
} from '../../src/node/index.js';
import { sumToShape } from '../../src/tensor/shape.js';

describe('Tensor', () => {
  it('builds from nested arrays and from flat data plus a shape', () => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(t.toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(tensor([1, 2, 3, 4], [2, 2]).toArray()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(tensor(5).shape).toEqual([]);
    expect(tensor(5).toArray()).toBe(5);
    expect(zeros([2, 0]).size).toBe(0);
    expect(ones([3]).toArray()).toEqual([1, 1, 1]);
  });

  it('rejects ragged arrays and data that does not fill the shape', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(ShapeError);
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(/3 values do not fill shape \[2,2\]/);
    expect(() => zeros([2, -1])).toThrow(ShapeError);
  });

  it('randn is reproducible from its generator', () => {
    expect(randn([4], new Random(3)).data).toEqual(randn([4], new Random(3)).data);
    expect(randn([4], new Random(3)).data).not.toEqual(randn([4], new Random(4)).data);
  });

  it('accumulates gradients for a value used twice, and across backward calls on leaves', () => {
    const x = tensor([1, 2, 3], undefined, true);
    sum(mul(x, x).add(x)).backward(); // d/dx (x² + x) = 2x + 1
    expect(Array.from(x.grad!.data)).toEqual([3, 5, 7]);
    sum(x).backward();
    expect(Array.from(x.grad!.data)).toEqual([4, 6, 8]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
  });

  it('routes gradients through a diamond-shaped graph exactly once per path', () => {
    const x = tensor([2], undefined, true);
    const a = mul(x, 3);
    const b = add(a, a); // 6x
    const c = mul(b, a); // 18x²
    c.sum().backward();
    expect(x.grad!.data[0]).toBeCloseTo(72);
  });

  it('needs an explicit seed to differentiate a non-scalar', () => {
    const x = tensor([1, 2], undefined, true);
    const y = mul(x, 3);
    expect(() => y.backward()).toThrow(/pass a gradient or reduce to a scalar/);
    y.backward(tensor([1, 10]));
    expect(Array.from(x.grad!.data)).toEqual([3, 30]);
  });

  it('noGrad records no graph and restores recording even after a throw', () => {
    const x = tensor([1, 2], undefined, true);
    const y = noGrad(() => mul(x, 2));
    expect(y.requiresGrad).toBe(false);
    expect(() =>
      noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(isGradEnabled()).toBe(true);
  });

  it('does not leak gradient into inputs that do not require it', () => {
    const w = tensor([1, 2], undefined, true);
    const c = tensor([3, 4]);
    sum(mul(w, c)).backward();
    expect(c.grad).toBeNull();
    expect(Array.from(w.grad!.data)).toEqual([3, 4]);
  });

  it('survives a deep graph without overflowing the stack', () => {
    const x = tensor([1], undefined, true);
    let y = x;
    for (let i = 0; i < 20000; i++) y = add(y, 0);
    y.sum().backward();
    expect(x.grad!.data[0]).toBe(1);
  });
});

describe('broadcasting', () => {
  const shape = fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 4 });

  it('a + b equals b + a, and broadcasting against zeros of the output shape is the identity', () => {
    fc.assert(
      fc.property(shape, fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.nat(), (s, ones_, seed) => {
        const other = s.map((d, i) => (ones_[i] ? 1 : d));
        const rng = new Random(seed);
        const a = randn(s, rng),
          b = randn(other, rng);
        const ab = add(a, b),
          ba = add(b, a);
        expect(ab.shape).toEqual(s);
        expect(ab.data).toEqual(ba.data);
        const expanded = add(b, zeros(s));
        expect(expanded.data).toEqual(broadcastData(b.data, b.shape, s));
      }),
    );
  });

  it('the gradient of a broadcast operand is summed back to its own shape', () => {
    fc.assert(
      fc.property(
        shape.filter((s) => s.length > 0),
        fc.nat(),
        (s, seed) => {
          const bias = randn([s[s.length - 1]], new Random(seed), true);
          sum(add(zeros(s), bias)).backward();
          expect(bias.grad!.shape).toEqual(bias.shape);
          const repeats = s.slice(0, -1).reduce((p, d) => p * d, 1);
          for (const g of bias.grad!.data) expect(g).toBe(repeats);
        },
      ),
    );
  });

  it('rejects incompatible shapes naming both', () => {
    expect(() => add(zeros([2, 3]), zeros([4]))).toThrow('add: shapes cannot be broadcast: [2,3] and [4]');
  });
});

describe('op argument errors are typed and name the op and the shapes', () => {
  it('matmul', () => {
    const err = (() => {
      try {
        matmul(zeros([32, 784]), zeros([128, 10]));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ShapeError);
    expect(err).toBeInstanceOf(WaypointError);
    expect((err as Error).message).toBe('matmul: inner dimensions differ: [32,784] x [128,10]');
    expect(() => matmul(zeros([3]), zeros([3, 1]))).toThrow('matmul: expects two matrices (rank 2), got [3] x [3,1]');
  });

  it('conv2d and maxPool2d', () => {
    expect(() => conv2d(zeros([1, 5, 5, 3]), zeros([3, 3, 4, 8]))).toThrow(
      'conv2d: depth of input [1,5,5,3] (3) must match input depth of filter [3,3,4,8] (4)',
    );
    expect(() => conv2d(zeros([5, 5, 3]), zeros([3, 3, 3, 8]))).toThrow(
      'conv2d: input must be rank 4 NHWC, got [5,5,3]',
    );
    expect(() => conv2d(zeros([1, 2, 2, 1]), zeros([3, 3, 1, 1]))).toThrow(/window 3 is larger than the input size 2/);
    expect(() => conv2d(zeros([1, 4, 4, 1]), zeros([3, 3, 1, 1]), { strides: 0 })).toThrow(ArgumentError);
    expect(() => maxPool2d(zeros([1, 4, 4, 1]), { padding: 'full' as 'same' })).toThrow(
      /padding must be 'same' or 'valid'/,
    );
  });

  it('reshape, transpose, gather, oneHot, logSoftmax, dropout', () => {
    expect(() => reshape(zeros([2, 3]), [4, 2])).toThrow('reshape: cannot reshape [2,3] (6 values) to [4,2]');
    expect(reshape(zeros([2, 3]), [-1, 2]).shape).toEqual([3, 2]);
    expect(() => transpose(zeros([2, 3]), [0, 0])).toThrow(/not a permutation/);
    expect(() => gather(zeros([3, 2]), [3])).toThrow(
      'gather: index 3 at position 0 is out of range [0, 3) for [3,2] axis 0',
    );
    expect(() => oneHot([0, 10], 10)).toThrow(/index 10 at position 1/);
    expect(() => logSoftmax(zeros([2, 3]), 2)).toThrow('logSoftmax: axis 2 is out of range for rank 2');
    expect(() => dropout(zeros([2]), 1, new Random(0))).toThrow(/rate must be in \[0, 1\)/);
  });
});

describe('numerics', () => {
  it('logSoftmax is stable for huge logits', () => {
    const y = logSoftmax(tensor([[1000, 0, -1000]]));
    expect(y.data[0]).toBeCloseTo(0);
    expect(y.data[1]).toBeCloseTo(-1000);
    expect(Number.isFinite(y.data[2])).toBe(true);
  });

  it('oneHot and transpose', () => {
    expect(oneHot([2, 0], 3).toArray()).toEqual([
      [0, 0, 1],
      [1, 0, 0],
    ]);
    expect(
      transpose(
        tensor([
          [1, 2, 3],
          [4, 5, 6],
        ]),
      ).toArray(),
    ).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
  });

  it('dropout keeps the expected fraction and preserves the mean in expectation', () => {
    const x = ones([10000]);
    const y = dropout(x, 0.3, new Random(1));
    const kept = y.data.filter((v) => v !== 0).length / x.size;
    expect(kept).toBeGreaterThan(0.67);
    expect(kept).toBeLessThan(0.73);
    expect(y.data.find((v) => v !== 0)).toBeCloseTo(1 / 0.7, 5);
  });
});

describe('Tensor class surface', () => {
  it('method forms equal the function forms', () => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    expect(a.add(1).mul(2).sub(a).div(2).data).toEqual(new Tensor(Float32Array.from([1.5, 2, 2.5, 3]), [2, 2]).data);
    expect(a.matmul(a).toArray()).toEqual([
      [7, 10],
      [15, 22],
    ]);
    expect(a.max(1).toArray()).toEqual([2, 4]);
    expect(a.mean().item()).toBe(2.5);
    expect(() => a.item()).toThrow(/is not a scalar/);
  });
});

describe('biasAdd', () => {
  it('gives the bits of add and relu composed, forward and backward, NaN, infinities and signed zeros included (SIMD where the channels come in fours)', async () => {
    const {
      add: plus,
      biasAdd,
      relu: rectify,
      sum: total,
      mul: times,
      Tensor: T,
    } = await import('../../src/node/index.js');
    const special = fc.constantFrom(0, -0, 1, -1, NaN, Infinity, -Infinity, 1e-30);
    const value = fc.oneof(special, fc.float({ min: -4, max: 4, noNaN: true }));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        fc.array(value, { minLength: 48, maxLength: 48 }),
        fc.array(value, { minLength: 48, maxLength: 48 }),
        (rows, channels, withRelu, xs, seeds) => {
          const run = (fused: boolean) => {
            const x = new T(Float32Array.from(xs.slice(0, rows * channels)), [rows, channels], true);
            const b = new T(Float32Array.from(xs.slice(40, 40 + channels)), [channels], true);
            const y = fused ? biasAdd(x, b, withRelu ? 'relu' : 'linear') : withRelu ? rectify(plus(x, b)) : plus(x, b);
            total(times(y, new T(Float32Array.from(seeds.slice(0, rows * channels)), [rows, channels]))).backward();
            // A NaN stays NaN; its sign and payload are the CPU's (SIMD makes 0xffc00000 where JavaScript shows 0x7fc00000).
            return [y.data, x.grad!.data, b.grad!.data].map((a) =>
              Array.from(new Uint32Array(a.map((v) => (Number.isNaN(v) ? NaN : v)).buffer)),
            );
          };
          expect(run(true)).toEqual(run(false));
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** The multi-index of flat position `i` in `shape`. */
function indexOf(i: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return index;
}
const flatOf = (index: readonly number[], shape: readonly number[]) => index.reduce((o, v, d) => o * shape[d] + v, 0);

describe('strided walks (transpose, broadcast, slice, un-broadcast), element by element', () => {
  const shape = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 5 });

  it('transpose puts x[index] at out[index permuted]', () => {
    fc.assert(
      fc.property(shape, fc.nat(), (s, seed) => {
        const rng = new Random(seed);
        const perm = s.map((_, i) => i).sort(() => rng.uniform() - 0.5);
        const x = randn(s, rng);
        const out = transpose(x, perm);
        expect(out.shape).toEqual(perm.map((d) => s[d]));
        for (let i = 0; i < out.size; i++) {
          const o = indexOf(i, out.shape);
          const src = new Array<number>(s.length);
          perm.forEach((d, k) => (src[d] = o[k]));
          expect(out.data[i]).toBe(x.data[flatOf(src, s)]);
        }
      }),
    );
  });

  it('broadcastData and sumToShape are adjoint: each output element reads, and sends its gradient to, the element its index names', () => {
    fc.assert(
      fc.property(shape, fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), fc.nat(), (to, ones_, seed) => {
        const from = to.map((d, i) => (ones_[i] ? 1 : d));
        const rng = new Random(seed);
        const x = randn(from, rng);
        const out = broadcastData(x.data, from, to);
        const g = randn(to, rng).data;
        const expected = new Float64Array(x.size);
        for (let i = 0; i < out.length; i++) {
          const src = flatOf(
            indexOf(i, to).map((v, d) => (from[d] === 1 ? 0 : v)),
            from,
          );
          expect(out[i]).toBe(x.data[src]);
          expected[src] += g[i];
        }
        const summed = sumToShape(g, to, from);
        expected.forEach((v, j) => expect(summed[j]).toBeCloseTo(v, 4));
      }),
    );
  });

  it('slice copies the block at begin, and its gradient lands back there', () => {
    fc.assert(
      fc.property(shape, fc.nat(), (s, seed) => {
        const rng = new Random(seed);
        const begin = s.map((d) => Math.floor(rng.uniform() * (d + 1)));
        const size = s.map((d, i) => Math.floor(rng.uniform() * (d - begin[i] + 1)));
        const x = randn(s, rng);
        x.requiresGrad = true;
        const y = slice(x, begin, size);
        expect(y.shape).toEqual(size);
        for (let i = 0; i < y.size; i++)
          expect(y.data[i]).toBe(
            x.data[
              flatOf(
                indexOf(i, size).map((v, d) => v + begin[d]),
                s,
              )
            ],
          );
        sum(mul(y, 2)).backward();
        const inside = (j: number) => indexOf(j, s).every((v, d) => v >= begin[d] && v < begin[d] + size[d]);
        for (let j = 0; j < x.size; j++) expect(x.grad!.data[j]).toBe(inside(j) ? 2 : 0);
      }),
    );
  });
});
