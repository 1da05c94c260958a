import { ShapeError, fmtShape } from '../errors.js';
import { allocateZeroed } from '../../kernels/buffers.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy broadcasting: align trailing dims; each pair must be equal or contain a 1. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(op, `shapes cannot be broadcast: ${fmtShape(a)} and ${fmtShape(b)}`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `shape` seen through the broadcast `outShape`: 0 on broadcast dimensions. */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const own = stridesOf(shape);
  const offset = outShape.length - shape.length;
  return outShape.map((_, i) => {
    const d = i - offset;
    return d < 0 || shape[d] === 1 ? 0 : own[d];
  });
}

/** Resolves a possibly negative axis against a rank, or throws naming the op. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new ShapeError(op, `axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

/**
 * When `inner` (leading 1s aside) is the trailing part of `outer` — a bias against a batch —
 * the length of that trailing block; else 0. Broadcasts of this kind get plain-loop fast paths.
 */
export function trailingBlock(inner: Shape, outer: Shape): number {
  const dims = inner.slice(inner.findIndex((d) => d !== 1));
  if (inner.every((d) => d === 1) || dims.length > outer.length) return 0;
  const tail = outer.slice(outer.length - dims.length);
  return dims.every((d, i) => d === tail[i]) ? sizeOf(dims) : 0;
}

/** Sums `grad` (of shape `from`) down to `to`, undoing a broadcast in the backward pass. */
export function sumToShape(grad: Float32Array, from: Shape, to: Shape): Float32Array {
  if (sameShape(from, to)) return grad;
  const out = allocateZeroed(sizeOf(to));
  if (out.length === 1) {
    // A sum of everything: one loop, float32 after every add as the strided walk does.
    let total = 0;
    for (let i = 0; i < grad.length; i++) total = Math.fround(total + grad[i]);
    out[0] = total;
    return out;
  }
  const block = trailingBlock(to, from);
  if (block > 0) {
    for (let start = 0; start < grad.length; start += block) for (let j = 0; j < block; j++) out[j] += grad[start + j];
    return out;
  }
  const strides = broadcastStrides(to, from);
  forEachRow(from, strides, (i, at, n, step) => {
    for (let j = 0; j < n; j++) out[at + j * step] += grad[i + j];
  });
  return out;
}

/**
 * Walks the elements of `shape` in order, where a step along dim d moves `steps[d]` in
 * another array (a permuted or broadcast view of it): `row(i, at, n, step)` once per run of
 * the last dim — the run's first element `i`, its offset `at` in the other array, its length
 * `n` and the other array's step along it. Copies, transposes and un-broadcasts share it;
 * the callback per row, not per element, keeps the inner loop tight.
 */
export function forEachRow(
  shape: Shape,
  steps: readonly number[],
  row: (i: number, at: number, n: number, step: number) => void,
): void {
  const rank = shape.length;
  const total = sizeOf(shape);
  if (rank === 0) {
    if (total) row(0, 0, 1, 0);
    return;
  }
  const n = shape[rank - 1],
    step = steps[rank - 1];
  if (n === 0) return;
  const index = new Array<number>(rank).fill(0);
  let at = 0;
  for (let i = 0; i < total; i += n) {
    row(i, at, n, step);
    // Odometer over the outer dims, tracking the offset in the other array.
    for (let d = rank - 2; d >= 0; d--) {
      index[d]++;
      at += steps[d];
      if (index[d] < shape[d]) break;
      at -= steps[d] * shape[d];
      index[d] = 0;
    }
  }
}

export function checkShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(op, `invalid shape ${fmtShape(shape)}`);
  }
}
