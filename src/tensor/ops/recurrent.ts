/**
 * The LSTM recurrence as one op (Keras's formulation, tanh and sigmoid): over all steps
 *   z = pₜ + hₜ₋₁·U,  i, f, o = σ(z_i, z_f, z_o),  g = tanh(z_g),
 *   cₜ = f·cₜ₋₁ + i·g,  hₜ = o·tanh(cₜ)
 * forward with one matmul a step into preallocated gates, and backpropagation through time as
 * its own loop over the saved gates (two matmuls a step), instead of an autograd graph of
 * about twenty small ops a step.
 */
import { ShapeError, fmtShape } from '../../errors.js';
import { backend } from '../../backend/index.js';
import { Tensor } from '../tensor.js';
import { allocate, allocateZeroed } from '../../../kernels/buffers.js';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** hs holds h₀ … h_T, [batch, u] each: every hₜ as [batch, time, u], or the last as [batch, u]. */
function outputs(hs: Float32Array, batch: number, time: number, u: number, sequences: boolean): Tensor {
  const step = batch * u;
  if (!sequences) return new Tensor(hs.slice(time * step, (time + 1) * step), [batch, u]);
  const out = allocate(batch * time * u);
  for (let t = 0; t < time; t++)
    for (let r = 0; r < batch; r++)
      out.set(hs.subarray((t + 1) * step + r * u, (t + 1) * step + (r + 1) * u), (r * time + t) * u);
  return new Tensor(out, [batch, time, u]);
}

/** The output gradient reaching unit j of row r at step t: every step's with `sequences`, else only the last. */
function outputGrad(dOut: Float32Array, sequences: boolean, r: number, t: number, j: number, time: number, u: number) {
  if (sequences) return dOut[(r * time + t) * u + j];
  return t === time - 1 ? dOut[r * u + j] : 0;
}

/** Step t's pre-activation gradient dz [batch, gates·u] through z = … + hₜ₋₁·U: dU += hₜ₋₁ᵀ·dz; returns dhₜ₋₁ = dz·Uᵀ. */
function throughRecurrentKernel(
  hs: Float32Array,
  t: number,
  dz: Float32Array,
  recurrent: Tensor,
  dU: Float32Array,
  batch: number,
  u: number,
): Float32Array {
  const width = recurrent.shape[1];
  const hPrev = hs.subarray(t * batch * u, (t + 1) * batch * u);
  const dUt = backend().matmul(hPrev, dz, u, batch, width, true, false);
  for (let q = 0; q < dU.length; q++) dU[q] += dUt[q];
  return backend().matmul(dz, recurrent.data, batch, width, u, false, true);
}

/**
 * `projections` [batch, time, 4u] (x·W + b for every step, gates i, f, c, o), `recurrent` U
 * [u, 4u]: every hₜ [batch, time, u] with `sequences`, else the last [batch, u].
 */
export function lstmRecurrence(projections: Tensor, recurrent: Tensor, sequences: boolean): Tensor {
  const [batch, time, width] = projections.shape;
  const u = recurrent.shape[0];
  if (projections.rank !== 3 || recurrent.rank !== 2 || recurrent.shape[1] !== 4 * u || width !== 4 * u)
    throw new ShapeError(
      'lstmRecurrence',
      `projections ${fmtShape(projections.shape)} and recurrent kernel ${fmtShape(recurrent.shape)} are not [batch, time, 4u] and [u, 4u]`,
    );
  const b = backend();
  const step = batch * u;
  // Saved for the backward pass, step by step: the activated gates, c and tanh(c), and h.
  const gates = allocate(time * batch * width);
  const cells = allocateZeroed((time + 1) * step); // c₀ = 0
  const tanhC = allocate(time * step);
  const hs = allocateZeroed((time + 1) * step); // h₀ = 0
  const p = projections.data;
  for (let t = 0; t < time; t++) {
    const z = b.matmul(hs.subarray(t * step, (t + 1) * step), recurrent.data, batch, u, width, false, false);
    for (let r = 0; r < batch; r++) {
      const zr = r * width,
        pr = (r * time + t) * width,
        gr = (t * batch + r) * width,
        cr = r * u;
      for (let j = 0; j < u; j++) {
        const i = sigmoid(z[zr + j] + p[pr + j]);
        const f = sigmoid(z[zr + u + j] + p[pr + u + j]);
        const g = Math.tanh(z[zr + 2 * u + j] + p[pr + 2 * u + j]);
        const o = sigmoid(z[zr + 3 * u + j] + p[pr + 3 * u + j]);
        gates[gr + j] = i;
        gates[gr + u + j] = f;
        gates[gr + 2 * u + j] = g;
        gates[gr + 3 * u + j] = o;
        const c = f * cells[t * step + cr + j] + i * g;
        cells[(t + 1) * step + cr + j] = c;
        const tc = Math.tanh(c);
        tanhC[t * step + cr + j] = tc;
        hs[(t + 1) * step + cr + j] = o * tc;
      }
    }
  }
  const out = outputs(hs, batch, time, u, sequences);
  return Tensor.record(out, [projections, recurrent], (dOut) => {
    const dP = allocate(projections.size);
    const dU = allocateZeroed(recurrent.size);
    let dhNext: Float32Array = allocateZeroed(step);
    const dcNext = allocateZeroed(step);
    const dz = allocate(batch * width);
    for (let t = time - 1; t >= 0; t--) {
      for (let r = 0; r < batch; r++) {
        const gr = (t * batch + r) * width,
          cr = r * u,
          zr = r * width;
        for (let j = 0; j < u; j++) {
          const k = cr + j;
          const dh = dhNext[k] + outputGrad(dOut, sequences, r, t, j, time, u);
          const i = gates[gr + j],
            f = gates[gr + u + j],
            g = gates[gr + 2 * u + j],
            o = gates[gr + 3 * u + j];
          const tc = tanhC[t * step + k];
          const dc = dh * o * (1 - tc * tc) + dcNext[k];
          dcNext[k] = dc * f;
          dz[zr + j] = dc * g * i * (1 - i);
          dz[zr + u + j] = dc * cells[t * step + k] * f * (1 - f);
          dz[zr + 2 * u + j] = dc * i * (1 - g * g);
          dz[zr + 3 * u + j] = dh * tc * o * (1 - o);
        }
        dP.set(dz.subarray(zr, zr + width), (r * time + t) * width);
      }
      dhNext = throughRecurrentKernel(hs, t, dz, recurrent, dU, batch, u);
    }
    return [dP, dU];
  });
}

/**
 * The GRU recurrence as one op (Keras's `resetAfter: true`, tanh and sigmoid): with
 * a = hₜ₋₁·U + b_rec, z = σ(p_z + a_z), r = σ(p_r + a_r), n = tanh(p_n + r·a_n),
 * hₜ = z·hₜ₋₁ + (1 − z)·n; forward and backpropagation through time as for the LSTM.
 * `recurrentBias` [3u] (the recurrent half of Keras's bias) may be null.
 */
export function gruRecurrence(
  projections: Tensor,
  recurrent: Tensor,
  recurrentBias: Tensor | null,
  sequences: boolean,
): Tensor {
  const [batch, time, width] = projections.shape;
  const u = recurrent.shape[0];
  if (
    projections.rank !== 3 ||
    recurrent.rank !== 2 ||
    recurrent.shape[1] !== 3 * u ||
    width !== 3 * u ||
    (recurrentBias !== null && recurrentBias.size !== 3 * u)
  )
    throw new ShapeError(
      'gruRecurrence',
      `projections ${fmtShape(projections.shape)}, recurrent kernel ${fmtShape(recurrent.shape)} and bias ${recurrentBias ? fmtShape(recurrentBias.shape) : 'none'} are not [batch, time, 3u], [u, 3u] and [3u]`,
    );
  const b = backend();
  const step = batch * u;
  const rb = recurrentBias?.data;
  // Saved for the backward pass: z, r, n and a_n a step, and h.
  const saved = allocate(time * batch * 4 * u);
  const hs = allocateZeroed((time + 1) * step);
  const p = projections.data;
  for (let t = 0; t < time; t++) {
    const a = b.matmul(hs.subarray(t * step, (t + 1) * step), recurrent.data, batch, u, width, false, false);
    for (let r = 0; r < batch; r++) {
      const ar = r * width,
        pr = (r * time + t) * width,
        sr = (t * batch + r) * 4 * u,
        hr = r * u;
      for (let j = 0; j < u; j++) {
        const az = a[ar + j] + (rb ? rb[j] : 0),
          aR = a[ar + u + j] + (rb ? rb[u + j] : 0),
          an = a[ar + 2 * u + j] + (rb ? rb[2 * u + j] : 0);
        const z = sigmoid(p[pr + j] + az);
        const reset = sigmoid(p[pr + u + j] + aR);
        const n = Math.tanh(p[pr + 2 * u + j] + reset * an);
        saved[sr + j] = z;
        saved[sr + u + j] = reset;
        saved[sr + 2 * u + j] = n;
        saved[sr + 3 * u + j] = an;
        hs[(t + 1) * step + hr + j] = z * hs[t * step + hr + j] + (1 - z) * n;
      }
    }
  }
  const out = outputs(hs, batch, time, u, sequences);
  const parents = [projections, recurrent, ...(recurrentBias ? [recurrentBias] : [])];
  return Tensor.record(out, parents, (dOut) => {
    const dP = allocate(projections.size);
    const dU = allocateZeroed(recurrent.size);
    const dB = recurrentBias ? allocateZeroed(3 * u) : null;
    let dhNext: Float32Array = allocateZeroed(step);
    const da = allocate(batch * width);
    const direct = allocate(step);
    for (let t = time - 1; t >= 0; t--) {
      for (let r = 0; r < batch; r++) {
        const ar = r * width,
          sr = (t * batch + r) * 4 * u,
          hr = r * u;
        for (let j = 0; j < u; j++) {
          const k = hr + j;
          const dh = dhNext[k] + outputGrad(dOut, sequences, r, t, j, time, u);
          const z = saved[sr + j],
            reset = saved[sr + u + j],
            n = saved[sr + 2 * u + j],
            an = saved[sr + 3 * u + j];
          const dn = dh * (1 - z) * (1 - n * n);
          const dz = dh * (hs[t * step + k] - n) * z * (1 - z);
          const dr = dn * an * reset * (1 - reset);
          da[ar + j] = dz;
          da[ar + u + j] = dr;
          da[ar + 2 * u + j] = dn * reset;
          direct[k] = dh * z;
          dP[(r * time + t) * width + j] = dz;
          dP[(r * time + t) * width + u + j] = dr;
          dP[(r * time + t) * width + 2 * u + j] = dn;
        }
        if (dB) for (let q = 0; q < width; q++) dB[q] += da[ar + q];
      }
      dhNext = throughRecurrentKernel(hs, t, da, recurrent, dU, batch, u);
      for (let q = 0; q < step; q++) dhNext[q] += direct[q];
    }
    return [dP, dU, ...(recurrentBias ? [dB] : [])];
  });
}
