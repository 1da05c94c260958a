/**
 * The LSTM and GRU recurrences as one op each (the backend's fused kernels, Keras's
 * formulations with tanh and sigmoid: kernels/cpu/recurrent.ts), instead of an autograd graph
 * of about twenty small ops a step.
 */
import { ShapeError, fmtShape } from '../../errors.js';
import { backend } from '../../backend/index.js';
import { Tensor, isGradEnabled } from '../tensor.js';
import type { Recurrence, RecurrenceInfo } from '../../../kernels/types.js';

function info(projections: Tensor, u: number, sequences: boolean, parents: Tensor[]): RecurrenceInfo {
  const [batch, time] = projections.shape;
  return { batch, time, units: u, sequences, training: isGradEnabled() && parents.some((p) => p.requiresGrad) };
}

function record(r: Recurrence, i: RecurrenceInfo, parents: Tensor[]): Tensor {
  const shape = i.sequences ? [i.batch, i.time, i.units] : [i.batch, i.units];
  return Tensor.record(new Tensor(r.out, shape), parents, (dOut) => {
    const { dProjections, dRecurrent, dBias } = r.backward(dOut);
    return [dProjections, dRecurrent, ...(parents.length > 2 ? [dBias] : [])];
  });
}

/**
 * `projections` [batch, time, 4u] (x·W + b for every step, gates i, f, c, o), `recurrent` U
 * [u, 4u]: every hₜ [batch, time, u] with `sequences`, else the last [batch, u].
 */
export function lstmRecurrence(projections: Tensor, recurrent: Tensor, sequences: boolean): Tensor {
  const u = recurrent.shape[0];
  if (projections.rank !== 3 || recurrent.rank !== 2 || recurrent.shape[1] !== 4 * u || projections.shape[2] !== 4 * u)
    throw new ShapeError(
      'lstmRecurrence',
      `projections ${fmtShape(projections.shape)} and recurrent kernel ${fmtShape(recurrent.shape)} are not [batch, time, 4u] and [u, 4u]`,
    );
  const parents = [projections, recurrent];
  const i = info(projections, u, sequences, parents);
  return record(backend().lstm(projections.data, recurrent.data, i), i, parents);
}

/**
 * The GRU recurrence (Keras's `resetAfter: true`): `projections` [batch, time, 3u], `recurrent`
 * U [u, 3u], `recurrentBias` [3u] (the recurrent half of Keras's bias) or null.
 */
export function gruRecurrence(
  projections: Tensor,
  recurrent: Tensor,
  recurrentBias: Tensor | null,
  sequences: boolean,
): Tensor {
  const u = recurrent.shape[0];
  if (
    projections.rank !== 3 ||
    recurrent.rank !== 2 ||
    recurrent.shape[1] !== 3 * u ||
    projections.shape[2] !== 3 * u ||
    (recurrentBias !== null && recurrentBias.size !== 3 * u)
  )
    throw new ShapeError(
      'gruRecurrence',
      `projections ${fmtShape(projections.shape)}, recurrent kernel ${fmtShape(recurrent.shape)} and bias ${recurrentBias ? fmtShape(recurrentBias.shape) : 'none'} are not [batch, time, 3u], [u, 3u] and [3u]`,
    );
  const parents = [projections, recurrent, ...(recurrentBias ? [recurrentBias] : [])];
  const i = info(projections, u, sequences, parents);
  return record(backend().gru(projections.data, recurrent.data, recurrentBias?.data ?? null, i), i, parents);
}
