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
  let out: Float32Array;
  if (sequences) {
    out = allocate(batch * time * u);
    for (let t = 0; t < time; t++)
      for (let r = 0; r < batch; r++)
        out.set(hs.subarray((t + 1) * step + r * u, (t + 1) * step + (r + 1) * u), (r * time + t) * u);
  } else out = hs.slice(time * step, (time + 1) * step);
  const shape = sequences ? [batch, time, u] : [batch, u];
  return Tensor.record(new Tensor(out, shape), [projections, recurrent], (dOut) => {
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
          const dh = dhNext[k] + (sequences ? dOut[(r * time + t) * u + j] : t === time - 1 ? dOut[k] : 0);
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
      // dU += hₜ₋₁ᵀ · dz;  dhₜ₋₁ = dz · Uᵀ
      const hPrev = hs.subarray(t * step, (t + 1) * step);
      const dUt = b.matmul(hPrev, dz, u, batch, width, true, false);
      for (let q = 0; q < dU.length; q++) dU[q] += dUt[q];
      dhNext = b.matmul(dz, recurrent.data, batch, width, u, false, true);
    }
    return [dP, dU];
  });
}
