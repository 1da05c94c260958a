import { ShapeError, fmtShape, ArgumentError } from '../../errors.js';
import { Tensor } from '../tensor.js';
import { backend } from '../../backend/index.js';
import { forEachRow, sizeOf, stridesOf } from '../shape.js';
import { allocate, allocateZeroed } from '../../../kernels/buffers.js';

/** Same values, new shape (one dimension may be -1 and is inferred). Shares the data. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const unknown = shape.indexOf(-1);
  const known = sizeOf(shape.filter((d) => d !== -1));
  const resolved = shape.map((d) => (d === -1 ? (known === 0 ? 0 : x.size / known) : d));
  if (shape.lastIndexOf(-1) !== unknown || sizeOf(resolved) !== x.size || !resolved.every(Number.isInteger)) {
    throw new ShapeError('reshape', `cannot reshape ${fmtShape(x.shape)} (${x.size} values) to ${fmtShape(shape)}`);
  }
  return Tensor.record(new Tensor(x.data, resolved), [x], (g) => [g]);
}

/** Permutes dimensions (default: reverses them). */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ?? x.shape.map((_, i) => x.rank - 1 - i);
  if (p.length !== x.rank || [...p].sort((a, b) => a - b).some((v, i) => v !== i)) {
    throw new ShapeError(
      'transpose',
      `perm [${p.join(',')}] is not a permutation of the ${x.rank} dims of ${fmtShape(x.shape)}`,
    );
  }
  const shape = p.map((d) => x.shape[d]);
  const out = permute(x.data, x.shape, p);
  const inverse = new Array<number>(p.length);
  p.forEach((d, i) => (inverse[d] = i));
  return Tensor.record(new Tensor(out, shape), [x], (g) => [permute(g, shape, inverse)]);
}

function permute(data: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  const srcStrides = stridesOf(shape);
  const out = allocate(data.length);
  forEachRow(
    perm.map((d) => shape[d]),
    perm.map((d) => srcStrides[d]), // the source stride of each output dim
    (i, at, n, step) => {
      for (let j = 0; j < n; j++) out[i + j] = data[at + j * step];
    },
  );
  return out;
}

/**
 * Rows `start..end` of `x` (along its first axis), or with `order` the rows order[start..end):
 * the batches of fit and predict, the split of validationSplit. A copy outside autograd, into
 * `into` when given (a reused batch buffer). `gather` is the differentiable form.
 */
export function takeRows(
  x: Tensor,
  start: number,
  end: number,
  options: { order?: ArrayLike<number>; into?: Float32Array } = {},
): Tensor {
  const row = x.size / Math.max(x.shape[0], 1);
  const shape = [end - start, ...x.shape.slice(1)];
  const { order, into } = options;
  if (order === undefined && into === undefined) return new Tensor(x.data.slice(start * row, end * row), shape);
  const out = into ? into.subarray(0, (end - start) * row) : new Float32Array((end - start) * row);
  for (let i = start; i < end; i++) {
    const r = order === undefined ? i : order[i];
    out.set(x.data.subarray(r * row, (r + 1) * row), (i - start) * row);
  }
  return new Tensor(out, shape);
}

/** Picks slices along `axis` by index (rows of an embedding table, say); backward scatters. */
export function gather(x: Tensor, indices: ArrayLike<number>, axis = 0): Tensor {
  if (axis < 0) axis += x.rank;
  if (axis < 0 || axis >= x.rank)
    throw new ShapeError('gather', `axis ${axis} is out of range for ${fmtShape(x.shape)}`);
  const len = x.shape[axis];
  const inner = sizeOf(x.shape.slice(axis + 1));
  const outer = sizeOf(x.shape.slice(0, axis));
  const n = indices.length;
  for (let j = 0; j < n; j++) {
    const v = indices[j];
    if (!Number.isInteger(v) || v < 0 || v >= len) {
      throw new ArgumentError(
        `gather: index ${v} at position ${j} is out of range [0, ${len}) for ${fmtShape(x.shape)} axis ${axis}`,
      );
    }
  }
  const out = backend().gather(x.data, indices, outer, len, inner);
  const shape = [...x.shape.slice(0, axis), n, ...x.shape.slice(axis + 1)];
  // The gradient touches only the rows looked up (a scatter-add: the backend's gatherGrad).
  return Tensor.record(new Tensor(out, shape), [x], (g) => [backend().gatherGrad(g, indices, outer, len, inner)]);
}

/** One-hot rows: [indices.length, depth], 1 at each index. */
export function oneHot(indices: ArrayLike<number>, depth: number): Tensor {
  const out = new Float32Array(indices.length * depth);
  for (let j = 0; j < indices.length; j++) {
    const v = indices[j];
    if (!Number.isInteger(v) || v < 0 || v >= depth) {
      throw new ArgumentError(`oneHot: index ${v} at position ${j} is out of range [0, ${depth})`);
    }
    out[j * depth + v] = 1;
  }
  return new Tensor(out, [indices.length, depth]);
}

/** The block of `x` starting at `begin` with `size` along each dim (-1: to the end). Backward pads with zeros. */
export function slice(x: Tensor, begin: readonly number[], size: readonly number[]): Tensor {
  if (begin.length !== x.rank || size.length !== x.rank) {
    throw new ShapeError(
      'slice',
      `begin [${begin.join(',')}] and size [${size.join(',')}] need one entry per dim of ${fmtShape(x.shape)}`,
    );
  }
  const sizes = size.map((s, d) => (s === -1 ? x.shape[d] - begin[d] : s));
  if (
    sizes.some(
      (s, d) =>
        !Number.isInteger(begin[d]) || begin[d] < 0 || !Number.isInteger(s) || s < 0 || begin[d] + s > x.shape[d],
    )
  ) {
    throw new ShapeError(
      'slice',
      `begin [${begin.join(',')}] size [${size.join(',')}] is outside ${fmtShape(x.shape)}`,
    );
  }
  const strides = stridesOf(x.shape);
  const out = allocate(sizeOf(sizes));
  // Rows of the last dim are contiguous: copy them whole, and keep where each came from for the backward pass.
  const row = sizes[x.rank - 1] ?? 1;
  const rows = row > 0 ? out.length / row : 0;
  const base = begin.reduce((o, b, d) => o + b * strides[d], 0);
  const offsets = new Int32Array(rows);
  let r = 0;
  forEachRow(sizes, strides, (i, at, n) => {
    offsets[r++] = base + at;
    out.set(x.data.subarray(base + at, base + at + n), i);
  });
  return Tensor.record(new Tensor(out, sizes), [x], (g) => {
    const gx = allocateZeroed(x.size);
    for (let k = 0; k < rows; k++) gx.set(g.subarray(k * row, (k + 1) * row), offsets[k]);
    return [gx];
  });
}

/** Joins tensors along `axis`; every other dim must agree. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ArgumentError('concat: needs at least one tensor');
  const first = tensors[0];
  if (axis < 0) axis += first.rank;
  if (axis < 0 || axis >= first.rank)
    throw new ShapeError('concat', `axis ${axis} is out of range for ${fmtShape(first.shape)}`);
  for (const t of tensors) {
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
      throw new ShapeError(
        'concat',
        `shapes ${tensors.map((u) => fmtShape(u.shape)).join(', ')} differ outside axis ${axis}`,
      );
    }
  }
  const outer = sizeOf(first.shape.slice(0, axis));
  const widths = tensors.map((t) => sizeOf(t.shape.slice(axis)));
  const total = widths.reduce((a, b) => a + b, 0);
  const out = allocate(outer * total);
  for (let o = 0; o < outer; o++) {
    let at = o * total;
    tensors.forEach((t, k) => {
      out.set(t.data.subarray(o * widths[k], (o + 1) * widths[k]), at);
      at += widths[k];
    });
  }
  const shape = [...first.shape];
  shape[axis] = tensors.reduce((n, t) => n + t.shape[axis], 0);
  return Tensor.record(new Tensor(out, shape), [...tensors], (g) => {
    const grads = tensors.map((t) => allocate(t.size));
    for (let o = 0; o < outer; o++) {
      let at = o * total;
      grads.forEach((gk, k) => {
        gk.set(g.subarray(at, at + widths[k]), o * widths[k]);
        at += widths[k];
      });
    }
    return grads;
  });
}

/** Stacks same-shaped tensors along a new `axis`. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ArgumentError('stack: needs at least one tensor');
  const shape = [...tensors[0].shape];
  if (axis < 0) axis += shape.length + 1;
  shape.splice(axis, 0, 1);
  return concat(
    tensors.map((t) => reshape(t, shape)),
    axis,
  );
}
