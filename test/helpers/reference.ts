/**
 * Float64 reference implementations, written as the plainest possible loops. They are the
 * oracles for kernel tests and for finite-difference gradient checks.
 */
export interface Arr {
  data: Float64Array;
  shape: number[];
}

export const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
export const arr = (data: ArrayLike<number>, shape: number[]): Arr => ({ data: Float64Array.from(data), shape });

export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let i = 0;
  for (let d = 0; d < shape.length; d++) i = i * shape[d] + idx[d];
  return i;
}

export function broadcast2(a: Arr, b: Arr, f: (x: number, y: number) => number): Arr {
  const rank = Math.max(a.shape.length, b.shape.length);
  const pad = (s: number[]) => [...new Array(rank - s.length).fill(1), ...s];
  const as = pad(a.shape),
    bs = pad(b.shape);
  const shape = as.map((d, i) => Math.max(d, bs[i]));
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    const ai = ravel(
      idx.map((v, d) => (as[d] === 1 ? 0 : v)),
      as,
    );
    const bi = ravel(
      idx.map((v, d) => (bs[d] === 1 ? 0 : v)),
      bs,
    );
    out[i] = f(a.data[ai], b.data[bi]);
  }
  return { data: out, shape };
}

export const map = (a: Arr, f: (x: number) => number): Arr => ({ data: a.data.map(f), shape: a.shape });

export function reduce(
  a: Arr,
  axes: number[],
  keepDims: boolean,
  init: number,
  f: (acc: number, v: number) => number,
): Arr {
  const keptShape = a.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Float64Array(size(keptShape)).fill(init);
  for (let i = 0; i < a.data.length; i++) {
    const idx = unravel(i, a.shape).map((v, d) => (axes.includes(d) ? 0 : v));
    const o = ravel(idx, keptShape);
    out[o] = f(out[o], a.data[i]);
  }
  return { data: out, shape: keepDims ? keptShape : a.shape.filter((_, i) => !axes.includes(i)) };
}

export function transposeRef(a: Arr, perm: number[]): Arr {
  const shape = perm.map((d) => a.shape[d]);
  const out = new Float64Array(a.data.length);
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    const src = new Array<number>(perm.length);
    perm.forEach((d, k) => (src[d] = idx[k]));
    out[i] = a.data[ravel(src, a.shape)];
  }
  return { data: out, shape };
}

export function matmulRef(a: Arr, b: Arr): Arr {
  const [m, k] = a.shape,
    n = b.shape[1];
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a.data[i * k + p] * b.data[p * n + j];
      out[i * n + j] = s;
    }
  return { data: out, shape: [m, n] };
}

export function outAndPad(size: number, k: number, s: number, padding: 'same' | 'valid'): [number, number] {
  if (padding === 'valid') return [Math.floor((size - k) / s) + 1, 0];
  const out = Math.ceil(size / s);
  return [out, Math.floor(Math.max((out - 1) * s + k - size, 0) / 2)];
}

/** Direct convolution, NHWC input, HWIO filter. */
export function conv2dRef(
  x: Arr,
  f: Arr,
  stride: [number, number],
  padding: 'same' | 'valid',
  dilation: [number, number] = [1, 1],
): Arr {
  const [nb, h, w, c] = x.shape;
  const [kh, kw, , o] = f.shape;
  const [oh, pt] = outAndPad(h, (kh - 1) * dilation[0] + 1, stride[0], padding);
  const [ow, pl] = outAndPad(w, (kw - 1) * dilation[1] + 1, stride[1], padding);
  const out = new Float64Array(nb * oh * ow * o);
  for (let b = 0; b < nb; b++)
    for (let y = 0; y < oh; y++)
      for (let xx = 0; xx < ow; xx++)
        for (let oc = 0; oc < o; oc++) {
          let s = 0;
          for (let ky = 0; ky < kh; ky++)
            for (let kx = 0; kx < kw; kx++) {
              const iy = y * stride[0] - pt + ky * dilation[0],
                ix = xx * stride[1] - pl + kx * dilation[1];
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              for (let ic = 0; ic < c; ic++)
                s += x.data[((b * h + iy) * w + ix) * c + ic] * f.data[((ky * kw + kx) * c + ic) * o + oc];
            }
          out[((b * oh + y) * ow + xx) * o + oc] = s;
        }
  return { data: out, shape: [nb, oh, ow, o] };
}

export function maxPoolRef(x: Arr, pool: [number, number], stride: [number, number], padding: 'same' | 'valid'): Arr {
  const [nb, h, w, c] = x.shape;
  const [oh, pt] = outAndPad(h, pool[0], stride[0], padding);
  const [ow, pl] = outAndPad(w, pool[1], stride[1], padding);
  const out = new Float64Array(nb * oh * ow * c).fill(-Infinity);
  for (let b = 0; b < nb; b++)
    for (let y = 0; y < oh; y++)
      for (let xx = 0; xx < ow; xx++)
        for (let ch = 0; ch < c; ch++) {
          for (let ky = 0; ky < pool[0]; ky++)
            for (let kx = 0; kx < pool[1]; kx++) {
              const iy = y * stride[0] - pt + ky,
                ix = xx * stride[1] - pl + kx;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              const o = ((b * oh + y) * ow + xx) * c + ch;
              out[o] = Math.max(out[o], x.data[((b * h + iy) * w + ix) * c + ch]);
            }
        }
  return { data: out, shape: [nb, oh, ow, c] };
}

export function logSoftmaxRef(a: Arr, axis: number): Arr {
  const m = reduce(a, [axis], true, -Infinity, Math.max);
  const shifted = broadcast2(a, m, (x, y) => x - y);
  const s = reduce(map(shifted, Math.exp), [axis], true, 0, (p, v) => p + v);
  return broadcast2(shifted, s, (x, y) => x - Math.log(y));
}

export function gatherRef(a: Arr, indices: number[], axis: number): Arr {
  const shape = [...a.shape.slice(0, axis), indices.length, ...a.shape.slice(axis + 1)];
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    idx[axis] = indices[idx[axis]];
    out[i] = a.data[ravel(idx, a.shape)];
  }
  return { data: out, shape };
}
