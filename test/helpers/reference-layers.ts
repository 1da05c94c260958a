/**
 * Float64 references for the layer-level ops and layers (slicing, joining, average pooling,
 * normalization, LSTM and GRU), written as plain loops from the formulas, for gradient checks.
 */
import { type Arr, outAndPad, ravel, size, unravel } from './reference.js';

export function sliceRef(a: Arr, begin: number[], sizes: number[]): Arr {
  const out = new Float64Array(size(sizes));
  for (let i = 0; i < out.length; i++)
    out[i] =
      a.data[
        ravel(
          unravel(i, sizes).map((v, d) => v + begin[d]),
          a.shape,
        )
      ];
  return { data: out, shape: sizes };
}

export function concatRef(parts: Arr[], axis: number): Arr {
  const shape = [...parts[0].shape];
  shape[axis] = parts.reduce((n, p) => n + p.shape[axis], 0);
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    let k = 0;
    while (idx[axis] >= parts[k].shape[axis]) idx[axis] -= parts[k++].shape[axis];
    out[i] = parts[k].data[ravel(idx, parts[k].shape)];
  }
  return { data: out, shape };
}

export function avgPoolRef(x: Arr, pool: [number, number], stride: [number, number], padding: 'same' | 'valid'): Arr {
  const [nb, h, w, c] = x.shape;
  const [oh, pt] = outAndPad(h, pool[0], stride[0], padding);
  const [ow, pl] = outAndPad(w, pool[1], stride[1], padding);
  const out = new Float64Array(nb * oh * ow * c);
  for (let b = 0; b < nb; b++)
    for (let y = 0; y < oh; y++)
      for (let xx = 0; xx < ow; xx++)
        for (let ch = 0; ch < c; ch++) {
          let s = 0,
            n = 0;
          for (let ky = 0; ky < pool[0]; ky++)
            for (let kx = 0; kx < pool[1]; kx++) {
              const iy = y * stride[0] - pt + ky,
                ix = xx * stride[1] - pl + kx;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              s += x.data[((b * h + iy) * w + ix) * c + ch];
              n++;
            }
          out[((b * oh + y) * ow + xx) * c + ch] = s / n;
        }
  return { data: out, shape: [nb, oh, ow, c] };
}

/** (x − μ)/√(σ² + ε)·γ + β on the last axis; statistics per sample row (layer norm) or per channel over all rows (batch norm). */
function normalizeRef(x: Arr, gamma: Arr, beta: Arr, eps: number, perSample: boolean): Arr {
  const c = x.shape[x.shape.length - 1];
  const rows = x.data.length / c;
  const out = new Float64Array(x.data.length);
  if (perSample) {
    for (let r = 0; r < rows; r++) {
      let m = 0,
        v = 0;
      for (let j = 0; j < c; j++) m += x.data[r * c + j] / c;
      for (let j = 0; j < c; j++) v += (x.data[r * c + j] - m) ** 2 / c;
      for (let j = 0; j < c; j++)
        out[r * c + j] = ((x.data[r * c + j] - m) / Math.sqrt(v + eps)) * gamma.data[j] + beta.data[j];
    }
  } else {
    for (let j = 0; j < c; j++) {
      let m = 0,
        v = 0;
      for (let r = 0; r < rows; r++) m += x.data[r * c + j] / rows;
      for (let r = 0; r < rows; r++) v += (x.data[r * c + j] - m) ** 2 / rows;
      for (let r = 0; r < rows; r++)
        out[r * c + j] = ((x.data[r * c + j] - m) / Math.sqrt(v + eps)) * gamma.data[j] + beta.data[j];
    }
  }
  return { data: out, shape: x.shape };
}
export const batchNormRef = (x: Arr, gamma: Arr, beta: Arr, eps: number) => normalizeRef(x, gamma, beta, eps, false);
export const layerNormRef = (x: Arr, gamma: Arr, beta: Arr, eps: number) => normalizeRef(x, gamma, beta, eps, true);

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** z = xₜW + hU + b per unit and gate, gate-major ([batch, gates·units]). */
function preActivation(
  x: Arr,
  t: number,
  h: Float64Array,
  w: Arr,
  u: Arr,
  b: Float64Array | null,
  gates: number,
): Float64Array {
  const [batch, time, f] = x.shape;
  const units = u.shape[0],
    width = gates * units;
  const z = new Float64Array(batch * width);
  for (let n = 0; n < batch; n++)
    for (let j = 0; j < width; j++) {
      let s = b ? b[j] : 0;
      for (let k = 0; k < f; k++) s += x.data[(n * time + t) * f + k] * w.data[k * width + j];
      for (let k = 0; k < units; k++) s += h[n * units + k] * u.data[k * width + j];
      z[n * width + j] = s;
    }
  return z;
}

/** Keras's LSTM (gates i, f, c, o), zero initial states. */
export function lstmRef(x: Arr, w: Arr, u: Arr, b: Arr, returnSequences: boolean): Arr {
  const [batch, time] = x.shape;
  const units = u.shape[0];
  let h = new Float64Array(batch * units);
  const c = new Float64Array(batch * units);
  const outs: Float64Array[] = [];
  for (let t = 0; t < time; t++) {
    const z = preActivation(x, t, h, w, u, b.data, 4);
    const next = new Float64Array(batch * units);
    for (let n = 0; n < batch; n++)
      for (let j = 0; j < units; j++) {
        const at = (g: number) => z[n * 4 * units + g * units + j];
        const i = sigmoid(at(0)),
          fg = sigmoid(at(1)),
          cc = Math.tanh(at(2)),
          o = sigmoid(at(3));
        c[n * units + j] = fg * c[n * units + j] + i * cc;
        next[n * units + j] = o * Math.tanh(c[n * units + j]);
      }
    h = next;
    outs.push(h);
  }
  return sequenceOut(outs, batch, time, units, returnSequences);
}

/** Keras's GRU with resetAfter (gates z, r, h; bias [2, 3u]: input bias, recurrent bias), zero initial state. */
export function gruRef(x: Arr, w: Arr, u: Arr, b: Arr, returnSequences: boolean): Arr {
  const [batch, time] = x.shape;
  const units = u.shape[0],
    width = 3 * units;
  const zero = new Float64Array(batch * units);
  let h = zero;
  const outs: Float64Array[] = [];
  for (let t = 0; t < time; t++) {
    const xz = preActivation(x, t, zero, w, u, b.data.subarray(0, width), 3); // h = 0: x·W + b_input only
    const inner = preActivation(
      { data: new Float64Array(x.data.length), shape: x.shape },
      t,
      h,
      w,
      u,
      b.data.subarray(width),
      3,
    ); // h·U + b_rec
    const next = new Float64Array(batch * units);
    for (let n = 0; n < batch; n++)
      for (let j = 0; j < units; j++) {
        const xi = (g: number) => xz[n * width + g * units + j],
          hi = (g: number) => inner[n * width + g * units + j];
        const z = sigmoid(xi(0) + hi(0)),
          r = sigmoid(xi(1) + hi(1));
        const cand = Math.tanh(xi(2) + r * hi(2));
        next[n * units + j] = z * h[n * units + j] + (1 - z) * cand;
      }
    h = next;
    outs.push(h);
  }
  return sequenceOut(outs, batch, time, units, returnSequences);
}

function sequenceOut(outs: Float64Array[], batch: number, time: number, units: number, returnSequences: boolean): Arr {
  if (!returnSequences) return { data: outs[time - 1], shape: [batch, units] };
  const data = new Float64Array(batch * time * units);
  for (let t = 0; t < time; t++)
    for (let n = 0; n < batch; n++)
      for (let j = 0; j < units; j++) data[(n * time + t) * units + j] = outs[t][n * units + j];
  return { data, shape: [batch, time, units] };
}
