import { Tensor } from '../tensor.js';
import { normalizeAxis, sumToShape } from '../shape.js';
import { broadcastData, mul } from './elementwise.js';
import { reshape } from './layout.js';
import { allocate, allocateInt32, allocateZeroed } from '../../../kernels/buffers.js';

/** A tensor seen as [outer, len, inner] around `axis`. */
function around(shape: readonly number[], axis: number) {
  let outer = 1;
  let inner = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d];
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d];
  return { outer, len: shape[axis], inner };
}

function reducedShape(shape: readonly number[], axis: number, keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (i === axis ? 1 : d)) : shape.filter((_, i) => i !== axis);
}

/** Resolves `axis` (undefined = all) to distinct, sorted, non-negative axes. */
function axesOf(op: string, x: Tensor, axis: number | number[] | undefined): number[] {
  if (axis === undefined) return x.shape.map((_, i) => i);
  const list = (Array.isArray(axis) ? axis : [axis]).map((a) => normalizeAxis(op, a, x.rank));
  return [...new Set(list)].sort((p, q) => p - q);
}

/** Sum over `axis` (a number, a list, or all when omitted), in one pass over the input. */
export function sum(x: Tensor, axis?: number | number[], keepDims = false): Tensor {
  const axes = axesOf('sum', x, axis);
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = sumToShape(x.data, x.shape, kept);
  const shape = keepDims ? kept : x.shape.filter((_, i) => !axes.includes(i));
  return Tensor.record(new Tensor(out === x.data ? out.slice() : out, shape), [x], (g) => [
    broadcastData(g, kept, x.shape),
  ]);
}

export function mean(x: Tensor, axis?: number | number[], keepDims = false): Tensor {
  const count = axesOf('mean', x, axis).reduce((n, a) => n * x.shape[a], 1);
  return mul(sum(x, axis, keepDims), 1 / count);
}

/** Maximum over one axis (or all), NaN if any element is; the gradient goes to the first maximal (or NaN) element. */
export function max(x: Tensor, axis?: number, keepDims = false): Tensor {
  if (axis === undefined) return max(reshape(x, [x.size]), 0, false).reshape(keepDims ? x.shape.map(() => 1) : []);
  const ax = normalizeAxis('max', axis, x.rank);
  const { outer, len, inner } = around(x.shape, ax);
  const out = allocate(outer * inner).fill(-Infinity);
  const argmax = allocateInt32(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let l = 0; l < len; l++) {
      for (let i = 0; i < inner; i++) {
        const at = (o * len + l) * inner + i;
        const v = x.data[at],
          best = out[o * inner + i];
        if (v > best || l === 0 || (v !== v && best === best)) {
          out[o * inner + i] = v;
          argmax[o * inner + i] = at;
        }
      }
    }
  }
  return Tensor.record(new Tensor(out, reducedShape(x.shape, ax, keepDims)), [x], (g) => {
    const gx = allocateZeroed(x.size);
    for (let j = 0; j < g.length; j++) gx[argmax[j]] += g[j];
    return [gx];
  });
}
