import { allocate, allocateZeroed } from '../buffers.js';
import type { Recurrence, RecurrenceInfo } from '../types.js';
import type { Matmul } from './conv2d.js';
import { matmul } from './matmul.js';
import { gruSimd, lstmSimd } from './recurrent-simd.js';

/**
 * The LSTM and GRU recurrences, forward over every step and backpropagation through time
 * over the saved gates, Keras's formulations with tanh and sigmoid:
 *   LSTM: z = pₜ + hₜ₋₁·U;  i, f, o = σ(z_i, z_f, z_o), g = tanh(z_g);  cₜ = f·cₜ₋₁ + i·g;  hₜ = o·tanh(cₜ)
 *   GRU (resetAfter): a = hₜ₋₁·U + b;  z = σ(p_z + a_z), r = σ(p_r + a_r), n = tanh(p_n + r·a_n);
 *        hₜ = z·hₜ₋₁ + (1 − z)·n
 * with p = x·W + b_in for all steps computed by the layer (one matmul). In WebAssembly SIMD
 * (recurrent-simd.ts) where it runs; these JavaScript loops otherwise. `mm` computes the
 * recurrent kernel's gradient over all steps at once (the backend passes the one that splits
 * large products between threads).
 */
export function lstm(
  projections: Float32Array,
  recurrent: Float32Array,
  info: RecurrenceInfo,
  mm: Matmul = matmul,
): Recurrence {
  return lstmSimd(projections, recurrent, info, mm) ?? lstmScalar(projections, recurrent, info);
}

export function gru(
  projections: Float32Array,
  recurrent: Float32Array,
  recurrentBias: Float32Array | null,
  info: RecurrenceInfo,
  mm: Matmul = matmul,
): Recurrence {
  return (
    gruSimd(projections, recurrent, recurrentBias, info, mm) ?? gruScalar(projections, recurrent, recurrentBias, info)
  );
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** hs holds h₀ … h_T, [batch, u] each: every hₜ as [batch, time, u], or the last as [batch, u]. */
function outputs(hs: Float32Array, { batch, time, units: u, sequences }: RecurrenceInfo): Float32Array {
  const step = batch * u;
  if (!sequences) return hs.slice(time * step, (time + 1) * step);
  const out = allocate(batch * time * u);
  for (let t = 0; t < time; t++)
    for (let r = 0; r < batch; r++)
      out.set(hs.subarray((t + 1) * step + r * u, (t + 1) * step + (r + 1) * u), (r * time + t) * u);
  return out;
}

/** The output gradient reaching unit j of row r at step t: every step's with `sequences`, else only the last. */
function outputGrad(
  dOut: Float32Array,
  { sequences, time, units: u }: RecurrenceInfo,
  r: number,
  t: number,
  j: number,
) {
  if (sequences) return dOut[(r * time + t) * u + j];
  return t === time - 1 ? dOut[r * u + j] : 0;
}

/** Step t's pre-activation gradient dz [batch, width] through z = … + hₜ₋₁·U: dU += hₜ₋₁ᵀ·dz; returns dhₜ₋₁ = dz·Uᵀ. */
function throughRecurrentKernel(
  hs: Float32Array,
  t: number,
  dz: Float32Array,
  recurrent: Float32Array,
  dU: Float32Array,
  batch: number,
  u: number,
): Float32Array {
  const width = recurrent.length / u;
  const hPrev = hs.subarray(t * batch * u, (t + 1) * batch * u);
  const dUt = matmul(hPrev, dz, u, batch, width, true, false);
  for (let q = 0; q < dU.length; q++) dU[q] += dUt[q];
  return matmul(dz, recurrent, batch, width, u, false, true);
}

function lstmScalar(p: Float32Array, recurrent: Float32Array, info: RecurrenceInfo): Recurrence {
  const { batch, time, units: u } = info;
  const width = 4 * u,
    step = batch * u;
  // Saved for the backward pass, step by step: the activated gates, c and tanh(c), and h.
  const gates = allocate(time * batch * width);
  const cells = allocateZeroed((time + 1) * step); // c₀ = 0
  const tanhC = allocate(time * step);
  const hs = allocateZeroed((time + 1) * step); // h₀ = 0
  for (let t = 0; t < time; t++) {
    const z = matmul(hs.subarray(t * step, (t + 1) * step), recurrent, batch, u, width, false, false);
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
  const backward = (dOut: Float32Array) => {
    const dP = allocate(p.length);
    const dU = allocateZeroed(recurrent.length);
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
          const dh = dhNext[k] + outputGrad(dOut, info, r, t, j);
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
    return { dProjections: dP, dRecurrent: dU, dBias: null };
  };
  return { out: outputs(hs, info), backward };
}

function gruScalar(
  p: Float32Array,
  recurrent: Float32Array,
  rb: Float32Array | null,
  info: RecurrenceInfo,
): Recurrence {
  const { batch, time, units: u } = info;
  const width = 3 * u,
    step = batch * u;
  // Saved for the backward pass: z, r, n and a_n a step, and h.
  const saved = allocate(time * batch * 4 * u);
  const hs = allocateZeroed((time + 1) * step);
  for (let t = 0; t < time; t++) {
    const a = matmul(hs.subarray(t * step, (t + 1) * step), recurrent, batch, u, width, false, false);
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
  const backward = (dOut: Float32Array) => {
    const dP = allocate(p.length);
    const dU = allocateZeroed(recurrent.length);
    const dB = rb ? allocateZeroed(width) : null;
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
          const dh = dhNext[k] + outputGrad(dOut, info, r, t, j);
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
    return { dProjections: dP, dRecurrent: dU, dBias: dB };
  };
  return { out: outputs(hs, info), backward };
}
