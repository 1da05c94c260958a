import { Tensor } from '../tensor.js';
import { normalizeAxis } from '../shape.js';
import { mul } from './elementwise.js';
import { reshape } from './layout.js';

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

function sumAxis(x: Tensor, axis: number, keepDims: boolean): Tensor {
  const { outer, len, inner } = around(x.shape, axis);
  const out = new Float32Array(outer * inner);
  const src = x.data;
  for (let o = 0; o < outer; o++) {
    for (let l = 0; l < len; l++) {
      const base = (o * len + l) * inner;
      for (let i = 0; i < inner; i++) out[o * inner + i] += src[base + i];
    }
  }
  return Tensor.record(new Tensor(out, reducedShape(x.shape, axis, keepDims)), [x], (g) => {
    const gx = new Float32Array(x.size);
    for (let o = 0; o < outer; o++) {
      for (let l = 0; l < len; l++) gx.set(g.subarray(o * inner, (o + 1) * inner), (o * len + l) * inner);
    }
    return [gx];
  });
}

/** Sum over `axis` (a number, a list, or all when omitted). */
export function sum(x: Tensor, axis?: number | number[], keepDims = false): Tensor {
  const axes = axesOf('sum', x, axis);
  let out = x;
  for (const a of axes) out = sumAxis(out, a, true);
  if (!keepDims) out = reshape(out, x.shape.filter((_, i) => !axes.includes(i)));
  return out === x ? reshape(x, x.shape) : out;
}

export function mean(x: Tensor, axis?: number | number[], keepDims = false): Tensor {
  const count = axesOf('mean', x, axis).reduce((n, a) => n * x.shape[a], 1);
  return mul(sum(x, axis, keepDims), 1 / count);
}

/** Maximum over one axis (or all); the gradient goes to the first maximal element. */
export function max(x: Tensor, axis?: number, keepDims = false): Tensor {
  if (axis === undefined) return max(reshape(x, [x.size]), 0, false).reshape(keepDims ? x.shape.map(() => 1) : []);
  const ax = normalizeAxis('max', axis, x.rank);
  const { outer, len, inner } = around(x.shape, ax);
  const out = new Float32Array(outer * inner).fill(-Infinity);
  const argmax = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let l = 0; l < len; l++) {
      for (let i = 0; i < inner; i++) {
        const at = (o * len + l) * inner + i;
        const v = x.data[at];
        if (v > out[o * inner + i] || l === 0) {
          out[o * inner + i] = v;
          argmax[o * inner + i] = at;
        }
      }
    }
  }
  return Tensor.record(new Tensor(out, reducedShape(x.shape, ax, keepDims)), [x], (g) => {
    const gx = new Float32Array(x.size);
    for (let j = 0; j < g.length; j++) gx[argmax[j]] += g[j];
    return [gx];
  });
}
